package app

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/docker"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/shim"
	"github.com/mcpproxy/mcpproxy/internal/telemetry"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// Isolation ties the isolation policy to Docker for the app: resolving and
// probing the docker CLI, the isolating launcher, the crash reaper, the
// ignored-opt-in warning and telemetry.
type Isolation struct {
	a        *App
	resolver *docker.Resolver
	env      docker.Environ
	prober   *docker.Prober
	launcher *upstream.IsolatingLauncher
	instance *docker.Instance
	lockDir  string

	mu     sync.Mutex
	warned map[string]bool

	hydrateOnce sync.Once
	shimOnce    sync.Once
}

func newIsolation(a *App) (*Isolation, error) {
	res := docker.NewResolver()
	env := docker.Environ{}
	lockDir := docker.DefaultLockDir()
	inst, err := docker.AcquireInstance(lockDir)
	if err != nil {
		return nil, err
	}
	i := &Isolation{a: a, resolver: res, env: env, instance: inst, lockDir: lockDir, warned: map[string]bool{}}
	i.prober = &docker.Prober{Resolve: res.Resolve, Environ: env, Log: a.log}
	i.launcher = &upstream.IsolatingLauncher{
		Host:     upstream.HostLauncher{},
		Resolver: res,
		Prober:   i.prober,
		Instance: inst.ID,
		RunDir:   filepath.Join(a.opts.DataDir, "run"),
		Logger:   a.log,
		Environ:  env,
	}
	return i, nil
}

// FirstRunProbe decides docker_isolation.enabled for a newly created config:
// true when the daemon answers `docker info` within the context's deadline.
func (i *Isolation) FirstRunProbe(ctx context.Context) bool {
	st := i.prober.Probe(ctx, true)
	return st.Available
}

// Launcher returns the launcher that isolates servers per the policy.
func (i *Isolation) Launcher() upstream.Launcher { return i.launcher }

// Decide is the single decision for server s under the configuration in force.
func (i *Isolation) Decide(s *config.Server) isolation.Decision {
	path := i.resolver.Resolve(context.Background()).Path
	return isolation.Decide(i.a.Config().DockerIsolation, s, path)
}

// Describe reports the policy's view of s for the API.
func (i *Isolation) Describe(s *config.Server) *upstream.IsolationInfo {
	d := i.Decide(s)
	info := &upstream.IsolationInfo{Isolated: d.Isolated, Reason: d.Reason}
	if d.Plan != nil {
		info.Image = d.Plan.Image
		info.NetworkMode = d.Plan.NetworkMode
		info.MemoryLimit = d.Plan.MemoryLimit
		info.CPULimit = d.Plan.CPULimit
		info.Runtime = d.Plan.Runtime
	}
	return info
}

// needsDocker reports whether cfg will run anything through docker: an
// isolated server or one whose command is docker.
func (i *Isolation) needsDocker(cfg *config.Config) bool {
	path := i.resolver.Resolve(context.Background()).Path
	for _, s := range cfg.Servers {
		if !s.IsEnabled() || s.IsHTTP() {
			continue
		}
		if isolation.IsDockerCommand(s.Command, path) || isolation.Decide(cfg.DockerIsolation, s, path).Isolated {
			return true
		}
	}
	return false
}

// hydrate loads the docker daemon settings (DOCKER_HOST…) from the user's
// login shell once, the first time a configuration needs docker, unless
// they are exported to mcpproxy already. After that the docker CLI is exec'd
// directly: the daemon environment is guaranteed without a login shell per
// call (the spec's condition), which also spares each docker call the
// user's rc files. Until then (or if it fails) calls go through $SHELL -l.
func (i *Isolation) hydrate(cfg *config.Config) {
	if !i.needsDocker(cfg) {
		return
	}
	i.hydrateOnce.Do(func() {
		i.mu.Lock()
		env := i.env
		i.mu.Unlock()
		if env.DaemonEnvGuaranteed() {
			return
		}
		h, err := docker.HydrateFromLoginShell(context.Background(), docker.HydrateOptions{Log: i.a.log})
		if err != nil {
			i.a.log.Warn("docker isolation: could not load the login shell environment; docker runs through $SHELL -l", "error", err)
			return
		}
		env.LoginShellLoaded = h.Loaded
		i.mu.Lock()
		i.env = env
		i.mu.Unlock()
		i.prober.SetEnviron(env)
		i.launcher.SetEnviron(env)
	})
}

// ConfigChanged prepares docker (login-shell environment, stdio shim) the
// first time a configuration needs it, and logs the decisions at debug level
// and, once per process, the warning for per-server opt-ins that the global
// flag ignores.
func (i *Isolation) ConfigChanged(cfg *config.Config) {
	i.hydrate(cfg)
	i.prepareShim(cfg)
	path := i.resolver.Resolve(context.Background()).Path
	var ignored []string
	for _, s := range cfg.Servers {
		d := isolation.Decide(cfg.DockerIsolation, s, path)
		i.a.log.Debug("docker isolation decision", "server", s.Name, "isolated", d.Isolated, "reason", d.Reason)
		if d.IgnoredOptIn {
			ignored = append(ignored, s.Name)
		}
	}
	i.mu.Lock()
	var fresh []string
	for _, n := range ignored {
		if !i.warned[n] {
			i.warned[n] = true
			fresh = append(fresh, n)
		}
	}
	i.mu.Unlock()
	if len(fresh) > 0 {
		sort.Strings(fresh)
		i.a.log.Warn("per-server docker isolation opt-in ignored: global docker_isolation.enabled is false",
			"servers", strings.Join(fresh, ","),
			"hint", "set docker_isolation.enabled to true in "+i.a.opts.ConfigPath+" to isolate these servers")
	}
}

