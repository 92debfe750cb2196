package app

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

// apiKeyIn reads the API key from the config file at path.
func apiKeyIn(t testing.TB, path string) string {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIKey == "" {
		t.Fatalf("%s has no api_key", path)
	}
	return cfg.APIKey
}

// apiRequest sends an authenticated REST request (key "" sends none) and
// returns the status and body.
func apiRequest(t testing.TB, method, url, key, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// api sends an authenticated REST request to the harness's proxy.
func (h *harness) api(method, path, body string) (int, []byte) {
	h.t.Helper()
	return apiRequest(h.t, method, h.url(path), apiKeyIn(h.t, h.cfgPath), body)
}
