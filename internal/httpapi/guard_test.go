package httpapi

import (
	"net/http"
	"net/http/httptest"
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
		{"127.0.0.1:8080", "http://localhost:3000", http.StatusNoContent},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", http.StatusNoContent},
		{"127.0.0.1:8080", "null", http.StatusNoContent},
		{"127.0.0.1:8080", "http://evil.example.com", http.StatusForbidden},
		{"127.0.0.1:8080", "::not a url", http.StatusForbidden},
	} {
		r := httptest.NewRequest("POST", "/mcp", nil)
		r.Host = tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("host %q origin %q: %d, want %d", tc.host, tc.origin, w.Code, tc.want)
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
