package kube

import (
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var goldenLabels = map[string]string{
	isolation.LabelManaged:  "true",
	isolation.LabelInstance: "0123456789abcdef",
	isolation.LabelServer:   "everything",
	isolation.LabelHost:     "h0st",
	isolation.LabelDataDir:  "d4t4",
}

// TestBuildObjectsGolden renders the objects of a catalogue of plans to
// testdata/*.golden.yaml, a readable record of how a plan becomes a pod.
// Run `go test ./internal/kube -run Golden -update` after an intended change
// and review the diff.
func TestBuildObjectsGolden(t *testing.T) {
	owner := &metav1.OwnerReference{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Name: "mcpproxy-instance-0123456789abcdef", UID: "lease-uid"}
	relaxed := &isolation.Plan{
		Server: "py", Runtime: "python", Image: "python:3.11", Command: "python", Args: []string{"-m", "my_server"},
		WorkingDir: "/app", MemoryBytes: 512 << 20, MilliCPUs: 1000, Network: "bridge", Profile: "relaxed",
	}
	withVolume := hardenedPlan("npx_cache", "node:20", "npx", "-y", "@modelcontextprotocol/server-everything")
	withVolume.Mounts = []isolation.Mount{{Type: isolation.MountVolume, Source: "mcpproxy_npm_cache", Target: "/home/mcp/.npm", Reason: "package cache"}}
	withVolume.Network = "none"
	tests := []struct {
		name     string
		plan     *isolation.Plan
		env      map[string]string
		settings PodSettings
	}{
		{
			name: "hardened", plan: hardenedPlan("everything", "mcpproxy-test/everything:1", "/everything-server"),
			env: map[string]string{"API_KEY": "sk-secret-value", "weird name!": "x", "HOME": "/custom"},
			settings: PodSettings{Namespace: "mcp", ServiceAccount: "mcp-servers", RuntimeClassName: "gvisor",
				NodeSelector: map[string]string{"pool": "mcp"}, ImagePullPolicy: "Never", Owner: owner},
		},
		{name: "relaxed", plan: relaxed, settings: PodSettings{Namespace: "default"}},
		{name: "volume-network-none", plan: withVolume, settings: PodSettings{Namespace: "mcp", Owner: owner}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels := maps.Clone(goldenLabels)
			labels[isolation.LabelServer] = tt.plan.Server
			objs, err := BuildObjects(tt.plan, isolation.StartOptions{Name: isolation.ContainerName(tt.plan.Server, "ab12cd34"), Labels: labels, Env: tt.env}, tt.settings)
			if err != nil {
				t.Fatal(err)
			}
			var docs []string
			for _, o := range []any{objs.Pod, objs.Secret, objs.Policy, map[string]any{"notes": objs.Notes}} {
				if o == nil || isNilPtr(o) {
					continue
				}
				b, err := yaml.Marshal(o)
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, string(b))
			}
			got := strings.Join(docs, "---\n")
			path := filepath.Join("testdata", tt.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("objects differ from %s (run with -update and review the diff):\n%s", path, got)
			}
		})
	}
}

func isNilPtr(v any) bool {
	b, _ := json.Marshal(v)
	return string(b) == "null"
}

