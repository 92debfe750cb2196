package telemetry

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

func boolPtr(b bool) *bool { return &b }

// fakeIsIsolated follows the real rules closely enough for counting: HTTP is
// never isolated, the global flag gates everything, a per-server false opts
// out.
func fakeIsIsolated(global config.DockerIsolation, s *config.Server) bool {
	if !global.Enabled || s.IsHTTP() {
		return false
	}
	return s.Isolation == nil || s.Isolation.Enabled == nil || *s.Isolation.Enabled
}

func testConfig(globalIsolation bool) *config.Config {
	cfg := config.Default()
	cfg.DockerIsolation.Enabled = globalIsolation
	cfg.Servers = []*config.Server{
		{Name: "secret-project-fs", Command: "npx", Args: []string{"/home/alice/private"}, Env: map[string]string{"API_KEY": "sk-abcdef123456"}},
		{Name: "memory", Command: "node", Isolation: &config.ServerIsolation{Enabled: boolPtr(false)}},
		{Name: "python-tool", Command: "uvx", Enabled: boolPtr(false)},
		{Name: "gh", URL: "https://api.example.test/mcp", Headers: map[string]string{"Authorization": "Bearer tok-987654"}},
	}
	return cfg
}

func sources(t *testing.T, cfg *config.Config) Sources {
	return Sources{
		Config:          func() *config.Config { return cfg },
		DockerAvailable: func(context.Context) bool { return true },
		IsIsolated:      fakeIsIsolated,
		Version:         "1.2.3",
		DataDir:         t.TempDir(),
	}
}

