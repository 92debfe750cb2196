package app

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// routeRequest turns a mux pattern ("POST /api/v1/servers/{name}/restart")
// into a method and a path for server name.
func routeRequest(pattern, name string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "GET", pattern
	}
	path = strings.ReplaceAll(path, "{name}", name)
	path = strings.ReplaceAll(path, "{$}", "")
	for strings.Contains(path, "{") { // any other wildcard
		i, j := strings.Index(path, "{"), strings.Index(path, "}")
		path = path[:i] + "x" + path[j+1:]
	}
	return method, path
}

// Every REST route, as registered, refuses a request without the key, with a
// wrong key, from Origin null, from another origin and through a rebinding
// Host — from loopback too — and answers one with the key; /healthz and
// the UI page stay open; no answer ever holds the key.
func TestAPIEveryRouteNeedsTheKey(t *testing.T) {
	t.Parallel()
	bin := testutil.FixtureBinary(t)
	h := startApp(t, hostConfig(t, stdioServer("fx", bin)))
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	key := apiKeyIn(t, h.cfgPath)
	before, _ := os.ReadFile(h.cfgPath)
	routes := h.app.Handler("").APIRoutes()
	if len(routes) < 4 {
		t.Fatalf("routes: %v", routes)
	}
	routes = append(routes, "GET /api/v1/no-such-route", "DELETE /api/v1/servers/fx")
	var answers [][]byte
	for _, pattern := range routes {
		method, path := routeRequest(pattern, "fx")
		body := ""
		if method != http.MethodGet && method != http.MethodDelete {
			body = `{}`
		}
		for _, tc := range []struct {
			name        string
			key, origin string
			host        string
			want        int
		}{
			{"no key", "", "", "", http.StatusUnauthorized},
			{"wrong key", strings.Repeat("0", 64), "", "", http.StatusUnauthorized},
			{"Origin null", key, "null", "", http.StatusForbidden},
			{"cross-origin", key, "http://evil.example.com", "", http.StatusForbidden},
			{"other local origin", key, "http://127.0.0.1:1", "", http.StatusForbidden},
			{"rebinding Host", key, "", "evil.example.com:8080", http.StatusForbidden},
		} {
			req, _ := http.NewRequest(method, h.url(path), strings.NewReader(body))
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s %s, %s: %d %s, want %d (JSON)", method, path, tc.name, resp.StatusCode, b.String(), tc.want)
			}
			answers = append(answers, b.Bytes())
		}
		if after, _ := os.ReadFile(h.cfgPath); !bytes.Equal(before, after) {
			t.Fatalf("refused requests to %s changed the config file:\n%s", pattern, after)
		}
		// With the key, a text/plain body is refused (a page's simple POST).
		if body != "" {
			req, _ := http.NewRequest(method, h.url(path), strings.NewReader(body))
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Set("X-API-Key", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnsupportedMediaType {
				t.Errorf("%s %s text/plain: %d, want 415", method, path, resp.StatusCode)
			}
		}
		if strings.Contains(pattern, "no-such-route") || method == http.MethodDelete || pattern == "GET /api/v1/events" {
			continue // the event stream never ends: TestAPIEventStream reads it
		}
		code, b := apiRequest(t, method, h.url(path), key, body)
		if code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusUnsupportedMediaType {
			t.Errorf("%s %s with the key: %d %s", method, path, code, b)
		}
		answers = append(answers, b)
		before, _ = os.ReadFile(h.cfgPath) // an accepted request may change it (disable)
	}
	// Open routes.
	for _, path := range []string{"/healthz", "/"} {
		code, b := apiRequest(t, http.MethodGet, h.url(path), "", "")
		if code != http.StatusOK {
			t.Errorf("GET %s without a key: %d", path, code)
		}
		answers = append(answers, b)
	}
	for _, b := range answers {
		if bytes.Contains(b, []byte(key)) {
			t.Fatalf("an answer holds the API key: %s", b)
		}
	}
	if strings.Contains(mainLog(t, h), key) || strings.Contains(h.logs.String(), key) {
		t.Fatal("the API key is in the log")
	}
	if procs := processesMentioning(t, key); len(procs) > 0 {
		t.Fatalf("the API key is on a command line: %v", procs)
	}
}

