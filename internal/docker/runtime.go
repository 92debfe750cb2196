package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/process"
)

// Runtime runs isolation Plans as containers through the docker CLI: the
// first isolation.Runtime. Each container is a `docker run -i` whose
// stdio carries the server's (or, with the stdio shim, whose entrypoint
// connects the server to a unix socket of the proxy). Set the fields before
// first use; the zero values of the others are ready.
type Runtime struct {
	// Resolver finds the docker CLI.
	Resolver *Resolver
	// Prober answers "is docker available" with a cache.
	Prober *Prober
	// RunDir holds the cidfiles and the shim's socket directories.
	RunDir string
	// Instance is this proxy's LabelInstance value: the events watcher
	// follows only its containers.
	Instance string
	// Log receives the debug argv and lifecycle lines; nil discards.
	Log *slog.Logger

	images singleflight.Group // image checks in flight, by reference
	// joinedCheck, when set (tests), is called once a caller waits on a
	// shared image check.
	joinedCheck func()

	mu         sync.Mutex
	environ    Environ
	shimBinary string
	closed     bool
	live       map[string]*container // started, not yet removed, by name
	ctx        context.Context       // ends at Close (the events watcher)
	cancel     context.CancelFunc
	watching   bool            // the OOM watcher runs
	oom        map[string]bool // container IDs the engine reported OOM-killed
	oomNow     chan struct{}   // closed (and replaced) at each OOM event
	wg         sync.WaitGroup  // the watcher and Events streams
}

var _ isolation.Runtime = (*Runtime)(nil)

// Name implements isolation.Runtime.
func (r *Runtime) Name() string { return "docker" }

// SetEnviron replaces how the docker CLI is exec'd (direct or through the
// login shell), for probes and for containers started from now on.
func (r *Runtime) SetEnviron(e Environ) {
	r.mu.Lock()
	r.environ = e
	r.mu.Unlock()
	r.Prober.SetEnviron(e)
}

// SetShimBinary sets the host path of the stdio shim for containers started
// from now on; "" sends stdio through docker's attach stream.
func (r *Runtime) SetShimBinary(path string) {
	r.mu.Lock()
	r.shimBinary = path
	r.mu.Unlock()
}

func (r *Runtime) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// cli is the docker CLI as resolved, run the way spawns are.
func (r *Runtime) cli(ctx context.Context) (*CLI, Resolution, Environ) {
	res := r.Resolver.Resolve(ctx)
	r.mu.Lock()
	env := r.environ
	r.mu.Unlock()
	return NewCLI(res, env, nil), res, env
}

// Probe implements isolation.Runtime with the Prober's cache.
func (r *Runtime) Probe(ctx context.Context, refresh bool) isolation.BackendStatus {
	st := r.Prober.Probe(ctx, refresh)
	res, _ := r.Resolver.Cached()
	return isolation.BackendStatus{Available: st.Available, Path: st.DockerPath, Source: res.Source,
		Version: st.Version, CheckedAt: st.CheckedAt, Error: st.Error}
}

// imageCheckTimeout bounds one shared image check.
const imageCheckTimeout = 30 * time.Second

// EnsureImage implements isolation.Runtime: a local image is used as it is;
// a missing one is pulled, each line of docker's progress passed on. The
// check is shared: servers of one image starting together run one `docker
// image inspect`, not one each. Nothing is cached beyond that call, so a
// later start sees a pull or removal made since. A failed pull is an
// *ImageError: one line naming the image, the registry, why and the fix.
func (r *Runtime) EnsureImage(ctx context.Context, image string, progress func(line string)) error {
	cli, _, _ := r.cli(ctx)
	ok, err := r.imageExists(ctx, cli, image)
	if err != nil {
		return fmt.Errorf("image check: %w", err)
	}
	if ok {
		return nil
	}
	if progress == nil {
		progress = func(string) {}
	}
	progress("not present locally; pulling")
	if err := cli.Pull(ctx, image, progress); err != nil {
		return imageError(image, err)
	}
	return nil
}

