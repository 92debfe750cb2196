package upstream

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// fakeRuntime is an isolation.Runtime whose containers are pipeServers.
type fakeRuntime struct {
	name      string // Name(); "docker" when empty
	mu        sync.Mutex
	available bool
	imageErr  error
	startErr  error
	block     bool // Start waits for its context
	starts    []isolation.StartOptions
	plans     []*isolation.Plan
	exit      isolation.Exit
	serve     *behaviour // how its containers' servers behave (default: ready with tool echo)
}

func (f *fakeRuntime) Name() string {
	if f.name == "" {
		return "docker"
	}
	return f.name
}
func (f *fakeRuntime) Probe(context.Context, bool) isolation.BackendStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.available {
		return isolation.BackendStatus{Error: "fake engine down"}
	}
	return isolation.BackendStatus{Available: true}
}
func (f *fakeRuntime) EnsureImage(ctx context.Context, image string, progress func(string)) error {
	if f.imageErr != nil {
		progress("not present locally; pulling")
		return f.imageErr
	}
	return nil
}
func (f *fakeRuntime) Start(ctx context.Context, plan *isolation.Plan, opts isolation.StartOptions) (isolation.Container, error) {
	f.mu.Lock()
	f.starts = append(f.starts, opts)
	f.plans = append(f.plans, plan)
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.startErr != nil {
		return nil, f.startErr
	}
	opts.Phase("connecting stdio")
	b := behaviour{tools: []string{"echo"}}
	if f.serve != nil {
		b = *f.serve
	}
	return &fakeContainer{pipeServer: startPipeServer(b), name: opts.Name, exit: f.exit}, nil
}
func (f *fakeRuntime) ListManaged(context.Context) ([]isolation.Managed, error) { return nil, nil }
func (f *fakeRuntime) Remove(context.Context, string) error                     { return nil }
func (f *fakeRuntime) Events(context.Context) (<-chan isolation.Event, error)   { return nil, nil }

type fakeContainer struct {
	*pipeServer
	name string
	exit isolation.Exit
}

func (c *fakeContainer) ID() string                          { return "cid-" + c.name }
func (c *fakeContainer) Name() string                        { return c.name }
func (c *fakeContainer) Exit(context.Context) isolation.Exit { return c.exit }
func (c *fakeContainer) Facts() isolation.Facts {
	return isolation.Facts{Stdio: "socket", Secrets: isolation.SecretsEnv, SpawnMode: "direct", Notes: []string{"fake note"}}
}

// hostRecorder is a host launcher that records its use.
type hostRecorder struct{ fakeLauncher }

// fakeDocker is a DockerCLI that runs `true` for docker.
type fakeDocker struct {
	path string
	args [][]string
}

func (d *fakeDocker) Path() string { return d.path }
func (d *fakeDocker) Command(ctx context.Context, args []string, env map[string]string) (*exec.Cmd, string) {
	d.args = append(d.args, args)
	return exec.Command("cat"), "direct"
}

func isolatingFor(rt *fakeRuntime) (*IsolatingLauncher, *hostRecorder) {
	host := &hostRecorder{}
	l := &IsolatingLauncher{Host: host, Runtime: rt, Docker: &fakeDocker{path: "/usr/bin/docker"},
		Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: "inst"}}
	cfg := config.Default()
	cfg.DockerIsolation.Enabled = true
	l.SetConfig(cfg)
	return l, host
}

func launch(t *testing.T, l *IsolatingLauncher, s *config.Server) (*Launched, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	run, err := l.Launch(ctx, s, io.Discard)
	if run != nil && run.Stdio != nil {
		t.Cleanup(func() { _ = run.Stop(context.Background(), 0) })
	}
	return run, err
}

// Fail closed: with the backend unavailable an isolated server is not
// started anywhere, and the error says why, naming the backend in use.
func TestIsolatedFailsClosed(t *testing.T) {
	for _, tc := range []struct{ backend, want string }{
		{"docker", "docker isolation is required for this server but Docker is unavailable (fake engine down); not starting it on the host"},
		{"kubernetes", "docker isolation (backend kubernetes) is required for this server but the Kubernetes cluster is unavailable (fake engine down); not starting it on the host"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			rt := &fakeRuntime{name: tc.backend}
			l, host := isolatingFor(rt)
			run, err := launch(t, l, &config.Server{Name: "s", Command: "uvx", Args: []string{"pkg"}})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant  %s", err, tc.want)
			}
			if host.count("s") != 0 || len(rt.starts) != 0 {
				t.Fatal("the server was started although the backend is unavailable")
			}
			if run == nil || run.Isolation == nil || !run.Isolation.Isolated || run.Stdio != nil {
				t.Fatalf("launched %+v", run)
			}
		})
	}
}

