package ui

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/trust"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// hostile is text an attacker controls (a tool description, an error a
// server printed): it must reach the browser as text.
const hostile = `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">"'&`

// fakeService answers every page with fixed data.
type fakeService struct {
	list   httpapi.ServerList
	detail httpapi.ServerDetail
	tools  trust.ServerTools
	status httpapi.ConfigStatus
}

func (f *fakeService) ListServers(context.Context, bool) (httpapi.ServerList, error) {
	return f.list, nil
}
func (f *fakeService) GetServer(_ context.Context, name string) (httpapi.ServerDetail, error) {
	if name != f.detail.Name {
		return httpapi.ServerDetail{}, fmt.Errorf("server %q: %w", name, config.ErrServerNotFound)
	}
	return f.detail, nil
}
func (f *fakeService) ServerTools(context.Context, string, bool) (trust.ServerTools, error) {
	return f.tools, nil
}
func (f *fakeService) LogTail(_ context.Context, name string, _ int) (httpapi.LogTail, error) {
	return httpapi.LogTail{Server: name, File: "/logs/" + name + ".log", Lines: []string{"started", hostile}}, nil
}
func (f *fakeService) SearchTools(_ context.Context, q string, _ int) (httpapi.ToolSearch, error) {
	return httpapi.ToolSearch{Query: q, Tools: []httpapi.ToolHit{{Name: "evil:echo", Server: "evil", Tool: "echo", Description: hostile}}}, nil
}
func (f *fakeService) DockerIsolation(context.Context) (config.DockerIsolation, error) {
	return f.list.DockerIsolation, nil
}
func (f *fakeService) ServerIsolation(_ context.Context, name string) (httpapi.ServerIsolation, error) {
	on := true
	return httpapi.ServerIsolation{Server: name, Settings: config.ServerIsolation{Enabled: &on}}, nil
}
func (f *fakeService) ConfigStatus(context.Context) (httpapi.ConfigStatus, error) {
	return f.status, nil
}
func (f *fakeService) DockerStatus(context.Context, bool) (httpapi.DockerStatus, error) {
	return f.list.DockerStatus, nil
}

// signedIn is an Authenticator that lets in requests with the header
// "X-Test-Signed-In".
type signedIn struct{}

func (signedIn) Authenticated(r *http.Request) bool { return r.Header.Get("X-Test-Signed-In") != "" }

// escapedHostile is hostile as html/template writes it in element text.
const escapedHostile = "&lt;script&gt;window.pwned=1&lt;/script&gt;&lt;img src=x onerror=&#34;window.pwned=2&#34;&gt;&#34;&#39;&amp;"

func newFake() *fakeService {
	gi := config.DefaultDockerIsolation()
	srv := httpapi.ServerView{
		Name: "evil", Transport: "stdio", State: upstream.StateError, Enabled: true,
		LastError: "server \"evil\" exited (code 1): " + hostile, ToolCount: 1, Since: time.Now(),
		Isolation:     &upstream.IsolationInfo{Isolated: true, Image: "img:1", ContainerName: "mcpproxy-evil-1", NetworkMode: "bridge", MemoryLimit: "512m", CPULimit: "1.0"},
		ToolsWithheld: []string{"echo"},
	}
	q := httpapi.ServerView{Name: "waiting", Transport: "stdio", State: upstream.StateQuarantined,
		Quarantine: &trust.QuarantineView{Reason: "added by an MCP client", Launch: trust.Launch{Command: "npx", Args: []string{hostile}, EnvNames: []string{"TOKEN"}}}}
	f := &fakeService{
		list: httpapi.ServerList{DockerIsolation: gi, Servers: []httpapi.ServerView{srv, q},
			DockerStatus: httpapi.DockerStatus{Available: true, DockerPath: "/usr/bin/docker", Source: "PATH", Version: "20.10"}},
		status: httpapi.ConfigStatus{Path: "/cfg.json", Valid: false, Problems: []httpapi.Problem{{Path: "docker_isolation.memory_limit", Line: 3, Col: 5, Message: hostile}}},
	}
	f.detail = httpapi.ServerDetail{ServerView: srv,
		Config: &config.Server{Name: "evil", Command: "node", Args: []string{"x.js"},
			Env: map[string]string{"TOKEN": "s3cret-env-value"}, Headers: map[string]string{"Authorization": "Bearer s3cret-header"}},
		Plan: &httpapi.PlanView{Image: "img:1", Command: "node", Network: "bridge", Memory: "512m", CPUs: "1.0",
			DockerRun: []string{"run", "-i", "--rm", "-e", "TOKEN", "--memory", "512m", "img:1", "node", "x.js"}},
	}
	f.tools = trust.ServerTools{Server: "evil", Live: true, Pinned: true, Tools: []trust.ToolView{{
		Name: "echo", State: trust.StateChanged, Hash: "sha256:abc",
		Definition: trust.Definition{Name: "echo", Description: hostile},
		Diff:       "-description: echoes\n+description: " + hostile,
	}}}
	return f
}

