package apiclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/datadir"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "mcp_config.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The address comes from the running proxy's lock file, else the config's
// listen, else the default; an unspecified host is loopback.
func TestFromConfigAddress(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, `{"api_key": "`+key+`"}`)
	c, err := FromConfig(dir, cfg)
	if err != nil || c.Base != "http://127.0.0.1:8080" || c.Key != key {
		t.Fatalf("default: %+v %v", c, err)
	}
	cfg = writeConfig(t, dir, `{"api_key": "`+key+`", "listen": "0.0.0.0:9001"}`)
	if c, _ := FromConfig(dir, cfg); c.Base != "http://127.0.0.1:9001" {
		t.Fatalf("listen: %s", c.Base)
	}
	l, err := datadir.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.SetListen("[::]:9002"); err != nil {
		t.Fatal(err)
	}
	if c, _ := FromConfig(dir, cfg); c.Base != "http://127.0.0.1:9002" || !strings.Contains(c.Source, "pid") {
		t.Fatalf("running: %+v", c)
	}
	t.Setenv(KeyEnv, strings.Repeat("e", 64))
	if c, _ := FromConfig(dir, cfg); c.Key != strings.Repeat("e", 64) {
		t.Fatal("MCPPROXY_API_KEY is not used")
	}
}

func TestFromConfigWithoutKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := FromConfig(dir, writeConfig(t, dir, `{}`)); err == nil || !strings.Contains(err.Error(), "has no api_key") {
		t.Fatalf("no key: %v", err)
	}
}

func TestRequests(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type"))
		switch {
		case r.Header.Get("Authorization") != "Bearer "+key:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"Unauthorized: wrong API key"}`))
		case strings.HasSuffix(r.URL.Path, "/tools/approve"):
			_, _ = w.Write([]byte(`{"server":"a b","approved":["x"]}`))
		case strings.HasSuffix(r.URL.Path, "/tools"):
			_, _ = w.Write([]byte(`{"server":"a b","live":true,"pinned":true,"tools":[]}`))
		case strings.HasSuffix(r.URL.Path, "/approve"):
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"server \"a b\": server not found"}`))
		default:
			_, _ = w.Write([]byte(`{"servers":[{"name":"s","state":"ready"}]}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := &Client{Base: srv.URL, Key: key, Source: "test"}
	if l, err := c.Servers(ctx); err != nil || len(l.Servers) != 1 || l.Servers[0].State != "ready" {
		t.Fatalf("servers: %+v %v", l, err)
	}
	if st, err := c.Tools(ctx, "a b", true); err != nil || !st.Live {
		t.Fatalf("tools: %+v %v", st, err)
	}
	if r, err := c.ApproveTools(ctx, "a b", trust.ToolApproval{All: true}); err != nil || r.Approved[0] != "x" {
		t.Fatalf("approve tools: %+v %v", r, err)
	}
	_, err := c.ApproveServer(ctx, "a b", "")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || !strings.Contains(err.Error(), "server not found") {
		t.Fatalf("approve: %v", err)
	}
	want := []string{
		"GET /api/v1/servers Bearer " + key + " ",
		"GET /api/v1/servers/a%20b/tools?changed=1 Bearer " + key + " ",
		"POST /api/v1/servers/a%20b/tools/approve Bearer " + key + " application/json",
		"POST /api/v1/servers/a%20b/approve Bearer " + key + " ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c.Key = "wrong"
	if _, err := c.Servers(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestNotRunning(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := &Client{Base: "http://" + addr, Key: key, Source: "listen in x.json"}
	_, err = c.Servers(context.Background())
	var nr *NotRunningError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "mcpproxy is not running at http://"+addr+" (listen in x.json)") {
		t.Fatalf("not running: %v", err)
	}
}
