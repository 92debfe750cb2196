package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/logging"
	"github.com/mcpproxy/mcpproxy/internal/trust"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// notFound is the error for a server the configuration in force lacks.
func notFound(name string) error {
	return fmt.Errorf("server %q: %w", name, config.ErrServerNotFound)
}

func (s *Service) dockerStatus(ctx context.Context, refresh bool) httpapi.DockerStatus {
	return s.iso.DockerStatus(ctx, refresh)
}

// DockerStatus implements httpapi.Servers.
func (s *Service) DockerStatus(ctx context.Context, refresh bool) (httpapi.DockerStatus, error) {
	st := s.dockerStatus(ctx, refresh)
	if refresh {
		s.events.docker()
	}
	return st, nil
}

// ListServers implements httpapi.Servers (and upstream_servers list).
func (s *Service) ListServers(ctx context.Context, refresh bool) (httpapi.ServerList, error) {
	cfg := s.Config()
	ds := s.dockerStatus(ctx, refresh)
	out := httpapi.ServerList{DockerStatus: ds, DockerIsolation: cfg.DockerIsolation, Servers: []httpapi.ServerView{}}
	for _, w := range cfg.Warnings {
		out.ConfigWarnings = append(out.ConfigWarnings, w.String())
	}
	s.mu.Lock()
	out.ConfigInvalid = s.invalid != nil
	s.mu.Unlock()
	for _, u := range s.mgr.List() {
		out.Servers = append(out.Servers, s.view(cfg, u, ds))
	}
	return out, nil
}

// serverView is the list view of the server named name, if it exists.
func (s *Service) serverView(name string, ds httpapi.DockerStatus) (httpapi.ServerView, bool) {
	u := s.mgr.Get(name)
	if u == nil {
		return httpapi.ServerView{}, false
	}
	return s.view(s.Config(), u, ds), true
}

// view is the list view of u under cfg: its state, and what the policy
// says now merged with what the running start knows (container name and
// ID, pull progress).
func (s *Service) view(cfg *config.Config, u *upstream.Upstream, ds httpapi.DockerStatus) httpapi.ServerView {
	st := u.Status()
	sc := u.Config()
	v := httpapi.ServerView{
		Name: st.Name, Transport: st.Transport, State: st.State, Enabled: st.Enabled,
		LastError: st.Error, ToolCount: st.ToolCount, Restarts: st.Restarts, Since: st.Since,
		DockerAvailable: ds.Available,
	}
	info := upstream.DescribeDecision(s.iso.Decide(cfg, sc))
	if st.Isolation != nil && st.Isolation.Isolated == info.Isolated {
		run := st.Isolation // a copy of the upstream's (Status clones it)
		run.Reason = info.Reason
		info = run
	}
	if phase := s.iso.StartPhase(st.Name); phase != "" && info.Isolated {
		// A (re)start is under way: show its live phase (pull progress),
		// not the previous container's.
		info.Phase = phase
		info.ContainerName, info.ContainerID = "", ""
	}
	v.Isolation = info
	if n, ok := s.iso.LastExit(st.Name); ok {
		v.LastExit = &n
	}
	if sc.Quarantined {
		note, known := s.trust.Quarantine(st.Name)
		v.Quarantine = trust.DescribeQuarantine(sc, note, known)
		// What of the host it would see, for the person approving it.
		for _, m := range info.Mounts {
			if m.Type == string(isolation.MountBind) {
				v.Quarantine.Launch.HostPaths = append(v.Quarantine.Launch.HostPaths, fmt.Sprintf("%s (%s, %s)", m.Source, m.Mode, m.Reason))
			}
		}
	}
	v.ToolsWithheld = s.gate.Withheld(st.Name)
	return v
}

// GetServer implements httpapi.Servers.
func (s *Service) GetServer(ctx context.Context, name string) (httpapi.ServerDetail, error) {
	u := s.mgr.Get(name)
	if u == nil {
		return httpapi.ServerDetail{}, notFound(name)
	}
	cfg := s.Config()
	d := httpapi.ServerDetail{ServerView: s.view(cfg, u, s.dockerStatus(ctx, false))}
	sc := u.Config()
	d.Config = redactServer(sc)
	dec := s.iso.Decide(cfg, sc)
	if dec.Plan != nil {
		d.Plan = planView(dec.Plan, s.iso.RunArgs(dec.Plan))
	}
	if dec.IgnoredOptIn {
		d.IsolationNote = ignoredOptInNote
	}
	if s.opts.LogDir != "" {
		d.LogFile = logging.ServerLogPath(s.opts.LogDir, name)
	}
	return d, nil
}

// ignoredOptInNote explains the global gate where a server opts in.
const ignoredOptInNote = "isolation.enabled: true is ignored while docker_isolation.enabled is false: the global flag is the gate, and a server can only opt out. Turn docker_isolation.enabled on to isolate this server."

// redactServer is a copy of sc with every env and header value replaced.
func redactServer(sc *config.Server) *config.Server {
	c := sc.Clone()
	for k := range c.Env {
		c.Env[k] = httpapi.Redacted
	}
	for k := range c.Headers {
		c.Headers[k] = httpapi.Redacted
	}
	c.URL = config.RedactURL(c.URL, httpapi.Redacted)
	return c
}