func (r *Runtime) imageExists(ctx context.Context, cli *CLI, ref string) (bool, error) {
	ch := r.images.DoChan(ref, func() (any, error) {
		// Not bound to the first caller's context: the others share it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), imageCheckTimeout)
		defer cancel()
		return cli.ImageExists(cctx, ref)
	})
	if r.joinedCheck != nil {
		r.joinedCheck()
	}
	select {
	case res := <-ch:
		ok, _ := res.Val.(bool)
		return ok, res.Err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// ListManaged implements isolation.Runtime.
func (r *Runtime) ListManaged(ctx context.Context) ([]isolation.Managed, error) {
	cli, _, _ := r.cli(ctx)
	return cli.ListManaged(ctx)
}

// Remove implements isolation.Runtime (by ID or exact name).
func (r *Runtime) Remove(ctx context.Context, id string) error {
	cli, _, _ := r.cli(ctx)
	return cli.Remove(ctx, id)
}

// Events implements isolation.Runtime: start, die and oom events of this
// instance's containers, from now until ctx ends. The channel is closed
// then (or when docker events exits); Close waits for the stream to end.
func (r *Runtime) Events(ctx context.Context) (<-chan isolation.Event, error) {
	cli, _, _ := r.cli(ctx)
	cmd, stdout, err := startEvents(ctx, cli, eventsArgs(r.Instance, time.Now(), "start", "die", "oom"))
	if err != nil {
		return nil, err
	}
	out := make(chan isolation.Event)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(out)
		scanEvents(stdout, func(ev isolation.Event) {
			select {
			case out <- ev:
			case <-ctx.Done():
			}
		})
		_ = cmd.Wait()
	}()
	return out, nil
}

// Command returns the command that runs docker with args the way spawns do
// (direct exec or the login-shell wrap, the resolved binary's folder first
// on PATH), with env added to mcpproxy's environment, and the spawn mode.
// It serves upstreams whose configured command is docker itself.
func (r *Runtime) Command(ctx context.Context, args []string, env map[string]string) (*exec.Cmd, string) {
	_, res, environ := r.cli(ctx)
	spawn := PlanSpawn(res, args, environ)
	cmd := exec.Command(spawn.Argv[0], spawn.Argv[1:]...)
	cmd.Env = ChildEnv(process.MergeEnv(os.Environ(), env), res)
	return cmd, spawn.Mode
}

// ensureWatcher keeps one `docker events` watcher running for this
// instance's containers, so that an OOM kill the engine handles after the
// container's exit is known at once. It asks for events since just before it started,
// so an event that happens while it connects is replayed, not lost; when
// docker events exits, the next start restarts it.
func (r *Runtime) ensureWatcher(cli *CLI) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watching {
		return nil
	}
	if r.closed {
		return errClosed
	}
	if r.ctx == nil {
		r.ctx, r.cancel = context.WithCancel(context.Background())
	}
	cmd, stdout, err := startEvents(r.ctx, cli, eventsArgs(r.Instance, time.Now().Add(-time.Second), "oom"))
	if err != nil {
		return fmt.Errorf("docker isolation: %w", err)
	}
	r.watching = true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		scanEvents(stdout, func(ev isolation.Event) { r.noteOOM(ev.ContainerID) })
		_ = cmd.Wait()
		r.mu.Lock()
		r.watching = false
		r.mu.Unlock()
	}()
	return nil
}

func (r *Runtime) noteOOM(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.oom == nil {
		r.oom = map[string]bool{}
	}
	r.oom[id] = true
	if r.oomNow != nil {
		close(r.oomNow)
		r.oomNow = nil
	}
}

// oomWait bounds how long an exit with code 137 waits for the engine to
// report an OOM kill it handles after the exit (by seconds when the engine
// is busy). Only a SIGKILLed container waits; its restart is delayed by as
// much.
const oomWait = 5 * time.Second

