// Package httpapi holds mcpproxy's HTTP plumbing: the guard applied to
// every route (DNS rebinding, cross-origin requests), API-key
// authentication with the web UI's session cookie, and the routes of the
// trust workflow (approving quarantined servers and changed tools).
package httpapi

import (
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Guard rejects requests a web page could have made: a DNS-rebinding attack
// (a page on some domain that resolves to this machine) and cross-origin
// requests. Host must be "localhost" or an IP literal (or one of
// extraHosts). Origin, when present, must be this origin: "null" (what a
// sandboxed iframe or a file: page sends) and every other origin are
// refused; a loopback origin on the same port as a loopback Host counts as
// this origin ("http://localhost:8080" for "127.0.0.1:8080"). A request
// with a body that changes something must be application/json, which a
// page can only send after a CORS preflight mcpproxy never answers.
func Guard(next http.Handler, extraHosts ...string) http.Handler {
	allowed := map[string]bool{}
	for _, h := range extraHosts {
		allowed[strings.ToLower(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No response is ever to be read as another type than it says
		// (a JSON answer holding a server's text sniffed as HTML).
		w.Header().Set("X-Content-Type-Options", "nosniff")
		host := hostOnly(r.Host)
		if !hostAllowed(host, allowed) {
			reject(w, http.StatusForbidden, "Forbidden: invalid Host header "+quote(r.Host)+" (mcpproxy accepts localhost or an IP address, to prevent DNS rebinding)")
			return
		}
		if origin, ok := r.Header["Origin"]; ok {
			if len(origin) != 1 || !sameOrigin(origin[0], r.Host) {
				reject(w, http.StatusForbidden, "Forbidden: cross-origin request from "+quote(strings.Join(origin, ", "))+" is not allowed (web pages cannot use mcpproxy)")
				return
			}
		}
		if !safeMethod(r.Method) && r.Method != http.MethodDelete && hasBody(r) {
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				reject(w, http.StatusUnsupportedMediaType, "Unsupported Media Type: the request body must be application/json")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether origin is the origin of a request to host.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.User != nil {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	oh, op := splitHostPort(u.Host, u.Scheme)
	rh, rp := splitHostPort(host, u.Scheme)
	return op == rp && isLoopbackName(oh) && isLoopbackName(rh)
}

// splitHostPort splits hostport, filling in the scheme's default port.
func splitHostPort(hostport, scheme string) (string, string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return strings.Trim(h, "[]"), p
	}
	if scheme == "https" {
		return strings.Trim(hostport, "[]"), "443"
	}
	return strings.Trim(hostport, "[]"), "80"
}

func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func reject(w http.ResponseWriter, status int, msg string) {
	writeJSONRPCError(w, status, -32000, msg)
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.Trim(h, "[]")
	}
	return strings.Trim(hostport, "[]")
}

func isLoopbackName(h string) bool {
	h = strings.ToLower(h)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func hostAllowed(h string, extra map[string]bool) bool {
	if h == "" {
		return false
	}
	if isLoopbackName(h) || extra[strings.ToLower(h)] {
		return true
	}
	return net.ParseIP(h) != nil
}

// IsLoopbackListen reports whether addr ("host:port") binds only loopback.
func IsLoopbackListen(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return isLoopbackName(h)
}
