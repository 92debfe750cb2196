// Package ui is mcpproxy's web UI: server-rendered pages (html/template)
// at /ui/, embedded with the stylesheet and the little JavaScript that
// keeps them live (one SSE stream; the pages' live regions are fetched
// again on each change) and runs their buttons through the REST API with
// the browser's same-origin session.
//
// Everything shown comes from the management service the REST API also
// serves (Service), rendered with html/template's contextual escaping: a
// server's name, a tool's description or an error text are text, never
// markup. Secret values (env, headers, the API key) are never given to the
// pages. The pages are served with a strict Content-Security-Policy
// ('self' only, no inline script) and may not be framed.
package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mcpproxy/mcpproxy/internal/httpapi"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// CSP is the Content-Security-Policy of every page: scripts, styles and
// connections to this origin only, no inline script or style attribute
// handlers, no plugins, no framing, forms post only here.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Authenticator tells a signed-in browser (session cookie) or client (API
// key) from others; httpapi.Auth implements it.
type Authenticator interface {
	Authenticated(r *http.Request) bool
}

// Options configures a UI.
type Options struct {
	// Service is where every page's data comes from.
	Service Service
	// Auth decides who sees the pages; signed-out browsers get the
	// sign-in page.
	Auth Authenticator
	// Version is shown in the footer.
	Version string
	// Logger receives rendering failures; nil discards.
	Logger *slog.Logger
}

// UI serves the web UI. Its zero value is not usable; call New.
type UI struct {
	opts Options
	log  *slog.Logger
	// pages are parsed at the first page served (parsing them all costs
	// ~450 KB of heap that a proxy nobody opens the UI of would keep).
	pages  func() map[string]*template.Template
	parsed atomic.Bool // pages were parsed (read by a test)

	staticOnce sync.Once
	etags      map[string]string // static file → ETag
}

// New returns the UI; its embedded templates are parsed when the first
// page is served (a broken template panics then: it is a programming error
// caught by every test).
func New(opts Options) *UI {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	u := &UI{opts: opts, log: opts.Logger}
	u.pages = sync.OnceValue(func() map[string]*template.Template {
		u.parsed.Store(true)
		return parsePages()
	})
	return u
}

// parsePages parses every page's templates.
func parsePages() map[string]*template.Template {
	pages := map[string]*template.Template{}
	for _, p := range []string{"signin", "dashboard", "server", "security", "add", "tools", "notfound"} {
		t := template.New(p).Funcs(funcs)
		pages[p] = template.Must(t.ParseFS(templateFiles, "templates/layout.html", "templates/parts.html", "templates/"+p+".html"))
	}
	return pages
}

// Register adds the UI's routes to mux. They are open routes (not behind
// the API's authentication): each page checks the session itself and
// sends a signed-out browser to /ui/signin, which holds no data.
//
//	GET /                     → 303 /ui/
//	GET /ui/                  dashboard
//	GET /ui/signin            sign-in
//	GET /ui/servers/{name}    one server
//	GET /ui/security          Docker isolation settings
//	GET /ui/add               add a server
//	GET /ui/tools?q=          tool search
//	GET /ui/static/{file}     stylesheet and scripts
func (u *UI) Register(mux httpapi.Router) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /ui/signin", u.signin)
	mux.HandleFunc("GET /ui/{$}", u.signedIn(u.dashboard))
	mux.HandleFunc("GET /ui/servers/{name}", u.signedIn(u.server))
	mux.HandleFunc("GET /ui/security", u.signedIn(u.security))
	mux.HandleFunc("GET /ui/add", u.signedIn(u.add))
	mux.HandleFunc("GET /ui/tools", u.signedIn(u.tools))
	mux.HandleFunc("GET /ui/static/{file}", u.static)
	mux.HandleFunc("GET /ui/", u.signedIn(func(w http.ResponseWriter, r *http.Request) {
		u.notFound(w, r, "There is no page at "+r.URL.Path+".")
	}))
}

