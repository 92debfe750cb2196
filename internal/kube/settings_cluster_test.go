package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// TestKubeSettingsRefused: a kubernetes block naming what the cluster does
// not have — a service account, a RuntimeClass, a namespace — fails the
// start at once with the setting named, and leaves no pod.
func TestKubeSettingsRefused(t *testing.T) {
	img := testutil.FixtureImage(t)
	e := newKubeEnv(t, img)
	for _, tc := range []struct {
		name string
		mod  func(*Options)
		want []string
	}{
		{"service account", func(o *Options) { o.ServiceAccount = "no-such-sa" }, []string{"docker_isolation.kubernetes.service_account", `"no-such-sa"`}},
		{"runtime class", func(o *Options) { o.RuntimeClassName = "no-such-class" }, []string{"docker_isolation.kubernetes.runtime_class_name", `"no-such-class"`}},
		{"namespace", func(o *Options) { o.Namespace = "no-such-ns-" + randHex(t, 3) }, []string{"docker_isolation.kubernetes.namespace", "no-such-ns-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.runtime(t, tc.mod)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			began := time.Now()
			_, err := r.Start(ctx, hardenedPlan("refused", img, "/mcpfixture"), isolation.StartOptions{Name: isolation.ContainerName("refused", randHex(t, 4)),
				Env:    map[string]string{"A": "b"},
				Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: r.opts.Instance, isolation.LabelServer: "refused"}})
			t.Logf("after %v: %v", time.Since(began).Round(time.Millisecond), err)
			if err == nil {
				t.Fatal("started")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q", w)
				}
			}
			if time.Since(began) > 10*time.Second {
				t.Errorf("the refusal took %v", time.Since(began))
			}
			if m, err := r.ListManaged(ctx); err == nil && len(m) > 0 {
				t.Errorf("pods left after the refusal: %+v", m)
			}
		})
	}
}
