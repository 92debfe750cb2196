package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// fakeDocker writes a docker stand-in script that records its arguments in
// dir/calls and then runs body.
func fakeDocker(t *testing.T, body string) (bin, calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	bin = filepath.Join(dir, "docker")
	script := "#!/bin/sh\necho \"$*\" >> " + calls + "\n" + body + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, calls
}

// fakeRuntime is a Runtime whose docker is bin, exec'd directly.
func fakeRuntime(t *testing.T, bin string) *Runtime {
	env := Environ{Getenv: func(k string) string {
		if k == "DOCKER_HOST" {
			return "unix:///nonexistent/docker.sock"
		}
		return ""
	}}
	res := &Resolver{LookPath: func(string) (string, error) { return bin, nil }}
	r := &Runtime{Resolver: res, Prober: &Prober{Resolve: res.Resolve}, RunDir: t.TempDir(), Instance: "0123456789abcdef"}
	r.SetEnviron(env)
	return r
}

// Servers of one image starting together share one `docker image inspect`;
// a check after they are done runs a call of its own (nothing is cached).
func TestImageChecksShareOneDockerCall(t *testing.T) {
	// The call blocks until every caller is waiting on it.
	release := filepath.Join(t.TempDir(), "release")
	bin, calls := fakeDocker(t, "while [ ! -e "+release+" ]; do sleep 0.01; done\necho sha256:0123")
	r := fakeRuntime(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	count := func() int {
		b, _ := os.ReadFile(calls)
		return strings.Count(string(b), "image inspect")
	}

	joined := make(chan struct{}, 10)
	r.joinedCheck = func() { joined <- struct{}{} }
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if err := r.EnsureImage(ctx, "example/img:1", nil); err != nil {
				t.Errorf("EnsureImage = %v", err)
			}
		})
	}
	for range 10 {
		<-joined // every caller waits on the call in flight
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	r.joinedCheck = nil
	if n := count(); n != 1 {
		t.Fatalf("10 concurrent checks ran %d docker calls, want 1", n)
	}
	if err := r.EnsureImage(ctx, "example/img:1", nil); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("a later check ran %d docker calls in all, want 2 (no caching)", n)
	}
}

// A waiter whose own context ends stops waiting; the shared call goes on.
func TestImageCheckWaiterLeavesOnItsContext(t *testing.T) {
	bin, _ := fakeDocker(t, "sleep 2\necho sha256:0123")
	r := fakeRuntime(t, bin)
	short, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.EnsureImage(short, "example/img:2", nil); err == nil {
		t.Fatal("a check whose context ended reported no error")
	}
}

// A missing image is pulled, the progress passed on line by line.
func TestEnsureImagePullsMissing(t *testing.T) {
	bin, calls := fakeDocker(t, `case "$1" in
image) echo "Error: No such image: $5" >&2; exit 1;;
pull) echo "1: Pulling fs layer"; echo "Status: Downloaded newer image";;
esac`)
	r := fakeRuntime(t, bin)
	var lines []string
	if err := r.EnsureImage(context.Background(), "example/img:3", func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"not present locally; pulling", "1: Pulling fs layer", "Status: Downloaded newer image"}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("progress %q, want %q", lines, want)
	}
	b, _ := os.ReadFile(calls)
	if !strings.Contains(string(b), "pull example/img:3") {
		t.Fatalf("calls: %s", b)
	}
}

