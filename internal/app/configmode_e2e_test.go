package app

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestConfigFileMadePrivate: a config file that holds the API key (and
// every server's env and header values) but is readable by other users
// gives any local account the key, hence the whole API. At start the proxy
// takes group and other permissions off it and says so (before, it served
// with a 0644 file silently; only `mcpproxy doctor` noticed).
func TestConfigFileMadePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes")
	}
	t.Parallel()
	cfg := `{"api_key": "` + strings.Repeat("k", 40) + `", "mcpServers": [], "docker_isolation": {"enabled": false}}`
	h := startAppWith(t, cfg, func(o *Options) {
		if err := os.Chmod(o.ConfigPath, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	fi, err := os.Stat(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("config file mode %04o after start, want 0600", perm)
	}
	if !strings.Contains(h.logs.String(), "config file") || !strings.Contains(h.logs.String(), "0644") {
		t.Errorf("the change is not logged:\n%s", h.logs.String())
	}
}
