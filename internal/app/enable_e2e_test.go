package app

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// TestMCPClientCannotStartWhatRunsOutsideTheBox: while isolation is on, a
// server a person disabled that would run outside mcpproxy's containers —
// opted out (isolation.enabled: false), a docker command, or loosened by
// hand (allow_dangerous) — is not an MCP client's to start: `enable` and
// `update {"enabled": true}` are refused, the file keeps "enabled": false
// and nothing runs on the host (before, both were accepted and the opted-out
// server's command ran on the host). A client may still disable such a
// server, and enable one that runs in a container.
func TestMCPClientCannotStartWhatRunsOutsideTheBox(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	bin := testutil.FixtureBinary(t)
	canary := newCanary(t)
	onHost := stdioServer("onhost", "/bin/sh", "-c", "echo started >> "+string(canary)+" && exec "+bin)
	onHost["isolation"] = map[string]any{"enabled": false}
	onHost["enabled"] = false
	dind := stdioServer("dind", "docker", "run", "-i", "--rm", "--label", "mcpproxy-e2e.case=enable-"+randomHex(t, 4), image, "/mcpfixture")
	dind["enabled"] = false
	loose := isoServer("loose", image, map[string]any{"allow_dangerous": true, "extra_args": []string{"--cap-add=NET_ADMIN"}}, "/mcpfixture")
	loose["enabled"] = false
	boxed := isoServer("boxed", image, nil, "/mcpfixture")
	boxed["enabled"] = false
	h := startIsolated(t, isoConfig(t, nil, onHost, dind, loose, boxed))
	cs := h.connect("/mcp", nil)

	for _, name := range []string{"onhost", "dind", "loose"} {
		for _, args := range []map[string]any{
			{"operation": "enable", "name": name},
			{"operation": "update", "name": name, "server": map[string]any{"enabled": true}},
		} {
			text, isErr := manage(t, cs, args)
			if !isErr || !strings.Contains(text, "enabled") || !strings.Contains(text, "a person can set it") {
				t.Errorf("%v: %s (error %v), want refused naming enabled and where a person sets it", args, text, isErr)
			}
		}
		h.waitState(name, upstream.StateDisabled, 5*time.Second)
	}
	canary.assertAbsent(t)
	b, err := os.ReadFile(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Servers []struct {
			Name    string `json:"name"`
			Enabled *bool  `json:"enabled"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	for _, s := range file.Servers {
		if s.Enabled == nil || *s.Enabled {
			t.Errorf("the file has %s enabled:\n%s", s.Name, b)
		}
	}
	// What runs in a container, a client may start and stop.
	if text, isErr := manage(t, cs, map[string]any{"operation": "enable", "name": "boxed"}); isErr {
		t.Fatalf("enable boxed: %s", text)
	}
	readyInContainer(t, cs, "boxed", 60*time.Second)
	if text, isErr := manage(t, cs, map[string]any{"operation": "disable", "name": "boxed"}); isErr {
		t.Fatalf("disable boxed: %s", text)
	}
	canary.assertAbsent(t)
}
