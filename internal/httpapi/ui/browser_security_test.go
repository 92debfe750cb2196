package ui_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// The Security page's settings and the per-server switches, in Chromium
// against a real proxy whose servers run on the host (the global switch
// is off: no Docker needed):
//   - the global-gate rule is explained on the row of each server it
//     concerns, once: an opt-in the gate ignores, a server that follows
//     the switch; nothing on an opted-out server;
//   - every default (memory, CPU, start timeout, process limit, registry,
//     images by runtime) refused by the proxy shows its problem next to its
//     own field, and the file keeps what it had;
//   - good defaults (memory, network, hardened, process limit, an image)
//     land in the file as those values only, comments kept, and the page
//     shows them after a reload;
//   - a server's switch from the keyboard: Enter asks first, Escape closes
//     the question with nothing changed and focus back on the switch; Tab
//     to the confirm button and Enter opts the server out in the file;
//   - the server page shows the server's own isolation block and its
//     switch with the same gate note; its container form refuses a bad
//     limit next to the field and saves good ones (an emptied field
//     removes the override) into that server's entry only;
//   - the add form's isolation choice and image, refused next to the
//     field when bad, written into the new entry;
//   - no console error but the refused requests.
func TestSecurityPageInBrowser(t *testing.T) {
	bin := testutil.FixtureBinary(t)
	servers := `"mcpServers": [
    {"name": "optin", "command": "` + bin + `", "isolation": {"enabled": true, "image": "example.org/optin:1", "memory_limit": "128m"}},
    {"name": "plain", "command": "` + bin + `"},
    {"name": "optout", "command": "` + bin + `", "isolation": {"enabled": false}}
  ]
}
`
	cfg := `{
  "docker_isolation": {
    "enabled": false, // the gate
    "memory_limit": "256m" // kept comment
  },
  "api_key": "` + testKey + `",
  ` + servers
	p := startProxy(t, cfg)
	b := testutil.NewBrowser(t, 1280, 900)
	b.Open(p.url("/ui/signin#key=" + testKey))
	b.WaitFor("signed in", `location.pathname === "/ui/" && document.body.dataset.live === "connected"`, 20*time.Second)
	b.Open(p.url("/ui/security"))
	b.WaitFor("the servers ready", `["optin", "plain", "optout"].every(s => (document.querySelector('tr[data-server="' + s + '"] .state') || {}).textContent === "ready")`, 30*time.Second)

	// The gate rule where it applies, once per row.
	notes := func(server string) []string {
		return testutil.Eval[[]string](b, `[...document.querySelectorAll('tr[data-server="`+server+`"] .gate-note, tr[data-server="`+server+`"] .gate-waits')].map(e => e.textContent)`)
	}
	if n := notes("optin"); len(n) != 1 || !strings.Contains(n[0], "ignored") {
		t.Errorf("optin's row: %q, want one note saying its opt-in is ignored", n)
	}
	if n := notes("plain"); len(n) != 1 || !strings.Contains(n[0], "Follows the global switch") {
		t.Errorf("plain's row: %q, want one note saying it follows the global switch", n)
	}
	if n := notes("optout"); len(n) != 0 {
		t.Errorf("optout's row (opted out): %q, want no note", n)
	}

	b.Screenshot("security-gate")

	// Bad defaults: each problem next to its field; the file unchanged.
	onFile, _ := os.ReadFile(p.cfgPath)
	bad := map[string]string{"memory_limit": "1k", "cpu_limit": "abc", "timeout": "soon", "pids_limit": "0",
		"registry": "bad registry", "default_images": "node = Bad/Image!"}
	var set []chromedp.Action[chromedp.Void]
	for id, v := range bad {
		set = append(set, chromedp.SetValue(chromedp.CSS("#"+id), v))
	}
	b.Do("bad defaults", append(set, chromedp.Click(chromedp.CSS(`#defaults button[type=submit]`)))...)
	for id := range bad {
		b.WaitFor(id+"'s error next to it", `document.getElementById("`+id+`-error").textContent !== "" && document.getElementById("`+id+`").getAttribute("aria-invalid") === "true"`, 10*time.Second)
	}
	if msg := testutil.Eval[string](b, `document.getElementById("memory_limit-error").textContent`); !strings.Contains(msg, "6m") {
		t.Errorf("the memory limit's error %q does not name docker's minimum", msg)
	}
	if msg := testutil.Eval[string](b, `document.getElementById("default_images-error").textContent`); !strings.HasPrefix(msg, "node: ") {
		t.Errorf("the image's error %q does not name its runtime", msg)
	}
	if fe := testutil.Eval[string](b, `document.querySelector("#defaults .form-error").textContent`); fe != "" {
		t.Errorf("problems not placed next to a field: %q", fe)
	}
	if now, _ := os.ReadFile(p.cfgPath); string(now) != string(onFile) {
		t.Fatalf("refused defaults changed the file:\n%s", now)
	}
	refused := len(b.Errors())
	if refused != 1 {
		t.Fatalf("the refused PATCH: %d console errors, want its one 400\n%s", refused, b.ConsoleText())
	}

	b.Screenshot("security-refused")

	// Good defaults land in the file as those values only.
	b.Open(p.url("/ui/security"))
	b.WaitFor("the Security page", `document.body.dataset.live === "connected"`, 20*time.Second)
	b.Do("good defaults",
		chromedp.SetValue(chromedp.CSS("#memory_limit"), "300m"),
		chromedp.SetValue(chromedp.CSS("#pids_limit"), "512"),
		chromedp.SetValue(chromedp.CSS("#network_mode"), "none"),
		chromedp.Click(chromedp.CSS("#hardened")),
		chromedp.SetValue(chromedp.CSS("#default_images"), testutil.Eval[string](b, `document.getElementById("default_images").value`)+"deno = denoland/deno:2\n"),
		chromedp.Click(chromedp.CSS(`#defaults button[type=submit]`)))
	b.WaitFor("saved", `document.getElementById("defaults-status").textContent.startsWith("Saved")`, 20*time.Second)
	now, _ := os.ReadFile(p.cfgPath)
	text := string(now)
	for _, want := range []string{`"enabled": false, // the gate`, `"memory_limit": "300m", // kept comment`, `"pids_limit": 512`,
		`"network_mode": "none"`, `"hardened": false`, `"deno": "denoland/deno:2"`} {
		if !strings.Contains(text, want) {
			t.Errorf("the file lacks %s:\n%s", want, text)
		}
	}
	if !strings.HasSuffix(text, servers) || strings.Count(text, `"docker_isolation"`) != 1 {
		t.Errorf("saving the defaults changed more than docker_isolation:\n%s", text)
	}
	if strings.Count(text, `": "`) > strings.Count(string(onFile), `": "`)+4 {
		t.Errorf("saving the defaults wrote more than the changed keys:\n%s", text)
	}
	b.Open(p.url("/ui/security"))
	b.WaitFor("the Security page", `document.body.dataset.live === "connected"`, 20*time.Second)
	if got := testutil.Eval[string](b, `[memory_limit.value, pids_limit.value, network_mode.value, String(hardened.checked), String(default_images.value.includes("deno = denoland/deno:2"))].join(" ")`); got != "300m 512 none false true" {
		t.Errorf("after a reload the page shows %q", got)
	}

	// plain's switch from the keyboard.
	before, _ := os.ReadFile(p.cfgPath)
	for i := 0; testutil.Eval[string](b, `document.activeElement.id`) != "iso-plain"; i++ {
		if i == 40 {
			t.Fatal("Tab never reached plain's switch")
		}
		b.Do("Tab", chromedp.KeyEvent(kb.Tab))
	}
	if outline := testutil.Eval[string](b, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
		t.Fatal("the focused switch shows no focus outline")
	}
	b.Do("Enter", chromedp.KeyEvent(kb.Enter))
	b.WaitFor("the question, Cancel focused", `document.getElementById("confirm").open && document.activeElement.id === "confirm-no"`, 10*time.Second)
	b.Do("Escape", chromedp.KeyEvent(kb.Escape))
	b.WaitFor("closed, focus back on the switch", `!document.getElementById("confirm").open && document.activeElement.id === "iso-plain"`, 10*time.Second)
	if now, _ := os.ReadFile(p.cfgPath); string(now) != string(before) {
		t.Fatalf("Escape changed the file:\n%s", now)
	}
	b.Do("Enter", chromedp.KeyEvent(kb.Enter))
	b.WaitFor("the question again", `document.getElementById("confirm").open && document.activeElement.id === "confirm-no"`, 10*time.Second)
	b.Do("Tab", chromedp.KeyEvent(kb.Tab))
	b.WaitFor("the confirm button focused", `document.activeElement.id === "confirm-yes"`, 5*time.Second)
	b.Do("Enter", chromedp.KeyEvent(kb.Enter))
	b.WaitFor("plain opted out", `document.getElementById("iso-plain").getAttribute("aria-checked") === "false"`, 20*time.Second)
	want := strings.Replace(string(before), `{"name": "plain", "command": "`+bin+`"}`, `{"name": "plain", "command": "`+bin+`", "isolation": {"enabled": false}}`, 1)
	if now, _ := os.ReadFile(p.cfgPath); !strings.Contains(string(now), `"isolation": {`) || strings.Count(string(now), `"enabled": false`) != strings.Count(want, `"enabled": false`) {
		t.Fatalf("the switch wrote:\n%s", now)
	}
	if n := notes("plain"); len(n) != 0 {
		t.Errorf("plain, opted out: %q, want no note", n)
	}

	// The server page: its own isolation block, its switch, the gate note.
	b.Open(p.url("/ui/servers/optin"))
	b.WaitFor("optin's page", `document.body.dataset.live === "connected"`, 20*time.Second)
	if got := testutil.Eval[string](b, `[document.getElementById("iso-image").value, document.getElementById("iso-memory_limit").value, document.getElementById("iso-cpu_limit").placeholder].join(" ")`); got != "example.org/optin:1 128m 1.0" {
		t.Errorf("optin's own settings (image, memory, the CPU default): %q", got)
	}
	if got := testutil.Eval[[]string](b, `[document.getElementById("iso-switch").getAttribute("aria-checked"), String(document.querySelectorAll("[data-live=isolation] .gate-note").length), (document.querySelector(".gate-ignored") || {}).textContent || ""]`); got[0] != "true" || got[1] != "1" || !strings.Contains(got[2], "ignored") {
		t.Errorf("optin's switch, note count, note: %q", got)
	}

	// Its own settings: a bad one is refused next to its field, the file
	// unchanged; then a CPU limit is set and the image override removed,
	// and only optin's entry changes.
	before, _ = os.ReadFile(p.cfgPath)
	b.Do("a bad memory limit for optin",
		chromedp.SetValue(chromedp.CSS("#iso-memory_limit"), "1k"),
		chromedp.Click(chromedp.CSS(`#iso-form button[type=submit]`)))
	b.WaitFor("the error next to the field", `document.getElementById("iso-memory_limit-error").textContent.includes("6m") && document.getElementById("iso-memory_limit").getAttribute("aria-invalid") === "true"`, 10*time.Second)
	refused++
	if now, _ := os.ReadFile(p.cfgPath); string(now) != string(before) {
		t.Fatalf("a refused setting changed the file:\n%s", now)
	}
	testutil.Eval[bool](b, `(() => { document.getElementById("iso-memory_limit").value = "128m"; document.getElementById("iso-cpu_limit").value = "0.5"; document.getElementById("iso-image").value = ""; return true })()`)
	b.Do("good settings for optin", chromedp.Click(chromedp.CSS(`#iso-form button[type=submit]`)))
	b.WaitFor("saved", `document.getElementById("iso-form-status").textContent.startsWith("Saved") && !document.getElementById("iso-memory_limit").hasAttribute("aria-invalid")`, 20*time.Second)
	now, _ = os.ReadFile(p.cfgPath)
	optin := func(cfg string) (line, rest string) {
		i := strings.Index(cfg, `{"name": "optin"`)
		j := i + strings.Index(cfg[i:], "\n")
		return cfg[i:j], cfg[:i] + cfg[j:]
	}
	line, rest := optin(string(now))
	_, restBefore := optin(string(before))
	if strings.Contains(line, "example.org") || !strings.Contains(line, `"cpu_limit": "0.5"`) || !strings.Contains(line, `"memory_limit": "128m"`) || !strings.Contains(line, `"enabled": true`) {
		t.Errorf("optin's entry after the save: %s", line)
	}
	if rest != restBefore {
		t.Errorf("saving optin's settings changed more than its entry:\n%s", now)
	}

	// The add form's isolation choice and image: a bad image is refused
	// next to its field; then the server is added opted out with its
	// image, and starts on the host.
	b.Open(p.url("/ui/add"))
	b.WaitFor("the add page", `document.body.dataset.live === "connected"`, 20*time.Second)
	if hint := testutil.Eval[string](b, `document.getElementById("isolation-hint").textContent`); !strings.Contains(hint, "off") {
		t.Errorf("the add form does not say isolation is off: %q", hint)
	}
	b.Do("a server with a bad image",
		chromedp.SendKeys(chromedp.CSS("#name"), "added"),
		chromedp.SendKeys(chromedp.CSS("#command"), bin),
		chromedp.SetValue(chromedp.CSS("#isolation"), "off"),
		chromedp.SendKeys(chromedp.CSS("#image"), "Not/An-Image!"),
		chromedp.Click(chromedp.CSS(`#add button[type=submit]`)))
	b.WaitFor("the image's error next to it", `document.getElementById("image-error").textContent.includes("image reference") && document.getElementById("image").getAttribute("aria-invalid") === "true"`, 10*time.Second)
	refused++
	testutil.Eval[bool](b, `(() => { document.getElementById("image").value = "example.org/added:1"; return true })()`)
	b.Do("add it", chromedp.Click(chromedp.CSS(`#add button[type=submit]`)))
	b.WaitFor("added ready on the host", `location.pathname === "/ui/servers/added" && (document.querySelector('[data-live="server-head"] .state') || {}).textContent === "ready" && !!document.querySelector('[data-live="server-head"] .badge.host')`, 30*time.Second)
	if now, _ := os.ReadFile(p.cfgPath); !strings.Contains(string(now), `"enabled": false`) || !strings.Contains(string(now), `"image": "example.org/added:1"`) {
		t.Errorf("the added server's isolation block is not in the file:\n%s", now)
	}

	if errs := b.Errors(); len(errs) != refused {
		t.Fatalf("console errors (%d expected: the refused PATCH):\n%s", refused, b.ConsoleText())
	}
	b.Do("phone width", chromedp.EmulateViewport(390, 844))
	if w := testutil.Eval[[]int](b, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("the added server's page at 390 px: scrollWidth %d > innerWidth %d", w[0], w[1])
	}
	b.Screenshot("server-host-390")
}
