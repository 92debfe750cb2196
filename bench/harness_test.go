// Package bench measures mcpproxy against the targets in the README:
// per-call latency and throughput against a direct stdio connection, time to
// "all upstreams ready", RSS, and container start and call overhead.
//
// Run: go test ./bench -run '^$' -bench . -benchtime 1x
// Each benchmark does a fixed amount of work (1,000 calls per scenario) and
// reports p50/p99 in microseconds and calls/s as custom metrics; a table is
// also written to bench/results/<name>.txt.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

const (
	calls       = 1000
	concurrency = 8
)

// stats summarises call latencies.
type stats struct {
	p50, p99   time.Duration
	perSec     float64
	n          int
	totalWalls time.Duration
}

func summarize(lat []time.Duration, wall time.Duration) stats {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		i := int(float64(len(lat))*p+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return lat[i]
	}
	return stats{p50: pct(0.50), p99: pct(0.99), perSec: float64(len(lat)) / wall.Seconds(), n: len(lat), totalWalls: wall}
}

func (s stats) String() string {
	return fmt.Sprintf("p50 %7.1f µs  p99 %7.1f µs  %8.0f calls/s  (n=%d)", us(s.p50), us(s.p99), s.perSec, s.n)
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func report(b *testing.B, prefix string, s stats) {
	b.ReportMetric(us(s.p50), prefix+"_p50_us")
	b.ReportMetric(us(s.p99), prefix+"_p99_us")
	b.ReportMetric(s.perSec, prefix+"_calls/s")
}

// caller performs one call.
type caller func(ctx context.Context) error

// sequential runs n calls one after another.
func sequential(n int, call caller) (stats, error) {
	lat := make([]time.Duration, 0, n)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := call(ctx); err != nil {
			return stats{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	return summarize(lat, time.Since(start)), nil
}

// concurrent runs n calls spread over len(callers) clients.
func concurrent(n int, callers []caller) (stats, error) {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	var firstErr error
	per := n / len(callers)
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range callers {
		wg.Add(1)
		go func(call caller) {
			defer wg.Done()
			local := make([]time.Duration, 0, per)
			for i := 0; i < per; i++ {
				t0 := time.Now()
				if err := call(context.Background()); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	if firstErr != nil {
		return stats{}, firstErr
	}
	return summarize(lat, time.Since(start)), nil
}

// stdioSession connects a Go SDK client to command over stdio.
func stdioSession(b testing.TB, name string, args ...string) *mcp.ClientSession {
	b.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.CommandTransport{Command: exec.Command(name, args...)}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		b.Fatalf("connect %s: %v", name, err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs
}

// benchHTTP is the HTTP client of every SDK session here. Go's default
// transport keeps only two idle connections per host, so 8 concurrent
// sessions would open and close a TCP connection on most calls; a real
// client keeps its connections, and so does this one.
var benchHTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 256}}

// httpSession connects a Go SDK client to an MCP URL.
func httpSession(b testing.TB, url string) *mcp.ClientSession {
	b.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: benchHTTP}, nil)
	if err != nil {
		b.Fatalf("connect %s: %v", url, err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs
}

// plainClient is the least an MCP client over Streamable HTTP does per
// call: one keep-alive POST of a JSON-RPC request, and reading the JSON (or
// SSE) response. It separates what the proxy costs from what the Go SDK's
// HTTP client transport costs on top of its stdio transport.
type plainClient struct {
	url, session string
	seq          atomic.Int64
}

// plainSession initializes a session with the SDK (so it is a normal
// session on the proxy) and makes calls in it with plain HTTP.
func plainSession(b testing.TB, url string) *plainClient {
	return &plainClient{url: url, session: httpSession(b, url).ID()}
}

func (c *plainClient) call(ctx context.Context, name string, args any) error {
	params, _ := json.Marshal(map[string]any{"name": name, "arguments": args})
	id := c.seq.Add(1)
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":%s}`, id, params)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", c.session)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	resp, err := benchHTTP.Do(req)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, data)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// the last data line is the response
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(lines[i], "data: "); ok {
				data = []byte(v)
				break
			}
		}
	}
	var out struct {
		ID     int64 `json:"id"`
		Result *struct {
			IsError bool `json:"isError"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return fmt.Errorf("response: %v: %s", err, data)
	}
	switch {
	case out.Error != nil:
		return fmt.Errorf("%s: %s", name, out.Error.Message)
	case out.Result == nil || out.ID != id:
		return fmt.Errorf("%s: unexpected response %s", name, data)
	case out.Result.IsError:
		return fmt.Errorf("%s: tool error: %s", name, data)
	}
	return nil
}

func plainSimpleText(c *plainClient) caller {
	return func(ctx context.Context) error { return c.call(ctx, "test_simple_text", map[string]any{}) }
}

func plainCallTool(c *plainClient, server string) caller {
	return func(ctx context.Context) error {
		return c.call(ctx, "call_tool", map[string]any{"name": server + ":test_simple_text"})
	}
}

func simpleText(cs *mcp.ClientSession) caller {
	return func(ctx context.Context) error {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text", Arguments: map[string]any{}})
		if err != nil {
			return err
		}
		if res.IsError {
			return fmt.Errorf("tool error")
		}
		return nil
	}
}

func viaCallTool(cs *mcp.ClientSession, server string) caller {
	return func(ctx context.Context) error {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "call_tool", Arguments: map[string]any{"name": server + ":test_simple_text"}})
		if err != nil {
			return err
		}
		if res.IsError {
			return fmt.Errorf("call_tool error: %v", res.Content)
		}
		return nil
	}
}

// proxyProcess is a built mcpproxy serving a temporary data dir.
type proxyProcess struct {
	cmd       *exec.Cmd
	addr      string
	readyWall time.Duration // from process start to "all upstreams settled"
	startedAt time.Time
	logs      *lockedLines
}

type lockedLines struct {
	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
}

func (l *lockedLines) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
	l.cond.Broadcast()
}

// waitFor returns the first line matching re.
func (l *lockedLines) waitFor(re *regexp.Regexp, timeout time.Duration) (string, bool) {
	deadline := time.Now().Add(timeout)
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := 0
	for {
		for ; seen < len(l.lines); seen++ {
			if re.MatchString(l.lines[seen]) {
				return l.lines[seen], true
			}
		}
		if time.Now().After(deadline) {
			return "", false
		}
		go func() { time.Sleep(50 * time.Millisecond); l.cond.Broadcast() }()
		l.cond.Wait()
	}
}

var (
	proxyBinOnce sync.Once
	proxyBin     string
	proxyBinErr  error
)

// buildProxy builds cmd/mcpproxy once per run.
func buildProxy(b testing.TB) string {
	proxyBinOnce.Do(func() {
		root, err := testutil.ModuleRoot()
		if err != nil {
			proxyBinErr = err
			return
		}
		dir, err := os.MkdirTemp("", "mcpproxy-bench-bin")
		if err != nil {
			proxyBinErr = err
			return
		}
		proxyBin = filepath.Join(dir, "mcpproxy")
		cmd := exec.Command("go", "build", "-o", proxyBin, "./cmd/mcpproxy")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			proxyBinErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if proxyBinErr != nil {
		b.Fatal(proxyBinErr)
	}
	return proxyBin
}

var readyRe = regexp.MustCompile(`all upstreams settled.*since_start_ms=(\d+)`)

// startProxy writes cfg and runs the proxy binary until all upstreams settle.
func startProxy(b testing.TB, cfg any) *proxyProcess {
	b.Helper()
	return startProxyIn(b, b.TempDir(), cfg)
}

// startProxyIn is startProxy with the data dir dir (which may hold a
// previous run's state).
func startProxyIn(b testing.TB, dir string, cfg any) *proxyProcess {
	b.Helper()
	bin := buildProxy(b)
	data, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "mcp_config.json"), data, 0o600); err != nil {
		b.Fatal(err)
	}
	port := testutil.FreePort(b)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--listen", addr, "--log-level", "info")
	cmd.Env = benchEnv()
	stderr, _ := cmd.StderrPipe()
	p := &proxyProcess{cmd: cmd, addr: addr, logs: &lockedLines{}}
	p.logs.cond = sync.NewCond(&p.logs.mu)
	p.startedAt = time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.logs.add(sc.Text())
		}
	}()
	b.Cleanup(func() {
		// After the stop below (cleanups run last first): the package cache
		// volumes of the data dir, kept by the proxy by design.
		prune := exec.Command(bin, "--data-dir", dir, "upstream", "prune")
		prune.Env = benchEnv()
		_ = prune.Run()
	})
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	line, ok := p.logs.waitFor(readyRe, 5*time.Minute)
	p.readyWall = time.Since(p.startedAt)
	if !ok {
		b.Fatalf("proxy never reported all upstreams settled; log:\n%s", strings.Join(p.logs.lines, "\n"))
	}
	if strings.Contains(line, "ready=") && !regexp.MustCompile(`ready=(\d+) total=(\d+)`).MatchString(line) {
		b.Fatalf("unexpected ready line %q", line)
	}
	if m := regexp.MustCompile(`ready=(\d+) total=(\d+)`).FindStringSubmatch(line); m != nil && m[1] != m[2] {
		b.Fatalf("not every upstream became ready: %s\n%s", line, strings.Join(p.logs.lines, "\n"))
	}
	return p
}

// rssKB reads VmRSS of pid.
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return -1
}

// writeResult appends a result block to bench/results/<name>.txt.
func writeResult(b testing.TB, name, text string) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		return
	}
	dir := filepath.Join(root, "bench", "results")
	_ = os.MkdirAll(dir, 0o755)
	header := fmt.Sprintf("# %s — %s\n", name, time.Now().UTC().Format(time.RFC3339))
	_ = os.WriteFile(filepath.Join(dir, name+".txt"), []byte(header+text), 0o644)
	fmt.Fprintf(os.Stdout, "\n%s%s\n", header, text)
}

var interruptSignal = os.Interrupt

// benchEnv exports DOCKER_HOST when unset, so the proxy execs docker directly
// (the spec's condition for skipping the login-shell wrap) and the figures
// measure mcpproxy, not the user's shell startup files.
func benchEnv() []string {
	env := os.Environ()
	if os.Getenv("DOCKER_HOST") == "" && os.Getenv("DOCKER_CONTEXT") == "" {
		env = append(env, "DOCKER_HOST=unix:///var/run/docker.sock")
	}
	return env
}