func TestExitReasons(t *testing.T) {
	tests := []struct {
		code int
		oom  bool
		hits int64
		want isolation.Exit
	}{
		{137, true, 0, isolation.Exit{Code: 137, OOMKilled: true, Reason: "container mcpproxy-x-1 was OOM-killed: the server exceeded its memory limit (64m)"}},
		{137, false, -1, isolation.Exit{Code: 137, Reason: "container mcpproxy-x-1 was killed (exit code 137: SIGKILL, e.g. by docker or the kernel)"}},
		{3, false, 0, isolation.Exit{Code: 3, Reason: "container mcpproxy-x-1 exited with code 3"}},
		{0, false, -1, isolation.Exit{Code: 0, Reason: "container mcpproxy-x-1 exited with code 0"}},
		{-1, false, -1, isolation.Exit{Code: -1}},
		// The shim reported PID-limit hits: the reason says so and names
		// the setting; an OOM kill stays the reason on its own.
		{2, false, 3, isolation.Exit{Code: 2, PidsLimitHits: 3, Reason: "container mcpproxy-x-1 exited with code 2 after hitting its PID limit (256 processes; pids_limit): 3 new processes were refused"}},
		{137, false, 1, isolation.Exit{Code: 137, PidsLimitHits: 1, Reason: "container mcpproxy-x-1 was killed (exit code 137: SIGKILL, e.g. by docker or the kernel) after hitting its PID limit (256 processes; pids_limit): 1 new process was refused"}},
		{137, true, 5, isolation.Exit{Code: 137, OOMKilled: true, Reason: "container mcpproxy-x-1 was OOM-killed: the server exceeded its memory limit (64m)"}},
		{-1, false, 5, isolation.Exit{Code: -1}},
	}
	for _, tt := range tests {
		if got := exitOf("mcpproxy-x-1", tt.code, tt.oom, 64<<20, 256, tt.hits); got != tt.want {
			t.Errorf("exitOf(%d, oom %v) = %+v, want %+v", tt.code, tt.oom, got, tt.want)
		}
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		line string
		want isolation.Event
		ok   bool
	}{
		{`{"Type":"container","Action":"oom","Actor":{"ID":"abc","Attributes":{"com.mcpproxy.server":"hog"}},"timeNano":1000}`,
			isolation.Event{Kind: isolation.EventOOM, ContainerID: "abc", Server: "hog", ExitCode: -1, Reason: "OOM-killed: the server exceeded its memory limit", At: time.Unix(0, 1000)}, true},
		{`{"Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"137"}},"timeNano":5}`,
			isolation.Event{Kind: isolation.EventDie, ContainerID: "abc", ExitCode: 137, Reason: "exited with code 137", At: time.Unix(0, 5)}, true},
		{`{"Action":"start","Actor":{"ID":"abc"}}`, isolation.Event{Kind: isolation.EventStart, ContainerID: "abc", ExitCode: -1, At: time.Unix(0, 0)}, true},
		{`{"Action":"exec_start","Actor":{"ID":"abc"}}`, isolation.Event{}, false},
		{`{"Action":"oom"}`, isolation.Event{}, false},
		{`not json`, isolation.Event{}, false},
	}
	for _, tt := range tests {
		got, ok := parseEvent([]byte(tt.line))
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseEvent(%s) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
	args := strings.Join(eventsArgs("0123", time.Unix(100, 0), "oom"), " ")
	if args != "events --since 100 --filter type=container --filter label=com.mcpproxy.instance=0123 --filter event=oom --format {{json .}}" {
		t.Fatalf("events argv: %s", args)
	}
}

func TestWaitCIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cid")
	exited := make(chan struct{})
	go func() {
		_ = os.WriteFile(path, []byte("0123456789abcdef\n"), 0o600)
	}()
	if id, err := waitCIDFile(context.Background(), path, exited); id != "0123456789abcdef" || err != nil {
		t.Fatalf("waitCIDFile = %q, %v", id, err)
	}
	// docker run exited without creating a container.
	close(exited)
	if id, err := waitCIDFile(context.Background(), filepath.Join(t.TempDir(), "none"), exited); id != "" || err != nil {
		t.Fatalf("after exit: %q, %v", id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if id, err := waitCIDFile(ctx, filepath.Join(t.TempDir(), "none"), make(chan struct{})); id != "" || err == nil {
		t.Fatalf("cancelled: %q, %v", id, err)
	}
}

// A pull whose registry name does not resolve (the daemon's own lookup,
// which cannot be made here without asking a resolver the test did not
// start) is one line naming the image, the registry, the cause and the fix.
func TestEnsureImageNameDoesNotResolve(t *testing.T) {
	bin, _ := fakeDocker(t, `case "$1" in
image) echo "Error: No such image: $5" >&2; exit 1;;
pull) echo 'Error response from daemon: Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid on 10.0.0.53:53: no such host' >&2; exit 1;;
esac`)
	r := fakeRuntime(t, bin)
	err := r.EnsureImage(context.Background(), "registry.invalid/team/tool:2", nil)
	var ie *ImageError
	if !errors.As(err, &ie) {
		t.Fatalf("EnsureImage = %v, want an *ImageError", err)
	}
	want := `image registry.invalid/team/tool:2 is not present locally and could not be pulled from registry.invalid: the registry's name does not resolve (Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid on 10.0.0.53:53: no such host) — build or load it (docker load / docker build), or set isolation.image / default_images to an image you have`
	if err.Error() != want {
		t.Fatalf("\ngot  %s\nwant %s", err, want)
	}
}
