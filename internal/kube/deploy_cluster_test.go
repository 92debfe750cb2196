package kube

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"sigs.k8s.io/yaml"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// shippedConfig is the mcp_config.json of deploy/kubernetes/configmap.yaml.
func shippedConfig(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir(t), "configmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	return cm.Data["mcp_config.json"]
}

// TestDeployConfigMapIsValid: the configuration shipped in the ConfigMap
// parses, runs isolated servers as pods in mcpproxy's own namespace.
func TestDeployConfigMapIsValid(t *testing.T) {
	c, err := config.Parse([]byte(shippedConfig(t)))
	if err != nil {
		t.Fatal(err)
	}
	di := c.DockerIsolation
	if !di.Enabled || di.Backend != config.BackendKubernetes || !di.Kubernetes.InCluster || di.Kubernetes.Namespace != "" {
		t.Errorf("shipped docker_isolation = %+v", di)
	}
}

// TestKubeDeployManifests deploys mcpproxy with deploy/kubernetes (its own
// image, built by scripts/build-image.sh; the API key from a Secret; the
// config from the ConfigMap) into a namespace of the test cluster, reaches
// it through `kubectl port-forward`, and has it serve a server that runs as
// a pod it created with the least Role.
//
// The test cluster has no route from the pod network to the API server
// (no kube-proxy, a bridge without a gateway, the API server on 127.0.0.1
// only), so mcpproxy's pod gets the node's network and the API server's
// loopback address: the one test-only patch to the shipped manifests.
func TestKubeDeployManifests(t *testing.T) {
	k := testutil.RequireKube(t)
	proxyImg := testutil.ProxyImage(t)
	srvImg := testutil.EverythingImage(t)
	k.LoadImage(t, proxyImg)
	k.LoadImage(t, srvImg)
	ns := k.Namespace(t)
	key := randHex(t, 24)
	k.Kubectl(t, "-n", ns, "create", "secret", "generic", "mcpproxy-api-key", "--from-literal=api_key="+key)

	dir := t.TempDir()
	entries, err := os.ReadDir(deployDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			b, err := os.ReadFile(filepath.Join(deployDir(t), e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	name, tag, _ := strings.Cut(proxyImg, ":")
	port := testutil.FreePort(t)
	kust, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ks := strings.Replace(string(kust), "namespace: mcpproxy", "namespace: "+ns, 1)
	ks = strings.Replace(ks, "newName: mcpproxy", "newName: "+name, 1)
	ks = strings.Replace(ks, "newTag: dev", "newTag: "+tag, 1)
	ks += fmt.Sprintf(`patches:
  - target: {kind: Deployment, name: mcpproxy}
    patch: |-
      - {op: add, path: /spec/template/spec/hostNetwork, value: true}
      - {op: replace, path: /spec/template/spec/containers/0/args/3, value: "--listen=127.0.0.1:%d"}
      - {op: replace, path: /spec/template/spec/containers/0/ports/0/containerPort, value: %d}
      - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: KUBERNETES_SERVICE_HOST, value: "127.0.0.1"}}
      - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: KUBERNETES_SERVICE_PORT, value: "6443"}}
`, port, port)
	if !strings.Contains(ks, "namespace: "+ns) || !strings.Contains(ks, "newTag: "+tag) {
		t.Fatalf("could not set the namespace and image in kustomization.yaml:\n%s", ks)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(ks), 0o644); err != nil {
		t.Fatal(err)
	}
	// The shipped config with one server, as a user would edit it.
	cfg := strings.Replace(shippedConfig(t), `"image_pull_policy": "IfNotPresent"`, `"image_pull_policy": "Never"`, 1)
	cfg = regexp.MustCompile(`(?s)"mcpServers": \[.*\]`).ReplaceAllString(cfg,
		`"mcpServers": [{"name": "everything", "command": "/everything-server", "isolation": {"image": "`+srvImg+`", "network_mode": "none"}}]`)
	cm, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "mcpproxy-config"}, "data": map[string]string{"mcp_config.json": cfg}})
	if err := os.WriteFile(filepath.Join(dir, "configmap.yaml"), cm, 0o644); err != nil {
		t.Fatal(err)
	}

	k.Kubectl(t, "apply", "-k", dir)
	if _, err := k.KubectlErr("-n", ns, "rollout", "status", "deployment/mcpproxy", "--timeout=180s"); err != nil {
		logs, _ := k.KubectlErr("-n", ns, "logs", "deployment/mcpproxy", "--tail=50")
		desc, _ := k.KubectlErr("-n", ns, "describe", "pods")
		t.Fatalf("mcpproxy did not become ready: %v\nlogs:\n%s\npods:\n%s", err, logs, desc)
	}
	base := portForward(t, k, ns, "svc/mcpproxy", 8080)

	// The API needs the Secret's key; the server comes up as a pod.
	waitFor(t, 2*time.Minute, "everything ready in a pod", func() bool {
		var l struct {
			DockerStatus struct {
				Backend   string `json:"backend"`
				Available bool   `json:"available"`
			} `json:"docker_status"`
			Servers []struct {
				Name, State string
			} `json:"servers"`
		}
		if code := getJSON(t, base+"/api/v1/servers", key, &l); code != http.StatusOK {
			t.Fatalf("GET /api/v1/servers with the Secret's key: %d", code)
		}
		return l.DockerStatus.Backend == "kubernetes" && l.DockerStatus.Available && len(l.Servers) == 1 && l.Servers[0].State == "ready"
	})
	if code := getJSON(t, base+"/api/v1/servers", "", nil); code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/servers without a key: %d", code)
	}
	pods := strings.Fields(k.Kubectl(t, "-n", ns, "get", "pods", "-l", "com.mcpproxy.server=everything", "-o", "jsonpath={.items[*].metadata.name}"))
	if len(pods) != 1 {
		t.Fatalf("server pods: %v", pods)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "deploy-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp/everything"}, nil)
	if err != nil {
		t.Fatalf("MCP through the port-forward: %v", err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text"})
	if err != nil || res.IsError || len(res.Content) == 0 {
		t.Fatalf("test_simple_text through the deployed proxy: %v %+v", err, res)
	}
}

// portForward runs `kubectl port-forward` to target's port and returns the
// local base URL; it is stopped at cleanup.
func portForward(t *testing.T, k *testutil.KubeCluster, ns, target string, port int) string {
	t.Helper()
	cmd := exec.Command("kubectl", "--kubeconfig", k.Kubeconfig, "-n", ns, "port-forward", target, "0:"+strconv.Itoa(port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	local := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`).FindStringSubmatch(sc.Text()); m != nil {
				local <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case p := <-local:
		return "http://127.0.0.1:" + p
	case <-time.After(time.Minute):
		t.Fatalf("kubectl port-forward %s did not start: %s", target, stderr.String())
		return ""
	}
}

// getJSON GETs url with the API key (none when "") and decodes the body
// into v (when not nil); it returns the status.
func getJSON(t *testing.T, url, key string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %s", url, err, body)
		}
	}
	return resp.StatusCode
}
