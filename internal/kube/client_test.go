package kube

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/klog/v2"
)

// TestKlogKeepsBodiesOut: client-go's own log lines reach the backend's log
// at debug level, but never those of klog's higher verbosities, which print
// request bodies (a Secret's data among them).
func TestKlogKeepsBodiesOut(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	quietKlog(log)
	// client-go logs through the contextual logger, as here.
	logger := klog.Background()
	logger.V(8).Info("Request Body", "body", `{"data":{"API_KEY":"c2VjcmV0LWNhbmFyeQ=="}}`)
	logger.V(4).Info("Response Body", "body", "c2VjcmV0LWNhbmFyeQ==")
	logger.Info("client-go says something", "k", "v")
	logger.Error(nil, "client-go failed at something")
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if strings.Contains(out, "c2VjcmV0LWNhbmFyeQ==") || strings.Contains(out, "Body") {
		t.Errorf("a verbose klog line reached the log:\n%s", out)
	}
	for _, want := range []string{`level=DEBUG msg="client-go says something" k=v`, `level=DEBUG msg="client-go failed at something"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A kubeconfig path may start with "~/" (as users write it in the file).
func TestExpandHome(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	for in, want := range map[string]string{
		"~/.kube/config": filepath.Join(home, ".kube/config"),
		"/etc/kube/cfg":  "/etc/kube/cfg",
		"~other/cfg":     "~other/cfg",
		"":               "",
	} {
		if got := expandHome(in); got != want {
			t.Errorf("expandHome(%q) = %q, want %q", in, got, want)
		}
	}
}

// A kubeconfig file that does not exist, or a context it does not have, is
// refused naming the setting (and the contexts there are); a context that
// exists is used, with its namespace.
func TestConnectNamesTheSetting(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "config")
	cfg := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: "x"}
contexts:
- name: first
  context: {cluster: c, user: u}
- name: second
  context: {cluster: c, user: u, namespace: team-b}
current-context: first
`
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Options
		want []string
	}{
		{"missing file", Options{Kubeconfig: filepath.Join(dir, "nope")}, []string{"docker_isolation.kubernetes.kubeconfig", filepath.Join(dir, "nope")}},
		{"missing context", Options{Kubeconfig: kc, Context: "third"}, []string{"docker_isolation.kubernetes.context", `"third"`, "first, second"}},
	} {
		if _, err := connect(tc.o); err == nil {
			t.Errorf("%s: connected", tc.name)
		} else {
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q lacks %q", tc.name, err, w)
				}
			}
		}
	}
	c, err := connect(Options{Kubeconfig: kc, Context: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ns != "team-b" || !strings.Contains(c.source, "(context second)") {
		t.Errorf("namespace %q, source %q: want the context's", c.ns, c.source)
	}
	if c, err = connect(Options{Kubeconfig: kc, Context: "second", PodSettings: PodSettings{Namespace: "mine"}}); err != nil || c.ns != "mine" {
		t.Errorf("namespace %q (%v): want the setting's", c.ns, err)
	}
}
