package upstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/process"
)

// IsolatingLauncher starts each stdio server the way isolation.Decide says:
// in a container of its own, through Runtime, or on the host. A server whose
// command is docker itself runs as given, through DockerCLI. A server that
// must be isolated while the backend is unavailable is not started at all
// (fail closed).
type IsolatingLauncher struct {
	// Host starts servers that are not isolated.
	Host Launcher
	// Runtime runs containers.
	Runtime isolation.Runtime
	// Machine is what plans know of this host (home, data dir, host path
	// lookups): the host paths servers name are mounted from it.
	Machine isolation.Host
	// Docker runs the docker CLI for servers whose command is docker.
	Docker DockerCLI
	// Prepare, when set, waits until the backend is ready for a start
	// (environment loaded, shim installed); it is called on the upstream's
	// own goroutine, never on a request's.
	Prepare func(ctx context.Context) error
	// Labels go on every container (managed, instance, host, data dir);
	// the server's name is added per start.
	Labels map[string]string
	// Logger receives decisions and start steps; nil discards.
	Logger *slog.Logger

	mu       sync.Mutex
	cfg      *config.Config
	starting map[string]string   // server name → phase of a start under way
	lastExit map[string]ExitNote // server name → why its last container ended
}

// DockerCLI runs the docker CLI for upstreams whose command is docker.
type DockerCLI interface {
	// Path is the resolved docker binary, "" while it is not resolved. It
	// never waits.
	Path() string
	// Command returns the command running docker with args (the resolved
	// binary, exec'd directly or through the login shell) with env added
	// to mcpproxy's environment, and the spawn mode.
	Command(ctx context.Context, args []string, env map[string]string) (*exec.Cmd, string)
}

// ExitNote says why a server's container ended.
type ExitNote struct {
	Container string `json:"container"`
	Reason    string `json:"reason"`
	OOMKilled bool   `json:"oom_killed"`
	// PidsLimitHits is how many processes the PID limit refused the
	// server (0: none, or not known).
	PidsLimitHits int64     `json:"pids_limit_hits,omitempty"`
	At            time.Time `json:"at"`
}

var _ ConfigAware = (*IsolatingLauncher)(nil)

// SetConfig implements ConfigAware.
func (l *IsolatingLauncher) SetConfig(cfg *config.Config) {
	l.mu.Lock()
	l.cfg = cfg
	l.mu.Unlock()
}

func (l *IsolatingLauncher) global() config.DockerIsolation {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg == nil {
		return config.DefaultDockerIsolation()
	}
	return l.cfg.DockerIsolation
}

func (l *IsolatingLauncher) dockerPath() string {
	if l.Docker == nil {
		return ""
	}
	return l.Docker.Path()
}

// Key implements ConfigAware: it changes when the decision or plan changes.
// It never waits (the docker path is the one resolved so far).
func (l *IsolatingLauncher) Key(s *config.Server) string {
	d := l.Machine.Decide(l.global(), s, l.dockerPath())
	b, _ := json.Marshal(struct {
		Isolated bool
		Plan     *isolation.Plan
	}{d.Isolated, d.Plan})
	return string(b)
}

// StartPhase returns the phase of a start of server that is under way
// ("checking image", "pulling image …: <progress>", "starting container"), or
// "" when none is.
func (l *IsolatingLauncher) StartPhase(server string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.starting[server]
}

// LastExit returns why server's last container ended, if one did.
func (l *IsolatingLauncher) LastExit(server string) (ExitNote, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.lastExit[server]
	return n, ok
}

func (l *IsolatingLauncher) setPhase(server, phase string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if phase == "" {
		delete(l.starting, server)
		return
	}
	if l.starting == nil {
		l.starting = map[string]string{}
	}
	l.starting[server] = phase
}

func (l *IsolatingLauncher) log() *slog.Logger {
	if l.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Logger
}

// Launch implements Launcher.
func (l *IsolatingLauncher) Launch(ctx context.Context, s *config.Server, stderr io.Writer) (*Launched, error) {
	path := l.dockerPath()
	d := l.Machine.Decide(l.global(), s, path)
	l.log().Debug("docker isolation decision", "server", s.Name, "isolated", d.Isolated, "reason", d.Reason)
	switch {
	case isolation.IsDockerCommand(s.Command, path):
		return l.launchUserDocker(ctx, s, stderr, d)
	case !d.Isolated:
		run, err := l.Host.Launch(ctx, s, stderr)
		if run == nil {
			run = &Launched{}
		}
		run.Isolation = DescribeDecision(d)
		return run, err
	}
	return l.launchIsolated(ctx, s, stderr, d)
}

// launchUserDocker runs a server whose command is docker itself (a
// user-supplied `docker run …`): never wrapped again, but spawned through the
// resolved binary so it works where docker is not on PATH.
func (l *IsolatingLauncher) launchUserDocker(ctx context.Context, s *config.Server, stderr io.Writer, d isolation.Decision) (*Launched, error) {
	info := DescribeDecision(d)
	if l.Prepare != nil {
		if err := l.Prepare(ctx); err != nil {
			return &Launched{Isolation: info}, err
		}
	}
	cmd, mode := l.Docker.Command(ctx, s.Args, s.Env)
	cmd.Dir = s.WorkingDir
	l.log().Debug("docker isolation: command is docker; not wrapped", "server", s.Name, "mode", mode)
	info.SpawnMode = mode
	p, err := process.Start(cmd, stderr)
	if err != nil {
		return &Launched{Isolation: info}, err
	}
	return &Launched{Stdio: hostStdio{p}, Isolation: info}, nil
}

