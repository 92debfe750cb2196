package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// SessionCookie is the name of the web UI's session cookie.
const SessionCookie = "mcpproxy_session"

// SessionTTL is how long a web UI session lasts.
const SessionTTL = 12 * time.Hour

// maxSessions bounds the sessions kept in memory; the oldest goes first.
const maxSessions = 64

// Auth checks mcpproxy's API key on the routes it guards. The key is
// accepted as "Authorization: Bearer KEY" or "X-API-Key: KEY", compared in
// constant time; never from a URL (URLs land in logs and browser history).
// The web UI signs in once with the key (POST /api/v1/session) and then
// uses a session cookie (HttpOnly, SameSite=Strict) that is good only for
// the key it was made with.
type Auth struct {
	// Key returns the key in force; "" refuses every request.
	Key func() string
	// Where tells a refused client where the key is ("api_key in
	// ~/.mcpproxy/mcp_config.json").
	Where string

	mu       sync.Mutex
	sessions map[string]session // token → session
}

type session struct {
	keySum  [sha256.Size]byte // the key it was made with
	expires time.Time
}

// check reports whether key is the key in force, in constant time.
func (a *Auth) check(key string) bool {
	want := a.Key()
	if want == "" || key == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(key)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// requestKey returns the key a request carries in its headers and whether
// it carries one at all.
func requestKey(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, key, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", true
		}
		return strings.TrimSpace(key), true
	}
	if k := r.Header.Get("X-API-Key"); k != "" {
		return strings.TrimSpace(k), true
	}
	return "", false
}

// Require serves next only to requests with the key or a live session
// cookie; others get 401 with a JSON error. A cookie-authenticated request
// that changes something must also come from a page of this origin (the
// Guard refuses other origins; here the Origin header must be present).
func (a *Auth) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key, sent := requestKey(r); sent {
			if !a.check(key) {
				a.refuse(w, false, "wrong API key")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(SessionCookie); err == nil && a.validSession(c.Value) {
			if !safeMethod(r.Method) && r.Header.Get("Origin") == "" {
				a.refuse(w, false, "a request made with the session cookie must come from the web UI (no Origin header)")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		a.refuse(w, false, "missing API key")
	})
}

// RequireKey serves next only to requests with the key (no session cookie:
// for MCP endpoints) when required reports true; otherwise it serves every
// request. Refusals are JSON-RPC errors.
func (a *Auth) RequireKey(required func() bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if required() {
			key, sent := requestKey(r)
			if !a.check(key) {
				msg := "missing API key"
				if sent {
					msg = "wrong API key"
				}
				a.refuse(w, true, msg+" (require_mcp_auth is on)")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (a *Auth) refuse(w http.ResponseWriter, jsonrpc bool, why string) {
	msg := "Unauthorized: " + why + ": send the API key as \"Authorization: Bearer KEY\" or \"X-API-Key: KEY\""
	if a.Where != "" {
		msg += " (the key is " + a.Where + ")"
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="mcpproxy"`)
	if jsonrpc {
		writeJSONRPCError(w, http.StatusUnauthorized, -32001, msg)
		return
	}
	WriteError(w, http.StatusUnauthorized, msg)
}

// Authenticated reports whether r carries the API key or a live session
// cookie (what Require lets through for a GET), for pages that send a
// signed-out browser to the sign-in page instead of answering 401.
func (a *Auth) Authenticated(r *http.Request) bool {
	if key, sent := requestKey(r); sent {
		return a.check(key)
	}
	c, err := r.Cookie(SessionCookie)
	return err == nil && a.validSession(c.Value)
}

// RegisterSession adds the web UI's sign-in routes to mux:
//
//	POST   /api/v1/session  {"api_key": KEY} → 204 and the session cookie
//	GET    /api/v1/session  → {"authenticated": bool}
//	DELETE /api/v1/session  → 204, the session ended
//
// They are not behind Require: signing in is how a browser gets a session.
func (a *Auth) RegisterSession(mux Router) {
	mux.HandleFunc("POST /api/v1/session", a.signIn)
	mux.HandleFunc("GET /api/v1/session", func(w http.ResponseWriter, r *http.Request) {
		ok := false
		if c, err := r.Cookie(SessionCookie); err == nil {
			ok = a.validSession(c.Value)
		}
		if key, sent := requestKey(r); sent {
			ok = a.check(key)
		}
		WriteJSON(w, http.StatusOK, SessionState{Authenticated: ok})
	})
	mux.HandleFunc("DELETE /api/v1/session", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(SessionCookie); err == nil {
			a.mu.Lock()
			delete(a.sessions, c.Value)
			a.mu.Unlock()
		}
		http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		w.WriteHeader(http.StatusNoContent)
	})
}

func (a *Auth) signIn(w http.ResponseWriter, r *http.Request) {
	var body struct {
		APIKey string `json:"api_key"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.APIKey == "" {
		WriteError(w, http.StatusBadRequest, `body must be {"api_key": "…"}`)
		return
	}
	if !a.check(body.APIKey) {
		a.refuse(w, false, "wrong API key")
		return
	}
	token, err := newToken()
	if err != nil {
		WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	now := time.Now()
	a.mu.Lock()
	if a.sessions == nil {
		a.sessions = map[string]session{}
	}
	a.pruneLocked(now)
	a.sessions[token] = session{keySum: sha256.Sum256([]byte(body.APIKey)), expires: now.Add(SessionTTL)}
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", MaxAge: int(SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// pruneLocked drops expired sessions and, beyond maxSessions, the ones
// closest to expiry.
func (a *Auth) pruneLocked(now time.Time) {
	for t, s := range a.sessions {
		if now.After(s.expires) {
			delete(a.sessions, t)
		}
	}
	for len(a.sessions) >= maxSessions {
		var oldest string
		for t, s := range a.sessions {
			if oldest == "" || s.expires.Before(a.sessions[oldest].expires) {
				oldest = t
			}
		}
		delete(a.sessions, oldest)
	}
}

// validSession reports whether token is a live session made with the key
// in force (a changed key ends every session).
func (a *Auth) validSession(token string) bool {
	want := a.Key()
	if want == "" || token == "" {
		return false
	}
	sum := sha256.Sum256([]byte(want))
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[token]
	if !ok {
		return false
	}
	if time.Now().After(s.expires) || subtle.ConstantTimeCompare(s.keySum[:], sum[:]) != 1 {
		delete(a.sessions, token)
		return false
	}
	return true
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", errors.New("session: no randomness")
	}
	return hex.EncodeToString(b), nil
}
