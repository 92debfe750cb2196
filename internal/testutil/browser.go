package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// RequireChromium returns the path of a Chromium (or Chrome) binary, or
// skips the test (fails it in CI) when there is none. scripts/test.sh
// installs Debian's chromium when it is missing.
func RequireChromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipOrFatal(t, "%s needs Chromium (apt-get install chromium; scripts/test.sh installs it)", t.Name())
	return ""
}

// ScreenshotDir is where browser tests save their screenshots:
// <cache>/ui-screenshots, kept between runs (each run overwrites its files).
func ScreenshotDir() string { return filepath.Join(CacheDir(), "ui-screenshots") }

// Browser is one headless Chromium driven through chromedp, with
// everything the pages write to the console (console.error calls,
// uncaught exceptions, browser log errors such as CSP refusals) collected.
type Browser struct {
	t   testing.TB
	ctx context.Context

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

// NewBrowser starts a headless Chromium for the test (stopped at cleanup)
// with a window of width×height.
func NewBrowser(t testing.TB, width, height int) *Browser {
	t.Helper()
	path := RequireChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in CI
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &Browser{t: t, ctx: ctx}
	// Start the browser, then read its console until it ends.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.messages = append(b.messages, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return b
}

// Context is the browser tab's chromedp context.
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs actions in the tab; a failure (or 30 s) fails the test with what.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\nconsole:\n%s", what, err, b.ConsoleText())
	}
}

// Open navigates the tab to url and waits until a new page has loaded (the
// one at url, or where it redirected).
// Chromium aborts loads in flight with ERR_NETWORK_CHANGED when the host's
// interfaces change (every container other tests start adds one), so a
// load that did not finish in 10 s is started again.
func (b *Browser) Open(url string) {
	b.t.Helper()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__mcpproxyOld = true; location.assign(`+JSString(url)+`); true`))
		if err == nil {
			err = b.poll(ctx, `!window.__mcpproxyOld && document.readyState === "complete"`)
		}
		cancel()
		if err == nil {
			return
		}
		if attempt == 5 {
			b.t.Fatalf("open %s: %v\nconsole:\n%s", url, err, b.ConsoleText())
		}
		b.t.Logf("open %s: %v (attempt %d; trying again)", url, err, attempt)
	}
}

// poll evaluates expr every 50 ms until it is true or ctx ends. Each try
// is a fresh evaluation in the page of the moment, so it survives
// navigations (which end the page an in-page poll would run in).
func (b *Browser) poll(ctx context.Context, expr string) error {
	var last error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// JSString is s as a JavaScript string literal, for expressions given to
// Eval and WaitFor.
func JSString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// WaitFor polls a JavaScript expression until it is truthy, failing the
// test with what after timeout.
func (b *Browser) WaitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := b.poll(ctx, expr); err != nil {
		b.t.Fatalf("waiting %s for %s (%s): %v\nconsole:\n%s", timeout, what, expr, err, b.ConsoleText())
	}
}

// Messages returns what the pages wrote to the console so far.
func (b *Browser) Messages() []chromedp.ConsoleMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), b.messages...)
}

// Errors returns the console errors and exceptions so far, except the
// browser's own notes that a request was aborted because the host's
// network interfaces changed (ERR_NETWORK_CHANGED: Docker networks of
// other tests), which no page can prevent.
func (b *Browser) Errors() []chromedp.ConsoleMessage {
	var out []chromedp.ConsoleMessage
	for _, m := range b.Messages() {
		if m.Source == "network" && strings.Contains(m.Text, "ERR_NETWORK_CHANGED") {
			continue
		}
		if m.Type == chromedp.ConsoleError || m.IsException() {
			out = append(out, m)
		}
	}
	return out
}

// ConsoleText is every console message, one a line.
func (b *Browser) ConsoleText() string {
	var s strings.Builder
	for _, m := range b.Messages() {
		fmt.Fprintf(&s, "  %s %s (%s %s:%d)\n", m.Type, m.Text, m.Source, m.URL, m.Line)
	}
	return s.String()
}

// Screenshot saves a full-page PNG as ScreenshotDir()/name.png and returns
// its path (also logged).
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(ScreenshotDir(), 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(ScreenshotDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}
