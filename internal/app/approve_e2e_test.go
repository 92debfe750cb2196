package app

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// TestApprovalIsOfWhatWasShown: a person approves the quarantined server
// they were shown, not whatever an MCP client changed it into meanwhile.
// The list view gives the waiting server a fingerprint of its entry; an
// approval that carries it (the web UI's buttons and `mcpproxy upstream
// approve` do) is refused with 409 once an MCP client has changed the
// server, which stays quarantined and runs nothing; the new fingerprint
// approves what the person then sees.
func TestApprovalIsOfWhatWasShown(t *testing.T) {
	t.Parallel()
	bin := testutil.FixtureBinary(t)
	canary := newCanary(t)
	h := startApp(t, hostConfig(t, stdioServer("trusted", bin, "-name", "trusted")))
	h.waitState("trusted", upstream.StateReady, 30*time.Second)
	cs := h.connect("/mcp", nil)

	run := func(tag string) []string {
		return []string{"-c", "echo " + tag + " >> " + string(canary) + " && exec " + bin}
	}
	if text, isErr := manage(t, cs, map[string]any{"operation": "add", "server": map[string]any{"name": "q", "command": "/bin/sh", "args": run("shown")}}); isErr {
		t.Fatalf("add: %s", text)
	}
	h.waitState("q", upstream.StateQuarantined, 10*time.Second)
	fingerprint := func() string {
		t.Helper()
		code, body := h.api(http.MethodGet, "/api/v1/servers/q", "")
		var v struct {
			Quarantine *struct {
				Fingerprint string `json:"fingerprint"`
				Launch      struct {
					Args []string `json:"args"`
				} `json:"launch"`
			} `json:"quarantine"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &v) != nil || v.Quarantine == nil || v.Quarantine.Fingerprint == "" {
			t.Fatalf("GET q: %d %s", code, body)
		}
		return v.Quarantine.Fingerprint
	}
	shown := fingerprint()

	// The person looks; then a prompt-injected client swaps what q runs.
	if text, isErr := manage(t, cs, map[string]any{"operation": "update", "name": "q", "server": map[string]any{"args": run("swapped")}}); isErr {
		t.Fatalf("update: %s", text)
	}
	code, body := h.api(http.MethodPost, "/api/v1/servers/q/approve", `{"fingerprint": "`+shown+`"}`)
	if code != http.StatusConflict || !strings.Contains(string(body), "changed") {
		t.Fatalf("approve with the fingerprint shown before the change: %d %s, want 409", code, body)
	}
	h.waitState("q", upstream.StateQuarantined, 5*time.Second)
	canary.assertAbsent(t)
	if b, _ := os.ReadFile(h.cfgPath); !strings.Contains(string(b), `"quarantined": true`) {
		t.Fatalf("the refused approval released q:\n%s", b)
	}

	now := fingerprint()
	if now == shown {
		t.Fatalf("the fingerprint did not change with the args: %s", now)
	}
	if code, body := h.api(http.MethodPost, "/api/v1/servers/q/approve", `{"fingerprint": "`+now+`"}`); code != http.StatusOK {
		t.Fatalf("approve with the current fingerprint: %d %s", code, body)
	}
	h.waitState("q", upstream.StateReady, 30*time.Second)
	if b, err := os.ReadFile(string(canary)); err != nil || strings.TrimSpace(string(b)) != "swapped" {
		t.Fatalf("canary after approval = %q, %v; want the approved command's mark", b, err)
	}
	// A malformed fingerprint is a field error, not a silent approval.
	if code, body := h.api(http.MethodPost, "/api/v1/servers/trusted/approve", `{"fingerprint": 7}`); code != http.StatusBadRequest {
		t.Fatalf("approve with a non-string fingerprint: %d %s", code, body)
	}
}
