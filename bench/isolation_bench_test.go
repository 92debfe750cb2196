package bench

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

func isolatedConfig(image string, n int) map[string]any {
	servers := make([]map[string]any, 0, n)
	for i := 0; i < n; i++ {
		servers = append(servers, map[string]any{
			"name":      fmt.Sprintf("iso%d", i),
			"command":   "/everything-server",
			"isolation": map[string]any{"image": image},
		})
	}
	return map[string]any{"docker_isolation": map[string]any{"enabled": true, "network_mode": "none"}, "mcpServers": servers}
}

// BenchmarkIsolatedColdStart: 1, 10 and 20 isolated servers started
// concurrently; time from proxy start to all ready (target: 20 within 1.5×
// the time of 1).
func BenchmarkIsolatedColdStart(b *testing.B) {
	testutil.RequireDocker(b)
	image := testutil.EverythingImage(b)
	for i := 0; i < b.N; i++ {
		var sb strings.Builder
		var one int64
		var engOne time.Duration
		for _, n := range []int{1, 10, 20} {
			// median of 3 runs
			var runs []int64
			for r := 0; r < 3; r++ {
				p := startProxy(b, isolatedConfig(image, n))
				runs = append(runs, p.readyWall.Milliseconds())
				stopProxy(p)
			}
			med := median(runs)
			if n == 1 {
				one = med
			}
			eng := engineStart(b, image, n)
			if n == 1 {
				engOne = eng
			}
			fmt.Fprintf(&sb, "%2d isolated servers: all ready %5d ms after process start (median of %v)  %.2f× one | engine alone: %d concurrent `docker run -d` %5d ms (%.2f× one); mcpproxy/engine %.2f\n",
				n, med, runs, float64(med)/float64(one), n, eng.Milliseconds(), float64(eng)/float64(engOne), float64(med)/float64(eng.Milliseconds()))
			b.ReportMetric(float64(med), fmt.Sprintf("ready_ms_%d", n))
			b.ReportMetric(float64(eng.Milliseconds()), fmt.Sprintf("engine_ms_%d", n))
		}
		writeResult(b, "isolated_cold_start", sb.String())
	}
}

// BenchmarkContainerCallOverhead: per-call latency, container stdio vs host
// stdio, through the same proxy endpoint (target: ≤ 0.1 ms at p50).
func BenchmarkContainerCallOverhead(b *testing.B) {
	testutil.RequireDocker(b)
	bin := testutil.EverythingServer(b)
	image := testutil.EverythingImage(b)
	for i := 0; i < b.N; i++ {
		cfg := map[string]any{
			"docker_isolation": map[string]any{"enabled": true, "network_mode": "none"},
			"mcpServers": []map[string]any{
				{"name": "host", "command": bin, "isolation": map[string]any{"enabled": false}, "env": hostEnv()},
				{"name": "box", "command": "/everything-server", "isolation": map[string]any{"image": image, "cpu_limit": cpuLimit()}},
			},
		}
		p := startProxy(b, cfg)
		host := httpSession(b, "http://"+p.addr+"/mcp/host")
		box := httpSession(b, "http://"+p.addr+"/mcp/box")
		warm(b, simpleText(host))
		warm(b, simpleText(box))
		h, c := interleaved(b, simpleText(host), simpleText(box))
		// And the docker CLI data path alone, direct stdio client to docker run -i.
		dockerPath, _ := exec.LookPath("docker")
		direct := stdioSession(b, bin)
		boxed := stdioSession(b, dockerPath, "run", "-i", "--rm", "--network", "none", image, "/everything-server")
		warm(b, simpleText(direct))
		warm(b, simpleText(boxed))
		d, x := interleaved(b, simpleText(direct), simpleText(boxed))
		var sb strings.Builder
		fmt.Fprintf(&sb, "test_simple_text, %d sequential calls each, interleaved; container cpu_limit %s, network none\n", calls, cpuLimit())
		fmt.Fprintf(&sb, "through /mcp/{server}:\n")
		fmt.Fprintf(&sb, "  host stdio        %s\n", h)
		fmt.Fprintf(&sb, "  container stdio   %s   (%+.1f µs at p50)\n", c, us(c.p50-h.p50))
		fmt.Fprintf(&sb, "direct Go SDK client:\n")
		fmt.Fprintf(&sb, "  host stdio        %s\n", d)
		fmt.Fprintf(&sb, "  docker run -i     %s   (%+.1f µs at p50)\n", x, us(x.p50-d.p50))
		name := "container_call_overhead_cpus" + cpuLimit()
		if len(hostEnv()) > 0 {
			name += "_host_gomaxprocs1"
			sb.WriteString("host server run with GOMAXPROCS=1, the budget Go picks inside a 1-CPU container\n")
		}
		writeResult(b, name, sb.String())
		report(b, "host", h)
		report(b, "container", c)
	}
}

