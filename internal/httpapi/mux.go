package httpapi

import (
	"net/http"
	"slices"
	"sync"
)

// Mux is an http.ServeMux that remembers the patterns registered on it, so
// that a test can try every route (with no key, a wrong key, a foreign
// Origin…) without a list of its own that could fall behind.
type Mux struct {
	http.ServeMux

	mu       sync.Mutex
	patterns []string
}

// Router is where routes are registered: an *http.ServeMux or a *Mux.
type Router interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{} }

// Handle registers handler for pattern.
func (m *Mux) Handle(pattern string, handler http.Handler) {
	m.note(pattern)
	m.ServeMux.Handle(pattern, handler)
}

// HandleFunc registers handler for pattern.
func (m *Mux) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	m.note(pattern)
	m.ServeMux.HandleFunc(pattern, handler)
}

func (m *Mux) note(pattern string) {
	m.mu.Lock()
	m.patterns = append(m.patterns, pattern)
	m.mu.Unlock()
}

// Patterns returns the registered patterns, in registration order.
func (m *Mux) Patterns() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.patterns)
}
