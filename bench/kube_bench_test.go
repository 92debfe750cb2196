package bench

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// kubeBackendConfig is one isolated everything server (default settings:
// 512m, 1 CPU and the profile Decide applies) on the given backend; the kubernetes
// backend runs it in namespace ns of the test cluster.
func kubeBackendConfig(backend, image string, k *testutil.KubeCluster, ns string) map[string]any {
	di := map[string]any{"enabled": true, "backend": backend}
	if backend == "kubernetes" {
		di["kubernetes"] = map[string]any{"kubeconfig": k.Kubeconfig, "namespace": ns, "image_pull_policy": "Never"}
	}
	return map[string]any{
		"docker_isolation": di,
		"mcpServers": []map[string]any{
			{"name": "everything", "command": "/everything-server", "isolation": map[string]any{"image": image}},
		},
	}
}

// BenchmarkKubeVsDocker: the same isolated server as a pod (the kubernetes
// backend, stdio over the API server's attach) and as a local container
// (the docker backend), in one run: cold start from proxy start to ready
// (median of 5, alternating) and per-call latency through /mcp/{server}
// (interleaved rounds). Needs Docker and the test cluster (K8S_DIR):
// K8S_DIR=... go test ./bench -run '^$' -bench KubeVsDocker -benchtime 1x
func BenchmarkKubeVsDocker(b *testing.B) {
	testutil.RequireDocker(b)
	k := testutil.RequireKube(b)
	image := testutil.EverythingImage(b)
	k.LoadImage(b, image)
	ns := k.Namespace(b)
	for i := 0; i < b.N; i++ {
		cold := map[string][]int64{}
		for r := 0; r < 5; r++ {
			for _, backend := range []string{"docker", "kubernetes"} {
				p := startProxy(b, kubeBackendConfig(backend, image, k, ns))
				cold[backend] = append(cold[backend], p.readyWall.Milliseconds())
				stopProxy(p)
			}
		}
		dp := startProxy(b, kubeBackendConfig("docker", image, k, ns))
		kp := startProxy(b, kubeBackendConfig("kubernetes", image, k, ns))
		ds := httpSession(b, "http://"+dp.addr+"/mcp/everything")
		ks := httpSession(b, "http://"+kp.addr+"/mcp/everything")
		warm(b, simpleText(ds))
		warm(b, simpleText(ks))
		d, kk := interleaved(b, simpleText(ds), simpleText(ks))
		var sb strings.Builder
		fmt.Fprintf(&sb, "one isolated everything server, default docker_isolation settings (512m, 1 CPU, the profile Decide applies)\n")
		fmt.Fprintf(&sb, "cold start, proxy start to ready, median of 5 (alternating):\n")
		fmt.Fprintf(&sb, "  docker      %5d ms  %v\n", median(cold["docker"]), cold["docker"])
		fmt.Fprintf(&sb, "  kubernetes  %5d ms  %v\n", median(cold["kubernetes"]), cold["kubernetes"])
		fmt.Fprintf(&sb, "test_simple_text through /mcp/everything, %d sequential calls each, interleaved:\n", calls)
		fmt.Fprintf(&sb, "  docker      %s\n", d)
		fmt.Fprintf(&sb, "  kubernetes  %s   (%+.1f µs at p50)\n", kk, us(kk.p50-d.p50))
		writeResult(b, "kube_vs_docker", sb.String())
		b.ReportMetric(float64(median(cold["docker"])), "docker_cold_ms")
		b.ReportMetric(float64(median(cold["kubernetes"])), "kube_cold_ms")
		report(b, "docker", d)
		report(b, "kube", kk)
	}
}
