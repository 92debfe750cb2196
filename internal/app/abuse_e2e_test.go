package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// proxyProc is mcpproxy running as a process of its own (so that its
// memory can be read and nothing of the test's is counted).
type proxyProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	dataDir string
	base    string
	logs    *syncBuffer
	done    chan struct{}
}

func startProxyProc(t *testing.T, cfg string) *proxyProc {
	t.Helper()
	bin := testutil.ProxyBinary(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mcp_config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	p := &proxyProc{t: t, dataDir: dir, base: "http://127.0.0.1:" + strconv.Itoa(port), logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--data-dir", dir, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--log-level", "info")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if v := os.Getenv("ABUSE_GOMEMLIMIT"); v != "" {
		p.cmd.Env = append(os.Environ(), "GOMEMLIMIT="+v)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("proxy output:\n%s", tail(p.logs.String(), 8000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.logs.String(), `msg="mcpproxy listening"`) {
		select {
		case <-p.done:
			t.Fatalf("proxy exited:\n%s", p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not listen:\n%s", p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// stop sends SIGTERM and waits for the exit (SIGKILL after a minute).
func (p *proxyProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.t.Errorf("proxy did not stop within a minute of SIGTERM")
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitLog waits until the proxy's output contains sub.
func (p *proxyProc) waitLog(t *testing.T, sub string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.logs.String(), sub) {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy did not log %q", sub)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// status reads a field of /proc/<pid>/status in kB.
func (p *proxyProc) statusKB(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return -1
}

func (p *proxyProc) servers() ServerList {
	var l ServerList
	status, body := apiRequest(p.t, http.MethodGet, p.base+"/api/v1/servers", apiKeyIn(p.t, filepath.Join(p.dataDir, "mcp_config.json")), "")
	if status != http.StatusOK {
		p.t.Fatalf("servers: %d %s", status, body)
	}
	if err := json.Unmarshal(body, &l); err != nil {
		p.t.Fatalf("servers: %v", err)
	}
	return l
}

// waitReady waits until every named server is ready.
func (p *proxyProc) waitReady(names ...string) ServerList {
	p.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		l := p.servers()
		ready := map[string]bool{}
		for _, s := range l.Servers {
			if s.State == upstream.StateReady {
				ready[s.Name] = true
			}
		}
		all := true
		for _, n := range names {
			all = all && ready[n]
		}
		if all {
			return l
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("servers %v not all ready: %+v", names, l.Servers)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *proxyProc) connect(path string, opts *mcp.ClientOptions) *mcp.ClientSession {
	p.t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "abuse-test", Version: "1"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: p.base + path}, nil)
	if err != nil {
		p.t.Fatalf("connect %s: %v", path, err)
	}
	p.t.Cleanup(func() { cs.Close() })
	return cs
}

// TestProtocolAbuse: isolated servers that break the protocol every way
// the hostile fixture knows; after each abuse the proxy still serves the
// other servers (directly and through call_tool), its peak memory stays
// under 100 MB, and once it stops no container of it is left.
func TestProtocolAbuse(t *testing.T) {
	t.Parallel()
	image := testutil.HostileImage(t)
	dockerPath := testutil.RequireDocker(t)
	good := stdioServer("good", testutil.FixtureBinary(t))
	good["isolation"] = map[string]any{"enabled": false}
	p := startProxyProc(t, isoConfig(t, map[string]any{"network_mode": "none", "timeout": "10s"},
		good,
		isoServer("big", image, nil, "/hostile"),
		isoServer("garbage", image, nil, "/hostile"),
		isoServer("stderr", image, nil, "/hostile"),
		isoServer("silent", image, nil, "/hostile", "-silent-init"),
		isoServer("twice", image, nil, "/hostile", "-twice"),
		isoServer("forged", image, nil, "/hostile", "-forged"),
		isoServer("many", image, nil, "/hostile", "-tools", "10000"),
		isoServer("flood", image, nil, "/hostile"),
	))
	list := p.waitReady("good", "big", "garbage", "stderr", "twice", "forged", "many", "flood")
	t.Logf("once ready: proxy VmHWM %d kB, VmRSS %d kB", p.statusKB("VmHWM"), p.statusKB("VmRSS"))
	instance := ""
	for _, s := range list.Servers {
		if s.Isolation != nil && s.Isolation.ContainerID != "" {
			instance = dockerOut(t, "inspect", "--format", `{{index .Config.Labels "`+isolation.LabelInstance+`"}}`, s.Isolation.ContainerID)
			break
		}
	}
	if instance == "" {
		t.Fatalf("no isolated server has a container: %+v", list.Servers)
	}

	goodCS := p.connect("/mcp/good", nil)
	agg := p.connect("/mcp", nil)
	othersServe := func(t *testing.T, after string) {
		t.Helper()
		defer func() {
			t.Logf("after %s: proxy VmHWM %d kB, VmRSS %d kB", after, p.statusKB("VmHWM"), p.statusKB("VmRSS"))
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := goodCS.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "still here"}})
		if err != nil || res.IsError || resultText(res) != "still here" {
			t.Fatalf("after %s: /mcp/good echo = %v, %v", after, res, err)
		}
		res, err = agg.CallTool(ctx, &mcp.CallToolParams{Name: "call_tool", Arguments: map[string]any{"name": "good:echo", "args": map[string]any{"text": "aggregate"}}})
		if err != nil || res.IsError || !strings.Contains(resultText(res), "aggregate") {
			t.Fatalf("after %s: call_tool good:echo = %v, %v", after, res, err)
		}
	}
	call := func(t *testing.T, server, tool string, args map[string]any) *mcp.CallToolResult {
		t.Helper()
		cs := p.connect("/mcp/"+server, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			t.Fatalf("%s %s: %v", server, tool, err)
		}
		return res
	}

	t.Run("16 MiB line", func(t *testing.T) {
		// Over the 16 MiB limit: read past without being kept; the
		// connection ends with the reason and the server is restarted.
		cs := p.connect("/mcp/big", nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "big_line", Arguments: map[string]any{"mib": 16}}); err == nil && !res.IsError {
			t.Errorf("a call whose server sent a 16 MiB line succeeded: %q", resultText(res))
		}
		p.waitLog(t, "the server sent a message larger than the 16 MiB limit")
		p.waitReady("big")
		// Just under the limit: delivered whole.
		res := call(t, "big", "big_line", map[string]any{"mib": 15, "as_result": true})
		if n := len(resultText(res)); res.IsError || n != 15<<20 {
			t.Errorf("a 15 MiB result arrived with %d bytes (error %v)", n, res.IsError)
		}
		othersServe(t, "a 16 MiB line")
	})
	t.Run("garbage on stdout", func(t *testing.T) {
		if got := resultText(call(t, "garbage", "garbage", map[string]any{"lines": 1000})); got != "sent" {
			t.Errorf("garbage = %q", got)
		}
		if got := resultText(call(t, "garbage", "echo", map[string]any{"text": "ok"})); got != "ok" {
			t.Errorf("the garbage server after its garbage: %q", got)
		}
		othersServe(t, "garbage")
	})
	t.Run("100 MB stderr flood", func(t *testing.T) {
		call(t, "stderr", "stderr_flood", map[string]any{"mb": 100})
		othersServe(t, "a stderr flood")
	})
	t.Run("no answer to initialize", func(t *testing.T) {
		deadline := time.Now().Add(time.Minute)
		for {
			var st *ServerView
			for _, s := range p.servers().Servers {
				if s.Name == "silent" {
					st = &s
				}
			}
			if st != nil && st.LastError != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the silent server never failed its start: %+v", st)
			}
			time.Sleep(200 * time.Millisecond)
		}
		othersServe(t, "a silent initialize")
	})
	t.Run("every response twice", func(t *testing.T) {
		for i := range 20 {
			want := fmt.Sprint(i)
			if got := resultText(call(t, "twice", "echo", map[string]any{"text": want})); got != want {
				t.Fatalf("echo %s through a server answering twice = %q", want, got)
			}
		}
		othersServe(t, "duplicate responses")
	})
	t.Run("responses to ids never sent", func(t *testing.T) {
		for i := range 20 {
			want := fmt.Sprint(i)
			if got := resultText(call(t, "forged", "echo", map[string]any{"text": want})); got != want {
				t.Fatalf("echo %s through a server forging responses = %q", want, got)
			}
		}
		othersServe(t, "forged responses")
	})
	t.Run("10,000 tools", func(t *testing.T) {
		cs := p.connect("/mcp/many", nil)
		n := 0
		for tool, err := range cs.Tools(context.Background(), nil) {
			if err != nil {
				t.Fatal(err)
			}
			_ = tool
			n++
		}
		if n < 10000 {
			t.Errorf("tools/list of the server with 10,000 more tools gave %d", n)
		}
		othersServe(t, "10,000 tools")
	})
	t.Run("notification flood", func(t *testing.T) {
		call(t, "flood", "notify_flood", map[string]any{"count": 50000})
		othersServe(t, "a notification flood")
	})

	hwm := p.statusKB("VmHWM")
	t.Logf("proxy VmHWM after every abuse: %d kB", hwm)
	if hwm <= 0 || hwm >= 100*1024 {
		t.Errorf("proxy peak memory VmHWM = %d kB, want under 100 MB", hwm)
	}
	p.stop()
	if ids := containersOf(t, dockerPath, instance); len(ids) != 0 {
		t.Errorf("containers left behind after the proxy stopped: %v", ids)
		for _, id := range ids {
			_ = exec.Command(dockerPath, "rm", "--force", id).Run()
		}
	}
}