func TestBuildPayload(t *testing.T) {
	src := sources(t, testConfig(true))
	p, err := Build(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	want := Payload{
		SchemaVersion:          SchemaVersion,
		InstallID:              p.InstallID,
		Version:                "1.2.3",
		OS:                     runtime.GOOS,
		Arch:                   runtime.GOARCH,
		ServerCount:            4,
		StdioServerCount:       3,
		HTTPServerCount:        1,
		DockerAvailable:        true,
		DockerIsolatedCount:    2, // secret-project-fs and the disabled python-tool; memory opted out
		DockerIsolationEnabled: true,
	}
	if p != want {
		t.Errorf("Build =\n%+v\nwant\n%+v", p, want)
	}
	if !validID(p.InstallID) {
		t.Errorf("install id %q", p.InstallID)
	}

	// The ID is persisted 0600 and reused.
	path := filepath.Join(src.DataDir, InstallIDFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v", InstallIDFile, fi.Mode().Perm())
	}
	p2, err := Build(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if p2.InstallID != p.InstallID {
		t.Errorf("install id changed: %s → %s", p.InstallID, p2.InstallID)
	}
	// A malformed file is replaced.
	if err := os.WriteFile(path, []byte("not-an-id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p3, err := Build(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if !validID(p3.InstallID) || p3.InstallID == p.InstallID {
		t.Errorf("malformed id not replaced: %q", p3.InstallID)
	}
}

func TestBuildIsolatedCount(t *testing.T) {
	tests := []struct {
		name   string
		global bool
		want   int
	}{
		{"global off", false, 0},
		{"global on", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := sources(t, testConfig(tt.global))
			var asked []string
			src.IsIsolated = func(g config.DockerIsolation, s *config.Server) bool {
				if g.Enabled != tt.global {
					t.Errorf("IsIsolated got global.Enabled=%v", g.Enabled)
				}
				asked = append(asked, s.Name)
				return fakeIsIsolated(g, s)
			}
			p, err := Build(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			if p.DockerIsolatedCount != tt.want {
				t.Errorf("server_docker_isolated_count = %d, want %d", p.DockerIsolatedCount, tt.want)
			}
			if p.DockerIsolationEnabled != tt.global {
				t.Errorf("docker_isolation_enabled = %v", p.DockerIsolationEnabled)
			}
			// Only stdio servers are asked about.
			if got := strings.Join(asked, ","); got != "secret-project-fs,memory,python-tool" {
				t.Errorf("IsIsolated asked about %s", got)
			}
		})
	}

	// The count is whatever the decision function says, even if a per-server
	// opt-in would suggest otherwise.
	src := sources(t, testConfig(false))
	src.IsIsolated = func(config.DockerIsolation, *config.Server) bool { return true }
	p, err := Build(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if p.DockerIsolatedCount != 3 {
		t.Errorf("count with an always-true decision = %d, want the 3 stdio servers", p.DockerIsolatedCount)
	}
}

func TestBuildDockerUnavailable(t *testing.T) {
	src := sources(t, testConfig(true))
	src.DockerAvailable = func(context.Context) bool { return false }
	p, err := Build(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if p.DockerAvailable {
		t.Error("server_docker_available_bool = true with a failing probe")
	}
	src.DockerAvailable = nil
	if p, err = Build(context.Background(), src); err != nil || p.DockerAvailable {
		t.Errorf("nil prober: %v, %v", p.DockerAvailable, err)
	}
}

func TestBuildRequiresSources(t *testing.T) {
	src := sources(t, testConfig(true))
	src.IsIsolated = nil
	if _, err := Build(context.Background(), src); err == nil {
		t.Error("no error without IsIsolated")
	}
	src = sources(t, testConfig(true))
	src.DataDir = ""
	if _, err := Build(context.Background(), src); err == nil {
		t.Error("no error without a data folder")
	}
}

func TestPayloadJSON(t *testing.T) {
	src := sources(t, testConfig(true))
	p, err := Build(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	body, err := p.Body()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := "arch,docker_isolation_enabled,install_id,os,schema_version,server_count,server_docker_available_bool," +
		"server_docker_isolated_count,server_http_count,server_stdio_count,version"
	if got := strings.Join(keys, ","); got != want {
		t.Errorf("payload keys\n%s\nwant\n%s", got, want)
	}
	// Nothing configured leaks: names, commands, args, env, URLs, headers.
	for _, s := range []string{"secret-project-fs", "npx", "alice", "sk-abcdef", "API_KEY", "example.test", "tok-987654", "memory"} {
		if strings.Contains(string(body), s) {
			t.Errorf("payload holds %q: %s", s, body)
		}
	}
}

// collector is a local report receiver.
type collector struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []Payload
	agents []string
	status atomic.Int32 // response status; 0 means 204
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		var p Payload
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Errorf("decode report: %v", err)
		}
		c.mu.Lock()
		c.bodies = append(c.bodies, p)
		c.agents = append(c.agents, r.Header.Get("User-Agent"))
		c.mu.Unlock()
		status := int(c.status.Load())
		if status == 0 {
			status = http.StatusNoContent
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bodies)
}

func TestSend(t *testing.T) {
	c := newCollector(t)
	p := Payload{SchemaVersion: 1, InstallID: strings.Repeat("ab", 16), Version: "1.2.3", OS: "linux", Arch: "arm64",
		ServerCount: 3, StdioServerCount: 2, HTTPServerCount: 1, DockerAvailable: true, DockerIsolatedCount: 2, DockerIsolationEnabled: true}
	if err := Send(context.Background(), c.srv.URL+"/v1/report", p); err != nil {
		t.Fatal(err)
	}
	if c.count() != 1 || c.bodies[0] != p {
		t.Fatalf("received %+v, want %+v", c.bodies, p)
	}
	if c.agents[0] != "mcpproxy/1.2.3" {
		t.Errorf("User-Agent %q", c.agents[0])
	}

	c.status.Store(http.StatusInternalServerError)
	if err := Send(context.Background(), c.srv.URL, p); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("500 response: %v", err)
	}
	for _, bad := range []string{"", "ftp://x/y", "not a url", "/relative"} {
		if err := Send(context.Background(), bad, p); err == nil {
			t.Errorf("Send(%q): no error", bad)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.status.Store(0)
	if err := Send(ctx, c.srv.URL, p); err == nil {
		t.Error("cancelled context: no error")
	}
}

// runReporter starts r and stops it when the test ends.
func runReporter(t *testing.T, r *Reporter) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func fastReporter(src Sources) *Reporter {
	r := NewReporter(src, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Delay = 0
	r.Poll = 10 * time.Millisecond
	return r
}

// checks makes r report each check it finishes on the returned channel.
func checks(r *Reporter) <-chan struct{} {
	ch := make(chan struct{}, 1000)
	r.checked = func() { ch <- struct{}{} }
	return ch
}

// waitChecks waits until r has finished n more checks: whatever those
// checks could do is done.
func waitChecks(t *testing.T, ch <-chan struct{}, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("the reporter did not check %d times", n)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReporterSends(t *testing.T) {
	c := newCollector(t)
	cfg := testConfig(true)
	cfg.Telemetry = config.Telemetry{Enabled: true, Endpoint: c.srv.URL}
	src := sources(t, cfg)
	start := time.Now()
	r := fastReporter(src)
	checked := checks(r)
	runReporter(t, r)
	waitFor(t, "a report", func() bool { return c.count() == 1 })

	p := c.bodies[0]
	if p.ServerCount != 4 || p.DockerIsolatedCount != 2 || !p.DockerAvailable || p.Version != "1.2.3" {
		t.Errorf("report %+v", p)
	}
	waitFor(t, "last-sent file", func() bool {
		last, err := readLastSent(src.DataDir)
		return err == nil && !last.Before(start.Add(-time.Second))
	})
	fi, err := os.Stat(filepath.Join(src.DataDir, LastSentFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v", LastSentFile, fi.Mode().Perm())
	}
	// Polling goes on, but nothing more is due for a day.
	waitChecks(t, checked, 3)
	if n := c.count(); n != 1 {
		t.Errorf("%d reports, want 1", n)
	}
}

func TestReporterDisabledSendsNothing(t *testing.T) {
	c := newCollector(t)
	cfg := testConfig(true)
	cfg.Telemetry = config.Telemetry{Enabled: false, Endpoint: c.srv.URL}
	src := sources(t, cfg)
	r := fastReporter(src)
	r.Interval = time.Millisecond
	checked := checks(r)
	runReporter(t, r)
	for i := 0; i < 5; i++ {
		r.Wake()
		waitChecks(t, checked, 1)
	}
	if n := c.count(); n != 0 {
		t.Errorf("%d reports while disabled", n)
	}
	for _, f := range []string{InstallIDFile, LastSentFile} {
		if _, err := os.Stat(filepath.Join(src.DataDir, f)); err == nil {
			t.Errorf("%s written while disabled", f)
		}
	}
}

// toggleable returns sources whose config (telemetry off, reporting to c)
// is read from cur, and the off and on configs to store there.
func toggleable(t *testing.T, c *collector, globalIsolation bool) (cur *atomic.Pointer[config.Config], off, on *config.Config, src Sources) {
	t.Helper()
	cur = &atomic.Pointer[config.Config]{}
	off = testConfig(globalIsolation)
	off.Telemetry = config.Telemetry{Enabled: false, Endpoint: c.srv.URL}
	on = off.Clone()
	on.Telemetry.Enabled = true
	cur.Store(off)
	src = sources(t, nil)
	src.Config = cur.Load
	return cur, off, on, src
}

func TestReporterToggle(t *testing.T) {
	c := newCollector(t)
	cur, off, on, src := toggleable(t, c, true)
	r := fastReporter(src)
	r.Interval = 50 * time.Millisecond
	checked := checks(r)
	runReporter(t, r)

	waitChecks(t, checked, 2)
	if c.count() != 0 {
		t.Fatal("report sent while disabled")
	}
	cur.Store(on)
	r.Wake()
	waitFor(t, "a report after enabling", func() bool { return c.count() >= 1 })
	waitFor(t, "a second report one interval later", func() bool { return c.count() >= 2 })

	cur.Store(off)
	r.Wake()
	waitChecks(t, checked, 2) // a check in flight may still have sent
	n := c.count()
	waitChecks(t, checked, 3) // more than an interval of polls
	if got := c.count(); got != n {
		t.Errorf("%d reports after disabling", got-n)
	}
}

func TestReporterLastSentPersistence(t *testing.T) {
	c := newCollector(t)
	cfg := testConfig(false)
	cfg.Telemetry = config.Telemetry{Enabled: true, Endpoint: c.srv.URL}
	src := sources(t, cfg)

	// Sent an hour ago by an earlier run: a restart does not send again.
	if err := writeLastSent(src.DataDir, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := fastReporter(src)
	checked := checks(r)
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	waitChecks(t, checked, 2)
	cancel()
	<-done
	if n := c.count(); n != 0 {
		t.Fatalf("%d reports within 24h of the last one", n)
	}

	// Sent 25 hours ago: due now.
	if err := writeLastSent(src.DataDir, time.Now().Add(-25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r = fastReporter(src)
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	waitFor(t, "a report after 25h, recorded", func() bool {
		last, err := readLastSent(src.DataDir)
		return err == nil && time.Since(last) < time.Hour
	})
	cancel()
	<-done

	// That report was recorded: the next restart stays quiet.
	r = fastReporter(src)
	checked = checks(r)
	runReporter(t, r)
	waitChecks(t, checked, 2)
	if n := c.count(); n != 1 {
		t.Errorf("%d reports, want 1 (restart resent)", n)
	}
}

func TestReporterCheckTimes(t *testing.T) {
	c := newCollector(t)
	cfg := testConfig(false)
	cfg.Telemetry = config.Telemetry{Enabled: true, Endpoint: c.srv.URL}
	src := sources(t, cfg)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := NewReporter(src, nil)
	r.now = func() time.Time { return now }

	tests := []struct {
		name     string
		lastSent time.Time // zero: no file
		sends    bool
		wait     time.Duration
	}{
		{"never sent", time.Time{}, true, DefaultPoll},
		{"sent 23h30m ago", now.Add(-23*time.Hour - 30*time.Minute), false, 30 * time.Minute},
		{"sent 2h ago", now.Add(-2 * time.Hour), false, DefaultPoll},
		{"sent 24h ago", now.Add(-24 * time.Hour), true, DefaultPoll},
		{"clock went back 2 days", now.Add(48 * time.Hour), true, DefaultPoll},
	}
	for _, tt := range tests {
		os.Remove(filepath.Join(src.DataDir, LastSentFile))
		if !tt.lastSent.IsZero() {
			if err := writeLastSent(src.DataDir, tt.lastSent); err != nil {
				t.Fatal(err)
			}
		}
		before := c.count()
		wait := r.check(context.Background())
		if sent := c.count() > before; sent != tt.sends {
			t.Errorf("%s: sent=%v, want %v", tt.name, sent, tt.sends)
		}
		if wait != tt.wait {
			t.Errorf("%s: next check in %v, want %v", tt.name, wait, tt.wait)
		}
		if tt.sends {
			if last, _ := readLastSent(src.DataDir); !last.Equal(now) {
				t.Errorf("%s: last sent %v, want %v", tt.name, last, now)
			}
		}
	}
}

func TestReporterRetriesAfterFailure(t *testing.T) {
	c := newCollector(t)
	c.status.Store(http.StatusServiceUnavailable)
	cfg := testConfig(false)
	cfg.Telemetry = config.Telemetry{Enabled: true, Endpoint: c.srv.URL}
	src := sources(t, cfg)
	runReporter(t, fastReporter(src))
	waitFor(t, "a failed attempt", func() bool { return c.count() >= 1 })
	if _, err := os.Stat(filepath.Join(src.DataDir, LastSentFile)); err == nil {
		t.Fatal("last-sent time recorded for a failed report")
	}
	c.status.Store(0)
	waitFor(t, "the last-sent file after a retry", func() bool {
		_, err := os.Stat(filepath.Join(src.DataDir, LastSentFile))
		return err == nil
	})
}

func TestReporterWake(t *testing.T) {
	c := newCollector(t)
	cur, _, on, src := toggleable(t, c, false)
	r := fastReporter(src)
	r.Poll = time.Hour // only Wake can bring the next check forward
	checked := checks(r)
	runReporter(t, r)

	waitChecks(t, checked, 1) // the first check, telemetry off
	cur.Store(on)
	r.Wake()
	waitFor(t, "a report after Wake", func() bool { return c.count() == 1 })
}
