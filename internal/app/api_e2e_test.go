package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/httpapi/apitest"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// apiCase is what TestAPIEveryRoute sends to one route: a good request, a
// malformed one (400 naming the field), and, for a route about one server,
// the same good request about a server that does not exist (404).
type apiCase struct {
	pattern string
	// path and body make the good request; status is its answer (200 when
	// 0). check, when set, looks at the answer too.
	path, body string
	status     int
	check      func(t *testing.T, h *harness, body []byte)
	// badPath and badBody make the malformed request (path: the good one
	// when ""); badField is the field its 400 must name.
	badPath, badBody, badField string
	// unknownPath (or unknownBody) names a server that does not exist.
	unknownPath, unknownBody string
}

// apiCases are run in order: later ones build on earlier ones (the server
// "added" is added, changed, then removed).
func apiCases(bin string) []apiCase {
	addBody, _ := json.Marshal(map[string]any{"name": "added", "command": bin, "args": []string{"-name", "added"}})
	return []apiCase{
		{pattern: "GET /api/v1/openapi.json", path: "/api/v1/openapi.json", badPath: "/api/v1/openapi.json?format=yaml", badField: "format"},
		{pattern: "GET /api/v1/servers", path: "/api/v1/servers?refresh=true", badPath: "/api/v1/servers?refresh=maybe", badField: "refresh",
			check: func(t *testing.T, h *harness, b []byte) {
				var l httpapi.ServerList
				mustJSON(t, b, &l)
				if len(l.Servers) != 2 || l.Servers[0].Name != "fx" || l.Servers[0].Isolation == nil || l.DockerIsolation.MemoryLimit == "" {
					t.Fatalf("list: %s", b)
				}
			}},
		{pattern: "POST /api/v1/servers", path: "/api/v1/servers", body: string(addBody), status: http.StatusCreated,
			badBody: `{"name": "bad", "command": "x", "args": "not a list"}`, badField: "mcpServers[2].args",
			check: func(t *testing.T, h *harness, b []byte) {
				var ch httpapi.ServerChange
				mustJSON(t, b, &ch)
				if ch.Server.Name != "added" || ch.Server.Quarantine != nil || !ch.Restarted {
					t.Fatalf("add: %s", b)
				}
				h.waitState("added", upstream.StateReady, 30*time.Second)
			}},
		{pattern: "GET /api/v1/servers/{name}", path: "/api/v1/servers/fx", badPath: "/api/v1/servers/fx?verbose=1", badField: "verbose",
			unknownPath: "/api/v1/servers/nosuch",
			check: func(t *testing.T, h *harness, b []byte) {
				var d httpapi.ServerDetail
				mustJSON(t, b, &d)
				if d.Config == nil || d.Config.Env["FX_TOKEN"] != httpapi.Redacted || d.LogFile == "" || d.State != upstream.StateReady {
					t.Fatalf("get: %s", b)
				}
				if strings.Contains(string(b), fxEnvValue) {
					t.Fatalf("the server view shows an env value: %s", b)
				}
			}},
		{pattern: "PATCH /api/v1/servers/{name}", path: "/api/v1/servers/added", body: `{"env": {"ADDED": "1"}}`,
			badBody: `{"isolation": {"memory_limit": "lots"}}`, badField: "mcpServers[2].isolation.memory_limit",
			unknownPath: "/api/v1/servers/nosuch",
			check: func(t *testing.T, h *harness, b []byte) {
				cfg := loadConfig(t, h)
				if s := cfg.Server("added"); s == nil || s.Env["ADDED"] != "1" || len(s.Args) != 2 {
					t.Fatalf("patch did not merge: %+v", s)
				}
			}},
		{pattern: "POST /api/v1/servers/{name}/disable", path: "/api/v1/servers/added/disable", badBody: `{"now": true}`, badField: "body",
			unknownPath: "/api/v1/servers/nosuch/disable",
			check:       func(t *testing.T, h *harness, b []byte) { h.waitState("added", upstream.StateDisabled, 10*time.Second) }},
		{pattern: "POST /api/v1/servers/{name}/enable", path: "/api/v1/servers/added/enable", badBody: `{"now": true}`, badField: "body",
			unknownPath: "/api/v1/servers/nosuch/enable",
			check:       func(t *testing.T, h *harness, b []byte) { h.waitState("added", upstream.StateReady, 30*time.Second) }},
		{pattern: "POST /api/v1/servers/{name}/restart", path: "/api/v1/servers/added/restart", badPath: "/api/v1/servers/added/restart?force=1", badField: "force",
			unknownPath: "/api/v1/servers/nosuch/restart",
			check:       func(t *testing.T, h *harness, b []byte) { h.waitState("added", upstream.StateReady, 30*time.Second) }},
		{pattern: "POST /api/v1/servers/{name}/approve", path: "/api/v1/servers/fx/approve", badBody: `{"all": true}`, badField: "all",
			unknownPath: "/api/v1/servers/nosuch/approve"},
		{pattern: "GET /api/v1/servers/{name}/tools", path: "/api/v1/servers/fx/tools?changed=false", badPath: "/api/v1/servers/fx/tools?changed=perhaps", badField: "changed",
			unknownPath: "/api/v1/servers/nosuch/tools"},
		{pattern: "POST /api/v1/servers/{name}/tools/approve", path: "/api/v1/servers/fx/tools/approve", body: `{"all": true}`,
			badBody: `{"tools": [{"name": ""}]}`, badField: "tools[0].name",
			unknownPath: "/api/v1/servers/nosuch/tools/approve"},
		{pattern: "GET /api/v1/servers/{name}/logs", path: "/api/v1/servers/fx/logs?lines=5", badPath: "/api/v1/servers/fx/logs?lines=-1", badField: "lines",
			unknownPath: "/api/v1/servers/nosuch/logs",
			check: func(t *testing.T, h *harness, b []byte) {
				var l httpapi.LogTail
				mustJSON(t, b, &l)
				if !slices.ContainsFunc(l.Lines, func(s string) bool { return strings.Contains(s, "fx-stderr-line") }) {
					t.Fatalf("log tail lacks the server's stderr: %s", b)
				}
				if strings.Contains(string(b), fxToken) {
					t.Fatalf("the log tail shows a secret: %s", b)
				}
			}},
		{pattern: "GET /api/v1/servers/{name}/isolation", path: "/api/v1/servers/fx/isolation", badPath: "/api/v1/servers/fx/isolation?x=1", badField: "x",
			unknownPath: "/api/v1/servers/nosuch/isolation"},
		{pattern: "PATCH /api/v1/servers/{name}/isolation", path: "/api/v1/servers/fx/isolation", body: `{"cpu_limit": "0.5"}`,
			badBody: `{"cpu_limit": "fast"}`, badField: "mcpServers[0].isolation.cpu_limit",
			unknownPath: "/api/v1/servers/nosuch/isolation",
			check: func(t *testing.T, h *harness, b []byte) {
				var v httpapi.ServerIsolation
				mustJSON(t, b, &v)
				if v.Settings.CPULimit != "0.5" || v.Effective == nil {
					t.Fatalf("server isolation: %s", b)
				}
				h.waitState("fx", upstream.StateReady, 30*time.Second) // it restarted
			}},
		{pattern: "GET /api/v1/tools", path: "/api/v1/tools?server=fx", badPath: "/api/v1/tools?server=", badField: "server",
			unknownPath: "/api/v1/tools?server=nosuch",
			check: func(t *testing.T, h *harness, b []byte) {
				var l httpapi.ToolList
				mustJSON(t, b, &l)
				if !slices.ContainsFunc(l.Tools, func(e httpapi.ToolEntry) bool { return e.Name == "fx:echo" }) {
					t.Fatalf("tools: %s", b)
				}
			}},
		{pattern: "GET /api/v1/tools/search", path: "/api/v1/tools/search?q=returns+text+unchanged&limit=3", badPath: "/api/v1/tools/search?limit=3", badField: "q",
			check: func(t *testing.T, h *harness, b []byte) {
				var s httpapi.ToolSearch
				mustJSON(t, b, &s)
				if len(s.Tools) == 0 || s.Tools[0].Tool != "echo" {
					t.Fatalf("search: %s", b)
				}
			}},
		{pattern: "POST /api/v1/tools/call", path: "/api/v1/tools/call", body: `{"name": "fx:echo", "arguments": {"text": "hello api"}}`,
			badBody: `{"name": "echo"}`, badField: "name",
			unknownBody: `{"name": "nosuch:echo", "arguments": {}}`,
			check: func(t *testing.T, h *harness, b []byte) {
				if !strings.Contains(string(b), "hello api") {
					t.Fatalf("call: %s", b)
				}
			}},
		{pattern: "GET /api/v1/docker/status", path: "/api/v1/docker/status", badPath: "/api/v1/docker/status?refresh=sometimes", badField: "refresh"},
		{pattern: "GET /api/v1/config/docker-isolation", path: "/api/v1/config/docker-isolation", badPath: "/api/v1/config/docker-isolation?all=1", badField: "all"},
		{pattern: "PATCH /api/v1/config/docker-isolation", path: "/api/v1/config/docker-isolation", body: `{"memory_limit": "256m", "pids_limit": 128}`,
			badBody: `{"memroy_limit": "256m"}`, badField: "docker_isolation.memroy_limit",
			check: func(t *testing.T, h *harness, b []byte) {
				var di config.DockerIsolation
				mustJSON(t, b, &di)
				if di.MemoryLimit != "256m" || di.PidsLimit != 128 || di.Enabled || di.CPULimit != "1.0" {
					t.Fatalf("docker isolation: %s", b)
				}
			}},
		{pattern: "GET /api/v1/config/status", path: "/api/v1/config/status", badPath: "/api/v1/config/status?x=1", badField: "x",
			check: func(t *testing.T, h *harness, b []byte) {
				var st httpapi.ConfigStatus
				mustJSON(t, b, &st)
				if !st.Valid || st.Path != h.cfgPath || st.AppliedAt.IsZero() {
					t.Fatalf("config status: %s", b)
				}
			}},
		{pattern: "GET /api/v1/events", badPath: "/api/v1/events?since=3", badField: "since"}, // the stream: TestAPIEventStream
		{pattern: "DELETE /api/v1/servers/{name}", path: "/api/v1/servers/added", badPath: "/api/v1/servers/added?force=1", badField: "force",
			unknownPath: "/api/v1/servers/nosuch",
			check: func(t *testing.T, h *harness, b []byte) {
				if loadConfig(t, h).Server("added") != nil {
					t.Fatal("the server is still in the file")
				}
			}},
	}
}

