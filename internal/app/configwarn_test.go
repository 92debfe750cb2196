package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestConfigWarningsShown: a key mcpproxy does not know loads, and its
// warning is logged and listed by the servers API (the list view).
func TestConfigWarningsShown(t *testing.T) {
	h := startApp(t, "{\n  \"enable_tray\": true,\n  \"mcpServers\": []\n}\n")
	_, body := h.api(http.MethodGet, "/api/v1/servers", "")
	var list ServerList
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	want := `2:3: enable_tray: unknown key "enable_tray" is ignored`
	if len(list.ConfigWarnings) != 1 || list.ConfigWarnings[0] != want {
		t.Errorf("config_warnings = %q, want [%q]", list.ConfigWarnings, want)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "config warning") || !strings.Contains(logs, "enable_tray") {
		t.Errorf("the warning was not logged:\n%s", logs)
	}
}
