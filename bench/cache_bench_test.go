package bench

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// npxBenchDeps and npxBenchDepBytes shape the benchmark's package: the tiny
// MCP server with 60 dependencies of 64 KiB (about 4 MB fetched and
// unpacked), a tree like a real npx server's.
const (
	npxBenchDeps     = 60
	npxBenchDepBytes = 64 << 10
)

// BenchmarkNpxCacheStart: an isolated `npx -y` server, from proxy start to
// ready, in one run: its first start (an empty package cache volume), the
// second start of the same server (the volume kept), and starts with
// cache_volumes off. The registry is the benchmark's own, on the docker
// bridge; it counts the requests of each start. Median of 3 each.
func BenchmarkNpxCacheStart(b *testing.B) {
	image := testutil.NpmImage(b)
	reg := testutil.StartNpmRegistryWith(b, testutil.BridgeGateway(b), testutil.NpmRegistryOptions{Deps: npxBenchDeps, DepBytes: npxBenchDepBytes})
	cfg := func(cache bool) map[string]any {
		return map[string]any{
			"docker_isolation": map[string]any{"enabled": true, "cache_volumes": cache},
			"mcpServers": []map[string]any{{
				"name": "tiny", "command": "npx", "args": []string{"-y", "--registry", reg.URL, testutil.NpmPackageName},
				"isolation": map[string]any{"image": image},
			}},
		}
	}
	for i := 0; i < b.N; i++ {
		var first, second, off []int64
		var firstReq, secondReq, offReq []int
		for r := 0; r < 3; r++ {
			dir := b.TempDir()
			n := reg.Total()
			p := startProxyIn(b, dir, cfg(true))
			first = append(first, p.readyWall.Milliseconds())
			stopProxy(p)
			firstReq = append(firstReq, reg.Total()-n)

			n = reg.Total()
			p = startProxyIn(b, dir, cfg(true))
			second = append(second, p.readyWall.Milliseconds())
			stopProxy(p)
			secondReq = append(secondReq, reg.Total()-n)
			pruneDataDir(b, dir)

			n = reg.Total()
			p = startProxy(b, cfg(false))
			off = append(off, p.readyWall.Milliseconds())
			stopProxy(p)
			offReq = append(offReq, reg.Total()-n)
		}
		f, s, o := median(first), median(second), median(off)
		var sb strings.Builder
		fmt.Fprintf(&sb, "isolated `npx -y %s` (%d dependencies of %d KiB), proxy start → ready, median of 3:\n", testutil.NpmPackageName, npxBenchDeps, npxBenchDepBytes>>10)
		fmt.Fprintf(&sb, "  first start (empty cache volume):  %5d ms  %v  registry requests %v\n", f, first, firstReq)
		fmt.Fprintf(&sb, "  second start (cache volume kept):  %5d ms  %v  registry requests %v  (%.1f× faster)\n", s, second, secondReq, float64(f)/float64(s))
		fmt.Fprintf(&sb, "  cache_volumes false (every start): %5d ms  %v  registry requests %v\n", o, off, offReq)
		b.ReportMetric(float64(f), "first_ms")
		b.ReportMetric(float64(s), "second_ms")
		b.ReportMetric(float64(o), "nocache_ms")
		writeResult(b, "npx_cache_start", sb.String())
	}
}

// pruneDataDir removes the data dir's package cache volumes with
// `mcpproxy upstream prune`.
func pruneDataDir(b testing.TB, dir string) {
	b.Helper()
	cmd := exec.Command(buildProxy(b), "--data-dir", dir, "upstream", "prune")
	cmd.Env = benchEnv()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "removed ") {
		b.Fatalf("mcpproxy upstream prune: %v\n%s", err, out)
	}
}
