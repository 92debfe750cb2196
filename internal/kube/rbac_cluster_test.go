package kube

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// deployDir is deploy/kubernetes of the repository.
func deployDir(t testing.TB) string {
	t.Helper()
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "deploy", "kubernetes")
}

// applyDeployFiles applies the named files of deploy/kubernetes into ns
// (through kustomize, as a user would, so the RoleBinding's subject gets
// the namespace).
func applyDeployFiles(t *testing.T, k *testutil.KubeCluster, ns string, files ...string) {
	t.Helper()
	dir := t.TempDir()
	kust := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: " + ns + "\nresources:\n"
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(deployDir(t), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
		kust += "  - " + f + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
		t.Fatal(err)
	}
	k.Kubectl(t, "apply", "-k", dir)
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as
// service account sa of ns (a short-lived token), against the cluster of
// the admin kubeconfig.
func serviceAccountKubeconfig(t *testing.T, k *testutil.KubeCluster, ns, sa string) string {
	t.Helper()
	token := strings.TrimSpace(k.Kubectl(t, "-n", ns, "create", "token", sa, "--duration", "1h"))
	server := strings.TrimSpace(k.Kubectl(t, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
	ca := strings.TrimSpace(k.Kubectl(t, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority}"))
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + server + `", certificate-authority: "` + ca + `"}}]
users: [{name: u, user: {token: "` + token + `"}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ` + ns + `}}]
current-context: x
`
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKubeLeastRBAC: with the service account of deploy/kubernetes but no
// Role, Probe says which permissions are missing and where to get them;
// with the Role of deploy/kubernetes/rbac.yaml (and nothing more) the
// backend starts a server with a secret, talks to it over attach, reaps,
// and stops it.
func TestKubeLeastRBAC(t *testing.T) {
	img := testutil.FixtureImage(t)
	e := newKubeEnv(t, img)
	applyDeployFiles(t, e.k, e.ns, "serviceaccount.yaml")
	kc := serviceAccountKubeconfig(t, e.k, e.ns, "mcpproxy")
	r := e.runtime(t, func(o *Options) { o.Kubeconfig, o.Namespace = kc, "" })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := r.Probe(ctx, true)
	if st.Available || !strings.Contains(st.Error, "may not create pods") || !strings.Contains(st.Error, "deploy/kubernetes/rbac.yaml") || !strings.Contains(st.Error, e.ns) {
		t.Fatalf("probe without a Role = %+v", st)
	}

	applyDeployFiles(t, e.k, e.ns, "serviceaccount.yaml", "rbac.yaml")
	waitFor(t, 30*time.Second, "the Role in force", func() bool { return r.Probe(ctx, true).Available })
	if st := r.Probe(ctx, false); st.Version == "" || !strings.Contains(st.Source, kc) {
		t.Errorf("probe = %+v", st)
	}
	if err := r.Open(ctx); err != nil {
		t.Fatal(err)
	}
	plan := hardenedPlan("rbac", img, "/mcpfixture")
	plan.Network = "none"
	c, _ := start(t, r, plan, map[string]string{"TOKEN": "v-" + randHex(t, 6)})
	cs := connectMCP(t, c)
	if got := callText(t, cs, "echo", map[string]any{"text": "least"}); got != "least" {
		t.Errorf("echo = %q", got)
	}
	if _, err := r.Reap(ctx); err != nil {
		t.Errorf("reap with the Role: %v", err)
	}
	if err := c.Stop(ctx, time.Second); err != nil {
		t.Errorf("stop with the Role: %v", err)
	}
}
