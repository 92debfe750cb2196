package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

func hostConfig(t testing.TB, servers ...map[string]any) string {
	return jsonConfig(t, map[string]any{
		"docker_isolation": map[string]any{"enabled": false},
		"mcpServers":       servers,
	})
}

// The official conformance suite through /mcp/everything must score what the
// reference server scores when served directly: 40 of 40.
func TestConformanceThroughPerServerEndpoint(t *testing.T) {
	bin := testutil.EverythingServer(t)
	testutil.RequireShared(t)
	h := startApp(t, hostConfig(t, stdioServer("everything", bin)))
	h.waitState("everything", upstream.StateReady, 30*time.Second)
	res := testutil.Conformance(t, h.url("/mcp/everything"))
	if res.Failed != 0 || res.Passed != 40 {
		t.Fatalf("conformance through /mcp/everything: %d passed, %d failed, want 40/0\n%s", res.Passed, res.Failed, res.Output)
	}
}

func TestAggregateFindsAndCallsNodeServers(t *testing.T) {
	peers := testutil.NodePeers(t)
	node := testutil.RequireNode(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	memFile := filepath.Join(t.TempDir(), "memory.json")
	fs := stdioServer("fs", node, filepath.Join(peers, "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"), root)
	mem := stdioServer("memory", node, filepath.Join(peers, "node_modules/@modelcontextprotocol/server-memory/dist/index.js"))
	mem["env"] = map[string]string{"MEMORY_FILE_PATH": memFile}
	h := startApp(t, hostConfig(t, fs, mem))
	h.waitState("fs", upstream.StateReady, 60*time.Second)
	h.waitState("memory", upstream.StateReady, 60*time.Second)
	cs := h.connect("/mcp", nil)

	// retrieve_tools ranks the filesystem tools for a file query.
	out := resultText(callTool(t, cs, "retrieve_tools", map[string]any{"query": "read file contents", "limit": 5}))
	var found struct {
		Tools []struct{ Name string } `json:"tools"`
	}
	if err := json.Unmarshal([]byte(out), &found); err != nil {
		t.Fatalf("retrieve_tools output: %v\n%s", err, out)
	}
	if len(found.Tools) == 0 || !strings.HasPrefix(found.Tools[0].Name, "fs:read") {
		t.Fatalf("retrieve_tools top hit for \"read file contents\": %+v", found.Tools)
	}
	out = resultText(callTool(t, cs, "retrieve_tools", map[string]any{"query": "create entities in knowledge graph"}))
	mustContain(t, out, "memory:create_entities")

	// call_tool reads the file through the filesystem server.
	res := callTool(t, cs, "call_tool", map[string]any{"name": "fs:read_text_file", "args": map[string]any{"path": filepath.Join(root, "hello.txt")}})
	if res.IsError {
		t.Fatalf("read_text_file: %s", resultText(res))
	}
	mustContain(t, resultText(res), "hello from the host")

	// call_tool stores and reads an entity through the memory server.
	res = callTool(t, cs, "call_tool", map[string]any{"name": "memory:create_entities", "args": map[string]any{
		"entities": []map[string]any{{"name": "mcpproxy", "entityType": "project", "observations": []string{"isolates MCP servers"}}},
	}})
	if res.IsError {
		t.Fatalf("create_entities: %s", resultText(res))
	}
	res = callTool(t, cs, "call_tool", map[string]any{"name": "memory:open_nodes", "args": map[string]any{"names": []string{"mcpproxy"}}})
	mustContain(t, resultText(res), "isolates MCP servers")
	if b, err := os.ReadFile(memFile); err != nil || !strings.Contains(string(b), "isolates MCP servers") {
		t.Fatalf("memory file on disk: %q, %v", b, err)
	}

	// Errors name the server and the tool.
	res = callTool(t, cs, "call_tool", map[string]any{"name": "nosuch:tool"})
	if !res.IsError {
		t.Fatal("unknown server: want an error result")
	}
	mustContain(t, resultText(res), `"nosuch"`)
}

func TestHTTPUpstream(t *testing.T) {
	url := testutil.EverythingHTTP(t, nil)
	h := startApp(t, hostConfig(t, map[string]any{"name": "remote", "url": url + "mcp"}))
	h.waitState("remote", upstream.StateReady, 30*time.Second)

	cs := h.connect("/mcp/remote", nil)
	res := callTool(t, cs, "test_simple_text", map[string]any{})
	mustContain(t, resultText(res), "This is a simple text response for testing.")

	agg := h.connect("/mcp", nil)
	res = callTool(t, agg, "call_tool", map[string]any{"name": "remote:test_simple_text"})
	mustContain(t, resultText(res), "This is a simple text response for testing.")
}

// The Go SDK client declares roots without listing any; its first call must
// be answered at once (no roots/list round trip on the critical path).
func TestRootsClientFirstCallIsFast(t *testing.T) {
	bin := testutil.FixtureBinary(t)
	h := startApp(t, hostConfig(t, stdioServer("fx", bin)))
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	c := mcp.NewClient(&mcp.Implementation{Name: "roots-client", Version: "1"}, nil)
	c.AddRoots() // roots capability declared, no roots listed
	for _, path := range []string{"/mcp/fx", "/mcp"} {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.url(path)}, nil)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		name, args := "echo", map[string]any{"text": "hi"}
		if path == "/mcp" {
			name, args = "call_tool", map[string]any{"name": "fx:echo", "args": map[string]any{"text": "hi"}}
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		elapsed := time.Since(start)
		mustContain(t, resultText(res), "hi")
		if elapsed > time.Second {
			t.Fatalf("%s: connect + first call took %s; a roots-capable client must not be stalled", path, elapsed)
		}
		cs.Close()
	}
}

