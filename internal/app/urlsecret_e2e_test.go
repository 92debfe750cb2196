package app

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// TestURLSecretsNotShown: an HTTP server's URL often carries its
// credential — user info or a query parameter such as ?api_key=. The
// connection error names the URL (Go's url.Error masks the password only),
// and it reached last_error — which `upstream_servers list` gives any MCP
// client, no key needed — the REST list, the event stream and the main log.
// Each of those now shows the URL with those values masked.
func TestURLSecretsNotShown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there: every connection is refused
	const query, pass = "q-secret-5d1c0e2a", "p-secret-77b3aa90"
	url := fmt.Sprintf("http://user:%s@%s/mcp?api_key=%s&v=1", pass, addr, query)
	h := startApp(t, hostConfig(t, map[string]any{"name": "remote", "url": url}))
	cs := h.connect("/mcp", nil)
	deadline := time.Now().Add(15 * time.Second)
	for {
		var st upstream.Status
		if u := h.app.Manager().Get("remote"); u != nil {
			st = u.Status()
		}
		if strings.Contains(st.Error, "127.0.0.1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last_error never named the URL: %q", st.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mcpList := resultText(callTool(t, cs, "upstream_servers", map[string]any{"operation": "list"}))
	_, restList := h.api(http.MethodGet, "/api/v1/servers", "")
	mainLog, err := os.ReadFile(filepath.Join(h.dataDir, "logs", "main.log"))
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{
		"upstream_servers list (MCP, no key)": mcpList,
		"GET /api/v1/servers":                 string(restList),
		"main.log":                            string(mainLog),
		"console log":                         h.logs.String(),
	} {
		for _, secret := range []string{query, pass} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows the URL's secret %q", what, secret)
			}
		}
	}
	if !strings.Contains(mcpList, addr) {
		t.Errorf("upstream_servers list no longer names the failing address: %s", mcpList)
	}
}

// TestURLSecretsRedactedInConfigView: the configuration a person's API,
// UI and `upstream get` show of a server masks its URL's password and
// query values as it masks env and header values, and sending that masked
// URL back in a PATCH keeps the file's (a round trip never writes the
// placeholder into the file).
func TestURLSecretsRedactedInConfigView(t *testing.T) {
	t.Parallel()
	const query, pass = "q-secret-0a9d41c7", "p-secret-3be0f6d2"
	url := "http://user:" + pass + "@127.0.0.1:9/mcp?api_key=" + query + "&v=1"
	h := startApp(t, hostConfig(t, map[string]any{"name": "remote", "url": url, "enabled": false}))
	code, body := h.api(http.MethodGet, "/api/v1/servers/remote", "")
	if code != http.StatusOK {
		t.Fatalf("GET: %d %s", code, body)
	}
	for _, secret := range []string{query, pass} {
		if strings.Contains(string(body), secret) {
			t.Errorf("GET /api/v1/servers/remote shows %q:\n%s", secret, body)
		}
	}
	var d struct {
		Config struct {
			URL string `json:"url"`
		} `json:"config"`
	}
	if err := json.Unmarshal(body, &d); err != nil || !strings.Contains(d.Config.URL, "127.0.0.1:9/mcp") || !strings.Contains(d.Config.URL, "v=") {
		t.Fatalf("config.url = %q (%v), want the URL with its secrets masked", d.Config.URL, err)
	}
	patch, _ := json.Marshal(map[string]any{"url": d.Config.URL})
	if code, body := h.api(http.MethodPatch, "/api/v1/servers/remote", string(patch)); code != http.StatusOK {
		t.Fatalf("PATCH the shown url back: %d %s", code, body)
	}
	b, _ := os.ReadFile(h.cfgPath)
	var file struct {
		Servers []struct {
			URL string `json:"url"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal(b, &file); err != nil || len(file.Servers) != 1 || file.Servers[0].URL != url {
		t.Fatalf("the round trip changed the file's url (%v):\n%s", err, b)
	}
}
