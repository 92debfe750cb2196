package config

import (
	"reflect"
	"testing"
)

func TestConfigKubernetesBlock(t *testing.T) {
	c, err := Parse([]byte(`{
	"docker_isolation": {
		"enabled": true,
		"backend": "kubernetes",
		"kubernetes": {
			"kubeconfig": "/etc/mcpproxy/kubeconfig",
			"context": "prod",
			"namespace": "mcp-servers",
			"service_account": "mcp-runner",
			"runtime_class_name": "gvisor",
			"node_selector": {"example.com/pool": "mcp", "zone": "a"},
			"image_pull_policy": "Never"
		}
	}
}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Kubernetes{
		Kubeconfig: "/etc/mcpproxy/kubeconfig", Context: "prod", Namespace: "mcp-servers",
		ServiceAccount: "mcp-runner", RuntimeClassName: "gvisor",
		NodeSelector: map[string]string{"example.com/pool": "mcp", "zone": "a"}, ImagePullPolicy: "Never",
	}
	if c.DockerIsolation.Backend != BackendKubernetes || !reflect.DeepEqual(c.DockerIsolation.Kubernetes, want) {
		t.Errorf("got backend %q, %+v", c.DockerIsolation.Backend, c.DockerIsolation.Kubernetes)
	}
	clone := c.Clone()
	clone.DockerIsolation.Kubernetes.NodeSelector["zone"] = "b"
	if c.DockerIsolation.Kubernetes.NodeSelector["zone"] != "a" {
		t.Error("Clone shares node_selector")
	}
	d, err := Parse([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if d.DockerIsolation.Backend != BackendDocker {
		t.Errorf("default backend = %q", d.DockerIsolation.Backend)
	}
}

func TestConfigKubernetesProblems(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"unknown backend", `{"docker_isolation": {"backend": "podman"}}`, []string{
			`1:34: docker_isolation.backend: "podman" is not a backend: use "docker" (local containers, the default) or "kubernetes" (pods in a cluster)`,
		}},
		{"bad block values", `{"docker_isolation": {"backend": "kubernetes", "kubernetes": {
	"in_cluster": true, "kubeconfig": "/k",
	"namespace": "MCP_servers",
	"service_account": "Runner!",
	"runtime_class_name": "g visor",
	"node_selector": {"bad key!": "x", "ok": "-bad-value"},
	"image_pull_policy": "never"}}}`, []string{
			`2:16: docker_isolation.kubernetes.in_cluster: in_cluster and kubeconfig exclude each other: remove one (in_cluster is for mcpproxy running in a pod)`,
			`3:15: docker_isolation.kubernetes.namespace: must be a namespace name: up to 63 lowercase letters, digits and "-", such as "mcp-servers"`,
			`4:21: docker_isolation.kubernetes.service_account: must be a service account name: lowercase letters, digits, "-" and ".", such as "mcp-servers"`,
			`5:24: docker_isolation.kubernetes.runtime_class_name: must be a RuntimeClass name: lowercase letters, digits, "-" and ".", such as "gvisor"`,
			`6:32: docker_isolation.kubernetes.node_selector["bad key!"]: must be a label key such as "pool" or "example.com/pool"`,
			`6:43: docker_isolation.kubernetes.node_selector.ok: value must be a label value: up to 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit`,
			`7:23: docker_isolation.kubernetes.image_pull_policy: "never" is not a pull policy: use "IfNotPresent" (the default), "Always" or "Never"`,
		}},
		{"unknown key in the block", `{"docker_isolation": {"kubernetes": {"namespce": "x"}}}`, []string{
			`1:38: docker_isolation.kubernetes.namespce: unknown key "namespce": did you mean "namespace"? (a misspelt key would be ignored)`,
		}},
		{"docker-only settings", `{"docker_isolation": {"backend": "kubernetes", "extra_args": ["--init"], "network_mode": "my-net"},
	"mcpServers": [{"name": "a", "command": "x", "isolation": {"extra_args": ["--read-only"], "network_mode": "none"}},
		{"name": "b", "command": "y", "isolation": {"network_mode": "backend-net"}}]}`, []string{
			`1:62: docker_isolation.extra_args: docker run arguments do not apply to the kubernetes backend (pods are built from the typed settings); remove them, or set docker_isolation.backend to "docker"`,
			`1:90: docker_isolation.network_mode: "my-net" has no meaning in a cluster: use "bridge" (the pod network) or "none" (a deny-all NetworkPolicy)`,
			`2:75: mcpServers[0].isolation.extra_args: docker run arguments do not apply to the kubernetes backend (pods are built from the typed settings); remove them, or set docker_isolation.backend to "docker"`,
			`3:63: mcpServers[1].isolation.network_mode: "backend-net" has no meaning in a cluster: use "bridge" (the pod network) or "none" (a deny-all NetworkPolicy)`,
		}},
		{"docker backend ignores the block's absence", `{"docker_isolation": {"backend": "docker", "extra_args": ["--init"]}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if got := problemLines(t, err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