// planView is plan as JSON, with its docker run argv.
func planView(p *isolation.Plan, dockerRun []string) *httpapi.PlanView {
	v := &httpapi.PlanView{
		Runtime: p.Runtime, Image: p.Image, Command: p.Command, Args: p.Args, Setup: p.Setup,
		WorkingDir: p.WorkingDir, EnvNames: p.EnvNames, Network: p.Network,
		Memory: isolation.FormatMemory(p.MemoryBytes), CPUs: isolation.FormatCPUs(p.MilliCPUs),
		PidsLimit: p.PidsLimit, TimeoutSeconds: p.Timeout.Seconds(), User: p.User, ReadOnlyRoot: p.ReadOnlyRoot,
		CapDrop: p.CapDrop, CapAdd: p.CapAdd, NoNewPrivileges: p.NoNewPrivileges, Init: p.Init,
		Hardened: p.Hardened, Profile: p.Profile, AllowDangerous: p.AllowDangerous,
		ExtraArgs: p.DockerArgs, Notes: p.Notes, DockerRun: dockerRun,
	}
	for _, m := range p.Mounts {
		v.Mounts = append(v.Mounts, httpapi.MountView{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly, Reason: m.Reason})
	}
	for _, t := range p.Tmpfs {
		v.Tmpfs = append(v.Tmpfs, fmt.Sprintf("%s (%s, mode %o)", t.Path, isolation.FormatMemory(t.SizeBytes), t.Mode))
	}
	return v
}

// personRefused are the server keys the API does not set: a rename, the
// quarantine flag (approve does that) and the hand-written escape hatch.
func personRefused(raw json.RawMessage, adding bool) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return httpapi.BadField("body", "must be a JSON object")
	}
	if _, ok := obj["name"]; ok && !adding {
		return httpapi.BadField("name", "a server cannot be renamed; remove it and add it under the new name")
	}
	if _, ok := obj["quarantined"]; ok {
		return httpapi.BadField("quarantined", "approve a quarantined server with POST /api/v1/servers/{name}/approve (or `mcpproxy upstream approve`)")
	}
	if iso, ok := obj["isolation"]; ok {
		return isolationRefused(iso, "isolation.")
	}
	return nil
}

// isolationRefused refuses allow_dangerous in an isolation block.
func isolationRefused(raw json.RawMessage, prefix string) error {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil // the configuration's validation names the problem
	}
	if _, ok := obj["allow_dangerous"]; ok {
		return httpapi.BadField(prefix+"allow_dangerous", "is written by hand in the config file only: it lets a container reach the host, which no API client may decide")
	}
	return nil
}

// AddServer implements httpapi.Servers: a person adds a server; it starts
// at once (it is not quarantined).
func (s *Service) AddServer(ctx context.Context, raw json.RawMessage) (httpapi.ServerChange, error) {
	if err := personRefused(raw, true); err != nil {
		return httpapi.ServerChange{}, err
	}
	var named struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &named) != nil || named.Name == "" {
		return httpapi.ServerChange{}, httpapi.BadField("name", "is required: a name of letters, digits, '_', '.' and '-'")
	}
	if err := s.edit(func(p string) error { return config.AddServerJSON(p, raw) }); err != nil {
		return httpapi.ServerChange{}, err
	}
	s.log.Info("server added through the API", "server", named.Name)
	return s.change(ctx, named.Name, true)
}

// change is the answer of a change of the server named name.
func (s *Service) change(ctx context.Context, name string, restarted bool) (httpapi.ServerChange, error) {
	d, err := s.GetServer(ctx, name)
	if err != nil {
		return httpapi.ServerChange{}, err
	}
	return httpapi.ServerChange{Server: d, Restarted: restarted && d.Enabled && d.Quarantine == nil}, nil
}

// PatchServer implements httpapi.Servers.
func (s *Service) PatchServer(ctx context.Context, name string, patch json.RawMessage) (httpapi.ServerChange, error) {
	if err := personRefused(patch, false); err != nil {
		return httpapi.ServerChange{}, err
	}
	before := s.serverJSON(name)
	if before == nil {
		return httpapi.ServerChange{}, notFound(name)
	}
	if err := s.edit(func(p string) error {
		return config.PatchServer(p, name, patch, config.PatchOptions{Keep: httpapi.Redacted})
	}); err != nil {
		return httpapi.ServerChange{}, err
	}
	return s.change(ctx, name, !bytes.Equal(before, s.serverJSON(name)))
}

// serverJSON is the server's configuration in force as JSON (nil when
// there is none), to tell whether a change changed it.
func (s *Service) serverJSON(name string) []byte {
	sc := s.Config().Server(name)
	if sc == nil {
		return nil
	}
	b, _ := json.Marshal(sc)
	return b
}

// RemoveServer implements httpapi.Servers and proxy.Controller; the
// server's pins and quarantine note go with it.
func (s *Service) RemoveServer(ctx context.Context, name string) error {
	if err := s.edit(func(p string) error { return config.RemoveServer(p, name) }); err != nil {
		return err
	}
	if err := s.trust.Forget(name); err != nil {
		s.log.Warn("trust state not updated", "server", name, "error", err)
	}
	s.gate.ServerForgotten(name)
	s.log.Info("server removed", "server", name)
	return nil
}

// SetServerEnabled implements httpapi.Servers.
func (s *Service) SetServerEnabled(ctx context.Context, name string, enabled bool) (httpapi.ServerChange, error) {
	before := s.serverJSON(name)
	if before == nil {
		return httpapi.ServerChange{}, notFound(name)
	}
	if err := s.edit(func(p string) error { return config.SetServerEnabled(p, name, enabled) }); err != nil {
		return httpapi.ServerChange{}, err
	}
	return s.change(ctx, name, enabled && !bytes.Equal(before, s.serverJSON(name)))
}

// RestartServer implements httpapi.Servers and proxy.Controller.
func (s *Service) RestartServer(ctx context.Context, name string) error {
	if !s.mgr.Restart(name) {
		return notFound(name)
	}
	return nil
}
