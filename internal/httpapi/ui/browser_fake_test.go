package ui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// fakeProxy serves the UI over the fake service, with the few API routes
// the pages' scripts use answered in place of the proxy's.
func fakeProxy(t *testing.T, svc Service) *httptest.Server {
	mux := http.NewServeMux()
	New(Options{Service: svc, Auth: allowAll{}, Version: "test"}).Register(mux)
	sse := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, ": hello\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
	mux.HandleFunc("GET /api/v1/events", sse)
	mux.HandleFunc("GET /api/v1/servers/{name}/logs", sse)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"ok":true}`) })
	mux.HandleFunc("GET /api/v1/session", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"authenticated":true}`) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type allowAll struct{}

func (allowAll) Authenticated(*http.Request) bool { return true }

// Every page, at a phone's width and a laptop's, in a real Chromium: no
// horizontal scroll at 390 px, no console error, and the hostile text of
// the fake service (tool descriptions, errors, log lines) never runs.
func TestPagesInBrowser(t *testing.T) {
	srv := fakeProxy(t, newFake())
	b := testutil.NewBrowser(t, 1280, 900)
	for _, p := range append([]string{"/ui/signin"}, pages...) {
		b.Open(srv.URL + p)
		b.WaitFor(p+" live", `document.body.dataset.live === "connected" || document.body.dataset.page === "signin"`, 30*time.Second)
		if pwned := testutil.Eval[bool](b, `window.pwned !== undefined`); pwned {
			t.Fatalf("%s: the hostile text ran as script", p)
		}
		// Every field has a label, everything clickable is a button or a
		// link with a target, and every button says what it does.
		if bad := testutil.Eval[[]string](b, a11yProblems); len(bad) > 0 {
			t.Errorf("%s: %s", p, strings.Join(bad, "; "))
		}
		for _, width := range []int64{390, 1280} {
			b.Do("viewport", chromedp.EmulateViewport(width, 844))
			sw := testutil.Eval[[]int](b, `[document.documentElement.scrollWidth, window.innerWidth]`)
			if sw[0] > sw[1] || sw[1] != int(width) {
				t.Errorf("%s at %d px: scrollWidth %d > innerWidth %d", p, width, sw[0], sw[1])
			}
			b.Screenshot(fmt.Sprintf("fake-%s-%d", strings.Trim(strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(p), "-"), width))
		}
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Fatalf("console errors:\n%s", b.ConsoleText())
	}
}

// a11yProblems lists, in the page, fields without a label, clickables that
// are not buttons or links, links without a target and buttons without a
// name.
const a11yProblems = `(() => {
  const out = [];
  for (const e of document.querySelectorAll("input, select, textarea")) {
    if (e.type === "hidden") continue;
    if (!e.labels.length && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby")) out.push("no label: " + (e.id || e.name));
  }
  for (const e of document.querySelectorAll("[onclick], [role=button], [data-action]")) {
    if (e.tagName !== "BUTTON") out.push("clickable non-button: " + e.outerHTML.slice(0, 80));
  }
  for (const e of document.querySelectorAll("a")) {
    const h = e.getAttribute("href");
    if (!h || h === "#" || h.startsWith("javascript:")) out.push("link without a target: " + e.outerHTML.slice(0, 80));
  }
  for (const e of document.querySelectorAll("button")) {
    if (!e.textContent.trim() && !e.getAttribute("aria-label")) out.push("button without a name: " + e.outerHTML.slice(0, 80));
  }
  return out;
})()`
