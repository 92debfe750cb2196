package docker

// Tests against the real Docker Engine. They build their own tiny image
// (FROM scratch + a static Go binary), touch only containers they create
// (removed by ID), and use no network beyond 127.0.0.1. Without an engine
// they skip, except under CI=true where they fail.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

var engine struct {
	once sync.Once
	res  Resolution
	cli  *CLI
	err  error

	imageOnce sync.Once
	imageID   string
	imageTag  string
	imageErr  error
}

// requireEngine returns a CLI of the real engine, or skips (fails in CI).
func requireEngine(t *testing.T) *CLI {
	t.Helper()
	engine.once.Do(func() {
		engine.res = NewResolver().Resolve(context.Background())
		if !engine.res.Absolute() {
			engine.err = errors.New("docker CLI not found")
			return
		}
		engine.cli = &CLI{Path: engine.res.Path, Env: ChildEnv(os.Environ(), engine.res)}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, engine.err = engine.cli.Version(ctx)
	})
	if engine.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("a docker engine is required in CI: %v", engine.err)
		}
		t.Skipf("no docker engine: %v", engine.err)
	}
	return engine.cli
}

const fixtureSource = `package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	if len(os.Args) > 2 && os.Args[1] == "alloc-on-usr1" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		<-usr1
		os.Args[1] = "alloc"
	}
	if len(os.Args) > 2 && os.Args[1] == "alloc" {
		mb, _ := strconv.Atoi(os.Args[2])
		var keep [][]byte
		for i := 0; i < mb; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated", len(keep), "MiB")
	}
	<-sig
}
`

// testImage builds the fixture image once and returns its tag.
func testImage(t *testing.T) string {
	t.Helper()
	cli := requireEngine(t)
	engine.imageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcpproxy-docker-fixture-")
		if err != nil {
			engine.imageErr = err
			return
		}
		defer os.RemoveAll(dir)
		files := map[string]string{
			"go.mod":     "module fixture\n\ngo 1.21\n",
			"main.go":    fixtureSource,
			"Dockerfile": "FROM scratch\nCOPY fixture /fixture\nCMD [\"/fixture\"]\n",
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				engine.imageErr = err
				return
			}
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			engine.imageErr = fmt.Errorf("the go tool is needed to build the fixture image: %w", err)
			return
		}
		build := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", "fixture", ".")
		build.Dir = dir
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=-mod=mod")
		if out, err := build.CombinedOutput(); err != nil {
			engine.imageErr = fmt.Errorf("go build fixture: %v\n%s", err, out)
			return
		}
		engine.imageTag = fmt.Sprintf("mcpproxy-dockertest:%d-%d", os.Getpid(), time.Now().UnixNano())
		cmd := exec.Command(cli.Path, "build", "-q", "-t", engine.imageTag, dir)
		cmd.Env = cli.Env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			engine.imageErr = fmt.Errorf("docker build: %v\n%s", err, stderr.String())
			return
		}
		engine.imageID = strings.TrimSpace(stdout.String())
	})
	if engine.imageErr != nil {
		t.Fatal(engine.imageErr)
	}
	return engine.imageTag
}

// cleanupEngine removes the fixture image (by ID) after all tests.
func cleanupEngine() {
	if engine.imageID == "" || engine.cli == nil {
		return
	}
	cmd := exec.Command(engine.cli.Path, "rmi", "--force", engine.imageID)
	cmd.Env = engine.cli.Env
	_ = cmd.Run()
}