func TestCrashedUpstreamIsRestarted(t *testing.T) {
	bin := testutil.FixtureBinary(t)
	h := startApp(t, hostConfig(t, stdioServer("fx", bin)))
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	cs := h.connect("/mcp", nil)
	res := callTool(t, cs, "call_tool", map[string]any{"name": "fx:crash"})
	if !res.IsError {
		t.Fatalf("crash call: want an error result, got %s", resultText(res))
	}
	// The next call succeeds once the server is back.
	deadline := time.Now().Add(20 * time.Second)
	for {
		res = callTool(t, cs, "call_tool", map[string]any{"name": "fx:echo", "args": map[string]any{"text": "back"}})
		if !res.IsError {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not restarted: %s", resultText(res))
		}
		time.Sleep(100 * time.Millisecond)
	}
	mustContain(t, resultText(res), "back")
	if st := h.app.Manager().Get("fx").Status(); st.Restarts < 1 {
		t.Fatalf("restarts = %d, want >= 1", st.Restarts)
	}
}

func TestConfigEditAddsServerLive(t *testing.T) {
	bin := testutil.FixtureBinary(t)
	h := startApp(t, `{
  // a comment the proxy must keep
  "docker_isolation": {"enabled": false},
  "mcpServers": {}
}`)
	cs := h.connect("/mcp", nil)
	edited := `{
  // a comment the proxy must keep
  "docker_isolation": {"enabled": false},
  "mcpServers": {"late": {"command": ` + jsonString(bin) + `}}
}`
	tmp := h.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, h.cfgPath); err != nil {
		t.Fatal(err)
	}
	h.waitState("late", upstream.StateReady, 30*time.Second)
	res := callTool(t, cs, "call_tool", map[string]any{"name": "late:echo", "args": map[string]any{"text": "live"}})
	mustContain(t, resultText(res), "live")

	// An invalid edit is reported and the running config is kept.
	if err := os.WriteFile(h.cfgPath, []byte(`{"mcpServers": [{"name": "x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.logs.String(), "mcpServers[0].command") {
		if time.Now().After(deadline) {
			t.Fatalf("invalid edit not reported; log:\n%s", h.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h.app.Manager().Get("late") == nil {
		t.Fatal("invalid edit removed a running server")
	}
}

func TestUpstreamServersManagement(t *testing.T) {
	bin := testutil.FixtureBinary(t)
	h := startApp(t, `{
  // keep me
  "docker_isolation": {"enabled": false},
  "mcpServers": [],
  "x_unknown": 1
}`)
	cs := h.connect("/mcp", nil)
	res := callTool(t, cs, "upstream_servers", map[string]any{"operation": "add", "server": map[string]any{"name": "fx", "command": bin, "env": map[string]string{"FIXTURE_SECRET": "s3cr3t-value"}}})
	if res.IsError {
		t.Fatalf("add: %s", resultText(res))
	}
	h.waitState("fx", upstream.StateQuarantined, 10*time.Second)
	approve(t, h, "fx")
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	b, _ := os.ReadFile(h.cfgPath)
	mustContain(t, string(b), "// keep me")
	mustContain(t, string(b), "x_unknown")
	if fi, _ := os.Stat(h.cfgPath); fi.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v, want 0600", fi.Mode().Perm())
	}
	list := resultText(callTool(t, cs, "upstream_servers", map[string]any{"operation": "list"}))
	var l ServerList
	if err := json.Unmarshal([]byte(list), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Servers) != 1 || l.Servers[0].State != upstream.StateReady || l.Servers[0].ToolCount == 0 || l.Servers[0].Transport != "stdio" {
		t.Fatalf("list: %+v", l.Servers)
	}
	if strings.Contains(list, "s3cr3t-value") {
		t.Fatal("list leaks an env value")
	}
	res = callTool(t, cs, "upstream_servers", map[string]any{"operation": "disable", "name": "fx"})
	if res.IsError {
		t.Fatal(resultText(res))
	}
	h.waitState("fx", upstream.StateDisabled, 10*time.Second)
	callTool(t, cs, "upstream_servers", map[string]any{"operation": "enable", "name": "fx"})
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	res = callTool(t, cs, "upstream_servers", map[string]any{"operation": "restart", "name": "fx"})
	if res.IsError {
		t.Fatal(resultText(res))
	}
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	res = callTool(t, cs, "upstream_servers", map[string]any{"operation": "add", "server": map[string]any{"name": "bad"}})
	if !res.IsError {
		t.Fatal("adding a server without command or url must fail")
	}
	mustContain(t, resultText(res), "command")
	res = callTool(t, cs, "upstream_servers", map[string]any{"operation": "remove", "name": "fx"})
	if res.IsError {
		t.Fatal(resultText(res))
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.app.Manager().Get("fx") != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if h.app.Manager().Get("fx") != nil {
		t.Fatal("removed server still present")
	}
	if strings.Contains(h.logs.String(), "s3cr3t-value") {
		t.Fatal("a secret env value reached the log")
	}
}

func TestUnknownServerAndRebindingProtection(t *testing.T) {
	h := startApp(t, hostConfig(t))
	resp, err := http.Post(h.url("/mcp/nosuch"), "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown server: status %d", resp.StatusCode)
	}
	mustContain(t, string(body), `unknown server \"nosuch\"`)
	mustContain(t, string(body), `"jsonrpc":"2.0"`)

	for _, tc := range []struct{ host, origin string }{
		{"evil.example.com", ""},
		{h.addr, "http://evil.example.com"},
	} {
		req, _ := http.NewRequest("POST", h.url("/mcp"), strings.NewReader(`{}`))
		req.Host = tc.host
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("host %q origin %q: status %d, want 403", tc.host, tc.origin, resp.StatusCode)
		}
	}
}

