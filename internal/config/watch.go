package config

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch timing; variables so tests can shorten them.
var (
	watchDebounce = 100 * time.Millisecond
	// watchPoll re-reads the file even without events: it covers edits
	// of a symlink's target elsewhere and file systems without inotify.
	watchPoll = 2 * time.Second
	// watchChecked, when set (tests), is called after every look at the
	// file with the time the look began.
	watchChecked func(began time.Time)
)

// Watch watches the configuration file at path until ctx is done. Whenever
// its content changes it calls onChange with the newly parsed configuration,
// or onError with the *ValidationError when the new content is invalid (the
// caller keeps its running configuration). Content identical to what was
// last seen (including our own writes of unchanged content) triggers
// nothing, and events are debounced by 100ms.
//
// Watch returns once the watch is established; the callbacks run one at a
// time on a goroutine of Watch's and none starts after ctx is done. The
// returned channel is closed when that goroutine has ended (after ctx is
// done): the caller waits for it. Either callback may be nil. The directory is watched rather than the file,
// because editors and atomic writes replace the file; the file is also
// re-read every 2 seconds in case events are missed.
func Watch(ctx context.Context, path string, onChange func(*Config), onError func(error)) <-chan struct{} {
	w := &watcher{path: path, onChange: onChange, onError: onError, poll: watchPoll, debounce: watchDebounce, checked: watchChecked}
	if data, err := os.ReadFile(path); err == nil {
		w.last = sha256.Sum256(data)
		w.seen = true
	}
	w.names = map[string]bool{filepath.Base(path): true}
	fw, err := fsnotify.NewWatcher()
	if err == nil {
		dirs := []string{filepath.Dir(path)}
		if target, err := filepath.EvalSymlinks(path); err == nil && filepath.Dir(target) != dirs[0] {
			dirs = append(dirs, filepath.Dir(target))
			w.names[filepath.Base(target)] = true
		}
		added := false
		for _, dir := range dirs {
			if fw.Add(dir) == nil {
				added = true
			}
		}
		if !added {
			fw.Close()
			fw = nil
		}
	} else {
		fw = nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx, fw)
	}()
	return done
}

type watcher struct {
	path     string
	names    map[string]bool // base names whose events matter
	onChange func(*Config)
	onError  func(error)
	last     [sha256.Size]byte
	seen     bool   // last is set
	lastErr  string // last read error reported
	poll     time.Duration
	debounce time.Duration
	checked  func(began time.Time) // see watchChecked
}

func (w *watcher) run(ctx context.Context, fw *fsnotify.Watcher) {
	var events <-chan fsnotify.Event
	var errs <-chan error
	poll := w.poll
	if fw != nil {
		defer fw.Close()
		events, errs = fw.Events, fw.Errors
	} else {
		poll = min(poll, 500*time.Millisecond)
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if w.names[filepath.Base(ev.Name)] {
				debounce = time.After(w.debounce)
			}
		case _, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// Events may have been lost (queue overflow): look again.
			debounce = time.After(w.debounce)
		case <-debounce:
			debounce = nil
			w.check(ctx)
		case <-ticker.C:
			w.check(ctx)
		}
	}
}

// check reads the file and reports it if its content changed.
func (w *watcher) check(ctx context.Context) {
	if w.checked != nil {
		defer w.checked(time.Now())
	}
	data, err := os.ReadFile(w.path)
	if err != nil {
		// A missing file is usually the middle of a replace; keep the
		// running configuration and wait for the next event.
		if errors.Is(err, fs.ErrNotExist) || err.Error() == w.lastErr {
			return
		}
		w.lastErr = err.Error()
		if ctx.Err() == nil && w.onError != nil {
			w.onError(err)
		}
		return
	}
	w.lastErr = ""
	sum := sha256.Sum256(data)
	if w.seen && sum == w.last {
		return
	}
	w.last, w.seen = sum, true
	cfg, err := Parse(data)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		if w.onError != nil {
			w.onError(withFile(err, w.path))
		}
		return
	}
	if w.onChange != nil {
		w.onChange(cfg)
	}
}