// A web page cannot drive /mcp: Origin null, another origin and a
// text/plain POST are refused before the MCP handler; with
// require_mcp_auth the key is needed too.
func TestMCPEndpointRefusesPages(t *testing.T) {
	t.Parallel()
	h := startApp(t, hostConfig(t))
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"page","version":"1"}}}`
	for _, path := range []string{"/mcp", "/mcp/fx"} {
		for _, tc := range []struct {
			name, origin, ctype string
			want                int
		}{
			{"Origin null", "null", "application/json", http.StatusForbidden},
			{"cross-origin", "https://evil.example.com", "application/json", http.StatusForbidden},
			{"text/plain", "", "text/plain", http.StatusUnsupportedMediaType},
			{"text/plain from null", "null", "text/plain", http.StatusForbidden},
		} {
			req, _ := http.NewRequest(http.MethodPost, h.url(path), strings.NewReader(initialize))
			req.Header.Set("Content-Type", tc.ctype)
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("POST %s %s: %d, want %d", path, tc.name, resp.StatusCode, tc.want)
			}
		}
	}
	// Without require_mcp_auth an ordinary client needs no key.
	h.connect("/mcp", nil)
}

// keyTransport adds the API key to every request.
type keyTransport struct{ key string }

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+k.key)
	return http.DefaultTransport.RoundTrip(r)
}

// require_mcp_auth puts the key on /mcp and /mcp/{server}.
func TestRequireMCPAuth(t *testing.T) {
	t.Parallel()
	bin := testutil.FixtureBinary(t)
	cfg := strings.Replace(hostConfig(t, stdioServer("fx", bin)), "{", `{"require_mcp_auth": true,`, 1)
	h := startApp(t, cfg)
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	key := apiKeyIn(t, h.cfgPath)
	for _, path := range []string{"/mcp", "/mcp/fx"} {
		c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.url(path)}, nil)
		if err == nil || !strings.Contains(err.Error(), "Unauthorized") {
			t.Errorf("%s without the key: %v", path, err)
		}
		_, err = c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.url(path), HTTPClient: &http.Client{Transport: keyTransport{"wrong" + key}}}, nil)
		if err == nil {
			t.Errorf("%s with a wrong key connected", path)
		}
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.url(path), HTTPClient: &http.Client{Transport: keyTransport{key}}}, nil)
		if err != nil {
			t.Fatalf("%s with the key: %v", path, err)
		}
		if _, err := cs.ListTools(ctx, nil); err != nil {
			t.Errorf("%s tools/list with the key: %v", path, err)
		}
		cs.Close()
		cancel()
	}
}

// The first start writes a new API key into the config file (comments
// kept, mode 0600) and shows it once on the console, never in the log; the
// next start keeps it and shows nothing.
func TestAPIKeyGeneratedOnce(t *testing.T) {
	t.Parallel()
	h := startApp(t, "{\n  // my servers\n  \"mcpServers\": [],\n  \"docker_isolation\": {\"enabled\": false}\n}\n")
	key := apiKeyIn(t, h.cfgPath)
	if len(key) != 64 {
		t.Fatalf("key %q", key)
	}
	b, _ := os.ReadFile(h.cfgPath)
	mustContain(t, string(b), "// my servers")
	if fi, _ := os.Stat(h.cfgPath); fi.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v", fi.Mode().Perm())
	}
	// Once by itself, once in the fragment of the web UI's sign-in link
	// (a fragment never reaches a server or its log).
	if n := strings.Count(h.console.String(), key); n != 2 {
		t.Fatalf("the console shows the key %d times:\n%s", n, h.console.String())
	}
	mustContain(t, h.console.String(), "http://"+h.addr+"/ui/signin#key="+key)
	if strings.Contains(h.console.String(), "?key=") || strings.Contains(h.console.String(), "api_key=") {
		t.Fatalf("a key in a query string:\n%s", h.console.String())
	}
	if strings.Contains(h.logs.String(), key) || strings.Contains(mainLog(t, h), key) {
		t.Fatal("the new key is in the log")
	}
	h.stop()

	// A second start on the same file keeps the key and prints nothing.
	h2 := startAppWith(t, "", func(o *Options) { o.ConfigPath, o.DataDir = h.cfgPath, filepath.Dir(h.cfgPath) })
	if got := apiKeyIn(t, h.cfgPath); got != key {
		t.Fatalf("the key changed on restart")
	}
	if strings.Contains(h2.console.String(), key) {
		t.Fatal("the key was shown again")
	}
	if code, _ := apiRequest(t, http.MethodGet, h2.url("/api/v1/servers"), key, ""); code != http.StatusOK {
		t.Fatalf("the kept key: %d", code)
	}
}

// A short api_key written by hand is a config error naming the field.
func TestShortAPIKeyRefused(t *testing.T) {
	_, err := config.Parse([]byte(`{"api_key": "secret"}`))
	if err == nil || !strings.Contains(err.Error(), "api_key: must be at least") {
		t.Fatalf("short key: %v", err)
	}
}

// --read-only: no configuration change from MCP clients or the API; the
// file keeps every byte. --disable-management: no upstream_servers tool.
func TestReadOnlyAndDisableManagement(t *testing.T) {
	t.Parallel()
	bin := testutil.FixtureBinary(t)
	h := startAppWith(t, hostConfig(t, stdioServer("fx", bin)), func(o *Options) { o.ReadOnly = true })
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	before, _ := os.ReadFile(h.cfgPath)
	cs := h.connect("/mcp", nil)
	for _, args := range []map[string]any{
		{"operation": "add", "server": map[string]any{"name": "new", "command": bin}},
		{"operation": "update", "name": "fx", "server": map[string]any{"args": []string{"-name", "x"}}},
		{"operation": "disable", "name": "fx"},
		{"operation": "remove", "name": "fx"},
	} {
		text, isErr := manage(t, cs, args)
		if !isErr || !strings.Contains(text, "--read-only") {
			t.Errorf("%v under --read-only: %s", args, text)
		}
	}
	if text, isErr := manage(t, cs, map[string]any{"operation": "list"}); isErr {
		t.Errorf("list under --read-only: %s", text)
	}
	if code, b := h.api(http.MethodPatch, "/api/v1/config/docker-isolation", `{"enabled": true}`); code != http.StatusForbidden || !strings.Contains(string(b), "--read-only") {
		t.Errorf("PATCH under --read-only: %d %s", code, b)
	}
	if after, _ := os.ReadFile(h.cfgPath); !bytes.Equal(before, after) {
		t.Fatalf("the config changed under --read-only:\n%s", after)
	}

	h2 := startAppWith(t, hostConfig(t), func(o *Options) { o.DisableManagement = true })
	cs2 := h2.connect("/mcp", nil)
	res, err := cs2.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range res.Tools {
		if tool.Name == "upstream_servers" {
			t.Fatal("upstream_servers is listed with --disable-management")
		}
	}
	if res, err := tryCall(cs2, "upstream_servers", map[string]any{"operation": "list"}, 10*time.Second); err == nil && !res.IsError {
		t.Fatal("upstream_servers answered with --disable-management")
	}
}

// The web UI signs in with the key once and works with the session cookie:
// the page's own requests pass, a cookie without Origin on a change, a
// foreign Origin and a wrong key do not.
func TestWebUISession(t *testing.T) {
	t.Parallel()
	h := startApp(t, hostConfig(t))
	key := apiKeyIn(t, h.cfgPath)
	code, body := apiRequest(t, http.MethodGet, h.url("/"), "", "")
	if code != http.StatusOK {
		t.Fatalf("UI page: %d", code)
	}
	mustContain(t, string(body), `id="signin"`)
	mustContain(t, string(body), "/ui/static/signin.js")

	send := func(method, path, body string, hdr map[string]string, cookie *http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, h.url(path), strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	origin := map[string]string{"Origin": "http://" + h.addr}
	if r := send(http.MethodPost, "/api/v1/session", `{"api_key":"`+strings.Repeat("0", 64)+`"}`, origin, nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("sign in with a wrong key: %d", r.StatusCode)
	}
	if r := send(http.MethodPost, "/api/v1/session", `{"api_key":"`+key+`"}`, map[string]string{"Origin": "null"}, nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("sign in from Origin null: %d", r.StatusCode)
	}
	r := send(http.MethodPost, "/api/v1/session", `{"api_key":"`+key+`"}`, origin, nil)
	if r.StatusCode != http.StatusNoContent || len(r.Cookies()) != 1 {
		t.Fatalf("sign in: %d %v", r.StatusCode, r.Cookies())
	}
	c := r.Cookies()[0]
	if strings.Contains(c.Value, key) || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie %+v", c)
	}
	if r := send(http.MethodGet, "/api/v1/servers", "", nil, c); r.StatusCode != http.StatusOK {
		t.Fatalf("GET with the session: %d", r.StatusCode)
	}
	patch := `{"enabled": false}`
	if r := send(http.MethodPatch, "/api/v1/config/docker-isolation", patch, nil, c); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("PATCH with the session, no Origin: %d", r.StatusCode)
	}
	if r := send(http.MethodPatch, "/api/v1/config/docker-isolation", patch, map[string]string{"Origin": "http://evil.example.com"}, c); r.StatusCode != http.StatusForbidden {
		t.Fatalf("PATCH with the session from another origin: %d", r.StatusCode)
	}
	if r := send(http.MethodPatch, "/api/v1/config/docker-isolation", patch, origin, c); r.StatusCode != http.StatusOK {
		t.Fatalf("PATCH from the UI: %d", r.StatusCode)
	}
	// A key in the URL is no key.
	if code, _ := apiRequest(t, http.MethodGet, h.url("/api/v1/servers?api_key="+key), "", ""); code != http.StatusUnauthorized {
		t.Fatalf("key in the URL: %d", code)
	}
	if r := send(http.MethodDelete, "/api/v1/session", "", origin, c); r.StatusCode != http.StatusNoContent {
		t.Fatalf("sign out: %d", r.StatusCode)
	}
	if r := send(http.MethodGet, "/api/v1/servers", "", nil, c); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET after sign-out: %d", r.StatusCode)
	}
}
