package docker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Probe timing defaults.
const (
	DefaultProbeTimeout = 2 * time.Second
	// LoginShellProbeTimeout bounds a probe that goes through $SHELL -l.
	LoginShellProbeTimeout = 10 * time.Second
	ProbeSuccessTTL        = 15 * time.Minute
	ProbeFailureTTL        = 5 * time.Minute
)

// Status is the docker availability last observed.
type Status struct {
	// Available is true only when docker resolved to an absolute path and
	// `docker info --format {{.ServerVersion}}` succeeded.
	Available bool
	// DockerPath is the resolved absolute docker binary, "" when unresolved.
	DockerPath string
	// Version is the daemon's version when Available.
	Version string
	// CheckedAt is when the probe ran.
	CheckedAt time.Time
	// Error says why docker is unavailable ("" when Available).
	Error string
}

// Prober answers "is docker available" with a cache: a success is reused for
// SuccessTTL (15 min), a failure for FailureTTL (5 min, so a late Docker
// Desktop start is noticed soon). Every field is optional; the zero value
// probes the real OS. A Prober is safe for concurrent use (concurrent callers
// share one probe) and must not be copied after first use.
type Prober struct {
	// Resolve finds docker; nil means a Resolver of the real OS.
	Resolve func(ctx context.Context) Resolution
	// Environ decides direct exec vs the login-shell wrap, as for spawns.
	Environ Environ
	// Env is the base environment of the docker child; nil means
	// os.Environ(). ChildEnv is applied to it.
	Env []string
	// Run runs argv with env and returns stdout; nil means exec.
	Run func(ctx context.Context, argv, env []string) (string, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Timeout bounds one `docker info`; 0 means DefaultProbeTimeout.
	Timeout time.Duration
	// SuccessTTL and FailureTTL override the cache lifetimes when > 0.
	SuccessTTL, FailureTTL time.Duration
	// Log receives a line when availability changes; nil means none.
	Log *slog.Logger

	// flight is the probe in flight (nil when none); running counts its
	// goroutine for Close; closed refuses new probes.
	flight  *probeFlight
	running sync.WaitGroup
	closed  bool

	envMu    sync.Mutex
	mu       sync.Mutex
	last     Status
	hasLast  bool
	resolver *Resolver
}

// Probe returns the cached status, or probes when the cache expired or
// refresh is true. Concurrent probes share one `docker info`, and no lock is
// held while it runs.
func (p *Prober) Probe(ctx context.Context, refresh bool) Status {
	p.mu.Lock()
	if p.hasLast && !refresh && p.now().Sub(p.last.CheckedAt) < p.ttl(p.last) {
		defer p.mu.Unlock()
		return p.last
	}
	if p.closed {
		defer p.mu.Unlock()
		return Status{Error: "docker probe: shutting down", CheckedAt: p.now()}
	}
	f := p.flight
	if f == nil {
		// Not bound to the first caller's context: the others share it.
		f = &probeFlight{done: make(chan struct{})}
		p.flight = f
		p.running.Add(1)
		go func() {
			defer p.running.Done()
			f.st = p.probeAndStore(context.WithoutCancel(ctx))
			p.mu.Lock()
			p.flight = nil
			p.mu.Unlock()
			close(f.done)
		}()
	}
	p.mu.Unlock()
	select {
	case <-f.done:
		return f.st
	case <-ctx.Done():
		return Status{Error: "docker probe: " + ctx.Err().Error(), CheckedAt: p.now()}
	}
}

// probeFlight is one probe shared by its concurrent callers.
type probeFlight struct {
	done chan struct{}
	st   Status
}

// Close refuses new probes and waits for the one in flight, so that none
// outlives its owner (nor logs after it).
func (p *Prober) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.running.Wait()
}

// probeAndStore runs one probe and makes it the cached status.
func (p *Prober) probeAndStore(ctx context.Context) Status {
	now := p.now()
	st := p.probe(ctx)
	st.CheckedAt = now
	p.mu.Lock()
	changed := !p.hasLast || p.last.Available != st.Available
	p.last, p.hasLast = st, true
	p.mu.Unlock()
	if p.Log != nil && changed {
		if st.Available {
			p.Log.Info("docker daemon probe: available", "docker_path", st.DockerPath, "version", st.Version)
		} else {
			p.Log.Info("docker daemon probe: unavailable", "docker_path", st.DockerPath, "error", st.Error)
		}
	}
	return st
}

// Last returns the cached status without probing; ok is false before the
// first probe has finished.
func (p *Prober) Last() (st Status, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.hasLast
}

func (p *Prober) probe(ctx context.Context) Status {
	resolve := p.Resolve
	if resolve == nil {
		p.mu.Lock()
		if p.resolver == nil {
			p.resolver = NewResolver()
		}
		resolve = p.resolver.Resolve
		p.mu.Unlock()
	}
	res := resolve(ctx)
	if !res.Absolute() {
		msg := errNotAbsolute.Error()
		if res.Path != "" {
			msg += fmt.Sprintf(" (the login shell reports %q, a function or alias)", res.Path)
		}
		return Status{Error: msg}
	}
	st := Status{DockerPath: res.Path}
	p.envMu.Lock()
	environ := p.Environ
	p.envMu.Unlock()
	sp := PlanSpawn(res, []string{"info", "--format", "{{.ServerVersion}}"}, environ)
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
		if sp.Mode == ModeLoginShell {
			// A login shell runs the user's rc files first (pyenv, nvm…),
			// which can take seconds; cutting it short says nothing about
			// the daemon. (First-run auto-enable keeps its own 2 s bound.)
			timeout = LoginShellProbeTimeout
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	base := p.Env
	if base == nil {
		base = os.Environ()
	}
	run := p.Run
	if run == nil {
		run = runOutput
	}
	out, err := run(ctx, sp.Argv, ChildEnv(base, res))
	if err != nil {
		if ctx.Err() != nil {
			st.Error = fmt.Sprintf("docker info did not answer within %s", timeout)
		} else {
			st.Error = "docker info: " + err.Error()
		}
		return st
	}
	st.Version = strings.TrimSpace(out)
	if st.Version == "" {
		st.Error = "docker info reported no server version"
		return st
	}
	st.Available = true
	return st
}

func (p *Prober) ttl(st Status) time.Duration {
	if st.Available {
		if p.SuccessTTL > 0 {
			return p.SuccessTTL
		}
		return ProbeSuccessTTL
	}
	if p.FailureTTL > 0 {
		return p.FailureTTL
	}
	return ProbeFailureTTL
}

func (p *Prober) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// runOutput runs argv with env and returns stdout; a failure carries the
// last line of stderr.
func runOutput(ctx context.Context, argv, env []string) (string, error) {
	cmd := command(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := lastLine(stderr.String()); msg != "" {
			return stdout.String(), fmt.Errorf("%w: %s", err, msg)
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// SetEnviron replaces Environ safely while probes may run (after the
// login-shell environment was loaded).
func (p *Prober) SetEnviron(e Environ) {
	p.envMu.Lock()
	p.Environ = e
	p.envMu.Unlock()
}