// A started container: its name and ID, the backend's facts and notes,
// the labels (the launcher's plus the server's) and the env values.
func TestIsolatedStart(t *testing.T) {
	rt := &fakeRuntime{available: true, exit: isolation.Exit{Code: 137, OOMKilled: true, Reason: "container x was OOM-killed"}}
	l, _ := isolatingFor(rt)
	run, err := launch(t, l, &config.Server{Name: "api", Command: "npx", Args: []string{"pkg"}, Env: map[string]string{"K": "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	info := run.Isolation
	if !strings.HasPrefix(info.ContainerName, "mcpproxy-api-") || info.ContainerID != "cid-"+info.ContainerName || info.Stdio != "socket" ||
		info.Secrets != isolation.SecretsEnv || info.SpawnMode != "direct" || info.Phase != "container started" ||
		info.MemoryLimit != "512m" || info.CPULimit != "1" || info.NetworkMode != "bridge" || info.Image != "node:20" {
		t.Fatalf("isolation info %+v", info)
	}
	if len(info.Notes) != 1 || info.Notes[0] != "fake note" {
		t.Fatalf("notes %q", info.Notes)
	}
	opts := rt.starts[0]
	if opts.Labels[isolation.LabelServer] != "api" || opts.Labels[isolation.LabelInstance] != "inst" || opts.Env["K"] != "secret" || opts.Name != info.ContainerName {
		t.Fatalf("start options %+v", opts)
	}
	if l.Labels[isolation.LabelServer] != "" {
		t.Fatal("the launcher's own labels were changed")
	}
	if run.InitTimeout != 30*time.Second || run.Deadline.IsZero() {
		t.Fatalf("timeouts %s %v", run.InitTimeout, run.Deadline)
	}
	if l.StartPhase("api") != "" {
		t.Fatalf("phase after the start: %q", l.StartPhase("api"))
	}
	// Its exit is recorded for the list view.
	_ = run.Stop(context.Background(), 0)
	if e := run.Exit(context.Background()); e.Reason != "container x was OOM-killed" || !e.OOMKilled {
		t.Fatalf("Exit = %+v", e)
	}
	if n, ok := l.LastExit("api"); !ok || !n.OOMKilled || n.Container != info.ContainerName {
		t.Fatalf("LastExit = %+v, %v", n, ok)
	}
}

// A failed image and a failed start are the errors; a start that outlives
// docker_isolation.timeout names the step it was in.
func TestIsolatedStartFailures(t *testing.T) {
	rt := &fakeRuntime{available: true, imageErr: errors.New(`pull image "x": manifest unknown`)}
	l, _ := isolatingFor(rt)
	if _, err := launch(t, l, &config.Server{Name: "s", Command: "npx"}); err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Fatalf("image failure: %v", err)
	}
	rt = &fakeRuntime{available: true, startErr: errBoom}
	l, _ = isolatingFor(rt)
	if _, err := launch(t, l, &config.Server{Name: "s", Command: "npx"}); !errors.Is(err, errBoom) {
		t.Fatalf("start failure: %v", err)
	}
	rt = &fakeRuntime{available: true, block: true}
	l, _ = isolatingFor(rt)
	cfg := config.Default()
	cfg.DockerIsolation.Enabled = true
	cfg.DockerIsolation.Timeout = config.Duration(50 * time.Millisecond)
	l.SetConfig(cfg)
	_, err := launch(t, l, &config.Server{Name: "s", Command: "npx"})
	if err == nil || !strings.Contains(err.Error(), "start timed out after 50ms (docker_isolation.timeout) during starting container") {
		t.Fatalf("timeout: %v", err)
	}
}

// A container that started but whose server never answers initialize
// uses up docker_isolation.timeout in the MCP handshake: the error says
// so. (The steps before it are in memory here; against the engine, a slow
// container start can use up the timeout earlier, and the error then names
// that step: TestIsolationStartTimeoutNamesStep.)
func TestIsolatedStartTimeoutDuringInitialize(t *testing.T) {
	rt := &fakeRuntime{available: true, serve: &behaviour{silent: true}}
	l, _ := isolatingFor(rt)
	cfg := config.Default()
	cfg.DockerIsolation.Enabled = true
	cfg.DockerIsolation.Timeout = config.Duration(300 * time.Millisecond)
	cfg.Servers = []*config.Server{{Name: "silent", Command: "npx", Args: []string{"pkg"}}}
	l.SetConfig(cfg)
	m := newTestManager(t, l, func(o *Options) { o.Backoff = Backoff{Min: time.Hour} })
	m.Apply(cfg)
	st := waitState(t, m, "silent", StateError)
	want := "start timed out after 300ms (docker_isolation.timeout) during MCP initialize: the container started but did not answer initialize"
	if !strings.HasPrefix(st.Error, want) {
		t.Fatalf("error %q\nwant %q", st.Error, want)
	}
}

// Not isolated: the host launcher runs it; a docker command runs through
// the docker CLI, never wrapped.
func TestIsolatingLauncherRoutes(t *testing.T) {
	rt := &fakeRuntime{available: true}
	l, host := isolatingFor(rt)
	off := false
	run, err := launch(t, l, &config.Server{Name: "h", Command: "npx", Isolation: &config.ServerIsolation{Enabled: &off}})
	if err != nil || host.count("h") != 1 || run.Isolation.Isolated || run.Isolation.Reason != isolation.ReasonOptedOut {
		t.Fatalf("host launch: %v, %d, %+v", err, host.count("h"), run.Isolation)
	}
	run, err = launch(t, l, &config.Server{Name: "d", Command: "docker", Args: []string{"run", "-i", "img"}})
	if err != nil || run.Isolation.Reason != isolation.ReasonDockerCommand || run.Isolation.SpawnMode != "direct" {
		t.Fatalf("docker launch: %v, %+v", err, run.Isolation)
	}
	if d := l.Docker.(*fakeDocker); len(d.args) != 1 || strings.Join(d.args[0], " ") != "run -i img" {
		t.Fatalf("docker args %q", d.args)
	}
	if len(rt.starts) != 0 {
		t.Fatal("a container was started")
	}
	// The key changes when the decision does.
	s := &config.Server{Name: "k", Command: "npx"}
	on := l.Key(s)
	s.Isolation = &config.ServerIsolation{Enabled: &off}
	if l.Key(s) == on {
		t.Fatal("Key did not change with the decision")
	}
}

// Prepare runs before an isolated start, on the start's context.
func TestIsolatedWaitsForPrepare(t *testing.T) {
	rt := &fakeRuntime{available: true}
	l, _ := isolatingFor(rt)
	prepared := false
	l.Prepare = func(context.Context) error { prepared = true; return nil }
	if _, err := launch(t, l, &config.Server{Name: "p", Command: "npx"}); err != nil || !prepared {
		t.Fatalf("err %v, prepared %v", err, prepared)
	}
	l.Prepare = func(context.Context) error { return errBoom }
	if _, err := launch(t, l, &config.Server{Name: "p", Command: "npx"}); !errors.Is(err, errBoom) {
		t.Fatalf("prepare failure: %v", err)
	}
}

func TestDescribeDecision(t *testing.T) {
	g := config.DefaultDockerIsolation()
	g.Enabled = true
	g.MemoryLimit = "lots"
	info := DescribeDecision(isolation.Decide(g, &config.Server{Name: "s", Command: "python", Isolation: &config.ServerIsolation{CPULimit: "0.25", NetworkMode: "none"}}, ""))
	if !info.Isolated || info.MemoryLimit != "512m" || info.CPULimit != "0.25" || info.NetworkMode != "none" || info.Runtime != "python" || len(info.Notes) != 1 {
		t.Fatalf("%+v", info)
	}
	if info := DescribeDecision(isolation.Decision{Reason: isolation.ReasonHTTP}); info.Isolated || info.Image != "" || info.Reason != isolation.ReasonHTTP {
		t.Fatalf("%+v", info)
	}
}
