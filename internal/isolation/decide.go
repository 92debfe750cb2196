// Package isolation is mcpproxy's isolation policy and the seam to container
// backends: given the global docker_isolation block and one server's
// configuration, Decide says whether the server runs in a container and, if
// so, exactly how (the Plan: typed, backend-neutral settings). A Runtime
// (backend.go; Docker in internal/docker, Kubernetes in internal/kube) runs
// Plans.
//
// The package is pure: no exec, no disk, no environment reads. Everything
// that asks "is this server isolated?" — spawn, upstream_servers, the API,
// telemetry and the ignored-opt-in warning — calls Decide, so the answer
// cannot drift between them.
package isolation

import (
	"fmt"
	"sort"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

// Reasons a Decision carries. They are stable: the API and logs show them and
// tests match them.
const (
	ReasonNoServer      = "no server configuration"
	ReasonHTTP          = "HTTP upstream (never wrapped)"
	ReasonDockerCommand = "command is docker (Docker-in-Docker prevention)"
	ReasonNoCommand     = "stdio server has no command"
	ReasonOptedOut      = "server opted out (isolation.enabled: false)"
	ReasonGlobalOff     = "global docker_isolation.enabled is false"
	ReasonOptInIgnored  = "global docker_isolation.enabled is false (per-server isolation.enabled: true ignored)"
	ReasonGlobalOn      = "global docker isolation enabled"
	ReasonOptedIn       = "server opted in (isolation.enabled: true)"
)

// DefaultTimeout bounds an isolated server's start when the global timeout
// is zero.
const DefaultTimeout = 30 * time.Second

// Decision is the answer to "is this server isolated, and how".
type Decision struct {
	// Isolated reports whether the server runs inside a container.
	Isolated bool
	// Reason is a stable, human-readable explanation (one of the Reason
	// constants).
	Reason string
	// IgnoredOptIn is true when the server says isolation.enabled: true but
	// the global flag is off, so it runs on the host. Callers warn about it.
	IgnoredOptIn bool
	// Plan says how the container is run; non-nil iff Isolated.
	Plan *Plan
	// Err, when set, refuses the Plan: the server must be isolated, but
	// not like this (an explicit mount of a path that must not reach a
	// container, or that does not exist). Such a server is not started
	// at all (fail closed); the Plan is kept for the list view.
	Err error
}

// Decide is the single isolation decision. global is the docker_isolation
// block, s the server, and dockerPath the resolved docker binary ("" when
// unresolved) so that a command equal to it is recognised as docker.
//
// The rules, in order: HTTP upstreams are never wrapped; a command that is
// docker is never wrapped; a stdio server without a command is not wrapped;
// per-server enabled:false opts out; when the global flag is off nothing is
// isolated (an explicit per-server enabled:true is reported as IgnoredOptIn);
// otherwise the server is isolated.
//
// An opt-in on an HTTP or docker-command server is not reported as
// IgnoredOptIn: it is moot for structural reasons, not because of the gate.
//
// Decide knows nothing of the host (it is Host{}.Decide): its Plan mounts no
// host path automatically. Spawning and the list view use Host.Decide.
func Decide(global config.DockerIsolation, s *config.Server, dockerPath string) Decision {
	return Host{}.Decide(global, s, dockerPath)
}

// decide is the decision without its Plan.
func decide(global config.DockerIsolation, s *config.Server, dockerPath string) Decision {
	if s == nil {
		return Decision{Reason: ReasonNoServer}
	}
	var optIn *bool
	if s.Isolation != nil {
		optIn = s.Isolation.Enabled
	}
	switch {
	case s.IsHTTP():
		return Decision{Reason: ReasonHTTP}
	case IsDockerCommand(s.Command, dockerPath):
		return Decision{Reason: ReasonDockerCommand}
	case s.Command == "":
		return Decision{Reason: ReasonNoCommand}
	case optIn != nil && !*optIn:
		return Decision{Reason: ReasonOptedOut}
	case !global.Enabled:
		if optIn != nil && *optIn {
			return Decision{Reason: ReasonOptInIgnored, IgnoredOptIn: true}
		}
		return Decision{Reason: ReasonGlobalOff}
	}
	reason := ReasonGlobalOn
	if optIn != nil && *optIn {
		reason = ReasonOptedIn
	}
	return Decision{Isolated: true, Reason: reason}
}

// newPlan builds the Plan for an isolated server. Per-server values override
// global ones; an empty global limit, network mode or timeout falls back to
// the spec default rather than silently dropping the limit. The security
// profile (profile.go: hardened by default) is merged in next.
//
// On a known host (h), the host paths in the server's args and working_dir
// and its isolation.mounts are added last (mounts.go), with a volume for
// its package cache (cache.go); an error refuses the plan (Decision.Err).
func newPlan(h Host, global config.DockerIsolation, s *config.Server) (*Plan, error) {
	def := config.DefaultDockerIsolation()
	si := s.Isolation
	if si == nil {
		si = &config.ServerIsolation{}
	}

	runtime := detectRuntime(s.Command, global.DefaultImages)
	gitKey := gitImageKey(runtime, s.Args)
	image := firstNonEmpty(si.Image, global.DefaultImages[gitKey], def.DefaultImages[gitKey],
		global.DefaultImages[runtime], global.DefaultImages["binary"], def.DefaultImages[runtime], def.DefaultImages["binary"])
	registry := firstNonEmpty(global.Registry, def.Registry)
	image = QualifyImage(image, registry)

	p := &Plan{
		Server:     s.Name,
		Runtime:    runtime,
		Image:      image,
		Network:    firstNonEmpty(si.NetworkMode, global.NetworkMode, def.NetworkMode),
		WorkingDir: si.WorkingDir,
		Timeout:    global.Timeout.D(),
	}
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	if gitKey != "" && si.Image == "" {
		p.Notes = append(p.Notes, fmt.Sprintf("image from default_images[%q]: the args install from git", gitKey))
	}
	p.MemoryBytes = limit(p, "memory_limit", config.ParseMemory, si.MemoryLimit, global.MemoryLimit, def.MemoryLimit)
	p.MilliCPUs = limit(p, "cpu_limit", config.ParseMilliCPUs, si.CPULimit, global.CPULimit, def.CPULimit)
	for name := range s.Env {
		if name != "" {
			p.EnvNames = append(p.EnvNames, name)
		}
	}
	sort.Strings(p.EnvNames)
	if n := len(global.ExtraArgs) + len(si.ExtraArgs); n > 0 {
		p.DockerArgs = make([]string, 0, n)
		p.DockerArgs = append(append(p.DockerArgs, global.ExtraArgs...), si.ExtraArgs...)
	}
	p.Command, p.Args, p.Setup = containerCommand(runtime, s.Command, s.Args, image)
	applyProfile(p, global, si)
	err := h.addMounts(p, global, s)
	h.addCaches(p, global, s)
	return p, err
}

// limit parses the first non-empty of values (per server, global, default).
// A value that does not parse (the configuration was not validated) is
// replaced by the default, and a note says so: a limit is never dropped.
func limit(p *Plan, key string, parse func(string) (int64, error), server, global, def string) int64 {
	v := firstNonEmpty(server, global, def)
	n, err := parse(v)
	if err == nil {
		return n
	}
	d, _ := parse(def)
	p.Notes = append(p.Notes, fmt.Sprintf("%s %q is invalid; the default %q applies", key, v, def))
	return d
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// Isolates reports whether cfg isolates any enabled server (runs it in a
// container, or a pod).
func Isolates(cfg *config.Config, dockerPath string) bool {
	for _, s := range cfg.Servers {
		if s.IsEnabled() && Decide(cfg.DockerIsolation, s, dockerPath).Isolated {
			return true
		}
	}
	return false
}

// RunsDockerCommand reports whether cfg has an enabled stdio server whose
// command is the docker CLI itself (it runs as given, through the CLI).
func RunsDockerCommand(cfg *config.Config, dockerPath string) bool {
	for _, s := range cfg.Servers {
		if s.IsEnabled() && !s.IsHTTP() && IsDockerCommand(s.Command, dockerPath) {
			return true
		}
	}
	return false
}
