package config

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// watchEvents runs Watch on path and returns channels of its callbacks.
func watchEvents(t *testing.T, path string) (changes chan *Config, errs chan error, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	changes = make(chan *Config, 10)
	errs = make(chan error, 10)
	done := Watch(ctx, path, func(c *Config) { changes <- c }, func(err error) { errs <- err })
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return changes, errs, stop
}

func nextChange(t *testing.T, changes chan *Config, errs chan error) *Config {
	t.Helper()
	select {
	case c := <-changes:
		return c
	case err := <-errs:
		t.Fatalf("onError(%v), want onChange", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no onChange within 5s")
	}
	return nil
}

func nextError(t *testing.T, changes chan *Config, errs chan error) error {
	t.Helper()
	select {
	case c := <-changes:
		t.Fatalf("onChange(%+v), want onError", c)
	case err := <-errs:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("no onError within 5s")
	}
	return nil
}

// looks records when the watcher looked at the file (watchChecked).
type looks struct {
	mu    sync.Mutex
	began []time.Time
	now   chan struct{} // closed (and replaced) at each look
}

func watchLooks(t *testing.T) *looks {
	l := &looks{now: make(chan struct{})}
	watchChecked = func(began time.Time) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.began = append(l.began, began)
		close(l.now)
		l.now = make(chan struct{})
	}
	// Looks come at least every 200ms, so a quiet check never waits
	// long (events still drive the watcher: the debounce is unchanged).
	poll := watchPoll
	watchPoll = 200 * time.Millisecond
	t.Cleanup(func() { watchChecked, watchPoll = nil, poll })
	return l
}

// expectQuiet waits until the watcher has looked at the file after since
// (everything written before since is seen) and checks that nothing was
// reported: a look that found nothing new, not a pause that hopes.
func expectQuiet(t *testing.T, l *looks, changes chan *Config, errs chan error, since time.Time) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		seen := len(l.began) > 0 && !l.began[len(l.began)-1].Before(since)
		next := l.now
		l.mu.Unlock()
		if seen {
			break
		}
		select {
		case <-next:
		case <-timeout:
			t.Fatal("the watcher did not look at the file within 10s")
		}
	}
	select {
	case c := <-changes:
		t.Fatalf("unexpected onChange(%+v)", c)
	case err := <-errs:
		t.Fatalf("unexpected onError(%v)", err)
	default:
	}
}

func TestWatch(t *testing.T) {
	writers := []struct {
		name  string
		write func(path string, data []byte) error
	}{
		{"rename", writeFileAtomic},
		{"in place", func(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }},
	}
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			path := writeConfig(t, `{"mcpServers": []}`, 0o600)
			l := watchLooks(t)
			changes, errs, _ := watchEvents(t, path)

			if err := w.write(path, []byte(`{"mcpServers": [{"name": "a", "command": "x"}]}`)); err != nil {
				t.Fatal(err)
			}
			if c := nextChange(t, changes, errs); c.Server("a") == nil {
				t.Errorf("onChange config has no server a: %+v", c.Servers)
			}

			// An invalid edit is reported and onChange is not called.
			if err := w.write(path, []byte(`{"mcpServers": [{"name": "a"}]}`)); err != nil {
				t.Fatal(err)
			}
			err := nextError(t, changes, errs)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.File != path || len(ve.Problems) != 1 || ve.Problems[0].Path != "mcpServers[0].command" {
				t.Errorf("onError(%v), want the validation error for %s", err, path)
			}
			expectQuiet(t, l, changes, errs, time.Now())

			// Fixing it is a change again.
			if err := w.write(path, []byte(`{"mcpServers": [{"name": "b", "url": "http://h"}]}`)); err != nil {
				t.Fatal(err)
			}
			if c := nextChange(t, changes, errs); c.Server("b") == nil {
				t.Errorf("onChange config has no server b: %+v", c.Servers)
			}
		})
	}
}

func TestWatchIgnoresUnchangedContent(t *testing.T) {
	path := writeConfig(t, arrayFile, 0o600)
	l := watchLooks(t)
	changes, errs, _ := watchEvents(t, path)

	// Rewriting the same bytes, touching other files and no-op edits fire nothing.
	if err := writeFileAtomic(path, []byte(arrayFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "other.json"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := PatchDockerIsolation(path, json.RawMessage(`{"enabled": false}`)); err != nil {
		t.Fatal(err)
	}
	expectQuiet(t, l, changes, errs, time.Now())

	// Our own edit is seen exactly once.
	if err := PatchDockerIsolation(path, json.RawMessage(`{"enabled": true}`)); err != nil {
		t.Fatal(err)
	}
	if c := nextChange(t, changes, errs); !c.DockerIsolation.Enabled {
		t.Error("onChange config has docker isolation off")
	}
	expectQuiet(t, l, changes, errs, time.Now())
}

func TestWatchStops(t *testing.T) {
	path := writeConfig(t, `{}`, 0o600)
	changes, errs, stop := watchEvents(t, path)
	stop() // returns once the watch's goroutine has ended
	if err := writeFileAtomic(path, []byte(`{"listen": "127.0.0.1:1"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-changes:
		t.Fatalf("onChange(%+v) after the watch stopped", c)
	case err := <-errs:
		t.Fatalf("onError(%v) after the watch stopped", err)
	default:
	}
}

func TestWatchFileAppearsLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	changes, errs, _ := watchEvents(t, path)
	if err := writeFileAtomic(path, []byte(`{"listen": "127.0.0.1:1"}`)); err != nil {
		t.Fatal(err)
	}
	if c := nextChange(t, changes, errs); c.Listen != "127.0.0.1:1" {
		t.Errorf("listen = %q", c.Listen)
	}
}

func TestWatchSymlinkTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles", "mcp.json")
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, FileName)
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symlinks:", err)
	}
	changes, errs, _ := watchEvents(t, link)
	if err := os.WriteFile(target, []byte(`{"listen": "127.0.0.1:2"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := nextChange(t, changes, errs); c.Listen != "127.0.0.1:2" {
		t.Errorf("listen = %q", c.Listen)
	}
}

func TestWatchWithoutInotify(t *testing.T) {
	path := writeConfig(t, `{}`, 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	changes := make(chan *Config, 10)
	errs := make(chan error, 10)
	l := watchLooks(t)
	w := &watcher{path: path, poll: 50 * time.Millisecond, debounce: watchDebounce, checked: watchChecked,
		onChange: func(c *Config) { changes <- c }, onError: func(err error) { errs <- err }}
	w.check(ctx) // baseline: the current content is reported once
	<-changes
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		w.run(ctx, nil)
	}()
	t.Cleanup(func() { cancel(); <-ran })
	if err := os.WriteFile(path, []byte(`{"listen": "127.0.0.1:3"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := nextChange(t, changes, errs); c.Listen != "127.0.0.1:3" {
		t.Errorf("listen = %q", c.Listen)
	}
	expectQuiet(t, l, changes, errs, time.Now())
}
