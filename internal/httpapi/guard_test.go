package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	g := Guard(ok, "mybox.lan")
	for _, tc := range []struct {
		host, origin string
		want         int
	}{
		{"127.0.0.1:8080", "", http.StatusNoContent},
		{"localhost:8080", "", http.StatusNoContent},
		{"[::1]:8080", "", http.StatusNoContent},
		{"10.1.2.3:8080", "", http.StatusNoContent}, // an IP literal cannot be rebound
		{"mybox.lan:8080", "", http.StatusNoContent},
		{"evil.example.com", "", http.StatusForbidden},
		{"evil.example.com:8080", "", http.StatusForbidden},
		{"127.0.0.1.nip.io:8080", "", http.StatusForbidden},
		{"", "", http.StatusForbidden},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", http.StatusNoContent},
		{"127.0.0.1:8080", "http://localhost:8080", http.StatusNoContent}, // the same server by another loopback name
		{"localhost:8080", "http://[::1]:8080", http.StatusNoContent},
		{"mybox.lan:8080", "http://mybox.lan:8080", http.StatusNoContent},
		{"127.0.0.1:80", "http://127.0.0.1", http.StatusNoContent},
		{"127.0.0.1:8080", "http://localhost:3000", http.StatusForbidden}, // another local web app
		{"127.0.0.1:8080", "http://127.0.0.1:8081", http.StatusForbidden},
		{"127.0.0.1:8080", "null", http.StatusForbidden}, // sandboxed iframe, file: page
		{"127.0.0.1:8080", "http://evil.example.com", http.StatusForbidden},
		{"127.0.0.1:8080", "http://evil.example.com:8080", http.StatusForbidden},
		{"mybox.lan:8080", "http://127.0.0.1:8080", http.StatusForbidden},
		{"127.0.0.1:8080", "file://", http.StatusForbidden},
		{"127.0.0.1:8080", "chrome-extension://abc", http.StatusForbidden},
		{"127.0.0.1:8080", "http://127.0.0.1:8080/path", http.StatusForbidden},
		{"127.0.0.1:8080", "::not a url", http.StatusForbidden},
		{"127.0.0.1:8080", " ", http.StatusForbidden},
	} {
		r := httptest.NewRequest("GET", "/mcp", nil)
		r.Host = tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("host %q origin %q: %d, want %d", tc.host, tc.origin, w.Code, tc.want)
		}
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("host %q origin %q: X-Content-Type-Options %q, want nosniff on every answer", tc.host, tc.origin, got)
		}
	}
	// An empty Origin header is still a header a page sent.
	r := httptest.NewRequest("GET", "/mcp", nil)
	r.Header["Origin"] = []string{""}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Errorf("empty Origin: %d", w.Code)
	}
}

// A body that changes something must be JSON: a page's text/plain or form
// POST (which needs no CORS preflight) is refused before any handler.
func TestGuardContentType(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	g := Guard(ok)
	for _, tc := range []struct {
		method, ctype, body string
		want                int
	}{
		{"POST", "application/json", `{}`, http.StatusNoContent},
		{"POST", "application/json; charset=utf-8", `{}`, http.StatusNoContent},
		{"PATCH", "application/json", `{}`, http.StatusNoContent},
		{"POST", "text/plain", `{"enabled":false}`, http.StatusUnsupportedMediaType},
		{"PATCH", "text/plain", `{"enabled":false}`, http.StatusUnsupportedMediaType},
		{"POST", "application/x-www-form-urlencoded", `a=b`, http.StatusUnsupportedMediaType},
		{"POST", "multipart/form-data; boundary=x", `--x--`, http.StatusUnsupportedMediaType},
		{"POST", "", `{}`, http.StatusUnsupportedMediaType},
		{"POST", "", "", http.StatusNoContent}, // no body
		{"DELETE", "", "", http.StatusNoContent},
		{"GET", "text/plain", "", http.StatusNoContent},
	} {
		r := httptest.NewRequest(tc.method, "/api/v1/x", strings.NewReader(tc.body))
		r.Host = "127.0.0.1:8080"
		if tc.ctype != "" {
			r.Header.Set("Content-Type", tc.ctype)
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s %q %q: %d, want %d", tc.method, tc.ctype, tc.body, w.Code, tc.want)
		}
	}
}

func TestIsLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:1": true, "[::1]:80": true,
		"0.0.0.0:8080": false, ":8080": false, "192.168.1.2:80": false, "bad": false,
	} {
		if got := IsLoopbackListen(addr); got != want {
			t.Errorf("%s: %v, want %v", addr, got, want)
		}
	}
}