func get(t *testing.T, h http.Handler, path string, signed bool) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if signed {
		req.Header.Set("X-Test-Signed-In", "1")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func handler(svc Service) http.Handler {
	mux := http.NewServeMux()
	New(Options{Service: svc, Auth: signedIn{}, Version: "test"}).Register(mux)
	return mux
}

var pages = []string{"/ui/", "/ui/servers/evil", "/ui/security", "/ui/add", "/ui/tools?q=echo"}

// A signed-out browser sees no page but the sign-in page, which is told
// where to go back to (a path of the UI only).
func TestPagesNeedSignIn(t *testing.T) {
	h := handler(newFake())
	for _, p := range pages {
		res, body := get(t, h, p, false)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/ui/signin?next=") {
			t.Errorf("%s signed out: %d %s", p, res.StatusCode, res.Header.Get("Location"))
		}
		if strings.Contains(body, "evil") {
			t.Errorf("%s signed out shows data: %s", p, body)
		}
	}
	res, _ := get(t, h, "/", false)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ui/" {
		t.Errorf("/ → %d %s, want 303 /ui/", res.StatusCode, res.Header.Get("Location"))
	}
	for next, want := range map[string]string{
		"/ui/security":          `data-next="/ui/security"`,
		"//evil.example.com/ui": `data-next="/ui/"`,
		"https://evil.example":  `data-next="/ui/"`,
		"/ui/\\evil":            `data-next="/ui/"`,
	} {
		_, body := get(t, h, "/ui/signin?next="+urlQuery(next), false)
		if !strings.Contains(body, want) {
			t.Errorf("signin?next=%s: want %s in the page", next, want)
		}
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer("/", "%2F", ":", "%3A", "\\", "%5C").Replace(s)
}

// Every page and file is served with a strict CSP, may not be framed, and
// holds no inline script, event handler or style attribute (the CSP would
// refuse them and log an error).
func TestPagesAreLockedDown(t *testing.T) {
	h := handler(newFake())
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|\sstyle\s*=|javascript:`)
	scriptTag := regexp.MustCompile(`(?i)<script[^>]*>`)
	for _, p := range append(pages, "/ui/signin", "/ui/static/app.js", "/ui/static/app.css", "/ui/nope", "/ui/servers/unknown") {
		res, body := get(t, h, p, true)
		if res.Header.Get("Content-Security-Policy") != CSP || res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", p, res.Header)
		}
		if strings.HasPrefix(p, "/ui/static/") {
			continue
		}
		// The hostile text is escaped, so what is left must be ours.
		clean := strings.ReplaceAll(body, escapedHostile, "")
		if m := inline.FindString(clean); m != "" {
			t.Errorf("%s: inline script/handler/style %q", p, m)
		}
		for _, tag := range scriptTag.FindAllString(body, -1) {
			if !strings.Contains(tag, `src="/ui/static/`) {
				t.Errorf("%s: script tag without a file: %s", p, tag)
			}
		}
	}
	if !strings.Contains(CSP, "script-src 'self'") || strings.Contains(CSP, "unsafe") || !strings.Contains(CSP, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", CSP)
	}
	if res, _ := get(t, h, "/ui/servers/unknown", true); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown server: %d", res.StatusCode)
	}
	// A live page of a server removed meanwhile, fetching itself again,
	// is told so without an error status the browser would log.
	req := httptest.NewRequest(http.MethodGet, "/ui/servers/unknown", nil)
	req.Header.Set("X-Test-Signed-In", "1")
	req.Header.Set(refreshHeader, "1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Errorf("refresh of an unknown server: %d, want 204", rec.Code)
	}
}

// Text an upstream server controls (tool descriptions, diffs, errors, log
// lines, quarantine launch lines) and the config file's problems are
// rendered as text on every page.
func TestHostileTextIsText(t *testing.T) {
	h := handler(newFake())
	escaped := escapedHostile
	for _, p := range pages {
		if p == "/ui/add" {
			continue
		}
		_, body := get(t, h, p, true)
		if strings.Contains(body, "<script>window.pwned") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s: hostile markup rendered as markup", p)
		}
		if !strings.Contains(body, escaped) {
			t.Errorf("%s: hostile text not shown escaped", p)
		}
	}
}

// Env and header values never reach the browser, even if the service
// handed them over unredacted: the server page shows names only.
func TestSecretsNotRendered(t *testing.T) {
	h := handler(newFake())
	_, body := get(t, h, "/ui/servers/evil", true)
	for _, secret := range []string{"s3cret-env-value", "s3cret-header"} {
		if strings.Contains(body, secret) {
			t.Fatalf("the server page holds a secret value %q", secret)
		}
	}
	for _, want := range []string{"<code>TOKEN</code>", "<code>Authorization</code>", "docker run \\\n  -i \\\n  --rm \\\n  -e TOKEN \\\n  --memory 512m \\\n  img:1 node x.js"} {
		if !strings.Contains(body, want) {
			t.Errorf("server page lacks %s", want)
		}
	}
}