// TestBuildObjectsSecretsOnlyInSecret checks that no environment value
// appears anywhere in the pod or the policy, and that each reaches the
// container through a secretKeyRef into the pod's own Secret.
func TestBuildObjectsSecretsOnlyInSecret(t *testing.T) {
	env := map[string]string{"API_KEY": "sk-live-4f9a8b7c", "DB_PASSWORD": "hunter2-correct-horse", "odd=name?": "v"}
	delete(env, "odd=name?") // '=' is never a variable name (the config refuses it)
	env["odd name?"] = "value-of-odd-name"
	plan := hardenedPlan("s", "img:1", "/srv")
	plan.Network = "none"
	objs, err := BuildObjects(plan, isolation.StartOptions{Name: "mcpproxy-s-1", Labels: goldenLabels, Env: env}, PodSettings{Namespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []any{objs.Pod, objs.Policy} {
		b, _ := json.Marshal(o)
		for name, v := range env {
			if strings.Contains(string(b), v) {
				t.Errorf("value of %s appears in %T: %s", name, o, b)
			}
		}
	}
	refs := map[string]string{}
	for _, ev := range objs.Pod.Spec.Containers[0].Env {
		if ev.Value != "" && ev.Name != "HOME" {
			t.Errorf("env %s has a literal value in the pod spec", ev.Name)
		}
		if ev.ValueFrom != nil && ev.ValueFrom.SecretKeyRef != nil {
			if ev.ValueFrom.SecretKeyRef.Name != objs.Secret.Name {
				t.Errorf("env %s refers to Secret %s, want %s", ev.Name, ev.ValueFrom.SecretKeyRef.Name, objs.Secret.Name)
			}
			refs[ev.Name] = ev.ValueFrom.SecretKeyRef.Key
		}
	}
	for name, v := range env {
		key, ok := refs[name]
		if !ok {
			t.Errorf("env %s has no secretKeyRef", name)
			continue
		}
		if got := string(objs.Secret.Data[key]); got != v {
			t.Errorf("Secret key %s for %s holds %q", key, name, got)
		}
	}
	if !*objs.Secret.Immutable {
		t.Error("the Secret is not immutable")
	}
}

func TestBuildObjectsRefusesWhatAClusterCannotDo(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*isolation.Plan)
		labels map[string]string
		env    map[string]string
		want   string // in the error
	}{
		{name: "docker args", mod: func(p *isolation.Plan) { p.DockerArgs = []string{"--cap-add", "NET_ADMIN"} }, want: `extra_args "--cap-add NET_ADMIN"`},
		{name: "docker args named", mod: func(p *isolation.Plan) { p.DockerArgs = []string{"--read-only"} }, want: "Docker-only"},
		{name: "host path", mod: func(p *isolation.Plan) {
			p.Mounts = []isolation.Mount{{Type: isolation.MountBind, Source: "/home/u/data", Target: "/data", Reason: "isolation.mounts"}}
		}, want: "mount /home/u/data at /data (isolation.mounts)"},
		{name: "host network", mod: func(p *isolation.Plan) { p.Network = "host" }, want: `network_mode "host"`},
		{name: "docker network", mod: func(p *isolation.Plan) { p.Network = "my-net" }, want: `network_mode "my-net"`},
		{name: "container network", mod: func(p *isolation.Plan) { p.Network = "container:x" }, want: `network_mode "container:x"`},
		{name: "user name", mod: func(p *isolation.Plan) { p.User = "node" }, want: `user "node"`},
		{name: "relative volume target", mod: func(p *isolation.Plan) {
			p.Mounts = []isolation.Mount{{Type: isolation.MountVolume, Source: "v", Target: "data"}}
		}, want: "absolute"},
		{name: "label key", labels: map[string]string{"bad key!": "x"}, want: "labels"},
		{name: "env name", env: map[string]string{"K\x01": "v"}, want: `env "K\x01"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := hardenedPlan("s", "img:1", "/srv")
			if tt.mod != nil {
				tt.mod(p)
			}
			labels := goldenLabels
			if tt.labels != nil {
				labels = tt.labels
			}
			_, err := BuildObjects(p, isolation.StartOptions{Name: "mcpproxy-s-1", Labels: labels, Env: tt.env}, PodSettings{Namespace: "ns"})
			var ue *UnsupportedError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want an *UnsupportedError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestObjectName(t *testing.T) {
	long := "mcpproxy-" + strings.Repeat("a", 63) + "-ab12cd34"
	tests := []struct{ in, want string }{
		{"mcpproxy-everything-ab12cd34", "mcpproxy-everything-ab12cd34"},
		{"mcpproxy-My_Server.v2-ab12cd34", "mcpproxy-my-server-v2-ab12cd34-" + shortHash("mcpproxy-My_Server.v2-ab12cd34")},
		{long, strings.TrimRight(dnsLabel(long)[:54], "-") + "-" + shortHash(long)},
		{"___", "mcpproxy-" + shortHash("___")},
	}
	for _, tt := range tests {
		got := objectName(tt.in)
		if got != tt.want {
			t.Errorf("objectName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if len(got) > 63 {
			t.Errorf("objectName(%q) is %d long", tt.in, len(got))
		}
	}
	if objectName("mcpproxy-A-1") == objectName("mcpproxy-a-1") {
		t.Error("names that differ in case map to the same pod")
	}
}

func TestLabelValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"everything", "everything"},
		{"my_server.v2", "my_server.v2"},
		{"", ""},
		{"-lead", "lead-" + shortHash("-lead")},
		{"trail.", "trail.-" + shortHash("trail.")},
		{strings.Repeat("x", 70), strings.Repeat("x", 54) + "-" + shortHash(strings.Repeat("x", 70))},
		{"__", "x-" + shortHash("__")},
	}
	for _, tt := range tests {
		if got := labelValue(tt.in); got != tt.want {
			t.Errorf("labelValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	labels, ann, err := objectLabels(map[string]string{isolation.LabelServer: "-odd", isolation.LabelManaged: "true"}, "p")
	if err != nil {
		t.Fatal(err)
	}
	back := restoreLabels(labels, ann)
	if back[isolation.LabelServer] != "-odd" || back[isolation.LabelManaged] != "true" {
		t.Errorf("restoreLabels = %v", back)
	}
}