// interleaved runs `calls` sequential calls of each of a and b in four
// alternating rounds, so that machine noise falls on both alike.
func interleaved(b testing.TB, x, y caller) (stats, stats) {
	r := interleavedSeq(b, 4, x, y)
	return r[0], r[1]
}

// interleavedSeq runs `calls` sequential calls of each caller, in rounds
// that take turns.
func interleavedSeq(b testing.TB, rounds int, cs ...caller) []stats {
	per := make([][]stats, len(cs))
	for r := 0; r < rounds; r++ {
		for i, c := range cs {
			per[i] = append(per[i], must(b)(sequential(calls/rounds, c)))
		}
	}
	out := make([]stats, len(cs))
	for i := range per {
		out[i] = mergeStats(per[i])
	}
	return out
}

// interleavedPar is interleavedSeq for sets of concurrent clients.
func interleavedPar(b testing.TB, rounds int, sets ...[]caller) []stats {
	per := make([][]stats, len(sets))
	for r := 0; r < rounds; r++ {
		for i, set := range sets {
			per[i] = append(per[i], must(b)(concurrent(calls/rounds, set)))
		}
	}
	out := make([]stats, len(sets))
	for i := range per {
		out[i] = mergeStats(per[i])
	}
	return out
}

func mergeStats(ss []stats) stats {
	// p50 of the per-round p50s and the worst p99; throughput averaged.
	var p50s []int64
	var out stats
	for _, s := range ss {
		p50s = append(p50s, int64(s.p50))
		if s.p99 > out.p99 {
			out.p99 = s.p99
		}
		out.perSec += s.perSec / float64(len(ss))
		out.n += s.n
	}
	out.p50 = time.Duration(median(p50s))
	return out
}

func median(v []int64) int64 {
	c := append([]int64(nil), v...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c[len(c)/2]
}

func stopProxy(p *proxyProcess) {
	_ = p.cmd.Process.Signal(interruptSignal)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// engineStart measures the engine alone: n concurrent `docker run -d` of the
// same image until all are running (then removes them).
func engineStart(b testing.TB, image string, n int) time.Duration {
	docker, err := exec.LookPath("docker")
	if err != nil {
		b.Fatal(err)
	}
	label := fmt.Sprintf("mcpproxy-bench-engine=%d", time.Now().UnixNano())
	start := time.Now()
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			out, err := exec.Command(docker, "run", "-d", "--rm", "--network", "none", "--label", label, image, "/everything-server").CombinedOutput()
			if err != nil {
				err = fmt.Errorf("%v: %s", err, out)
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	d := time.Since(start)
	ids, _ := exec.Command(docker, "ps", "-aq", "--filter", "label="+label).Output()
	if f := strings.Fields(string(ids)); len(f) > 0 {
		_ = exec.Command(docker, append([]string{"rm", "-f"}, f...)...).Run()
	}
	return d
}

// cpuLimit is the container's cpu_limit in BenchmarkContainerCallOverhead:
// the spec default unless MCPPROXY_BENCH_CPUS overrides it (to separate the
// cost of the CPU quota from the cost of the container's data path).
func cpuLimit() string {
	if v := os.Getenv("MCPPROXY_BENCH_CPUS"); v != "" {
		return v
	}
	return "1.0"
}

// hostEnv gives the host server the container's CPU budget when
// MCPPROXY_BENCH_HOST_GOMAXPROCS1=1 (Go sets GOMAXPROCS from the cgroup
// quota inside the container), to compare like with like.
func hostEnv() map[string]string {
	if os.Getenv("MCPPROXY_BENCH_HOST_GOMAXPROCS1") == "1" {
		return map[string]string{"GOMAXPROCS": "1"}
	}
	return nil
}
