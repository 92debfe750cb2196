// Package httpapi holds mcpproxy's HTTP plumbing: the DNS-rebinding guard
// (Host and Origin checks) applied to every route, and the listener.
package httpapi

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Guard rejects requests whose Host or Origin could come from a DNS-rebinding
// attack: a web page on some domain that resolves to this machine. Host must
// be "localhost" or an IP literal (or one of extraHosts); Origin, when
// present, must be a loopback origin or match Host exactly.
func Guard(next http.Handler, extraHosts ...string) http.Handler {
	allowed := map[string]bool{}
	for _, h := range extraHosts {
		allowed[strings.ToLower(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostOnly(r.Host)
		if !hostAllowed(host, allowed) {
			reject(w, "Forbidden: invalid Host header "+quote(r.Host)+" (mcpproxy accepts localhost or an IP address, to prevent DNS rebinding)")
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
			u, err := url.Parse(origin)
			if err != nil || u.Host == "" {
				reject(w, "Forbidden: invalid Origin header "+quote(origin))
				return
			}
			oh := hostOnly(u.Host)
			if !isLoopbackName(oh) && !strings.EqualFold(u.Host, r.Host) && !allowed[strings.ToLower(oh)] {
				reject(w, "Forbidden: cross-origin request from "+quote(origin)+" is not allowed")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func reject(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0", "id": nil,
		"error": map[string]any{"code": -32000, "message": msg},
	})
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
