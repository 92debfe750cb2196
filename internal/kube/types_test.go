package kube

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The scheme and codecs of the API groups are made when the backend first
// connects, never by linking it in or making a Runtime: a proxy that does
// not run pods does not pay for them. Checked in a fresh process (this
// test binary again), where no other test has connected yet.
func TestAPITypesMadeAtFirstConnection(t *testing.T) {
	if os.Getenv("MCPPROXY_KUBE_TYPES_CHILD") == "1" {
		apiTypesChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAPITypesMadeAtFirstConnection$", "-test.v")
	cmd.Env = append(os.Environ(), "MCPPROXY_KUBE_TYPES_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func apiTypesChild(t *testing.T) {
	if typesMade.Load() {
		t.Fatal("API types made before anything used the backend (at init)")
	}
	// A kubeconfig of a cluster that is never contacted: building the
	// clients needs no request.
	kc := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ns}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := New(Options{Kubeconfig: kc, Instance: "i"})
	_ = r.Name()
	_ = r.Namespace()
	if typesMade.Load() {
		t.Fatal("API types made by New")
	}
	if _, err := r.client(); err != nil {
		t.Fatal(err)
	}
	if !typesMade.Load() {
		t.Fatal("connected without the API types")
	}
	if ns := r.Namespace(); ns != "ns" {
		t.Fatalf("namespace %q", ns)
	}
}
