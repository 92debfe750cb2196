package docker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeRunner struct {
	mu       sync.Mutex
	out      string
	err      error
	block    bool // wait for ctx to end
	calls    int
	argv     []string
	env      []string
	deadline time.Duration
}

func (f *fakeRunner) Run(ctx context.Context, argv, env []string) (string, error) {
	f.mu.Lock()
	f.calls++
	f.argv, f.env = argv, env
	if d, ok := ctx.Deadline(); ok {
		f.deadline = time.Until(d)
	}
	block, out, err := f.block, f.out, f.err
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	return out, err
}

func fixedResolve(r Resolution) func(context.Context) Resolution {
	return func(context.Context) Resolution { return r }
}

func TestProbeAvailableAndCached(t *testing.T) {
	clk := newClock()
	run := &fakeRunner{out: "27.1.1\n"}
	res := Resolution{Path: "/usr/bin/docker", Source: SourcePath}
	p := &Prober{
		Resolve: fixedResolve(res),
		Environ: Environ{GOOS: "linux", Getenv: env{"DOCKER_HOST": "unix:///x"}.Get, Stat: fakeFS{"/usr/bin/docker": execFile}.Stat},
		Env:     []string{"PATH=/bin"},
		Run:     run.Run,
		Now:     clk.Now,
	}
	st := p.Probe(context.Background(), false)
	want := Status{Available: true, DockerPath: "/usr/bin/docker", Version: "27.1.1", CheckedAt: clk.Now()}
	if st != want {
		t.Fatalf("Probe = %+v, want %+v", st, want)
	}
	if !reflect.DeepEqual(run.argv, []string{"/usr/bin/docker", "info", "--format", "{{.ServerVersion}}"}) {
		t.Fatalf("argv = %q", run.argv)
	}
	if !reflect.DeepEqual(run.env, []string{"PATH=/usr/bin:/bin"}) {
		t.Fatalf("env = %q (docker's dir must be first on PATH)", run.env)
	}
	if run.deadline <= 0 || run.deadline > DefaultProbeTimeout {
		t.Fatalf("probe deadline %v, want ≤ %v", run.deadline, DefaultProbeTimeout)
	}

	clk.Advance(14 * time.Minute)
	p.Probe(context.Background(), false)
	if run.calls != 1 {
		t.Fatalf("success must be cached 15 min; calls = %d", run.calls)
	}
	p.Probe(context.Background(), true)
	if run.calls != 2 {
		t.Fatalf("refresh must probe; calls = %d", run.calls)
	}
	clk.Advance(15*time.Minute + time.Second)
	p.Probe(context.Background(), false)
	if run.calls != 3 {
		t.Fatalf("expired success must probe; calls = %d", run.calls)
	}
}

func TestProbeFailureCachedFiveMinutes(t *testing.T) {
	clk := newClock()
	run := &fakeRunner{err: errors.New("exit status 1: Cannot connect to the Docker daemon")}
	p := &Prober{
		Resolve: fixedResolve(Resolution{Path: "/usr/bin/docker", Source: SourcePath}),
		Environ: Environ{GOOS: "linux", Getenv: env{"DOCKER_HOST": "unix:///x"}.Get, Stat: fakeFS{"/usr/bin/docker": execFile}.Stat},
		Env:     []string{},
		Run:     run.Run,
		Now:     clk.Now,
	}
	st := p.Probe(context.Background(), false)
	if st.Available || st.DockerPath != "/usr/bin/docker" || !strings.Contains(st.Error, "Cannot connect") {
		t.Fatalf("Probe = %+v", st)
	}
	clk.Advance(4 * time.Minute)
	p.Probe(context.Background(), false)
	if run.calls != 1 {
		t.Fatalf("failure must be cached 5 min; calls = %d", run.calls)
	}
	clk.Advance(time.Minute + time.Second)
	run.err, run.out = nil, "28.0.0"
	if st := p.Probe(context.Background(), false); !st.Available || run.calls != 2 {
		t.Fatalf("after 5 min: %+v, calls %d", st, run.calls)
	}
}

