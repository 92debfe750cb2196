package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

const testKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func newTestAuth() (*Auth, *atomic.Pointer[string]) {
	var key atomic.Pointer[string]
	k := testKey
	key.Store(&k)
	return &Auth{Key: func() string { return *key.Load() }, Where: `"api_key" in /x/mcp_config.json`}, &key
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })

func do(h http.Handler, method string, hdr map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	var body *strings.Reader
	if method == "POST" {
		body = strings.NewReader(`{}`)
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, "/api/v1/servers", body)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRequire(t *testing.T) {
	a, _ := newTestAuth()
	h := a.Require(okHandler)
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no key", nil, http.StatusUnauthorized},
		{"bearer", map[string]string{"Authorization": "Bearer " + testKey}, http.StatusTeapot},
		{"bearer lower case", map[string]string{"Authorization": "bearer " + testKey}, http.StatusTeapot},
		{"x-api-key", map[string]string{"X-API-Key": testKey}, http.StatusTeapot},
		{"wrong bearer", map[string]string{"Authorization": "Bearer " + strings.ToUpper(testKey)}, http.StatusUnauthorized},
		{"prefix of the key", map[string]string{"Authorization": "Bearer " + testKey[:32]}, http.StatusUnauthorized},
		{"key plus more", map[string]string{"X-API-Key": testKey + "0"}, http.StatusUnauthorized},
		{"basic scheme", map[string]string{"Authorization": "Basic " + testKey}, http.StatusUnauthorized},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, http.StatusUnauthorized},
		// A wrong Authorization is not rescued by a right X-API-Key.
		{"wrong bearer, right x-api-key", map[string]string{"Authorization": "Bearer nope", "X-API-Key": testKey}, http.StatusUnauthorized},
	} {
		w := do(h, "GET", tc.hdr)
		if w.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.want)
			continue
		}
		if w.Code == http.StatusUnauthorized {
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || !strings.Contains(body["error"], "Bearer") ||
				!strings.Contains(body["error"], "mcp_config.json") || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s: 401 body %q (%s)", tc.name, w.Body.String(), w.Header().Get("Content-Type"))
			}
			if strings.Contains(w.Body.String(), testKey) {
				t.Errorf("%s: the refusal shows the key", tc.name)
			}
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s: no WWW-Authenticate", tc.name)
			}
		}
	}
	// No key in force refuses everything, even an empty key.
	none := &Auth{Key: func() string { return "" }}
	if w := do(none.Require(okHandler), "GET", map[string]string{"Authorization": "Bearer "}); w.Code != http.StatusUnauthorized {
		t.Errorf("no key in force: %d", w.Code)
	}
}

func TestRequireKeyForMCP(t *testing.T) {
	a, _ := newTestAuth()
	required := false
	h := a.RequireKey(func() bool { return required }, okHandler)
	if w := do(h, "POST", nil); w.Code != http.StatusTeapot {
		t.Fatalf("not required: %d", w.Code)
	}
	required = true
	w := do(h, "POST", nil)
	var msg struct {
		JSONRPC string `json:"jsonrpc"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if w.Code != http.StatusUnauthorized || json.Unmarshal(w.Body.Bytes(), &msg) != nil || msg.JSONRPC != "2.0" || !strings.Contains(msg.Error.Message, "require_mcp_auth") {
		t.Fatalf("required, no key: %d %s", w.Code, w.Body)
	}
	if w := do(h, "POST", map[string]string{"X-API-Key": "wrong"}); w.Code != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", w.Code)
	}
	if w := do(h, "POST", map[string]string{"Authorization": "Bearer " + testKey}); w.Code != http.StatusTeapot {
		t.Fatalf("right key: %d", w.Code)
	}
}

// The web UI signs in once and then uses an HttpOnly, SameSite=Strict
// cookie; the cookie is worth nothing once the key changes or it is
// signed out, and a change made with it must carry an Origin.
func TestSession(t *testing.T) {
	a, key := newTestAuth()
	mux := http.NewServeMux()
	a.RegisterSession(mux)
	mux.Handle("/api/v1/servers", a.Require(okHandler))

	signIn := func(k string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(`{"api_key":`+jsonQuote(k)+`}`))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	if w := signIn("wrong"); w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
		t.Fatalf("wrong key signs in: %d", w.Code)
	}
	w := signIn(testKey)
	cookies := w.Result().Cookies()
	if w.Code != http.StatusNoContent || len(cookies) != 1 {
		t.Fatalf("sign in: %d %v", w.Code, cookies)
	}
	c := cookies[0]
	if c.Name != SessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Value == "" || strings.Contains(c.Value, testKey) {
		t.Fatalf("cookie %+v", c)
	}
	if w := do(mux, "GET", nil, c); w.Code != http.StatusTeapot {
		t.Fatalf("GET with the session: %d", w.Code)
	}
	if w := do(mux, "POST", nil, c); w.Code != http.StatusUnauthorized {
		t.Fatalf("POST with the session and no Origin: %d", w.Code)
	}
	if w := do(mux, "POST", map[string]string{"Origin": "http://127.0.0.1:8080"}, c); w.Code != http.StatusTeapot {
		t.Fatalf("POST with the session from the UI: %d", w.Code)
	}
	if w := do(mux, "GET", nil, &http.Cookie{Name: SessionCookie, Value: strings.Repeat("0", 64)}); w.Code != http.StatusUnauthorized {
		t.Fatalf("a forged session: %d", w.Code)
	}

	// A new key ends the session.
	k2 := strings.Repeat("f", 64)
	key.Store(&k2)
	if w := do(mux, "GET", nil, c); w.Code != http.StatusUnauthorized {
		t.Fatalf("session after a key change: %d", w.Code)
	}
	key.Store(new(testKey))
	if w := do(mux, "GET", nil, c); w.Code != http.StatusUnauthorized {
		t.Fatalf("a session ended by a key change came back: %d", w.Code)
	}

	// Sign out.
	c = signIn(testKey).Result().Cookies()[0]
	r := httptest.NewRequest("DELETE", "/api/v1/session", nil)
	r.AddCookie(c)
	mux.ServeHTTP(httptest.NewRecorder(), r)
	if w := do(mux, "GET", nil, c); w.Code != http.StatusUnauthorized {
		t.Fatalf("session after sign-out: %d", w.Code)
	}
	// Sessions are bounded.
	for range 3 * maxSessions {
		signIn(testKey)
	}
	if n := len(a.sessions); n > maxSessions {
		t.Fatalf("%d sessions kept", n)
	}
}

func jsonQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