// page is what every template gets.
type page struct {
	Title    string
	Page     string // which page: nav highlighting, data-page
	SignedIn bool
	Scripts  []string
	Query    string // the search box
	Server   string // the server of a server page
	Version  string
	// Validity is the configuration file's state, for the banner on
	// every page.
	Validity *ConfigValidity
	Data     any
}

// refreshHeader marks the request of a live page fetching itself again
// (static/app.js).
const refreshHeader = "X-Mcpproxy-Refresh"

// securityHeaders are sent with every page and static file.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// signedIn serves next to signed-in browsers and sends others to sign in,
// remembering where they were going (a path of this UI only).
func (u *UI) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u.opts.Auth == nil || !u.opts.Auth.Authenticated(r) {
			securityHeaders(w.Header())
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Location", "/ui/signin?next="+url.QueryEscape(r.URL.RequestURI()))
			w.WriteHeader(http.StatusSeeOther)
			return
		}
		next(w, r)
	}
}

// render writes page p with data, or a plain 500 when rendering fails (the
// buffer keeps a half-rendered page from reaching the browser).
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, p page) {
	p.Version = u.opts.Version
	if p.Page != "signin" {
		p.SignedIn = true
		if u.opts.Service != nil && p.Validity == nil {
			p.Validity = u.configValidity(r.Context())
		}
	}
	var buf bytes.Buffer
	pages := u.pages()
	t := pages[p.Page]
	if t == nil {
		t = pages["notfound"]
	}
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		u.log.Error("web UI page failed to render", "page", p.Page, "error", err)
		securityHeaders(w.Header())
		http.Error(w, "the page failed to render; see the main log", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (u *UI) signin(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if !localPath(next) {
		next = "/ui/"
	}
	u.render(w, r, http.StatusOK, page{Title: "Sign in", Page: "signin", Scripts: []string{"signin.js"}, Data: next})
}

// localPath reports whether p is a path of this UI (so that ?next= can
// never send a browser elsewhere).
func localPath(p string) bool {
	return strings.HasPrefix(p, "/ui/") && !strings.ContainsAny(p, "\\\r\n")
}

func (u *UI) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	u.render(w, r, http.StatusNotFound, page{Title: "Not found", Page: "notfound", Data: msg})
}

// failed renders a page for an error of the service: unknown servers are
// 404s, the rest 500s with the error's text.
func (u *UI) failed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrNotFound) {
		if r.Header.Get(refreshHeader) != "" {
			// A live page fetching itself again: its server is gone.
			// No 404 (the browser would log it as an error); the page
			// says so itself.
			securityHeaders(w.Header())
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		u.notFound(w, r, err.Error())
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	u.log.Warn("web UI: a page's data failed", "path", r.URL.Path, "error", err)
	u.render(w, r, http.StatusInternalServerError, page{Title: "Error", Page: "notfound", Data: "mcpproxy could not build this page: " + err.Error()})
}

// static serves the embedded stylesheet and scripts, revalidated by ETag.
func (u *UI) static(w http.ResponseWriter, r *http.Request) {
	u.staticOnce.Do(u.hashStatic)
	name := r.PathValue("file")
	tag, ok := u.etags[name]
	if !ok {
		securityHeaders(w.Header())
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	securityHeaders(h)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", tag)
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	switch path.Ext(name) {
	case ".js":
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		h.Set("Content-Type", "text/css; charset=utf-8")
	case ".svg":
		h.Set("Content-Type", "image/svg+xml")
	}
	b, _ := staticFiles.ReadFile("static/" + name)
	_, _ = w.Write(b)
}

func (u *UI) hashStatic() {
	u.etags = map[string]string{}
	entries, _ := fs.ReadDir(staticFiles, "static")
	for _, e := range entries {
		b, err := staticFiles.ReadFile("static/" + e.Name())
		if err != nil {
			continue
		}
		sum := sha256.Sum256(b)
		u.etags[e.Name()] = fmt.Sprintf(`"%s"`, hex.EncodeToString(sum[:8]))
	}
}
