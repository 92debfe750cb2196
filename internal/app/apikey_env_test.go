package app

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestAPIKeyFromEnvironment: with Options.APIKey (MCPPROXY_API_KEY) the
// key in force is the environment's; the config file keeps no key (nothing
// is generated or written), its own api_key is ignored, and the key never
// reaches the console or the log.
func TestAPIKeyFromEnvironment(t *testing.T) {
	key := strings.Repeat("k3y", 12)
	fileKey := strings.Repeat("f1le", 10)
	for _, tc := range []struct {
		name, cfg string
	}{
		{"no key in the file", `{"mcpServers": []}`},
		{"another key in the file", `{"api_key": "` + fileKey + `", "mcpServers": []}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startAppWith(t, tc.cfg, func(o *Options) { o.APIKey = key })
			if got, _ := os.ReadFile(h.cfgPath); string(got) != tc.cfg {
				t.Errorf("the config file changed:\n%s", got)
			}
			if code, _ := apiRequest(t, http.MethodGet, h.url("/api/v1/servers"), key, ""); code != http.StatusOK {
				t.Errorf("with the environment's key: status %d", code)
			}
			for _, k := range []string{"", fileKey} {
				if code, _ := apiRequest(t, http.MethodGet, h.url("/api/v1/servers"), k, ""); code != http.StatusUnauthorized {
					t.Errorf("with key %q: status %d, want 401", k, code)
				}
			}
			h.stop()
			if strings.Contains(h.console.String(), key) || strings.Contains(h.logs.String(), key) {
				t.Error("the key reached the console or the log")
			}
		})
	}
	if _, err := New(Options{DataDir: t.TempDir(), APIKey: "short"}); err == nil || !strings.Contains(err.Error(), APIKeyEnv) {
		t.Errorf("a short key: err = %v, want one naming %s", err, APIKeyEnv)
	}
}