// awaitOOM reports whether the engine saw container id OOM-killed. The
// container still exists (no --rm), so its state tells at once when the
// engine handled the OOM before the exit, which is the usual order;
// otherwise the watcher's OOM event is awaited up to oomWait (or until ctx
// ends), and the state is read once more at the end.
func (r *Runtime) awaitOOM(ctx context.Context, id string) bool {
	if r.oomKilled(ctx, id) {
		return true
	}
	t := time.NewTimer(oomWait)
	defer t.Stop()
	for {
		r.mu.Lock()
		if r.oom[id] {
			r.mu.Unlock()
			return true
		}
		if r.oomNow == nil {
			r.oomNow = make(chan struct{})
		}
		ch := r.oomNow
		r.mu.Unlock()
		select {
		case <-ch:
		case <-t.C:
			return r.oomKilled(ctx, id)
		case <-ctx.Done():
			return false
		}
	}
}

// oomKilled reports whether the engine's state of container id says it was
// OOM-killed (false when that cannot be read).
func (r *Runtime) oomKilled(ctx context.Context, id string) bool {
	cli, _, _ := r.cli(ctx)
	ok, err := cli.OOMKilled(ctx, id)
	if err != nil {
		r.log().Debug("docker isolation: reading a container's OOM state", "id", id, "error", err)
	}
	return ok
}

var errClosed = errors.New("docker isolation: mcpproxy is shutting down")

// isClosed reports whether Close has begun (no start may begin after it).
func (r *Runtime) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

func (r *Runtime) track(c *container) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	if r.live == nil {
		r.live = map[string]*container{}
	}
	r.live[c.name] = c
	return true
}

func (r *Runtime) untrack(c *container) {
	r.mu.Lock()
	if r.live[c.name] == c {
		delete(r.live, c.name)
	}
	r.mu.Unlock()
}

// RemoveAll removes every container this runtime started and has not
// removed yet (second signal, shutdown), concurrently, by ID (by its exact,
// unique name while the ID is not known yet), within timeout.
func (r *Runtime) RemoveAll(timeout time.Duration) {
	r.mu.Lock()
	cs := make([]*container, 0, len(r.live))
	for _, c := range r.live {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	if len(cs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.proc.Kill()
			_ = c.remove(ctx)
		}()
	}
	wg.Wait()
}

// Close refuses further starts, removes every container left (see
// RemoveAll), stops the events watcher and waits for the event streams.
func (r *Runtime) Close(timeout time.Duration) {
	r.mu.Lock()
	r.closed = true
	cancel := r.cancel
	r.mu.Unlock()
	r.RemoveAll(timeout)
	if cancel != nil {
		cancel()
	}
	r.wg.Wait()
}