func TestProbeUnresolvedNeverRuns(t *testing.T) {
	for _, res := range []Resolution{{}, {Path: "docker", Source: SourceLoginShell}} {
		run := &fakeRunner{out: "27.0.0"}
		p := &Prober{Resolve: fixedResolve(res), Run: run.Run, Now: newClock().Now}
		st := p.Probe(context.Background(), false)
		if st.Available || st.DockerPath != "" || st.Error == "" || run.calls != 0 {
			t.Fatalf("Probe(%+v) = %+v, calls %d; want unavailable, no bare-docker probe", res, st, run.calls)
		}
	}
}

func TestProbeTimeoutAndLoginShell(t *testing.T) {
	run := &fakeRunner{block: true}
	p := &Prober{
		Resolve: fixedResolve(Resolution{Path: "/usr/bin/docker", Source: SourcePath}),
		// Linux without DOCKER_HOST: the probe goes through the login shell,
		// exactly as a spawn would.
		Environ: Environ{GOOS: "linux", Getenv: env{"SHELL": "/bin/bash"}.Get, Stat: fakeFS{"/usr/bin/docker": execFile}.Stat},
		Env:     []string{},
		Run:     run.Run,
		Timeout: 50 * time.Millisecond,
	}
	start := time.Now()
	st := p.Probe(context.Background(), false)
	if time.Since(start) > 2*time.Second {
		t.Fatal("probe did not honour its timeout")
	}
	if st.Available || !strings.Contains(st.Error, "did not answer within 50ms") {
		t.Fatalf("Probe = %+v", st)
	}
	if run.argv[0] != "/bin/bash" || run.argv[3] != scriptResolved || run.argv[4] != "/usr/bin/docker" {
		t.Fatalf("argv = %q", run.argv)
	}
}

func TestProbeEmptyVersion(t *testing.T) {
	p := &Prober{
		Resolve: fixedResolve(Resolution{Path: "/usr/bin/docker", Source: SourcePath}),
		Environ: Environ{GOOS: "linux", Getenv: env{"DOCKER_HOST": "x"}.Get, Stat: fakeFS{"/usr/bin/docker": execFile}.Stat},
		Env:     []string{},
		Run:     (&fakeRunner{out: "\n"}).Run,
	}
	if st := p.Probe(context.Background(), false); st.Available {
		t.Fatalf("Probe = %+v", st)
	}
}

func TestProbeLogsTransitionsOnly(t *testing.T) {
	clk := newClock()
	run := &fakeRunner{out: "27.0.0"}
	var buf bytes.Buffer
	p := &Prober{
		Resolve: fixedResolve(Resolution{Path: "/usr/bin/docker", Source: SourcePath}),
		Environ: Environ{GOOS: "linux", Getenv: env{"DOCKER_HOST": "x"}.Get, Stat: fakeFS{"/usr/bin/docker": execFile}.Stat},
		Env:     []string{},
		Run:     run.Run,
		Now:     clk.Now,
		Log:     slog.New(slog.NewTextHandler(&buf, nil)),
	}
	p.Probe(context.Background(), true)
	p.Probe(context.Background(), true)
	run.out, run.err = "", errors.New("boom")
	p.Probe(context.Background(), true)
	p.Probe(context.Background(), true)
	if got := strings.Count(buf.String(), "docker daemon probe: available"); got != 1 {
		t.Fatalf("available logged %d times:\n%s", got, buf.String())
	}
	if got := strings.Count(buf.String(), "docker daemon probe: unavailable"); got != 1 {
		t.Fatalf("unavailable logged %d times:\n%s", got, buf.String())
	}
}

func TestProbeConcurrentCallersShareOneProbe(t *testing.T) {
	run := &fakeRunner{out: "27.0.0"}
	p := &Prober{
		Resolve: fixedResolve(Resolution{Path: "/usr/bin/docker", Source: SourcePath}),
		Environ: Environ{GOOS: "linux", Getenv: env{"DOCKER_HOST": "x"}.Get, Stat: fakeFS{"/usr/bin/docker": execFile}.Stat},
		Env:     []string{},
		Run:     run.Run,
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Probe(context.Background(), false)
		}()
	}
	wg.Wait()
	if run.calls != 1 {
		t.Fatalf("calls = %d", run.calls)
	}
}