// fxToken is in fx's stderr (the log must mask it: it is a header value
// of another server); fxEnvValue is fx's env value.
const (
	fxToken    = "fx-secret-token-0123456789abcdef"
	fxEnvValue = "fx-env-value-fedcba9876543210"
)

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func loadConfig(t *testing.T, h *harness) *config.Config {
	t.Helper()
	cfg, err := config.Load(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Every REST route answers a good request as documented, a malformed one
// with 400 naming the field, no key with 401, and a server that does not
// exist with 404; every answer has the shape the OpenAPI document gives
// its status.
func TestAPIEveryRoute(t *testing.T) {
	t.Parallel()
	bin := testutil.FixtureBinary(t)
	fx := stdioServer("fx", bin, "-stderr", "fx-stderr-line token="+fxToken)
	fx["env"] = map[string]string{"FX_TOKEN": fxEnvValue}
	// A server that never starts, whose header value is the secret fx
	// writes to its stderr.
	remote := map[string]any{"name": "remote", "url": "http://127.0.0.1:1/mcp", "headers": map[string]string{"Authorization": fxToken}, "enabled": false}
	h := startApp(t, hostConfig(t, fx, remote))
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	key := apiKeyIn(t, h.cfgPath)
	doc, err := apitest.Parse(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	cases := apiCases(bin)
	var covered []string
	for _, c := range cases {
		covered = append(covered, c.pattern)
	}
	for _, r := range h.app.Handler("").APIRoutes() {
		if !slices.Contains(covered, r) {
			t.Errorf("route %s has no case", r)
		}
	}
	send := func(pattern, path, body, key string) (int, []byte) {
		method, _, _ := strings.Cut(pattern, " ")
		return apiRequest(t, method, h.url(path), key, body)
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.pattern, "/", "_"), func(t *testing.T) {
			method, _, _ := strings.Cut(c.pattern, " ")
			anyPath := c.path
			if anyPath == "" {
				anyPath = c.badPath
			}
			// No key.
			if code, b := send(c.pattern, anyPath, c.body, ""); code != http.StatusUnauthorized {
				t.Errorf("no key: %d %s", code, b)
			}
			// Malformed.
			badPath := c.badPath
			if badPath == "" {
				badPath = c.path
			}
			badBody := c.badBody
			if badBody == "" && method != http.MethodGet && method != http.MethodDelete {
				badBody = c.body
			}
			code, b := send(c.pattern, badPath, badBody, key)
			var eb httpapi.ErrorBody
			mustJSON(t, b, &eb)
			if code != http.StatusBadRequest || !slices.ContainsFunc(eb.Problems, func(p httpapi.Problem) bool { return p.Path == c.badField }) {
				t.Errorf("malformed: %d %s, want 400 naming %q", code, b, c.badField)
			}
			if err := doc.Check(c.pattern, code, b); err != nil {
				t.Error(err)
			}
			// Unknown server.
			if c.unknownPath != "" || c.unknownBody != "" {
				path, body := c.unknownPath, c.unknownBody
				if path == "" {
					path = c.path
				}
				if body == "" {
					body = c.body
				}
				code, b := send(c.pattern, path, body, key)
				if code != http.StatusNotFound || !strings.Contains(string(b), "nosuch") {
					t.Errorf("unknown server: %d %s", code, b)
				}
				if err := doc.Check(c.pattern, code, b); err != nil {
					t.Error(err)
				}
			}
			// Good.
			if c.path == "" {
				return
			}
			want := c.status
			if want == 0 {
				want = http.StatusOK
			}
			code, b = send(c.pattern, c.path, c.body, key)
			if code != want {
				t.Fatalf("good request: %d %s, want %d", code, b, want)
			}
			if err := doc.Check(c.pattern, code, b); err != nil {
				t.Error(err)
			}
			if c.check != nil {
				c.check(t, h, b)
			}
		})
	}
}

// Concurrent PATCHes of one server and of docker_isolation never lose an
// update, never corrupt the file and keep its comments.
func TestAPIConcurrentPatches(t *testing.T) {
	t.Parallel()
	bin := testutil.FixtureBinary(t)
	cfg := `{
  // my servers
  "docker_isolation": {"enabled": false}, // off for now
  "mcpServers": [
    {"name": "fx", "command": "` + bin + `", "args": ["-name", "fx"], /* keep me */ "env": {"BASE": "1"}}
  ]
}
`
	h := startApp(t, cfg)
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan string, 2*n)
	for i := range n {
		wg.Go(func() {
			code, b := h.api("PATCH", "/api/v1/servers/fx", fmt.Sprintf(`{"env": {"K%d": "v%d"}}`, i, i))
			if code != http.StatusOK {
				errs <- fmt.Sprintf("PATCH env K%d: %d %s", i, code, b)
			}
		})
		wg.Go(func() {
			code, b := h.api("PATCH", "/api/v1/config/docker-isolation", fmt.Sprintf(`{"default_images": {"rt%d": "img%d:1"}}`, i, i))
			if code != http.StatusOK {
				errs <- fmt.Sprintf("PATCH default_images rt%d: %d %s", i, code, b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	data, err := os.ReadFile(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.Parse(data)
	if err != nil {
		t.Fatalf("the file is no longer valid: %v\n%s", err, data)
	}
	fx := got.Server("fx")
	for i := range n {
		if fx.Env[fmt.Sprintf("K%d", i)] != fmt.Sprintf("v%d", i) {
			t.Errorf("env K%d lost:\n%s", i, data)
		}
		if got.DockerIsolation.DefaultImages[fmt.Sprintf("rt%d", i)] != fmt.Sprintf("img%d:1", i) {
			t.Errorf("default_images rt%d lost:\n%s", i, data)
		}
	}
	if fx.Env["BASE"] != "1" || len(fx.Args) != 2 || got.DockerIsolation.DefaultImages["python"] == "" {
		t.Errorf("a field the patches did not name changed:\n%s", data)
	}
	for _, c := range []string{"// my servers", "// off for now", "/* keep me */"} {
		if !strings.Contains(string(data), c) {
			t.Errorf("comment %q lost:\n%s", c, data)
		}
	}
	// The running configuration is the file's.
	if env := h.app.Config().Server("fx").Env; len(env) != n+1 {
		t.Errorf("the configuration in force has %d env names, want %d", len(env), n+1)
	}
}

// sseEvent is one event of a stream.
type sseEvent struct {
	name string
	data []byte
}

// openStream opens an SSE route with the key and returns its events.
func openStream(t *testing.T, h *harness, path string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", h.url(path), nil)
	req.Header.Set("Authorization", "Bearer "+apiKeyIn(t, h.cfgPath))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	ch := make(chan sseEvent, 256)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = []byte(strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return ch
}

// waitEvent waits for an event named name whose data satisfies ok.
func waitEvent(t *testing.T, ch <-chan sseEvent, name string, timeout time.Duration, ok func(data []byte) bool) []byte {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, open := <-ch:
			if !open {
				t.Fatalf("the stream ended before a %q event", name)
			}
			if ev.name == name && ok(ev.data) {
				return ev.data
			}
		case <-deadline:
			t.Fatalf("no %q event within %s", name, timeout)
		}
	}
}

// The event stream reports a server's state changes, an invalid edit of
// the file (and the fix), and tool list changes; each event's data has the
// documented shape. The log stream follows a server's stderr.
func TestAPIEventStream(t *testing.T) {
	t.Parallel()
	bin := testutil.FixtureBinary(t)
	h := startApp(t, hostConfig(t, stdioServer("fx", bin, "-stderr", "started-fx")))
	h.waitState("fx", upstream.StateReady, 30*time.Second)
	doc, err := apitest.Parse(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	key := apiKeyIn(t, h.cfgPath)
	api := func(method, path, body string) (int, []byte) { return apiRequest(t, method, h.url(path), key, body) }
	events := openStream(t, h, "/api/v1/events")
	logs := openStream(t, h, "/api/v1/servers/fx/logs?follow=true&lines=1")
	// The last line first, then each new one.
	waitEvent(t, logs, "log", 10*time.Second, func(d []byte) bool { return strings.Contains(string(d), "started-fx") })

	if code, b := api("POST", "/api/v1/servers/fx/disable", ""); code != http.StatusOK {
		t.Fatalf("disable: %d %s", code, b)
	}
	d := waitEvent(t, events, "server", 10*time.Second, func(d []byte) bool {
		var v httpapi.ServerView
		return json.Unmarshal(d, &v) == nil && v.Name == "fx" && v.State == upstream.StateDisabled
	})
	var v any
	mustJSON(t, d, &v)
	if err := doc.CheckValue("ServerView", v); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, "config", 10*time.Second, func(d []byte) bool {
		return strings.Contains(string(d), `"valid": true`) || strings.Contains(string(d), `"valid":true`)
	})

	// An invalid edit is kept out, reported and shown until fixed.
	good, _ := os.ReadFile(h.cfgPath)
	bad := strings.Replace(string(good), `"docker_isolation": {`, `"docker_isolation": {"memory_limit": "lots",`, 1)
	if bad == string(good) {
		t.Fatalf("cannot make the config invalid:\n%s", good)
	}
	if err := os.WriteFile(h.cfgPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	d = waitEvent(t, events, "config", 10*time.Second, func(d []byte) bool { return strings.Contains(string(d), "docker_isolation.memory_limit") })
	var st httpapi.ConfigStatus
	mustJSON(t, d, &st)
	if st.Valid || st.InvalidAt.IsZero() {
		t.Fatalf("config event: %s", d)
	}
	_, b := api("GET", "/api/v1/config/status", "")
	mustJSON(t, b, &st)
	if st.Valid || len(st.Problems) == 0 || st.Problems[0].Path != "docker_isolation.memory_limit" || st.Problems[0].Line == 0 {
		t.Fatalf("config status after an invalid edit: %s", b)
	}
	_, b = api("GET", "/api/v1/servers", "")
	if !strings.Contains(string(b), `"config_invalid": true`) {
		t.Fatalf("the list does not say the file is invalid: %s", b)
	}
	// A change through the API is refused while the file is invalid, naming
	// the file's problem.
	if code, b := api("POST", "/api/v1/servers/fx/enable", ""); code != http.StatusBadRequest || !strings.Contains(string(b), "memory_limit") {
		t.Fatalf("enable while the file is invalid: %d %s", code, b)
	}
	if err := os.WriteFile(h.cfgPath, good, 0o600); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, "config", 10*time.Second, func(d []byte) bool {
		return strings.Contains(string(d), `"valid": true`) || strings.Contains(string(d), `"valid":true`)
	})

	// A refresh of the docker status is an event too.
	before := time.Now().UTC()
	if code, b := api("GET", "/api/v1/docker/status?refresh=true", ""); code != http.StatusOK {
		t.Fatalf("docker status: %d %s", code, b)
	}
	waitEvent(t, events, "docker", 10*time.Second, func(d []byte) bool {
		var ds httpapi.DockerStatus
		return json.Unmarshal(d, &ds) == nil && !ds.CheckedAt.Before(before.Add(-time.Second))
	})

	// Enabled again: the state events come, and the log follower sees the
	// new start's stderr.
	if code, b := api("POST", "/api/v1/servers/fx/enable", ""); code != http.StatusOK {
		t.Fatalf("enable: %d %s", code, b)
	}
	waitEvent(t, events, "server", 30*time.Second, func(d []byte) bool {
		var v httpapi.ServerView
		return json.Unmarshal(d, &v) == nil && v.Name == "fx" && v.State == upstream.StateReady
	})
	waitEvent(t, events, "tools", 10*time.Second, func(d []byte) bool { return strings.Contains(string(d), `"server":"fx"`) })
	waitEvent(t, logs, "log", 10*time.Second, func(d []byte) bool { return strings.Contains(string(d), "started-fx") })
}