// Start implements isolation.Runtime: `docker run -i` of plan, with the
// stdio shim when it can be used, returned once docker has created the
// container (its ID is known) and, with the shim, the server's stdio is
// connected. On failure whatever was created is removed.
func (r *Runtime) Start(ctx context.Context, plan *isolation.Plan, opts isolation.StartOptions) (isolation.Container, error) {
	cli, res, environ := r.cli(ctx)
	if res.Path == "" {
		return nil, errors.New("docker isolation: the docker CLI was not found")
	}
	if err := r.ensureWatcher(cli); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.RunDir, 0o700); err != nil {
		return nil, fmt.Errorf("docker isolation: run dir: %w", err)
	}
	if err := r.ensureVolumes(ctx, cli, plan, opts.Labels); err != nil {
		return nil, err
	}
	c := &container{rt: r, name: opts.Name, server: plan.Server, cidfile: filepath.Join(r.RunDir, opts.Name+".cid"),
		memory: plan.MemoryBytes, pids: plan.PidsLimit,
		facts: isolation.Facts{Stdio: "attach", Secrets: isolation.SecretsEnv}}
	_ = os.Remove(c.cidfile)
	spec := RunSpec{Name: opts.Name, CIDFile: c.cidfile, Labels: opts.Labels}
	var childEnv []string
	r.mu.Lock()
	shimBin := r.shimBinary
	r.mu.Unlock()
	if shimBin != "" && ShimCompatible(plan, Shim{Binary: shimBin, Socket: filepath.Join(r.RunDir, "io-"+opts.Name, "stdio.sock")}) {
		link, err := newShimLink(r.RunDir, opts.Name)
		if err != nil {
			return nil, err
		}
		c.link = link
		spec.Shim = &Shim{Binary: shimBin, Socket: link.socket()}
		// The env values go over the socket, not through docker.
		childEnv = append(os.Environ(), ShimTokenEnv+"="+link.token)
		c.facts.Stdio, c.facts.Secrets = "socket", isolation.SecretsShim
	} else {
		childEnv = process.MergeEnv(os.Environ(), opts.Env)
		if len(opts.Env) > 0 {
			c.facts.Notes = append(c.facts.Notes, "env values pass through the docker CLI (-e NAME): they are visible in `docker inspect` (no stdio shim here: "+r.noShimReason(shimBin)+")")
		}
		if plan.PidsLimit > 0 {
			c.facts.Notes = append(c.facts.Notes, noteNoPidsReport)
		}
	}
	argv, err := RunArgs(plan, spec)
	if err != nil {
		c.cleanup()
		return nil, err
	}
	spawn := PlanSpawn(res, argv, environ)
	c.facts.SpawnMode = spawn.Mode
	// Only variable NAMES are in argv; the values reach docker through its
	// own environment.
	r.log().Debug("docker isolation: docker run", "server", plan.Server, "mode", spawn.Mode, "profile", plan.Profile, "notes", strings.Join(plan.Notes, "; "), "argv", strings.Join(spawn.Argv, " "))
	cmd := exec.Command(spawn.Argv[0], spawn.Argv[1:]...)
	cmd.Env = ChildEnv(childEnv, res)
	if r.isClosed() {
		c.cleanup()
		return nil, errClosed
	}
	p, err := process.Start(cmd, opts.Stderr)
	if err != nil {
		c.cleanup()
		return nil, err
	}
	c.proc = p
	c.stdin, c.stdout = p.Stdin, p.Stdout
	c.done = p.Done()
	// Tracked once its docker CLI runs (RemoveAll kills that CLI): a
	// container closed in between is stopped here, by its unique name.
	if !r.track(c) {
		c.abort()
		return nil, errClosed
	}

	// docker run writes the container ID once the container is created,
	// before it starts; the server cannot answer anything earlier, so
	// waiting here costs nothing and the ID is known before anyone asks.
	id, err := waitCIDFile(ctx, c.cidfile, p.Done())
	if id == "" {
		c.abort()
		if err != nil {
			return nil, fmt.Errorf("docker run did not create the container: %w", err)
		}
		return nil, &isolation.ExitedError{Name: c.name, Exit: exitOf(c.name, c.proc.ExitCode(), false, plan.MemoryBytes, plan.PidsLimit, -1)}
	}
	c.setID(id)
	if c.link != nil {
		if opts.Phase != nil {
			opts.Phase("connecting stdio")
		}
		conn, reports, err := c.link.accept(ctx, p.Done(), opts.Env)
		if err != nil {
			c.abort()
			if errors.Is(err, errShimExited) {
				return nil, &isolation.ExitedError{Name: c.name, Exit: c.Exit(ctx)}
			}
			return nil, fmt.Errorf("waiting for the server's stdio: %w", err)
		}
		c.useConn(conn)
		if reports != nil {
			c.setReports(newShimReports(reports, c.pidsHit))
		} else if plan.PidsLimit > 0 {
			// The shim is not the container's init (extra_args): it
			// execs the server and cannot report.
			c.facts.Notes = append(c.facts.Notes, noteNoPidsReport)
		}
	}
	return c, nil
}

// noteNoPidsReport is the Facts note of a container whose PID-limit hits
// cannot be reported (no stdio shim as its init to read pids.events).
const noteNoPidsReport = "pids_limit: hitting it is not reported (no stdio shim as the container's init to read its pids.events); only how the server exited is"

// noShimReason says why a container runs without the stdio shim.
func (r *Runtime) noShimReason(shimBin string) string {
	if shimBin == "" {
		return "the daemon cannot see host sockets, or MCPPROXY_DOCKER_ATTACH=1"
	}
	return "extra_args set their own --entrypoint"
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
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if id := read(); id != "" {
			return id, nil
		}
		select {
		case <-exited:
			return read(), nil
		case <-ctx.Done():
			return read(), ctx.Err()
		case <-tick.C:
		}
	}
}