func TestStderrGoesToServerLog(t *testing.T) {
	bin := testutil.FixtureBinary(t)
	h := startApp(t, hostConfig(t, stdioServer("noisy", bin, "-stderr", "hello-from-stderr")))
	h.waitState("noisy", upstream.StateReady, 30*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		matches, _ := filepath.Glob(filepath.Join(h.dataDir, "logs", "*noisy*"))
		for _, m := range matches {
			if b, _ := os.ReadFile(m); strings.Contains(string(b), "hello-from-stderr") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr not found in a server log; logs: %v", matches)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A configuration without containers leaves no trace of docker isolation in
// the data dir: the stdio shim is installed when a config first needs docker
// (TestIsolationDockerInspect sees it in use).
func TestNoShimWithoutDocker(t *testing.T) {
	bin := testutil.FixtureBinary(t)
	h := startApp(t, hostConfig(t, stdioServer("plain", bin)))
	h.waitState("plain", upstream.StateReady, 30*time.Second)
	if _, err := os.Stat(filepath.Join(h.dataDir, "run", "bin")); !os.IsNotExist(err) {
		t.Fatalf("run/bin exists without any docker server (stat: %v)", err)
	}
}

func TestToolListChangedRefreshesIndex(t *testing.T) {
	bin := testutil.FixtureBinary(t)
	h := startApp(t, hostConfig(t, stdioServer("fx", bin, "-tools-changed-after", "300ms")))
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	changed := make(chan struct{}, 1)
	cs := h.connect("/mcp", &mcp.ClientOptions{ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}})
	// The upstream's list gains "late"; a new tool waits for a person (see
	// TestToolPinningWithholdsChangedTool), who approves it here.
	deadline := time.Now().Add(10 * time.Second)
	for !slices.ContainsFunc(h.app.Manager().Get("fx").Tools(), func(tl *mcp.Tool) bool { return tl.Name == "late" }) {
		if time.Now().After(deadline) {
			t.Fatal("the fixture never added its late tool")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, b := h.api(http.MethodPost, "/api/v1/servers/fx/tools/approve", `{"tools":[{"name":"late"}]}`); code != http.StatusOK {
		t.Fatalf("approve late: %d %s", code, b)
	}
	for {
		out := resultText(callTool(t, cs, "retrieve_tools", map[string]any{"query": "late"}))
		if strings.Contains(out, "fx:late") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tool added after list_changed not indexed: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("/mcp client was not told that the tool set changed")
	}
}

// / leads to the web UI; its Security page answers a client with the key
// (a browser signs in first: internal/httpapi/ui's browser tests).
func TestWebUIServesSecurityPage(t *testing.T) {
	h := startApp(t, hostConfig(t))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(h.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("GET /: %d %s, want 303 /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	code, body := h.api(http.MethodGet, "/ui/security", "")
	if code != http.StatusOK {
		t.Fatalf("GET /ui/security: %d", code)
	}
	mustContain(t, string(body), "Docker isolation")
	mustContain(t, string(body), "/api/v1/config/docker-isolation")
}

// Progress of a call made through /mcp call_tool reaches the caller with its
// own token, and the upstream's result comes back unchanged.
func TestCallToolForwardsProgress(t *testing.T) {
	bin := testutil.FixtureBinary(t)
	h := startApp(t, hostConfig(t, stdioServer("fx", bin)))
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	got := make(chan *mcp.ProgressNotificationParams, 16)
	cs := h.connect("/mcp", &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
		got <- r.Params
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	params := &mcp.CallToolParams{Name: "call_tool", Arguments: map[string]any{"name": "fx:slow", "args": map[string]any{"ms": 200}}}
	params.SetProgressToken("my-token-7")
	res, err := cs.CallTool(ctx, params)
	if err != nil || res.IsError {
		t.Fatalf("call: %v %s", err, resultText(res))
	}
	select {
	case p := <-got:
		if p.ProgressToken != "my-token-7" {
			t.Fatalf("progress token %v, want the caller's own", p.ProgressToken)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no progress notification reached the /mcp client")
	}
}

// Start-up tells the person where everything is (MCP endpoint, web UI,
// config, logs) and, on the first run only, what docker isolation means and
// how to turn it off (or on); none of it goes to the log.
func TestStartupAnnouncesUIAndIsolation(t *testing.T) {
	t.Parallel()
	h := startApp(t, "") // first run: the config is created
	out := h.console.String()
	for _, want := range []string{"MCP endpoint: http://" + h.addr + "/mcp", "Web UI:       http://" + h.addr + "/", "Config file:  " + h.cfgPath,
		"Logs:         " + h.dataDir + "/logs", "Docker isolation is"} {
		mustContain(t, out, want)
	}
	cfg, err := config.Load(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DockerIsolation.Enabled {
		mustContain(t, out, `To turn it off (servers then run on the host with your rights): set "docker_isolation": {"enabled": false}`)
	} else {
		mustContain(t, out, `set "docker_isolation": {"enabled": true}`)
	}
	if strings.Contains(h.logs.String(), "Docker isolation is O") {
		t.Fatal("the first-run note went to the log")
	}
	h.stop()

	// A later start says where things are, not the first-run note.
	h2 := startAppWith(t, "", func(o *Options) { o.DataDir, o.ConfigPath = h.dataDir, h.cfgPath })
	if out := h2.console.String(); !strings.Contains(out, "Web UI:") || strings.Contains(out, "Docker isolation is") {
		t.Fatalf("second start:\n%s", out)
	}
}
