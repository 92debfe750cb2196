package doctor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// kubeConfig is a config of the kubernetes backend with two isolated
// servers, one of them with network none.
func kubeConfig(t *testing.T, kubeconfig, ns string) Env {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"docker_isolation": map[string]any{"enabled": true, "backend": "kubernetes",
			"kubernetes": map[string]any{"kubeconfig": kubeconfig, "namespace": ns}},
		"mcpServers": []any{
			map[string]any{"name": "sealed", "command": "/srv", "isolation": map[string]any{"image": "example/srv:1", "network_mode": "none"}},
			map[string]any{"name": "open", "command": "/srv", "isolation": map[string]any{"image": "example/srv:1"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return writeConfig(t, string(b))
}

func find(res []Result, check string) *Result {
	for i := range res {
		if res[i].Check == check {
			return &res[i]
		}
	}
	return nil
}

// With the kubernetes backend, doctor says which servers' network none is
// a NetworkPolicy that only the cluster's network plugin enforces, and
// fails the kubernetes line when the cluster does not answer.
func TestKubernetesBackendChecks(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: "x"}}]
contexts: [{name: a, context: {cluster: c, user: u}}]
current-context: a
`), 0o600); err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), kubeConfig(t, kc, "mcp"))
	k := find(res, "kubernetes")
	if k == nil || k.Status != Fail || !strings.Contains(k.Detail, "https://127.0.0.1:1") || !strings.Contains(k.Fix, "docker_isolation.kubernetes") {
		t.Errorf("kubernetes line: %+v", k)
	}
	n := find(res, "network none")
	if n == nil || n.Status != Warn || !strings.HasPrefix(n.Detail, "sealed: ") || strings.Contains(n.Detail, "open") ||
		!strings.Contains(n.Detail, "enforced only if the cluster's network plugin enforces NetworkPolicy") {
		t.Errorf("network none line: %+v", n)
	}
	if d := find(res, "docker binary"); d != nil {
		t.Errorf("a docker check ran with the kubernetes backend: %+v", d)
	}
}

// TestKubeDoctor: against the real cluster, the kubernetes line is OK and
// names the API server, the credentials and the namespace.
func TestKubeDoctor(t *testing.T) {
	k := testutil.RequireKube(t)
	ns := k.Namespace(t)
	res := Run(context.Background(), kubeConfig(t, k.Kubeconfig, ns))
	kl := find(res, "kubernetes")
	if kl == nil || kl.Status != OK || !strings.Contains(kl.Detail, "namespace "+ns) || !strings.Contains(kl.Detail, "https://127.0.0.1:") {
		t.Errorf("kubernetes line: %+v", kl)
	}
	if n := find(res, "network none"); n == nil || n.Status != Warn {
		t.Errorf("network none line: %+v", n)
	}
	var b strings.Builder
	Print(&b, res)
	t.Logf("doctor:\n%s", b.String())
}
