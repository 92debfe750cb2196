package upstream

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/docker"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// IsolatingLauncher starts each stdio server the way isolation.Decide says:
// in its own container (docker run -i --rm …), or on the host. Servers whose
// command is docker itself run as given, through the resolved docker binary.
// If a server must be isolated and Docker is unavailable, it is not started
// at all (fail closed).
type IsolatingLauncher struct {
	Host     Launcher
	Resolver *docker.Resolver
	Prober   *docker.Prober
	Instance string // this proxy's instance ID (container label)
	RunDir   string // where cidfiles go
	Logger   *slog.Logger
	// ShimBinary is the host path of the static stdio shim (internal/shim);
	// "" sends stdio through docker's attach stream instead.
	ShimBinary string
	// Environ decides direct exec vs login-shell wrap of the docker CLI.
	Environ docker.Environ

	images singleflight.Group // image checks in flight, by reference

	mu         sync.Mutex
	cfg        *config.Config
	containers map[string]*container // by container name
	oom        map[string]bool       // container IDs that were OOM-killed
	events     *exec.Cmd             // the running `docker events` watcher, or nil
	closed     bool
	starting   map[string]string   // server name → phase of a start under way
	lastExit   map[string]ExitNote // server name → why its last container ended
}

// ExitNote says why a server's container ended.
type ExitNote struct {
	Container string    `json:"container"`
	Reason    string    `json:"reason"`
	OOMKilled bool      `json:"oom_killed"`
	At        time.Time `json:"at"`
}

