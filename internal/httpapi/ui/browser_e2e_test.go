package ui_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/mcpproxy/mcpproxy/internal/app"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/logging"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// proxy is one in-process mcpproxy for a browser to look at.
type proxy struct {
	t       *testing.T
	dir     string
	cfgPath string
	addr    string
	logs    *testutil.SyncBuffer
	cancel  context.CancelFunc
	done    chan error
}

func startProxy(t *testing.T, cfg string) *proxy {
	t.Helper()
	dir := t.TempDir()
	p := &proxy{t: t, dir: dir, cfgPath: filepath.Join(dir, "mcp_config.json"), logs: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	if err := os.WriteFile(p.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	red := &logging.Redactor{}
	logger, closer, err := logging.New(logging.Options{Level: slog.LevelDebug, Dir: filepath.Join(dir, "logs"), Stderr: p.logs}, red)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	ready := make(chan string, 1)
	a, err := app.New(app.Options{ConfigPath: p.cfgPath, DataDir: dir, Listen: "127.0.0.1:0", Version: "browser-test",
		Logger: logger, Redactor: red, Ready: func(addr string) { ready <- addr }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { p.done <- a.Serve(ctx) }()
	select {
	case p.addr = <-ready:
	case err := <-p.done:
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the proxy did not start listening")
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("proxy log:\n%s", p.logs.String())
		}
	})
	return p
}

// stop ends the proxy and waits until it has shut down.
func (p *proxy) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.t.Errorf("the proxy did not shut down")
	}
}

func (p *proxy) url(path string) string { return "http://" + p.addr + path }

