package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/logging"
	"github.com/mcpproxy/mcpproxy/internal/machine"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// syncBuffer is a goroutine-safe log sink the tests can read.
type syncBuffer = testutil.SyncBuffer

// harness is one in-process mcpproxy on 127.0.0.1:<random>.
type harness struct {
	t       testing.TB
	dataDir string
	cfgPath string
	addr    string
	app     *App
	logs    *syncBuffer
	console *syncBuffer
	cancel  context.CancelFunc
	done    chan error
}

// startApp writes cfg (a JSON document, or "" for none) and starts the proxy.
func startApp(t testing.TB, cfg string) *harness { return startAppWith(t, cfg, nil) }

// startAppWith is startApp with options changed by with (nil: none).
func startAppWith(t testing.TB, cfg string, with func(*Options)) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, dataDir: dir, cfgPath: filepath.Join(dir, "mcp_config.json"), logs: &syncBuffer{}, console: &syncBuffer{}, done: make(chan error, 1)}
	if cfg != "" {
		if err := os.WriteFile(h.cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	red := &logging.Redactor{}
	logger, closer, err := logging.New(logging.Options{Level: slog.LevelDebug, Dir: filepath.Join(dir, "logs"), Stderr: h.logs}, red)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	addrCh := make(chan string, 1)
	opts := Options{ConfigPath: h.cfgPath, DataDir: dir, Listen: "127.0.0.1:0", Version: "test", Logger: logger, Redactor: red,
		Ready: func(addr string) { addrCh <- addr }, Console: h.console}
	if with != nil {
		with(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.app = a
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- a.Serve(ctx) }()
	select {
	case h.addr = <-addrCh:
	case err := <-h.done:
		t.Fatalf("serve exited: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not start listening")
	}
	t.Cleanup(func() {
		// After the stop (cleanups run last first): package cache volumes
		// outlive the proxy by design, but not the test's data dir.
		if a.iso.ready.finished() {
			removeCacheVolumes(a.opts.DataDir)
		}
	})
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case <-h.done:
	case <-time.After(60 * time.Second):
		h.t.Errorf("proxy did not shut down")
	}

	if h.t.Failed() {
		h.t.Logf("proxy log:\n%s", h.logs.String())
	}
}

func (h *harness) url(path string) string { return "http://" + h.addr + path }

// waitState waits until server reaches want.
func (h *harness) waitState(name string, want upstream.State, timeout time.Duration) upstream.Status {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	var st upstream.Status
	for time.Now().Before(deadline) {
		if u := h.app.Manager().Get(name); u != nil {
			st = u.Status()
			if st.State == want {
				return st
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("server %q: state %q (error %q), want %q after %s", name, st.State, st.Error, want, timeout)
	return st
}

// connect opens an MCP client session to path on the proxy.
func (h *harness) connect(path string, opts *mcp.ClientOptions) *mcp.ClientSession {
	h.t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.url(path)}, nil)
	if err != nil {
		h.t.Fatalf("connect %s: %v", path, err)
	}
	h.t.Cleanup(func() { cs.Close() })
	return cs
}

func callTool(t testing.TB, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res
}

func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// jsonConfig renders a config document from Go values.
func jsonConfig(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func stdioServer(name, command string, args ...string) map[string]any {
	return map[string]any{"name": name, "command": command, "args": args}
}

func mustContain(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("expected %q in:\n%s", sub, s)
	}
}

// removeCacheVolumes removes the volumes labelled with dataDir's ID (only a
// test's own data dir is ever given).
func removeCacheVolumes(dataDir string) {
	id := machine.Host(dataDir, "").DataDirID
	out, err := exec.Command("docker", "volume", "ls", "-q", "--filter", "label="+isolation.LabelDataDir+"="+id).Output()
	if err != nil {
		return
	}
	for _, v := range strings.Fields(string(out)) {
		_ = exec.Command("docker", "volume", "rm", "-f", v).Run()
	}
}