// launchIsolated runs s in a container: decide (done), fail closed when the
// backend is unavailable, ensure the image, start, attach stdio.
func (l *IsolatingLauncher) launchIsolated(ctx context.Context, s *config.Server, stderr io.Writer, d isolation.Decision) (*Launched, error) {
	plan := d.Plan
	// info is handed to the upstream with the Launched and must not change
	// after Launch returns; the live phase of a start is published through
	// StartPhase instead.
	info := DescribeDecision(d)
	if d.Err != nil {
		// Fail closed: neither in a container nor on the host.
		return &Launched{Isolation: info}, fmt.Errorf("%s refused this server's plan: %w", isolationOf(l.Runtime.Name()), d.Err)
	}
	l.logMounts(s.Name, plan)
	st := &start{l: l, server: s.Name, info: info, timeout: plan.Timeout}
	defer l.setPhase(s.Name, "")
	deadline := time.Now().Add(plan.Timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	fail := func(err error) (*Launched, error) { return &Launched{Isolation: info}, st.stalled(ctx, err) }

	if l.Prepare != nil {
		st.step("preparing " + l.Runtime.Name())
		if err := l.Prepare(ctx); err != nil {
			return fail(err)
		}
	}
	if err := l.availableAndImage(ctx, st, plan); err != nil {
		return fail(err)
	}
	st.step("starting container")
	labels := maps.Clone(l.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[isolation.LabelServer] = s.Name
	name := isolation.ContainerName(s.Name, shortID())
	c, err := l.Runtime.Start(ctx, plan, isolation.StartOptions{
		Name: name, Labels: labels, Env: startEnv(plan.Env, s.Env), Stderr: stderr, Phase: st.step,
	})
	if err != nil {
		return fail(err)
	}
	facts := c.Facts()
	info.ContainerName, info.ContainerID = c.Name(), c.ID()
	info.Stdio, info.SpawnMode, info.Secrets = facts.Stdio, facts.SpawnMode, facts.Secrets
	info.Notes = append(info.Notes, facts.Notes...)
	info.Phase = "container started"
	l.log().Info("docker isolation: container started", "server", s.Name, "container", name, "id", short(c.ID()), "image", plan.Image)
	return &Launched{Stdio: &containerStdio{c: c, l: l, server: s.Name}, Isolation: info, Deadline: deadline, InitTimeout: plan.Timeout}, nil
}

// logMounts writes every mount of plan and why to the debug log, and each
// host path of the server's that was not mounted as a warning.
func (l *IsolatingLauncher) logMounts(server string, plan *isolation.Plan) {
	log := l.log()
	for _, m := range plan.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		log.Debug("docker isolation: mount", "server", server, "type", string(m.Type), "source", m.Source, "target", m.Target, "mode", mode, "reason", m.Reason)
	}
	for _, n := range plan.Notes {
		if strings.HasPrefix(n, isolation.NoteNotMounted) {
			log.Warn("docker isolation: host path not mounted", "server", server, "note", n)
		}
	}
}

// availableAndImage fails closed when the backend is unavailable; the image
// is made available meanwhile (both only read until a pull is needed, and
// each is a call of its own).
func (l *IsolatingLauncher) availableAndImage(ctx context.Context, st *start, plan *isolation.Plan) error {
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := l.log()
	image := make(chan error, 1)
	go func() {
		pulling := false
		image <- l.Runtime.EnsureImage(ictx, plan.Image, func(line string) {
			if !pulling {
				pulling = true
				log.Info("docker isolation: pulling image", "server", st.server, "image", plan.Image)
			}
			st.live("pulling image " + plan.Image + ": " + line)
			log.Info("docker isolation: pull progress", "server", st.server, "image", plan.Image, "progress", line)
		})
	}()
	st.step("checking " + l.Runtime.Name())
	if b := l.Runtime.Probe(ctx, false); !b.Available {
		cancel()
		<-image
		reason := b.Error
		if reason == "" {
			reason = l.Runtime.Name() + " is not available"
		}
		return fmt.Errorf("%s is required for this server but %s is unavailable (%s); not starting it on the host",
			isolationOf(l.Runtime.Name()), backendNoun(l.Runtime.Name()), reason)
	}
	st.step("checking image")
	if err := <-image; err != nil {
		log.Warn("docker isolation: image not available", "server", st.server, "image", plan.Image, "error", err)
		return err
	}
	return nil
}

// containerStdio is a container as a Stdio; its exit is recorded for the
// list view (LastExit).
type containerStdio struct {
	c      isolation.Container
	l      *IsolatingLauncher
	server string
}

func (c *containerStdio) Stdin() io.WriteCloser { return c.c.Stdin() }
func (c *containerStdio) Stdout() io.ReadCloser { return c.c.Stdout() }
func (c *containerStdio) Done() <-chan struct{} { return c.c.Done() }
func (c *containerStdio) Kill()                 { c.c.Kill() }

func (c *containerStdio) Stop(ctx context.Context, grace time.Duration) error {
	return c.c.Stop(ctx, grace)
}

func (c *containerStdio) Exit(ctx context.Context) isolation.Exit {
	e := c.c.Exit(ctx)
	if e.Reason == "" {
		return e
	}
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	if c.l.lastExit == nil {
		c.l.lastExit = map[string]ExitNote{}
	}
	c.l.lastExit[c.server] = ExitNote{Container: c.c.Name(), Reason: e.Reason, OOMKilled: e.OOMKilled, PidsLimitHits: e.PidsLimitHits, At: time.Now()}
	return e
}

// startEnv is what the container gets: the plan's own settings (a package
// cache's), overridden by the server's env.
func startEnv(planEnv, serverEnv map[string]string) map[string]string {
	if len(planEnv) == 0 {
		return serverEnv
	}
	env := maps.Clone(planEnv)
	maps.Copy(env, serverEnv)
	return env
}

func shortID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
