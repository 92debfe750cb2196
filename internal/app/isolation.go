package app

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/docker"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/kube"
	"github.com/mcpproxy/mcpproxy/internal/machine"
	"github.com/mcpproxy/mcpproxy/internal/shim"
	"github.com/mcpproxy/mcpproxy/internal/telemetry"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// Isolation ties the isolation policy to its container backend for the app:
// the backend (the Docker runtime), the isolating launcher, the background
// preparation of docker, the crash reaper and the ignored-opt-in warning.
// Nothing here runs docker itself: every docker call goes through the
// runtime or the docker driver's API.
type Isolation struct {
	a        *App
	resolver *docker.Resolver
	prober   *docker.Prober
	runtime  *docker.Runtime
	launcher *upstream.IsolatingLauncher
	instance *docker.Instance
	lockDir  string
	// host is what plans know of this machine (mounts, cache volumes).
	host isolation.Host

	// ctx ends at Close; wg owns the background preparation.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// resolved is the resolution of the docker CLI, in the background, once;
	// ready is the preparation of docker for containers (login-shell
	// environment, stdio shim), once a configuration needs it.
	resolved, ready once

	mu     sync.Mutex
	env    docker.Environ
	warned map[string]bool
	// reporter is the running telemetry reporter (RunTelemetry), woken
	// when the configuration changes.
	reporter *telemetry.Reporter
	// lastStatus is the docker status DockerStatus last reported.
	lastStatus httpapi.DockerStatus
	hasStatus  bool
	// the cache volume sweep (volumes.go): the configuration to sweep
	// against next, and whether a sweep runs
	sweepCfg *config.Config
	sweeping bool
	closing  bool

	// backend is docker_isolation.backend in force; kube is the Kubernetes
	// runtime when it is "kubernetes" (backend.go).
	backend       string
	kube          *kube.Runtime
	warnedBackend string
}

// once runs a function in the background at most once and tells when it is
// done. Unlike sync.Once, nobody waits while holding a lock.
type once struct {
	mu     sync.Mutex
	done   chan struct{}
	sealed bool
}

// start runs f on a goroutine of wg the first time; the channel is closed
// when f has returned. Once sealed, nothing starts and the channel returned
// is closed.
func (o *once) start(wg *sync.WaitGroup, f func()) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done == nil {
		o.done = make(chan struct{})
		done := o.done
		if o.sealed {
			close(done)
			return done
		}
		wg.Go(func() {
			defer close(done)
			f()
		})
	}
	return o.done
}

// finished reports whether f has run to its end (false when it never
// started).
func (o *once) finished() bool {
	o.mu.Lock()
	d := o.done
	o.mu.Unlock()
	if d == nil {
		return false
	}
	select {
	case <-d:
		return true
	default:
		return false
	}
}

// seal makes start a no-op from now on (shutdown: wg is about to be
// waited for).
func (o *once) seal() {
	o.mu.Lock()
	o.sealed = true
	o.mu.Unlock()
}

func newIsolation(a *App) (*Isolation, error) {
	lockDir := docker.DefaultLockDir()
	inst, err := docker.AcquireInstance(lockDir)
	if err != nil {
		return nil, err
	}
	res := a.opts.DockerResolver
	if res == nil {
		res = docker.NewResolver()
	}
	i := &Isolation{a: a, resolver: res, instance: inst, lockDir: lockDir, warned: map[string]bool{}, host: machine.Host(a.opts.DataDir, a.opts.ConfigPath)}
	i.ctx, i.cancel = context.WithCancel(context.Background())
	i.runtime = i.newDockerRuntime()
	i.launcher = &upstream.IsolatingLauncher{
		Host:    upstream.HostLauncher{},
		Runtime: i.runtime,
		Docker:  dockerCLI{i},
		Prepare: i.prepare,
		Machine: i.host,
		Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: inst.ID,
			isolation.LabelHost: i.host.HostID, isolation.LabelDataDir: i.host.DataDirID},
		Logger: a.log,
	}
	return i, nil
}