// dockerRaw runs docker directly (for setup the CLI type does not offer).
func dockerRaw(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cli := requireEngine(t)
	cmd := exec.Command(cli.Path, args...)
	cmd.Env = cli.Env
	if env != nil {
		cmd.Env = env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// track removes the container id when the test ends.
func track(t *testing.T, id string) string {
	t.Helper()
	cli := requireEngine(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cli.Remove(ctx, id); err != nil {
			t.Errorf("cleanup %s: %v", id, err)
		}
	})
	return id
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestEngineVersionAndProbe(t *testing.T) {
	cli := requireEngine(t)
	v, err := cli.Version(ctxT(t, 10*time.Second))
	if err != nil || v == "" {
		t.Fatalf("Version = %q, %v", v, err)
	}
	p := &Prober{}
	st := p.Probe(context.Background(), false)
	if !st.Available || st.DockerPath != engine.res.Path || st.Version != v || st.Error != "" || st.CheckedAt.IsZero() {
		t.Fatalf("Probe = %+v (version %q)", st, v)
	}

	// NewCLI runs docker exactly as a spawn would (here, without
	// DOCKER_HOST, through the login shell) and reaches the same daemon.
	viaSpawn := NewCLI(engine.res, Environ{}, nil)
	if v2, err := viaSpawn.Version(ctxT(t, 20*time.Second)); err != nil || v2 != v {
		t.Fatalf("NewCLI Version = %q, %v; want %q", v2, err, v)
	}
}

func TestEngineImageExists(t *testing.T) {
	cli := requireEngine(t)
	tag := testImage(t)
	for _, ref := range []string{tag, engine.imageID} {
		ok, err := cli.ImageExists(ctxT(t, 10*time.Second), ref)
		if err != nil || !ok {
			t.Fatalf("ImageExists(%q) = %v, %v", ref, ok, err)
		}
	}
	missing := fmt.Sprintf("mcpproxy-dockertest-missing:%d", time.Now().UnixNano())
	ok, err := cli.ImageExists(ctxT(t, 10*time.Second), missing)
	if err != nil || ok {
		t.Fatalf("ImageExists(missing) = %v, %v; want false, nil", ok, err)
	}
	if _, err := cli.ImageExists(ctxT(t, time.Second), "--help"); err == nil {
		t.Fatal("a flag-like reference must be rejected")
	}
}

// fakeRegistry is a registry on 127.0.0.1 that knows no image, or blocks.
func fakeRegistry(t *testing.T, block bool) string {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		if r.URL.Path == "/v2/" {
			w.Write([]byte("{}"))
			return
		}
		if block {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":"no such image in this test registry"}]}`))
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestEnginePullMissingImageFailsFast(t *testing.T) {
	cli := requireEngine(t)
	host := fakeRegistry(t, false)
	ref := host + "/mcpproxy-test/missing:nope"
	var lines []string
	start := time.Now()
	err := cli.Pull(ctxT(t, 30*time.Second), ref, func(l string) { lines = append(lines, l) })
	var pe *PullError
	if !errors.As(err, &pe) {
		t.Fatalf("Pull = %v, want a *PullError", err)
	}
	if pe.Image != ref || !strings.Contains(err.Error(), ref) || pe.Message == "" {
		t.Fatalf("error must name the image and carry docker's message: %v", err)
	}
	if time.Since(start) > 25*time.Second {
		t.Fatalf("pull took %v", time.Since(start))
	}
	t.Logf("pull error: %v (progress lines: %q)", err, lines)
}

func TestEnginePullHonoursContext(t *testing.T) {
	cli := requireEngine(t)
	host := fakeRegistry(t, true)
	ref := host + "/mcpproxy-test/slow:1"
	start := time.Now()
	err := cli.Pull(ctxT(t, 2*time.Second), ref, nil)
	var pe *PullError
	if !errors.As(err, &pe) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(pe.Message, "timed out") {
		t.Fatalf("Pull = %v, want a timed-out *PullError", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("pull ignored its deadline: %v", time.Since(start))
	}
}

// isolatedRunArgs is the `docker run -d` argv of a Plan for the fixture.
func isolatedRunArgs(t *testing.T, server string, iso config.ServerIsolation, args []string, inst string, cidfile string) []string {
	t.Helper()
	g := config.DefaultDockerIsolation()
	g.Enabled = true
	iso.Image = testImage(t)
	d := isolation.Decide(g, &config.Server{Name: server, Command: "/fixture", Args: args, Env: map[string]string{"FIXTURE_TOKEN": "x"}, Isolation: &iso}, engine.res.Path)
	if !d.Isolated {
		t.Fatalf("not isolated: %s", d.Reason)
	}
	argv, err := RunArgs(d.Plan, RunSpec{Name: isolation.ContainerName(server, fmt.Sprint(time.Now().UnixNano()%1e6)), CIDFile: cidfile, Labels: testLabels(inst, server)})
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"run", "-d"}, argv[1:]...)
}

// testLabels are the labels a container of instance for server carries.
func testLabels(instance, server string) map[string]string {
	return map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: instance, isolation.LabelServer: server}
}

func TestEngineInspectReportsPlan(t *testing.T) {
	cli := requireEngine(t)
	cid := filepath.Join(t.TempDir(), "cid")
	server := "inspect, test=1"
	args := isolatedRunArgs(t, server, config.ServerIsolation{NetworkMode: "none", MemoryLimit: "64m", CPULimit: "0.5"}, nil, "0123456789abcdef", cid)
	out := dockerRaw(t, append(os.Environ(), "FIXTURE_TOKEN=x"), args...)
	id := track(t, out)
	b, err := os.ReadFile(cid)
	if err != nil || strings.TrimSpace(string(b)) != id {
		t.Fatalf("cidfile = %q, %v; want %s", b, err, id)
	}

	info, err := cli.Inspect(ctxT(t, 10*time.Second), id)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != id || !strings.HasPrefix(info.Name, "mcpproxy-inspect-test-1-") || !info.State.Running || info.State.Status != "running" {
		t.Fatalf("info = %+v", info)
	}
	if info.MemoryBytes != 64<<20 || info.NanoCPUs != 500_000_000 || info.NetworkMode != "none" {
		t.Fatalf("limits: memory %d, nanocpus %d, network %q", info.MemoryBytes, info.NanoCPUs, info.NetworkMode)
	}
	want := testLabels("0123456789abcdef", server)
	for k, v := range want {
		if info.Labels[k] != v {
			t.Fatalf("label %s = %q, want %q", k, info.Labels[k], v)
		}
	}
	if info.Image != engine.imageTag || info.ImageID != engine.imageID {
		t.Fatalf("image %q %q", info.Image, info.ImageID)
	}

	// Stop by ID leaves the ended container (no --rm) for Remove; Stop
	// and Remove stay idempotent.
	if err := cli.Stop(ctxT(t, 30*time.Second), id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if info, err := cli.Inspect(ctxT(t, 10*time.Second), id); err != nil || info.State.Running {
		t.Fatalf("after Stop: %+v, %v; want the ended container", info, err)
	}
	if err := cli.Remove(ctxT(t, 10*time.Second), id); err != nil {
		t.Fatal(err)
	}
	waitContainerGone(t, cli, id, "Remove")
	if err := cli.Stop(ctxT(t, 10*time.Second), id, time.Second); err != nil {
		t.Fatalf("Stop of a gone container: %v", err)
	}
	if err := cli.Remove(ctxT(t, 10*time.Second), id); err != nil {
		t.Fatalf("Remove of a gone container: %v", err)
	}
	if _, err := cli.Inspect(ctxT(t, 10*time.Second), "0000000000000000000000000000000000000000000000000000000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Inspect(missing) = %v, want ErrNotFound", err)
	}
	if err := cli.Remove(ctxT(t, time.Second), "-f"); err == nil {
		t.Fatal("a flag-like ID must be rejected")
	}
}

func TestEngineInspectOOMKilled(t *testing.T) {
	cli := requireEngine(t)
	tag := testImage(t)
	// The allocation starts only once the container runs (on SIGUSR1): a
	// process killed within milliseconds of its start can end before the
	// engine watches its cgroup for OOM kills, and then is not reported.
	id := track(t, dockerRaw(t, nil, "run", "-d", "--memory", "16m", "--memory-swap", "16m", "--network", "none",
		"--label", isolation.LabelManaged+"=false", tag, "/fixture", "alloc-on-usr1", "256"))
	dockerRaw(t, nil, "kill", "--signal", "USR1", id)
	deadline := time.Now().Add(60 * time.Second)
	var info *ContainerInfo
	for {
		var err error
		info, err = cli.Inspect(ctxT(t, 10*time.Second), id)
		if err != nil {
			t.Fatal(err)
		}
		if !info.State.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("container allocating past its limit still running")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !info.State.OOMKilled || info.State.ExitCode != 137 || info.State.FinishedAt.IsZero() {
		t.Fatalf("state = %+v, want OOMKilled with exit 137", info.State)
	}
}

func TestEngineListManagedExactLabels(t *testing.T) {
	cli := requireEngine(t)
	tag := testImage(t)
	inst := "fedcba9876543210"
	server := `a,b=c d, "quoted"`
	managed := track(t, dockerRaw(t, nil, "create", "--label", isolation.LabelManaged+"=true", "--label", isolation.LabelInstance+"="+inst,
		"--label", isolation.LabelServer+"="+server, "--label", "other=x,y", tag))
	notManaged := track(t, dockerRaw(t, nil, "create", "--label", isolation.LabelManaged+"=false", "--label", isolation.LabelInstance+"="+inst, tag))
	unlabelled := track(t, dockerRaw(t, nil, "create", tag))

	list, err := cli.ListManaged(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range list {
		switch c.ID {
		case managed:
			found = true
			if c.Labels[isolation.LabelInstance] != inst || c.Labels[isolation.LabelServer] != server || c.State != "created" || c.Image != tag || c.Name == "" {
				t.Fatalf("listed %+v", c)
			}
		case notManaged, unlabelled:
			t.Fatalf("ListManaged returned %s, which is not managed", c.ID)
		}
	}
	if !found {
		t.Fatalf("managed container %s not listed in %+v", managed, list)
	}
}

// TestEngineReap is the crash-safety property on a real engine: Reap
// removes exactly the containers of this host and data dir whose instance
// is not ours (the caller holds the data dir's lock, so they are dead), and
// keeps those of another data dir or host, its own, an unlabelled one and
// managed ones it cannot prove orphaned.
func TestEngineReap(t *testing.T) {
	cli := requireEngine(t)
	tag := testImage(t)
	suffix := strconv.FormatInt(time.Now().UnixNano(), 16)
	me := Owner{Host: "host-" + suffix, DataDir: "dir-" + suffix, Instance: "self-" + suffix}
	labelled := func(inst, host, dir string) []string {
		a := []string{"--label", isolation.LabelManaged + "=true", "--label", isolation.LabelServer + "=srv"}
		for k, v := range map[string]string{isolation.LabelInstance: inst, isolation.LabelHost: host, isolation.LabelDataDir: dir} {
			if v != "" {
				a = append(a, "--label", k+"="+v)
			}
		}
		return a
	}
	// The crashed instance's container is running, as after a real crash.
	orphan := track(t, dockerRaw(t, nil, append(append([]string{"run", "-d", "--network", "none"}, labelled("crashed-"+suffix, me.Host, me.DataDir)...), tag)...))
	keep := map[string]string{
		"another data dir's": track(t, dockerRaw(t, nil, append(append([]string{"create"}, labelled("other-"+suffix, me.Host, "dir2-"+suffix)...), tag)...)),
		"another host's":     track(t, dockerRaw(t, nil, append(append([]string{"create"}, labelled("other-"+suffix, "host2-"+suffix, me.DataDir)...), tag)...)),
		"our own":            track(t, dockerRaw(t, nil, append(append([]string{"create"}, labelled(me.Instance, me.Host, me.DataDir)...), tag)...)),
		"unlabelled":         track(t, dockerRaw(t, nil, "create", "--name", fmt.Sprintf("mcpproxy-srv-%d", time.Now().UnixNano()), tag)),
		"instance-less":      track(t, dockerRaw(t, nil, append(append([]string{"create"}, labelled("", me.Host, me.DataDir)...), tag)...)),
	}

	removed, err := Reap(ctxT(t, 60*time.Second), cli, me, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != orphan {
		t.Fatalf("removed %v, want exactly [%s]", removed, orphan)
	}
	if _, err := cli.Inspect(ctxT(t, 10*time.Second), orphan); !errors.Is(err, ErrNotFound) {
		t.Fatalf("orphan still there: %v", err)
	}
	for what, id := range keep {
		if _, err := cli.Inspect(ctxT(t, 10*time.Second), id); err != nil {
			t.Fatalf("%s container %s must survive: %v", what, id, err)
		}
	}
	// A second pass removes nothing.
	if removed, err := Reap(ctxT(t, 60*time.Second), cli, me, nil); err != nil || len(removed) != 0 {
		t.Fatalf("second Reap = %v, %v", removed, err)
	}
}