// DockerStatus reports the cached (or refreshed) docker probe.
func (i *Isolation) DockerStatus(ctx context.Context, refresh bool) DockerStatusView {
	st := i.prober.Probe(ctx, refresh)
	res := i.resolver.Resolve(ctx)
	return DockerStatusView{Available: st.Available, DockerPath: st.DockerPath, Source: res.Source, Version: st.Version, CheckedAt: st.CheckedAt, Error: st.Error}
}

// Start reaps containers left behind by dead instances (after a crash).
func (i *Isolation) Start(ctx context.Context) {
	res := i.resolver.Resolve(ctx)
	if res.Path == "" {
		return
	}
	i.mu.Lock()
	guaranteed := i.env.DaemonEnvGuaranteed()
	i.mu.Unlock()
	if !guaranteed && !i.needsDocker(i.a.Config()) {
		// Nothing here uses docker and reaching it would take a login shell
		// per call: leave orphans to the next start that uses docker.
		i.a.log.Debug("docker isolation: reaper skipped (no server uses docker)")
		return
	}
	st := i.prober.Probe(ctx, false)
	if !st.Available {
		return
	}
	i.mu.Lock()
	env := i.env
	i.mu.Unlock()
	cli := docker.NewCLI(res, env, nil)
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	removed, err := docker.Reap(rctx, cli, i.lockDir, i.instance.ID, i.a.log)
	if err != nil {
		i.a.log.Warn("docker isolation: reaping orphaned containers failed", "error", err)
	} else if len(removed) > 0 {
		i.a.log.Info("docker isolation: removed containers of a crashed mcpproxy", "containers", strings.Join(removed, ","))
	}
}

// KillContainers removes every container this instance started, at once.
func (i *Isolation) KillContainers() { i.launcher.RemoveAll(2 * time.Second) }

// Close removes this instance's containers, stops the docker events watcher
// and releases the instance lock.
func (i *Isolation) Close() {
	i.launcher.Close(20 * time.Second)
	i.instance.Release()
}

// RunTelemetry runs the daily report until ctx ends.
func (i *Isolation) RunTelemetry(ctx context.Context) {
	r := telemetry.NewReporter(i.telemetrySources(i.a.opts.DataDir), i.a.log)
	r.Run(ctx)
}

func (i *Isolation) telemetrySources(dataDir string) telemetry.Sources {
	return telemetry.Sources{
		Config: i.a.Config,
		DockerAvailable: func(ctx context.Context) bool {
			return i.prober.Probe(ctx, false).Available
		},
		IsIsolated: func(global config.DockerIsolation, s *config.Server) bool {
			return isolation.Decide(global, s, i.resolver.Resolve(context.Background()).Path).Isolated
		},
		Version: i.a.opts.Version,
		DataDir: dataDir,
	}
}

// TelemetryPayload builds the exact report for `mcpproxy telemetry show`
// without starting the proxy.
func TelemetryPayload(ctx context.Context, dataDir, configPath, version string) (telemetry.Payload, bool, error) {
	cfg, err := config.Load(configPath)
	if errors.Is(err, fs.ErrNotExist) { // Load wraps the error; os.IsNotExist would miss it
		cfg, err = config.Default(), nil
	}
	if err != nil {
		return telemetry.Payload{}, false, err
	}
	res := docker.NewResolver()
	prober := &docker.Prober{Resolve: res.Resolve}
	src := telemetry.Sources{
		Config:          func() *config.Config { return cfg },
		DockerAvailable: func(ctx context.Context) bool { return prober.Probe(ctx, false).Available },
		IsIsolated: func(global config.DockerIsolation, s *config.Server) bool {
			return isolation.Decide(global, s, res.Resolve(ctx).Path).Isolated
		},
		Version: version,
		DataDir: dataDir,
	}
	p, err := telemetry.Build(ctx, src)
	return p, cfg.Telemetry.Enabled, err
}

// prepareShim installs the stdio shim once, the first time a configuration
// needs docker (so an invalid config, or one without containers, leaves the
// data dir untouched and costs no start-up time).
func (i *Isolation) prepareShim(cfg *config.Config) {
	if !i.needsDocker(cfg) {
		return
	}
	i.shimOnce.Do(func() {
		if bin, why := installShim(filepath.Join(i.a.opts.DataDir, "run", "bin")); bin != "" {
			i.launcher.SetShimBinary(bin)
		} else {
			i.a.log.Debug("docker isolation: stdio shim not used; container stdio goes through docker attach", "reason", why)
		}
	})
}

// installShim puts the stdio shim on disk when containers can reach a unix
// socket of ours: a Linux host whose daemon is local (a remote daemon, or
// Docker Desktop's VM on macOS, cannot see host sockets). It returns "" and
// the reason otherwise.
func installShim(dir string) (string, string) {
	if runtime.GOOS != "linux" {
		return "", "the docker daemon runs in a VM on " + runtime.GOOS
	}
	if os.Getenv("MCPPROXY_DOCKER_ATTACH") == "1" {
		return "", "MCPPROXY_DOCKER_ATTACH=1"
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" && !strings.HasPrefix(h, "unix://") {
		return "", "DOCKER_HOST is not a local unix socket"
	}
	p, err := shim.Install(dir)
	if err != nil {
		return "", err.Error()
	}
	return p, ""
}