// newDockerRuntime builds the container backend: the one place where the
// app picks and constructs it.
func (i *Isolation) newDockerRuntime() *docker.Runtime {
	// The prober never waits for the docker CLI to be resolved: until the
	// background resolution ends it reports docker as not found.
	i.prober = &docker.Prober{Resolve: i.cachedOrResolve, Log: i.a.log}
	return &docker.Runtime{
		Resolver: i.resolver,
		Prober:   i.prober,
		RunDir:   filepath.Join(i.a.opts.DataDir, "run"),
		Instance: i.instance.ID,
		Log:      i.a.log,
	}
}

// cachedOrResolve is the resolution made so far, or a new one when none was.
func (i *Isolation) cachedOrResolve(ctx context.Context) docker.Resolution {
	if r, ok := i.resolver.Cached(); ok {
		return r
	}
	return i.resolver.Resolve(ctx)
}

// dockerCLI is upstream.DockerCLI over the runtime.
type dockerCLI struct{ i *Isolation }

func (d dockerCLI) Path() string {
	r, _ := d.i.resolver.Cached()
	return r.Path
}

func (d dockerCLI) Command(ctx context.Context, args []string, env map[string]string) (*exec.Cmd, string) {
	return d.i.runtime.Command(ctx, args, env)
}

// FirstRunProbe decides docker_isolation.enabled for a newly created config:
// true when the daemon answers `docker info` within the context's deadline.
func (i *Isolation) FirstRunProbe(ctx context.Context) bool {
	i.resolver.Resolve(ctx)
	return i.prober.Probe(ctx, true).Available
}

// Launcher returns the launcher that isolates servers per the policy.
func (i *Isolation) Launcher() upstream.Launcher { return i.launcher }

// dockerPath is the docker binary resolved so far ("" while unresolved); it
// never waits.
func (i *Isolation) dockerPath() string {
	r, _ := i.resolver.Cached()
	return r.Path
}

// Decide implements control.Isolation: the single decision for server s
// under cfg (with the docker path resolved so far).
func (i *Isolation) Decide(cfg *config.Config, s *config.Server) isolation.Decision {
	return i.host.Decide(cfg.DockerIsolation, s, i.dockerPath())
}

// ResolveDocker implements control.Isolation.
func (i *Isolation) ResolveDocker(ctx context.Context) string { return i.resolver.Resolve(ctx).Path }

// StartPhase implements control.Isolation.
func (i *Isolation) StartPhase(server string) string { return i.launcher.StartPhase(server) }

// LastExit implements control.Isolation.
func (i *Isolation) LastExit(server string) (upstream.ExitNote, bool) {
	return i.launcher.LastExit(server)
}

// RunArgs implements control.Isolation: the docker run argv of plan, as the
// launcher would start it, with a made-up container ID.
func (i *Isolation) RunArgs(plan *isolation.Plan) []string {
	if i.kube != nil {
		return nil
	}
	labels := maps.Clone(i.launcher.Labels)
	labels[isolation.LabelServer] = plan.Server
	args, err := i.runtime.DisplayArgs(plan, isolation.ContainerName(plan.Server, "xxxxxxxx"), labels)
	if err != nil {
		return nil
	}
	return args
}

// resolve starts resolving the docker CLI in the background (once); the
// channel is closed when it is done. Once resolved, the configuration is
// applied again: a decision may depend on the docker path.
func (i *Isolation) resolve() <-chan struct{} {
	return i.resolved.start(&i.wg, func() {
		res := i.resolver.Resolve(i.ctx)
		i.a.log.Debug("docker isolation: docker CLI resolved", "path", res.Path, "source", res.Source)
		if res.Path != "" && i.ctx.Err() == nil {
			i.ConfigChanged(i.a.Config())
			i.a.mgr.Reconcile()
		}
		i.a.ctl.DockerChanged()
	})
}