// containers lists the running containers of this proxy's data dir for
// server, by the labels every isolated server carries.
func (p *proxy) containers(docker, server string) []string {
	p.t.Helper()
	abs, _ := filepath.Abs(p.dir)
	out, err := exec.Command(docker, "ps", "-q",
		"--filter", "label="+isolation.LabelManaged+"=true",
		"--filter", "label="+isolation.LabelDataDir+"="+isolation.DataDirID(abs),
		"--filter", "label="+isolation.LabelServer+"="+server).Output()
	if err != nil {
		p.t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}

// removeContainers removes (by ID) what is left of this proxy's
// containers, for a test that failed half-way.
func (p *proxy) removeContainers(docker string) {
	abs, _ := filepath.Abs(p.dir)
	out, _ := exec.Command(docker, "ps", "-aq", "--filter", "label="+isolation.LabelDataDir+"="+isolation.DataDirID(abs)).Output()
	for _, id := range strings.Fields(string(out)) {
		_ = exec.Command(docker, "rm", "--force", id).Run()
	}
}

const testKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// hostileDescription is what a hostile server puts in its tool's
// description: markup that would run if a page rendered it as HTML.
const hostileDescription = `Echo. <script>window.pwned=1</script><img src=x onerror="window.pwned=2"><b>bold?</b>`

// The web UI end to end, in Chromium against a real proxy with servers in
// real containers:
//   - sign in through the console link's fragment;
//   - the Security page's global switch, used from the keyboard: the config
//     file changes in that one value (comments kept), the servers move into
//     containers (docker ps, by the proxy's labels) and the dashboard shows
//     the isolated badge; turning it off asks first, naming the servers that
//     move to the host, and the file is back to what it was;
//   - a quarantined server approved from the dashboard starts;
//   - a hostile tool description renders as text and never runs;
//   - a server added through the form becomes ready;
//   - no page scrolls sideways at 390 px;
//   - no console error; and once the proxy stops, the banner says so, no
//     state says "ready" any more, and the page retries with a growing
//     delay instead of failing every 2 s.
//
// Screenshots of the dashboard, a server and the Security page are saved
// under testutil.ScreenshotDir().
func TestBrowserEndToEnd(t *testing.T) {
	docker := testutil.RequireDocker(t)
	image := testutil.FixtureImage(t)
	bin := testutil.FixtureBinary(t)
	desc := filepath.Join(t.TempDir(), "description.txt")
	if err := os.WriteFile(desc, []byte(hostileDescription), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same static binary runs on the host and, mounted at the same
	// path, in a container: the switch moves alpha and beta between them.
	boxed := func(name string) string {
		return fmt.Sprintf(`{"name": %q, "command": %q, "isolation": {"image": %q, "extra_args": ["-v", "%s:%s:ro"]}}`, name, bin, image, bin, bin)
	}
	cfg := `{
  // Kept by every edit the UI makes.
  "docker_isolation": {
    "enabled": false, // flipped from the Security page
    "memory_limit": "256m"
  },
  "api_key": "` + testKey + `",
  "mcpServers": [
    ` + boxed("alpha") + `,
    ` + boxed("beta") + `,
    // A server whose tool description is hostile markup.
    {"name": "hostile", "command": "` + bin + `", "args": ["-echo-description-file", "` + desc + `"], "isolation": {"enabled": false}},
    {"name": "waiting", "command": "` + bin + `", "args": ["-stderr", "hello from waiting"], "quarantined": true, "isolation": {"enabled": false}}
  ]
}
`
	p := startProxy(t, cfg)
	t.Cleanup(func() { p.removeContainers(docker) })
	b := testutil.NewBrowser(t, 1280, 900)

	// click clicks the button sel once the page's script runs (the page is
	// live) and the button is there and enabled, in one step in the page:
	// a live region may replace the button between a lookup and a click
	// from outside.
	click := func(what, sel string) {
		t.Helper()
		q := testutil.JSString(sel)
		b.WaitFor(what, `(() => { const e = document.querySelector(`+q+`); if (document.body.dataset.live !== "connected" || !e || e.disabled) return false; e.click(); return true; })()`, 30*time.Second)
	}
	state := func(where, server string) string {
		return `(document.querySelector('` + where + `[data-server="` + server + `"] .state') || {}).textContent`
	}
	waitState := func(where, server, want string, timeout time.Duration) {
		t.Helper()
		b.WaitFor(server+" "+want, state(where, server)+` === "`+want+`"`, timeout)
	}

	// Signed out, a page sends the browser to sign in and back; the key
	// pasted into the form signs in.
	b.Open(p.url("/ui/security"))
	b.WaitFor("the sign-in page", `location.pathname === "/ui/signin" && new URLSearchParams(location.search).get("next") === "/ui/security"`, 30*time.Second)
	b.Do("paste the key", chromedp.SendKeys(chromedp.CSS("#key"), testKey), chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	b.WaitFor("back on the Security page", `location.pathname === "/ui/security" && document.body.dataset.live === "connected"`, 30*time.Second)
	click("sign out", "#signout")
	b.WaitFor("signed out", `location.pathname === "/ui/signin"`, 30*time.Second)

	// Sign in with the link the console prints (opened in a fresh tab):
	// the key is in the fragment, which the page posts and removes from
	// the address bar.
	b.Open("about:blank")
	b.Open(p.url("/ui/signin#key=" + testKey))
	b.WaitFor("the dashboard after sign-in", `location.pathname === "/ui/" && document.body.dataset.live === "connected"`, 20*time.Second)
	if h := testutil.Eval[string](b, `location.href`); strings.Contains(h, testKey) {
		t.Fatalf("the key is still in the address bar: %s", h)
	}
	for _, s := range []string{"alpha", "beta", "hostile"} {
		waitState("article", s, "ready", 60*time.Second)
	}
	waitState("article", "waiting", "quarantined", 10*time.Second)
	b.Screenshot("dashboard")

	// The Security page: the global switch, from the keyboard.
	before, _ := os.ReadFile(p.cfgPath)
	b.Open(p.url("/ui/security"))
	b.WaitFor("the Security page", `document.body.dataset.live === "connected"`, 30*time.Second)
	for i := 0; ; i++ {
		if i == 40 {
			t.Fatal("Tab never reached the global isolation switch")
		}
		b.Do("Tab", chromedp.KeyEvent(kb.Tab))
		if testutil.Eval[string](b, `document.activeElement.id`) == "global-toggle" {
			break
		}
	}
	if outline := testutil.Eval[string](b, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
		t.Fatal("the focused switch shows no focus outline")
	}
	b.Do("Enter on the switch", chromedp.KeyEvent(kb.Enter))
	b.WaitFor("the switch on", `document.getElementById("global-toggle").getAttribute("aria-checked") === "true"`, 20*time.Second)
	for _, s := range []string{"alpha", "beta"} {
		b.WaitFor(s+" in a container", `!!document.querySelector('tr[data-server="`+s+`"] .badge.isolated') && !!document.querySelector('tr[data-server="`+s+`"] code')`, 90*time.Second)
		waitState("tr", s, "ready", 60*time.Second)
		// docker ps reads the engine's view of its containers, which can
		// trail a start under load: wait for it to show the one container.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			ids := p.containers(docker, s)
			if len(ids) == 1 {
				break
			}
			if len(ids) > 1 || time.Now().After(deadline) {
				t.Fatalf("docker ps for %s with the proxy's labels: %v, want one container", s, ids)
			}
		}
	}
	if ids := p.containers(docker, "hostile"); len(ids) != 0 {
		t.Fatalf("hostile opted out but runs in %v", ids)
	}
	after, _ := os.ReadFile(p.cfgPath)
	if want := strings.Replace(string(before), `"enabled": false, // flipped`, `"enabled": true, // flipped`, 1); string(after) != want {
		t.Fatalf("the config file changed beyond docker_isolation.enabled:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	b.Screenshot("security")

	// The dashboard shows the badge, the image and the container.
	b.Open(p.url("/ui/"))
	b.WaitFor("alpha's isolated badge", `!!document.querySelector('article[data-server="alpha"] .badge.isolated') && document.querySelector('article[data-server="alpha"]').textContent.includes("`+image+`")`, 20*time.Second)
	b.Screenshot("dashboard-isolated")

	// The server page: the exact docker run.
	b.Open(p.url("/ui/servers/alpha"))
	b.WaitFor("the docker run line", `(document.getElementById("docker-run") || {}).textContent.includes("--memory 256m")`, 10*time.Second)
	b.Screenshot("server")

	// A server's own switch: beta leaves its container (the page asks
	// first) and comes back.
	b.Open(p.url("/ui/security"))
	b.WaitFor("the Security page", `document.body.dataset.live === "connected"`, 30*time.Second)
	click("beta's switch", "#iso-beta")
	b.WaitFor("the confirmation", `document.getElementById("confirm").open`, 10*time.Second)
	click("confirm", "#confirm-yes")
	b.WaitFor("beta on the host", `!!document.querySelector('tr[data-server="beta"] .badge.host') && document.getElementById("iso-beta").getAttribute("aria-checked") === "false"`, 60*time.Second)
	waitContainers := func(server string, want int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for len(p.containers(docker, server)) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d containers, want %d", server, len(p.containers(docker, server)), want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitContainers("beta", 0)
	waitContainers("alpha", 1)
	click("beta's switch again", "#iso-beta")
	b.WaitFor("beta in a container again", `!!document.querySelector('tr[data-server="beta"] .badge.isolated') && document.getElementById("iso-beta").getAttribute("aria-checked") === "true"`, 60*time.Second)
	waitState("tr", "beta", "ready", 60*time.Second)
	waitContainers("beta", 1)

	// The defaults: a bad value is refused next to its field, and the file
	// keeps what it had.
	onFile, _ := os.ReadFile(p.cfgPath)
	b.Do("a bad memory limit",
		chromedp.SetValue(chromedp.CSS("#memory_limit"), "lots"),
		chromedp.Click(chromedp.CSS(`#defaults button[type=submit]`)))
	b.WaitFor("the error next to the field", `document.getElementById("memory_limit-error").textContent !== "" && document.getElementById("memory_limit").getAttribute("aria-invalid") === "true"`, 10*time.Second)
	// Chromium logs every 4xx answer; the refusal is the one expected.
	refused := 0
	for _, m := range b.Errors() {
		if m.Source == "network" && strings.Contains(m.Text, "status of 400") && strings.HasSuffix(m.URL, "/api/v1/config/docker-isolation") {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("the refused PATCH: %d logged 400s, want 1\n%s", refused, b.ConsoleText())
	}
	if now, _ := os.ReadFile(p.cfgPath); string(now) != string(onFile) {
		t.Fatalf("a refused default changed the file:\n%s", now)
	}

	// A good value is saved: the file changes in that value only, and the
	// containers are started again with it.
	b.Do("a good memory limit",
		chromedp.SetValue(chromedp.CSS("#memory_limit"), "300m"),
		chromedp.Click(chromedp.CSS(`#defaults button[type=submit]`)))
	b.WaitFor("saved", `document.getElementById("defaults-status").textContent.startsWith("Saved") && !document.getElementById("memory_limit").hasAttribute("aria-invalid")`, 30*time.Second)
	if now, _ := os.ReadFile(p.cfgPath); string(now) != strings.Replace(string(onFile), `"memory_limit": "256m"`, `"memory_limit": "300m"`, 1) {
		t.Fatalf("saving the memory limit changed more than it:\nbefore:\n%s\nafter:\n%s", onFile, now)
	}
	b.Open(p.url("/ui/servers/alpha"))
	b.WaitFor("alpha's container with the new limit", `(document.getElementById("docker-run") || {}).textContent.includes("--memory 300m") && (document.querySelector('[data-live="server-head"] .state') || {}).textContent === "ready"`, 60*time.Second)

	// Off again: the page asks first and names what moves to the host.
	b.Open(p.url("/ui/security"))
	b.WaitFor("the Security page", `document.body.dataset.live === "connected"`, 30*time.Second)
	before, _ = os.ReadFile(p.cfgPath)
	click("click the switch", "#global-toggle")
	b.WaitFor("the confirmation", `document.getElementById("confirm").open`, 10*time.Second)
	for _, s := range []string{"alpha", "beta"} {
		if !testutil.Eval[bool](b, `document.getElementById("confirm-body").textContent.includes("`+s+`")`) {
			t.Fatalf("the confirmation does not name %s: %s", s, testutil.Eval[string](b, `document.getElementById("confirm-body").textContent`))
		}
	}
	click("confirm", "#confirm-yes")
	for _, s := range []string{"alpha", "beta"} {
		b.WaitFor(s+" on the host", `!!document.querySelector('tr[data-server="`+s+`"] .badge.host')`, 60*time.Second)
		waitState("tr", s, "ready", 60*time.Second)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(p.containers(docker, "alpha"))+len(p.containers(docker, "beta")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("containers still run after isolation was turned off")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if now, _ := os.ReadFile(p.cfgPath); string(now) != strings.Replace(string(before), `"enabled": true, // flipped`, `"enabled": false, // flipped`, 1) {
		t.Fatalf("turning isolation off changed more than docker_isolation.enabled:\nbefore:\n%s\nafter:\n%s", before, now)
	}

	// Approve the quarantined server from the dashboard.
	b.Open(p.url("/ui/"))
	b.WaitFor("the dashboard", `document.body.dataset.live === "connected"`, 30*time.Second)
	click("approve", `button[data-action="POST /api/v1/servers/waiting/approve"]`)
	b.WaitFor("the confirmation", `document.getElementById("confirm").open`, 10*time.Second)
	click("confirm", "#confirm-yes")
	waitState("article", "waiting", "ready", 60*time.Second)

	// Its page tails its log, and follows it: a restart writes the line
	// again and the page shows it without a reload.
	b.Open(p.url("/ui/servers/waiting"))
	b.WaitFor("the log tail", `document.getElementById("log").textContent.includes("hello from waiting") && document.getElementById("log-status").textContent === "following"`, 20*time.Second)
	n := testutil.Eval[int](b, `document.getElementById("log").textContent.split("hello from waiting").length - 1`)
	click("restart", `button[data-action="POST /api/v1/servers/waiting/restart"]`)
	b.WaitFor("the restart's line in the log", `document.getElementById("log").textContent.split("hello from waiting").length - 1 > `+fmt.Sprint(n), 30*time.Second)

	// A tool that changes is withheld: after a restart with a new
	// (hostile) description, the server page shows the diff and the
	// dashboard an approve button; approving brings it back.
	if err := os.WriteFile(desc, []byte(hostileDescription+` <script>window.pwned=3</script>`), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Open(p.url("/ui/servers/hostile"))
	b.WaitFor("the server page", `document.body.dataset.live === "connected"`, 30*time.Second)
	click("restart", `button[data-action="POST /api/v1/servers/hostile/restart"]`)
	b.WaitFor("echo withheld with its diff", `!!document.querySelector('.pending[data-tool="echo"] .diff .add')`, 30*time.Second)
	b.Open(p.url("/ui/"))
	b.WaitFor("the withheld tools", `!!document.querySelector('.withheld[data-server="hostile"] button[data-action]')`, 10*time.Second)
	click("approve", `.withheld[data-server="hostile"] button[data-action]`)
	b.WaitFor("the confirmation", `document.getElementById("confirm").open`, 10*time.Second)
	click("confirm", "#confirm-yes")
	b.WaitFor("nothing withheld", `!document.querySelector('.withheld[data-server="hostile"]')`, 20*time.Second)

	// A hostile tool description is text, on the server page and in search.
	for _, page := range []string{"/ui/servers/hostile", "/ui/tools?q=echo"} {
		b.Open(p.url(page))
		b.WaitFor("the description on "+page, `[...document.querySelectorAll(".tool-desc")].some(e => e.textContent.includes("<script>window.pwned=3</script>"))`, 20*time.Second)
		if testutil.Eval[bool](b, `window.pwned !== undefined || !!document.querySelector("main b, main img")`) {
			t.Fatalf("%s: the hostile description became markup", page)
		}
	}

	// Add a server through the form; its page shows it starting and ready.
	b.Open(p.url("/ui/add"))
	click("submit empty", `#add button[type=submit]`)
	b.WaitFor("the name's error next to it", `document.getElementById("name-error").textContent !== "" && document.getElementById("name").getAttribute("aria-invalid") === "true"`, 5*time.Second)
	b.Do("an HTTP server with a bad URL",
		chromedp.Click(chromedp.CSS("#t-http")),
		chromedp.SendKeys(chromedp.CSS("#url"), "ftp://example.invalid/mcp"),
		chromedp.SendKeys(chromedp.CSS("#headers"), "no colon here"),
		chromedp.Click(chromedp.CSS(`#add button[type=submit]`)))
	b.WaitFor("the URL's and the headers' errors", `document.getElementById("url-error").textContent.includes("http") && document.getElementById("headers-error").textContent.includes("Name: value") && document.getElementById("url").getAttribute("aria-invalid") === "true"`, 5*time.Second)
	b.Do("back to stdio", chromedp.Click(chromedp.CSS("#t-stdio")))
	b.Do("fill the form",
		chromedp.SendKeys(chromedp.CSS("#name"), "added"),
		chromedp.SendKeys(chromedp.CSS("#command"), bin),
		chromedp.SendKeys(chromedp.CSS("#env"), "GREETING=hello"),
		chromedp.Click(chromedp.CSS(`#add button[type=submit]`)))
	b.WaitFor("the new server's page", `location.pathname === "/ui/servers/added"`, 10*time.Second)
	b.WaitFor("added ready", `(document.querySelector('[data-live="server-head"] .state') || {}).textContent === "ready"`, 60*time.Second)
	if testutil.Eval[bool](b, `document.body.textContent.includes("hello")`) {
		t.Fatal("the server page shows an env value")
	}

	// Disable, enable and remove it from its page.
	click("disable", `button[data-action="POST /api/v1/servers/added/disable"]`)
	b.WaitFor("added disabled", `(document.querySelector('[data-live="server-head"] .state') || {}).textContent === "disabled"`, 30*time.Second)
	click("enable", `button[data-action="POST /api/v1/servers/added/enable"]`)
	b.WaitFor("added ready again", `(document.querySelector('[data-live="server-head"] .state') || {}).textContent === "ready"`, 60*time.Second)
	click("remove", `button[data-action="DELETE /api/v1/servers/added"]`)
	b.WaitFor("the confirmation", `document.getElementById("confirm").open`, 10*time.Second)
	click("confirm", "#confirm-yes")
	b.WaitFor("the dashboard without it", `location.pathname === "/ui/" && document.body.dataset.live === "connected" && !document.querySelector('article[data-server="added"]')`, 30*time.Second)
	if cfgNow, _ := os.ReadFile(p.cfgPath); strings.Contains(string(cfgNow), `"added"`) {
		t.Fatalf("removed server still in the config file:\n%s", cfgNow)
	}

	// An invalid edit of the file on disk: every page says so, with the
	// problem, and says nothing once it is fixed.
	good, _ := os.ReadFile(p.cfgPath)
	bad := strings.Replace(string(good), `"memory_limit": "300m"`, `"memory_limit": "lots"`, 1)
	if err := os.WriteFile(p.cfgPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	b.WaitFor("the invalid-config banner", `!!document.getElementById("invalid-title") && document.querySelector('[data-live="validity"]').textContent.includes("docker_isolation.memory_limit")`, 30*time.Second)
	if err := os.WriteFile(p.cfgPath, good, 0o600); err != nil {
		t.Fatal(err)
	}
	b.WaitFor("the banner gone", `!document.getElementById("invalid-title")`, 30*time.Second)

	// 390 px: nothing scrolls sideways.
	b.Do("phone width", chromedp.EmulateViewport(390, 844))
	for page, shot := range map[string]string{"/ui/": "dashboard-390", "/ui/servers/alpha": "server-390", "/ui/security": "security-390", "/ui/add": "add-390"} {
		b.Open(p.url(page))
		b.WaitFor("the page", `document.body.dataset.live === "connected"`, 30*time.Second)
		if w := testutil.Eval[[]int](b, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] || w[1] != 390 {
			t.Errorf("%s at 390 px: scrollWidth %d > innerWidth %d", page, w[0], w[1])
		}
		b.Screenshot(shot)
	}
	b.Do("laptop width", chromedp.EmulateViewport(1280, 900))

	if errs := b.Errors(); len(errs) != refused {
		t.Fatalf("console errors (%d expected: the refused PATCH):\n%s", refused, b.ConsoleText())
	}
	seen := len(b.Errors())

	// Stop the proxy: the banner, no "ready" left, retries backing off.
	b.Open(p.url("/ui/"))
	b.WaitFor("the dashboard", `document.body.dataset.live === "connected"`, 30*time.Second)
	p.stop()
	b.WaitFor("the unreachable banner", `document.body.dataset.live === "offline" && !document.getElementById("offline").hidden`, 20*time.Second)
	if n := testutil.Eval[int](b, `[...document.querySelectorAll(".live-state")].filter(e => e.textContent === "ready").length`); n != 0 {
		t.Fatalf("%d states still say ready after the proxy stopped", n)
	}
	b.Screenshot("dashboard-offline")
	b.WaitFor("the retry delay grows to 8 s", `document.getElementById("offline-retry").textContent === "8 s"`, 30*time.Second)
	// Retries so far: one look when the stream broke, then after 1, 2 and
	// 4 s; each failure is one browser log line. A poll every 2 s would
	// be more by now, and its failures would be exceptions.
	var failures int
	for _, m := range b.Errors()[seen:] {
		if m.IsException() || m.Source != "network" {
			t.Errorf("after the proxy stopped: %s", m)
		}
		failures++
	}
	if failures > 8 {
		t.Fatalf("%d failed requests in the first ~7 s after the proxy stopped:\n%s", failures, b.ConsoleText())
	}
}
