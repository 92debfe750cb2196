package httpapi

import (
	"net"
	"net/http"
	"strings"
)

// UI is the web UI: it registers its pages (under /ui/, and / redirecting
// there) on the top-level mux. Its routes are not behind Auth.Require: a
// page sends a signed-out browser to its sign-in page itself
// (Auth.Authenticated), and every change it makes goes through the REST API.
type UI interface {
	Register(mux Router)
}

// Options is what NewHandler serves.
type Options struct {
	// Service answers the REST API (and the UI).
	Service Service
	// Auth guards /api/v1 (and /mcp when RequireMCPAuth says so).
	Auth *Auth
	// MCP serves /mcp and /mcp/{server}.
	MCP http.Handler
	// RequireMCPAuth reports whether /mcp needs the API key
	// (require_mcp_auth); nil means never.
	RequireMCPAuth func() bool
	// UI, when set, registers the web UI's pages.
	UI UI
	// Listen is the address listened on: a host name in it is accepted as
	// Host besides localhost and IP literals.
	Listen string
}

// Handler is every HTTP route of the proxy behind the guard.
type Handler struct {
	guarded http.Handler
	top     *Mux
	api     *Mux
}

// NewHandler builds the proxy's HTTP handler: /mcp (the MCP endpoints),
// /api/v1 (the REST API, behind the API key or the UI's session), the
// session routes, /healthz, and the UI; all behind Guard.
func NewHandler(o Options) *Handler {
	h := &Handler{top: NewMux(), api: NewMux()}
	RegisterREST(h.api, o.Service)
	if o.MCP != nil {
		required := o.RequireMCPAuth
		if required == nil {
			required = func() bool { return false }
		}
		mcp := o.Auth.RequireKey(required, o.MCP)
		h.top.Handle("/mcp", mcp)
		h.top.Handle("/mcp/", mcp)
	}
	h.top.Handle("/api/", o.Auth.Require(h.api))
	o.Auth.RegisterSession(h.top)
	h.top.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, Health{OK: true})
	})
	if o.UI != nil {
		o.UI.Register(h.top)
	}
	var extra []string
	if host, _, err := net.SplitHostPort(o.Listen); err == nil && host != "" {
		extra = append(extra, host)
	}
	h.guarded = Guard(h.top, extra...)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.guarded.ServeHTTP(w, r) }

// APIRoutes are the REST routes behind the API key, as registered
// ("METHOD /path").
func (h *Handler) APIRoutes() []string { return h.api.Patterns() }

// Routes are the documented routes as registered: the REST API, the
// session routes and /healthz (not /mcp, not the UI's pages).
func (h *Handler) Routes() []string {
	out := h.api.Patterns()
	for _, p := range h.top.Patterns() {
		_, path, _ := strings.Cut(p, " ")
		if strings.HasPrefix(path, "/api/v1/") || path == "/healthz" {
			out = append(out, p)
		}
	}
	return out
}