// The pages show what a person must act on: the quarantined server with
// its approve button, withheld tools, the invalid config's problems, the
// isolated badge with its container.
func TestDashboardShowsWhatNeedsAPerson(t *testing.T) {
	h := handler(newFake())
	_, body := get(t, h, "/ui/", true)
	for _, want := range []string{
		`data-action="POST /api/v1/servers/waiting/approve"`,
		"Tools withheld until approved", `data-action="POST /api/v1/servers/evil/tools/approve" data-body="{&#34;tools&#34;:[{&#34;name&#34;:&#34;echo&#34;,&#34;hash&#34;:&#34;sha256:abc&#34;}]}"`,
		"The configuration file on disk is invalid", "3:5: docker_isolation.memory_limit",
		`class="badge isolated"`, "mcpproxy-evil-1", "img:1", "memory 512m · 1.0 CPU",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	_, body = get(t, h, "/ui/security", true)
	// Both servers opted in while the global switch is off: the page says
	// the opt-in is ignored, next to each switch.
	if n := strings.Count(body, "<strong>ignored</strong>: the global switch is off"); n != 2 {
		t.Errorf("security page explains the global gate %d times, want 2", n)
	}
	for _, want := range []string{`id="global-toggle"`, `data-field="docker_isolation.memory_limit"`, "/usr/bin/docker", "found by</dt><dd>PATH"} {
		if !strings.Contains(body, want) {
			t.Errorf("security page lacks %q", want)
		}
	}
}

// Static files are revalidated by ETag.
func TestStaticETag(t *testing.T) {
	h := handler(newFake())
	res, body := get(t, h, "/ui/static/app.js", false)
	tag := res.Header.Get("ETag")
	if res.StatusCode != 200 || tag == "" || !strings.Contains(body, "EventSource") || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("app.js: %d %q %q", res.StatusCode, tag, res.Header.Get("Content-Type"))
	}
	req := httptest.NewRequest(http.MethodGet, "/ui/static/app.js", nil)
	req.Header.Set("If-None-Match", tag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("revalidation: %d", rec.Code)
	}
	if res, _ := get(t, h, "/ui/static/missing.js", false); res.StatusCode != 404 {
		t.Fatalf("missing file: %d", res.StatusCode)
	}
}

func TestShellQuote(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"run", "-i", "img"}, "run -i img"},
		{[]string{"--tmpfs", "/tmp:size=64m,mode=1777"}, "--tmpfs /tmp:size=64m,mode=1777"},
		{[]string{"a b", "it's", ""}, `'a b' 'it'\''s' ''`},
	} {
		if got := shellQuote(c.in); got != c.want {
			t.Errorf("shellQuote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestCommandLines(t *testing.T) {
	got := commandLines([]string{"docker", "run", "--cidfile", "/run/x.cid", "-i", "--rm", "--tmpfs", "/tmp:size=64m", "--security-opt=no-new-privileges", "img:1", "/srv", "-v", "a b"})
	want := "docker run \\\n  --cidfile /run/x.cid \\\n  -i \\\n  --rm \\\n  --tmpfs /tmp:size=64m \\\n  --security-opt=no-new-privileges \\\n  img:1 /srv -v 'a b'"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// Making the UI parses no template: a proxy whose UI nobody opens does
// not keep them. The first page served parses them all.
func TestTemplatesParsedAtFirstPage(t *testing.T) {
	u := New(Options{Service: newFake(), Auth: signedIn{}, Version: "test"})
	mux := http.NewServeMux()
	u.Register(mux)
	if u.parsed.Load() {
		t.Fatal("templates parsed by New")
	}
	if res, _ := get(t, mux, "/ui/static/app.css", false); res.StatusCode != http.StatusOK || u.parsed.Load() {
		t.Fatalf("a static file: status %d, templates parsed %v", res.StatusCode, u.parsed.Load())
	}
	if res, body := get(t, mux, "/ui/signin", false); res.StatusCode != http.StatusOK || !strings.Contains(body, "<form") {
		t.Fatalf("sign-in page: status %d\n%s", res.StatusCode, body)
	}
	if !u.parsed.Load() {
		t.Fatal("a page was served without its templates parsed")
	}
}

// The Security page warns when isolation is on and Docker is missing
// (the servers meant for containers do not start), and only then.
func TestSecurityWarnsDockerMissing(t *testing.T) {
	for _, c := range []struct {
		available, enabled, warn bool
	}{{false, true, true}, {true, true, false}, {false, false, false}} {
		f := newFake()
		f.list.DockerStatus.Available = c.available
		f.list.DockerIsolation.Enabled = c.enabled
		_, body := get(t, handler(f), "/ui/security", true)
		if got := strings.Contains(body, `id="docker-missing"`); got != c.warn {
			t.Errorf("docker available %v, isolation on %v: warning shown %v, want %v", c.available, c.enabled, got, c.warn)
		}
	}
}
