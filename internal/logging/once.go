package logging

import (
	"log/slog"
	"sync"
)

// OnceWarner logs a warning at most once per key. The zero value is ready to
// use; it is safe for concurrent use.
type OnceWarner struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// Warn logs msg with args at warn level on logger unless a warning with the
// same key was logged before, and reports whether it logged.
func (w *OnceWarner) Warn(logger *slog.Logger, key, msg string, args ...any) bool {
	w.mu.Lock()
	if _, ok := w.seen[key]; ok {
		w.mu.Unlock()
		return false
	}
	if w.seen == nil {
		w.seen = map[string]struct{}{}
	}
	w.seen[key] = struct{}{}
	w.mu.Unlock()
	logger.Warn(msg, args...)
	return true
}

var processOnce OnceWarner

// WarnOnce logs a warning at most once per key for the life of the process,
// e.g. "per-server docker isolation opt-in ignored" with the key naming the
// servers concerned.
func WarnOnce(logger *slog.Logger, key, msg string, args ...any) bool {
	return processOnce.Warn(logger, key, msg, args...)
}
