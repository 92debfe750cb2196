package bench

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// BenchmarkHardenedProfile prices the hardened profile, in one run:
// per-call latency of two isolated servers through /mcp/{server}, one with
// the default (hardened) profile and one with hardened: false, interleaved;
// and the cold start (proxy start to ready) of one isolated server under
// each profile, alternating. Target: the profile costs at most 5 % of
// either.
func BenchmarkHardenedProfile(b *testing.B) {
	const coldRuns = 11
	testutil.RequireDocker(b)
	image := testutil.EverythingImage(b)
	server := func(name string, hardened bool) map[string]any {
		return map[string]any{"name": name, "command": "/everything-server",
			"isolation": map[string]any{"image": image, "hardened": hardened}}
	}
	config := func(servers ...map[string]any) map[string]any {
		return map[string]any{"docker_isolation": map[string]any{"enabled": true, "network_mode": "none"}, "mcpServers": servers}
	}
	for i := 0; i < b.N; i++ {
		p := startProxy(b, config(server("hard", true), server("soft", false)))
		hard := httpSession(b, "http://"+p.addr+"/mcp/hard")
		soft := httpSession(b, "http://"+p.addr+"/mcp/soft")
		warm(b, simpleText(hard))
		warm(b, simpleText(soft))
		// Ten alternating rounds: the machine is shared; noise falls on both.
		r := interleavedSeq(b, 10, simpleText(hard), simpleText(soft))
		h, s := r[0], r[1]
		stopProxy(p)

		var hardReady, softReady []int64
		for r := 0; r < coldRuns; r++ {
			for _, hardened := range []bool{true, false} {
				p := startProxy(b, config(server("one", hardened)))
				if hardened {
					hardReady = append(hardReady, p.readyWall.Milliseconds())
				} else {
					softReady = append(softReady, p.readyWall.Milliseconds())
				}
				stopProxy(p)
			}
		}
		hr, sr := median(hardReady), median(softReady)

		var sb strings.Builder
		fmt.Fprintf(&sb, "hardened profile vs hardened: false, same image (/everything-server FROM scratch), network none, same run\n")
		fmt.Fprintf(&sb, "per call (test_simple_text through /mcp/{server}, %d sequential calls each, interleaved):\n", calls)
		fmt.Fprintf(&sb, "  hardened          %s\n", h)
		fmt.Fprintf(&sb, "  hardened: false   %s\n", s)
		fmt.Fprintf(&sb, "  cost at p50: %+.1f µs (%+.1f %%)\n", us(h.p50-s.p50), 100*(float64(h.p50)/float64(s.p50)-1))
		fmt.Fprintf(&sb, "isolated cold start, one server, proxy start to ready (median of %d, alternating):\n", coldRuns)
		fmt.Fprintf(&sb, "  hardened          %5d ms  %v\n", hr, hardReady)
		fmt.Fprintf(&sb, "  hardened: false   %5d ms  %v\n", sr, softReady)
		fmt.Fprintf(&sb, "  cost: %+d ms (%+.1f %%)\n", hr-sr, 100*(float64(hr)/float64(sr)-1))
		writeResult(b, "hardened_profile", sb.String())
		report(b, "hardened", h)
		report(b, "relaxed", s)
		b.ReportMetric(float64(hr), "hardened_ready_ms")
		b.ReportMetric(float64(sr), "relaxed_ready_ms")
	}
}
