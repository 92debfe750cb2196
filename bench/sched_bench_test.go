package bench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// BenchmarkSchedulerProcs: serve's default GOMAXPROCS=1 against the Go
// default (one P per CPU, set through the GOMAXPROCS variable, which the
// upstream inherits; it equals the upstream's own default). Sequential and
// 8-client test_simple_text through /mcp/everything, and the proxy's CPU
// time per call.
func BenchmarkSchedulerProcs(b *testing.B) {
	bin := testutil.EverythingServer(b)
	for i := 0; i < b.N; i++ {
		one := startProxy(b, everythingConfig(bin, 1))
		b.Setenv("GOMAXPROCS", strconv.Itoa(runtime.NumCPU()))
		all := startProxy(b, everythingConfig(bin, 1))
		os.Unsetenv("GOMAXPROCS")
		procs := []*proxyProcess{one, all}
		names := []string{"GOMAXPROCS=1 (serve's default)", fmt.Sprintf("GOMAXPROCS=%d (one per CPU)", runtime.NumCPU())}

		var seqSDK, seqPlain []caller
		par := make([][]caller, len(procs))
		for k, p := range procs {
			url := "http://" + p.addr + "/mcp/everything"
			seqSDK = append(seqSDK, simpleText(httpSession(b, url)))
			seqPlain = append(seqPlain, plainSimpleText(plainSession(b, url)))
			for j := 0; j < concurrency; j++ {
				par[k] = append(par[k], simpleText(httpSession(b, url)))
			}
		}
		for _, c := range append(append([]caller{}, seqSDK...), seqPlain...) {
			warm(b, c)
		}
		cpuBefore := []int64{cpuTicks(one.cmd.Process.Pid), cpuTicks(all.cmd.Process.Pid)}
		sdk := interleavedSeq(b, 8, seqSDK...)
		plain := interleavedSeq(b, 8, seqPlain...)
		conc := interleavedPar(b, 5, par...)
		var sb strings.Builder
		fmt.Fprintf(&sb, "test_simple_text through /mcp/everything, %d calls per row, interleaved rounds\n", calls)
		for k, name := range names {
			ticks := cpuTicks(procs[k].cmd.Process.Pid) - cpuBefore[k]
			perCall := float64(ticks) * 1e6 / float64(clockTicks) / float64(3*calls)
			fmt.Fprintf(&sb, "%s:\n", name)
			fmt.Fprintf(&sb, "  sequential, SDK client    %s\n", sdk[k])
			fmt.Fprintf(&sb, "  sequential, plain client  %s\n", plain[k])
			fmt.Fprintf(&sb, "  %d clients, SDK client     %s\n", concurrency, conc[k])
			fmt.Fprintf(&sb, "  proxy CPU per call        %.0f µs\n", perCall)
			key := []string{"procs1", "procsN"}[k]
			report(b, key+"_sdk_seq", sdk[k])
			report(b, key+"_plain_seq", plain[k])
			report(b, key+"_sdk_par", conc[k])
			b.ReportMetric(perCall, key+"_cpu_us/call")
		}
		writeResult(b, "scheduler_procs", sb.String())
	}
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTicks = 100

// cpuTicks is a process's user+system CPU time in clock ticks.
func cpuTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndex(s, ")")+2:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}