// prepare waits until docker is ready for containers, starting the
// preparation if nothing has yet: the CLI resolved, the daemon settings
// loaded from the login shell unless exported already (after which docker
// is exec'd directly: the spec's condition), the stdio shim installed, and
// availability probed afresh. It runs once, in the background, the first
// time a configuration needs docker; upstream starts wait for it, requests
// never do.
func (i *Isolation) prepare(ctx context.Context) error {
	select {
	case <-i.startPrepare():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startPrepare starts the preparation of docker (once) and returns the
// channel closed when it is done.
func (i *Isolation) startPrepare() <-chan struct{} {
	return i.ready.start(&i.wg, func() {
		select {
		case <-i.resolve():
		case <-i.ctx.Done():
			return
		}
		i.hydrate()
		i.installShim()
		i.prober.Probe(i.ctx, true)
		i.a.ctl.DockerChanged()
	})
}

// hydrate loads the docker daemon settings (DOCKER_HOST…) from the user's
// login shell, unless they are exported to mcpproxy already.
func (i *Isolation) hydrate() {
	i.mu.Lock()
	env := i.env
	i.mu.Unlock()
	if env.DaemonEnvGuaranteed() {
		return
	}
	h, err := docker.HydrateFromLoginShell(i.ctx, docker.HydrateOptions{Log: i.a.log})
	if err != nil {
		i.a.log.Warn("docker isolation: could not load the login shell environment; docker runs through $SHELL -l", "error", err)
		return
	}
	env.LoginShellLoaded = h.Loaded
	i.mu.Lock()
	i.env = env
	i.mu.Unlock()
	i.runtime.SetEnviron(env)
}

// installShim puts the stdio shim on disk when containers can reach a unix
// socket of ours (docker.ShimUsable).
func (i *Isolation) installShim() {
	ok, why := docker.ShimUsable(runtime.GOOS)
	bin := ""
	if ok {
		var err error
		if bin, err = shim.Install(filepath.Join(i.a.opts.DataDir, "run", "bin")); err != nil {
			why = err.Error()
		}
	}
	if bin == "" {
		i.a.log.Debug("docker isolation: stdio shim not used; container stdio goes through docker attach", "reason", why)
		return
	}
	i.runtime.SetShimBinary(bin)
}

// ConfigChanged starts preparing docker (in the background) the first time
// a configuration needs it, and logs the decisions at debug level and, once
// per process, the warning for per-server opt-ins that the global flag
// ignores. It never waits.
func (i *Isolation) ConfigChanged(cfg *config.Config) {
	// A configuration that turns telemetry on is reported soon, not at
	// the next hourly check.
	i.mu.Lock()
	r := i.reporter
	i.mu.Unlock()
	if r != nil {
		r.Wake()
	}
	path := i.dockerPath()
	i.backendChanged(cfg)
	if i.usesDocker(cfg, path) {
		i.startPrepare()
	}
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

// DockerStatus reports the cached (or refreshed) docker probe. It never
// waits for the docker CLI to be resolved: until then it says so.
func (i *Isolation) DockerStatus(ctx context.Context, refresh bool) httpapi.DockerStatus {
	st := i.dockerStatus(ctx, refresh)
	i.mu.Lock()
	i.lastStatus, i.hasStatus = st, true
	i.mu.Unlock()
	return st
}

func (i *Isolation) dockerStatus(ctx context.Context, refresh bool) httpapi.DockerStatus {
	if i.kube != nil {
		return i.kubeStatus(ctx, refresh)
	}
	if _, ok := i.resolver.Cached(); !ok {
		i.resolve()
		return httpapi.DockerStatus{Error: "the docker CLI is being resolved (PATH, well-known locations, login shell)"}
	}
	return dockerView(i.runtime.Probe(ctx, refresh))
}

func dockerView(st isolation.BackendStatus) httpapi.DockerStatus {
	return httpapi.DockerStatus{Available: st.Available, DockerPath: st.Path, Source: st.Source, Version: st.Version, CheckedAt: st.CheckedAt, Error: st.Error}
}

// LastDockerStatus implements control.Isolation: the status last reported
// (or the docker probe's last answer); it never probes.
func (i *Isolation) LastDockerStatus() httpapi.DockerStatus {
	i.mu.Lock()
	st, ok := i.lastStatus, i.hasStatus
	i.mu.Unlock()
	if i.kube == nil {
		// The prober's answer is the latest, whoever asked (a start, the
		// background preparation, a request).
		if p, probed := i.prober.Last(); probed && (!ok || !p.CheckedAt.Before(st.CheckedAt)) {
			res, _ := i.resolver.Cached()
			return httpapi.DockerStatus{Available: p.Available, DockerPath: p.DockerPath, Source: res.Source, Version: p.Version, CheckedAt: p.CheckedAt, Error: p.Error}
		}
	}
	if ok {
		return st
	}
	return httpapi.DockerStatus{Error: "not checked yet"}
}

// Start resolves the docker CLI in the background and then reaps the
// containers left behind by dead instances (after a crash). It returns when
// both are done (or ctx ends).
func (i *Isolation) Start(ctx context.Context) {
	if i.kube != nil && isolation.Isolates(i.a.Config(), i.dockerPath()) {
		i.openKube(ctx)
	}
	select {
	case <-i.resolve():
	case <-ctx.Done():
		return
	}
	if i.dockerPath() == "" {
		return
	}
	i.mu.Lock()
	guaranteed := i.env.DaemonEnvGuaranteed()
	i.mu.Unlock()
	if !guaranteed && !i.usesDocker(i.a.Config(), i.dockerPath()) {
		// Nothing here uses docker and reaching it would take a login shell
		// per call: leave orphans to the next start that uses docker.
		i.a.log.Debug("docker isolation: reaper skipped (no server uses docker)")
		return
	}
	if !i.runtime.Probe(ctx, false).Available {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// We hold the data dir's lock: every other instance that labelled a
	// container with this host and this data dir is dead.
	me := docker.Owner{Host: i.launcher.Labels[isolation.LabelHost], DataDir: i.launcher.Labels[isolation.LabelDataDir], Instance: i.instance.ID}
	removed, err := docker.Reap(rctx, i.runtime, me, i.a.log)
	if err != nil {
		i.a.log.Warn("docker isolation: reaping orphaned containers failed", "error", err)
	} else if len(removed) > 0 {
		i.a.log.Info("docker isolation: removed containers of a crashed mcpproxy", "containers", strings.Join(removed, ","))
	}
	i.sweepVolumes(rctx, i.a.Config())
}

// KillContainers removes every container this instance started, at once.
func (i *Isolation) KillContainers() {
	if i.kube != nil {
		i.kube.RemoveAll(2 * time.Second)
	}
	i.runtime.RemoveAll(2 * time.Second)
}

// Close removes this instance's containers, stops the background work and
// the docker events watcher, and releases the instance lock.
func (i *Isolation) Close() {
	i.cancel()
	i.resolved.seal()
	i.ready.seal()
	i.mu.Lock()
	i.closing = true // no sweep starts from now on
	i.mu.Unlock()
	i.wg.Wait()
	i.prober.Close()
	if i.kube != nil {
		i.closeKube(20 * time.Second)
	}
	i.runtime.Close(20 * time.Second)
	i.instance.Release()
}

// RunTelemetry runs the daily report until ctx ends.
func (i *Isolation) RunTelemetry(ctx context.Context) {
	r := telemetry.NewReporter(i.telemetrySources(i.a.opts.DataDir), i.a.log)
	i.mu.Lock()
	i.reporter = r
	i.mu.Unlock()
	r.Run(ctx)
}

func (i *Isolation) telemetrySources(dataDir string) telemetry.Sources {
	return telemetry.Sources{
		Config: i.a.Config,
		DockerAvailable: func(ctx context.Context) bool {
			return i.prober.Probe(ctx, false).Available
		},
		IsIsolated: func(global config.DockerIsolation, s *config.Server) bool {
			return isolation.Decide(global, s, i.dockerPath()).Isolated
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