type container struct {
	name, id string
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

// Key implements ConfigAware: it changes when the decision or plan changes.
func (l *IsolatingLauncher) Key(s *config.Server) string {
	d := isolation.Decide(l.global(), s, l.Resolver.Resolve(context.Background()).Path)
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

// imageExistsTimeout bounds one shared image check.
const imageExistsTimeout = 30 * time.Second

// imageExists checks ref with one docker call for every start that asks at
// the same time: 20 servers of one image starting together run one
// `docker image inspect`, not 20. Nothing is cached beyond that call, so a
// later start sees a pull or removal made since.
func (l *IsolatingLauncher) imageExists(ctx context.Context, cli *docker.CLI, ref string) (bool, error) {
	ch := l.images.DoChan(ref, func() (any, error) {
		// Not bound to the first caller's context: the others share it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), imageExistsTimeout)
		defer cancel()
		return cli.ImageExists(cctx, ref)
	})
	select {
	case r := <-ch:
		ok, _ := r.Val.(bool)
		return ok, r.Err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// Launch implements Launcher.
func (l *IsolatingLauncher) Launch(ctx context.Context, s *config.Server, stderr io.Writer) (*Process, error) {
	res := l.Resolver.Resolve(ctx)
	d := isolation.Decide(l.global(), s, res.Path)
	log := l.log()
	log.Debug("docker isolation decision", "server", s.Name, "isolated", d.Isolated, "reason", d.Reason)
	if isolation.IsDockerCommand(s.Command, res.Path) {
		return l.launchUserDocker(ctx, s, res, stderr, d)
	}
	if !d.Isolated {
		p, err := l.Host.Launch(ctx, s, stderr)
		if p != nil {
			p.Isolation = &IsolationInfo{Isolated: false, Reason: d.Reason}
		}
		return p, err
	}
	plan := d.Plan
	// info is handed to the upstream with the Process and must not change
	// after Launch returns (the upstream copies it under its own lock); the
	// live phase of a start is published through StartPhase instead.
	info := &IsolationInfo{
		Isolated: true, Reason: d.Reason, Image: plan.Image, NetworkMode: plan.NetworkMode,
		MemoryLimit: plan.MemoryLimit, CPULimit: plan.CPULimit, Runtime: plan.Runtime,
	}
	step := func(name string) {
		info.Phase = name
		l.setPhase(s.Name, name)
	}
	defer l.setPhase(s.Name, "")
	fail := func(err error) (*Process, error) {
		return &Process{Isolation: info}, err
	}
	deadline := time.Now().Add(plan.Timeout)
	sctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	cli := docker.NewCLI(res, l.environ(), nil)
	// The image check runs while the daemon is probed: both only read, and
	// each is a docker call of its own.
	type imageCheck struct {
		ok  bool
		err error
	}
	imageDone := make(chan imageCheck, 1)
	go func() {
		ok, err := l.imageExists(sctx, cli, plan.Image)
		imageDone <- imageCheck{ok, err}
	}()
	step("checking docker")
	st := l.Prober.Probe(sctx, false)
	if !st.Available {
		// Fail closed: this server must not run on the host.
		reason := st.Error
		if reason == "" {
			reason = "docker is not available"
		}
		return fail(fmt.Errorf("docker isolation is required for this server but Docker is unavailable (%s); not starting it on the host", reason))
	}
	step("checking image")
	ic := <-imageDone
	ok, err := ic.ok, ic.err
	if err != nil {
		return fail(stalled(sctx.Err(), "image check", plan.Timeout, err))
	}
	if !ok {
		step("pulling image " + plan.Image)
		log.Info("docker isolation: pulling image", "server", s.Name, "image", plan.Image)
		err := cli.Pull(sctx, plan.Image, func(line string) {
			l.setPhase(s.Name, "pulling image "+plan.Image+": "+line)
			log.Info("docker isolation: pull progress", "server", s.Name, "image", plan.Image, "progress", line)
		})
		if err != nil {
			log.Warn("docker isolation: image pull failed", "server", s.Name, "image", plan.Image, "error", err)
			return fail(stalled(sctx.Err(), "image pull", plan.Timeout, err))
		}
	}
	step("starting container")
	name := isolation.ContainerName(s.Name, shortID())
	if err := os.MkdirAll(l.RunDir, 0o700); err != nil {
		return fail(fmt.Errorf("run dir: %w", err))
	}
	cidfile := filepath.Join(l.RunDir, name+".cid")
	_ = os.Remove(cidfile)
	labels := docker.Labels(l.Instance, s.Name)
	args := plan.RunArgs(name, cidfile, labels)
	childEnv := MergeEnv(os.Environ(), s.Env)
	// The stdio shim (when available) connects the server straight to a
	// socket of ours, so messages skip the docker CLI and daemon relays.
	var link *shimLink
	l.mu.Lock()
	shimBin := l.ShimBinary
	l.mu.Unlock()
	if shimBin != "" && plan.ShimCompatible(isolation.Shim{Binary: shimBin, IODir: filepath.Join(l.RunDir, "io-"+name)}) {
		var err error
		if link, err = newShimLink(l.RunDir, name); err != nil {
			return fail(err)
		}
		args = plan.RunArgsShim(name, cidfile, labels, &isolation.Shim{Binary: shimBin, IODir: link.dir})
		childEnv = append(childEnv, isolation.ShimTokenEnv+"="+link.token)
		info.Stdio = "socket"
	} else {
		info.Stdio = "attach"
	}
	spawn := docker.PlanSpawn(res, args, l.environ())
	info.SpawnMode = spawn.Mode
	info.ContainerName = name
	// Only variable NAMES are in argv; the values reach docker through its
	// own environment.
	log.Debug("docker isolation: docker run", "server", s.Name, "mode", spawn.Mode, "argv", strings.Join(spawn.Argv, " "))
	cmd := exec.Command(spawn.Argv[0], spawn.Argv[1:]...)
	cmd.Env = docker.ChildEnv(childEnv, res)
	if err := l.ensureEvents(cli); err != nil {
		if link != nil {
			link.close()
		}
		return fail(err)
	}
	c := &container{name: name}
	if !l.track(c) {
		return fail(errors.New("docker isolation: mcpproxy is shutting down"))
	}
	p, err := StartProcess(cmd, stderr)
	if err != nil {
		l.untrack(name)
		if link != nil {
			link.close()
		}
		return fail(err)
	}
	p.Isolation = info
	p.Deadline = deadline
	p.InitTimeout = plan.Timeout
	p.Cleanup = func(ctx context.Context) error {
		defer os.Remove(cidfile)
		if link != nil {
			defer link.close()
		}
		defer l.untrack(name)
		l.mu.Lock()
		ref := c.id
		l.mu.Unlock()
		if ref == "" {
			// docker run never reported an ID (it failed, or was stopped
			// first): the exact, unique name we gave the container is the
			// only handle, and removing a name that does not exist is a no-op.
			ref = name
		}
		// Stopped by ID (or exact name), never by name pattern.
		return cli.Remove(ctx, ref)
	}
	p.Describe = func(ctx context.Context) string {
		select {
		case <-p.Done():
		case <-ctx.Done():
			return ""
		case <-time.After(2 * time.Second):
			return "" // docker run is still running: no exit to explain
		}
		l.mu.Lock()
		id := c.id
		l.mu.Unlock()
		code := -1
		if ee := (&exec.ExitError{}); errors.As(p.ExitError(), &ee) {
			code = ee.ExitCode()
		}
		note := ExitNote{Container: name, At: time.Now()}
		switch {
		case id != "" && code == 137 && l.awaitOOM(ctx, id):
			note.OOMKilled = true
			note.Reason = fmt.Sprintf("container %s was OOM-killed: the server exceeded its memory limit (%s)", name, plan.MemoryLimit)
		case code == 137:
			note.Reason = fmt.Sprintf("container %s was killed (exit code 137: SIGKILL, e.g. by docker or the kernel)", name)
		case code >= 0:
			note.Reason = fmt.Sprintf("container %s exited with code %d", name, code)
		default:
			return ""
		}
		l.mu.Lock()
		if l.lastExit == nil {
			l.lastExit = map[string]ExitNote{}
		}
		l.lastExit[s.Name] = note
		l.mu.Unlock()
		return note.Reason
	}

	// docker run writes the container ID once the container is created,
	// before it starts; the server cannot answer initialize any earlier, so
	// waiting here costs nothing and the ID is known before anyone asks.
	id, waitErr := waitCIDFile(sctx, cidfile, p.Done())
	if id == "" && waitErr != nil {
		// The container was not even created in time: stop docker run and
		// remove whatever it may have created (by its unique name).
		stopCtx, stopCancel := context.WithTimeout(context.Background(), 30*time.Second)
		p.Stop(stopCtx, 0)
		stopCancel()
		return fail(stalled(waitErr, "container start", plan.Timeout, nil))
	}
	l.mu.Lock()
	c.id = id
	l.mu.Unlock()
	info.ContainerID = id
	if link != nil {
		step("connecting stdio")
		conn, err := link.accept(deadline, p.Done())
		if err != nil {
			stopCtx, stopCancel := context.WithTimeout(context.Background(), 30*time.Second)
			p.Stop(stopCtx, 0)
			stopCancel()
			if errors.Is(err, errShimExited) {
				return fail(fmt.Errorf("container %s exited before its server connected%s", name, exitCodeText(p)))
			}
			return fail(stalled(context.DeadlineExceeded, "container start (waiting for the server's stdio)", plan.Timeout, err))
		}
		p.UseConn(conn)
	}
	if id != "" {
		info.Phase = "container started"
		log.Info("docker isolation: container started", "server", s.Name, "container", name, "id", short(id), "image", plan.Image)
	}
	return p, nil
}

// launchUserDocker runs a server whose command is docker itself (a
// user-supplied `docker run …`): never wrapped again, but spawned through the
// resolved binary so it works where docker is not on PATH.
func (l *IsolatingLauncher) launchUserDocker(ctx context.Context, s *config.Server, res docker.Resolution, stderr io.Writer, d isolation.Decision) (*Process, error) {
	spawn := docker.PlanSpawn(res, s.Args, l.environ())
	l.log().Debug("docker isolation: command is docker; not wrapped", "server", s.Name, "mode", spawn.Mode)
	cmd := exec.Command(spawn.Argv[0], spawn.Argv[1:]...)
	cmd.Env = docker.ChildEnv(MergeEnv(os.Environ(), s.Env), res)
	cmd.Dir = s.WorkingDir
	p, err := StartProcess(cmd, stderr)
	if err != nil {
		return &Process{Isolation: &IsolationInfo{Isolated: false, Reason: d.Reason}}, err
	}
	p.Isolation = &IsolationInfo{Isolated: false, Reason: d.Reason, SpawnMode: spawn.Mode}
	return p, nil
}

// RemoveAll removes every container this launcher started (shutdown and
// second-signal paths), by ID (by its exact, unique name while the ID is not
// known yet), concurrently.
func (l *IsolatingLauncher) RemoveAll(timeout time.Duration) {
	l.mu.Lock()
	var refs []string
	for _, c := range l.containers {
		if c.id != "" {
			refs = append(refs, c.id)
		} else {
			refs = append(refs, c.name)
		}
	}
	l.mu.Unlock()
	if len(refs) == 0 || l.Resolver == nil {
		return
	}
	res := l.Resolver.Resolve(context.Background())
	cli := docker.NewCLI(res, l.environ(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, ref := range refs {
		wg.Add(1)
		go func(ref string) {
			defer wg.Done()
			_ = cli.Remove(ctx, ref)
		}(ref)
	}
	wg.Wait()
}

// Close removes every container left (see RemoveAll), stops the events
// watcher and refuses further isolated starts.
func (l *IsolatingLauncher) Close(timeout time.Duration) {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.RemoveAll(timeout)
	l.mu.Lock()
	ev := l.events
	l.events = nil
	l.mu.Unlock()
	if ev != nil {
		signalGroup(ev, syscall.SIGKILL)
	}
}

func (l *IsolatingLauncher) track(c *container) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	if l.containers == nil {
		l.containers = map[string]*container{}
	}
	l.containers[c.name] = c
	return true
}

func (l *IsolatingLauncher) untrack(name string) {
	l.mu.Lock()
	delete(l.containers, name)
	l.mu.Unlock()
}

// awaitOOM reports whether the events watcher saw container id OOM-killed,
// giving the event a moment to arrive (it can trail the exit slightly).
func (l *IsolatingLauncher) awaitOOM(ctx context.Context, id string) bool {
	deadline := time.Now().Add(2 * time.Second)
	for {
		l.mu.Lock()
		oom := l.oom[id]
		l.mu.Unlock()
		if oom || time.Now().After(deadline) {
			return oom
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// ensureEvents keeps one `docker events` watcher running for this instance's
// containers, so that an OOM kill is known even after --rm removed the
// container. The watcher asks for events since it was (re)started, so an
// event that happens while it is still connecting is replayed, not lost.
func (l *IsolatingLauncher) ensureEvents(cli *docker.CLI) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.events != nil {
		return nil
	}
	if l.oom == nil {
		l.oom = map[string]bool{}
	}
	args := []string{"events",
		"--since", strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10),
		"--filter", "type=container",
		"--filter", "event=oom",
		"--filter", "label=" + docker.LabelInstance + "=" + l.Instance,
		"--format", "{{.Actor.ID}}"}
	argv := cli.Spawn(args).Argv
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = cli.Env
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("docker isolation: docker events: %w", err)
	}
	setProcAttrsCmd(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("docker isolation: docker events: %w", err)
	}
	l.events = cmd
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id := strings.TrimSpace(sc.Text()); id != "" {
				l.mu.Lock()
				l.oom[id] = true
				l.mu.Unlock()
			}
		}
		_ = cmd.Wait()
		l.mu.Lock()
		if l.events == cmd {
			l.events = nil // the next start restarts it
		}
		l.mu.Unlock()
	}()
	return nil
}

// stalled explains a failed start step: err is the step's error (may be
// nil) and ctxErr the error of the start's context. When the start's
// deadline (docker_isolation.timeout) is what ended it, the message says so
// and names the step.
func stalled(ctxErr error, step string, timeout time.Duration, err error) error {
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		if err == nil {
			return fmt.Errorf("start timed out after %s (docker_isolation.timeout) during %s", timeout, step)
		}
		return fmt.Errorf("start timed out after %s (docker_isolation.timeout) during %s: %v", timeout, step, err)
	}
	if err == nil {
		err = ctxErr
	}
	return fmt.Errorf("%s: %w", step, err)
}

// waitCIDFile waits until docker run has written the container ID to path.
// It returns "" and no error when the process exited without writing one,
// and ctx's error when ctx ended first.
func waitCIDFile(ctx context.Context, path string, exited <-chan struct{}) (string, error) {
	read := func() string {
		if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 12 {
			return strings.TrimSpace(string(b))
		}
		return ""
	}
	for {
		if id := read(); id != "" {
			return id, nil
		}
		select {
		case <-exited:
			return read(), nil
		case <-ctx.Done():
			return read(), ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
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

func exitCodeText(p *Process) string {
	if ee := (&exec.ExitError{}); errors.As(p.ExitError(), &ee) {
		return fmt.Sprintf(" (docker run exited with code %d)", ee.ExitCode())
	}
	return ""
}

// environ returns Environ under the lock (SetEnviron may change it once the
// login-shell environment is loaded).
func (l *IsolatingLauncher) environ() docker.Environ {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Environ
}

// SetShimBinary sets ShimBinary for the containers started from now on.
func (l *IsolatingLauncher) SetShimBinary(path string) {
	l.mu.Lock()
	l.ShimBinary = path
	l.mu.Unlock()
}

// SetEnviron replaces Environ.
func (l *IsolatingLauncher) SetEnviron(e docker.Environ) {
	l.mu.Lock()
	l.Environ = e
	l.mu.Unlock()
}
