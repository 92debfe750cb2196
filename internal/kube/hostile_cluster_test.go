package kube

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/probe"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// TestKubeHostileServerInPod runs the hostile fixture server in a pod with
// the hardened profile and lets it try the doors: it is not root, holds no
// capability, cannot gain privileges through its setuid helper, cannot
// write its root filesystem, and a fork bomb stops at the node's PID limit
// for the pod (podPidsLimit 256 on the test node) while the server keeps
// answering.
func TestKubeHostileServerInPod(t *testing.T) {
	img := testutil.HostileImage(t)
	e := newKubeEnv(t, img)
	r := e.runtime(t)
	plan := hardenedPlan("hostile", img, "/hostile")
	plan.MemoryBytes = 512 << 20 // docker_isolation.memory_limit's default
	c, stderr := start(t, r, plan, nil)
	defer func() {
		if t.Failed() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			select {
			case <-c.Done():
				t.Logf("container ended: %+v (stream: %v)", c.Exit(ctx), c.(*podContainer).streamErr)
			default:
				t.Log("container still attached")
			}
			t.Logf("server stderr:\n%s", stderr)
		}
	}()
	cs := connectMCP(t, c)

	var id struct {
		Identity probe.Identity `json:"identity"`
	}
	if err := json.Unmarshal([]byte(callText(t, cs, "identity", nil)), &id); err != nil {
		t.Fatal(err)
	}
	got := id.Identity
	if got.UID == 0 || got.EUID == 0 {
		t.Errorf("uid %d euid %d: root inside the pod", got.UID, got.EUID)
	}
	if got.CapEff != probe.NoCaps || got.CapPrm != probe.NoCaps || got.CapAmb != probe.NoCaps {
		t.Errorf("capabilities eff %s prm %s amb %s, want none", got.CapEff, got.CapPrm, got.CapAmb)
	}
	if got.NoNewPrivs != 1 || got.Seccomp != 2 {
		t.Errorf("no_new_privs %d seccomp %d, want 1 and 2", got.NoNewPrivs, got.Seccomp)
	}

	var setuid probe.Attempt
	if err := json.Unmarshal([]byte(callText(t, cs, "setuid", nil)), &setuid); err != nil {
		t.Fatal(err)
	}
	if setuid.Allowed {
		t.Errorf("the setuid-root helper gained privileges: %+v", setuid)
	}

	for _, dir := range []string{"/", "/etc", "/usr", "/home"} {
		var w probe.WriteResult
		if err := json.Unmarshal([]byte(callText(t, cs, "write", map[string]any{"dir": dir})), &w); err != nil {
			t.Fatal(err)
		}
		if w.Error == "" || w.Wrote > 0 {
			t.Errorf("wrote %d bytes into %s (read-only root expected)", w.Wrote, dir)
		}
	}
	var tmp probe.WriteResult
	if err := json.Unmarshal([]byte(callText(t, cs, "write", map[string]any{"dir": "/tmp", "bytes": 1 << 20})), &tmp); err != nil {
		t.Fatal(err)
	}
	if tmp.Error != "" {
		t.Errorf("the /tmp emptyDir is not writable: %+v", tmp)
	}

	var bomb probe.ForkResult
	if err := json.Unmarshal([]byte(callText(t, cs, "fork_bomb", map[string]any{"max": 100000, "hold_ms": 300})), &bomb); err != nil {
		t.Fatal(err)
	}
	t.Logf("fork bomb: %+v", bomb)
	if bomb.Error == "" || bomb.Started >= 256 {
		t.Errorf("fork bomb started %d processes (%q), want it refused below the node's podPidsLimit of 256", bomb.Started, bomb.Error)
	}
	if got := callText(t, cs, "echo", map[string]any{"text": "after the bomb"}); got != "after the bomb" {
		t.Errorf("echo after the bomb = %q", got)
	}
}
