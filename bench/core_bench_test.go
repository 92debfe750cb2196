package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

func everythingConfig(bin string, n int) map[string]any {
	servers := make([]map[string]any, 0, n)
	for i := 0; i < n; i++ {
		name := "everything"
		if i > 0 {
			name = fmt.Sprintf("everything%d", i)
		}
		servers = append(servers, map[string]any{"name": name, "command": bin})
	}
	return map[string]any{"docker_isolation": map[string]any{"enabled": false}, "mcpServers": servers}
}

// BenchmarkCallLatency: test_simple_text, 1,000 sequential calls and 1,000
// calls from 8 concurrent clients, (a) direct stdio, (b) /mcp/everything,
// (c) /mcp call_tool — each with the Go SDK client — plus, to tell the
// proxy's cost from the client transport's, (a′) the same server over its
// own Streamable HTTP endpoint with the Go SDK client and (b′)/(c′) (b)/(c)
// with a plain HTTP client. Scenarios run in interleaved rounds.
func BenchmarkCallLatency(b *testing.B) {
	bin := testutil.EverythingServer(b)
	for i := 0; i < b.N; i++ {
		// (a) direct: one stdio session; 8 concurrent callers share it, as
		// 8 clients of one stdio server would through any proxy.
		direct := stdioSession(b, bin)
		ownHTTP := testutil.EverythingHTTP(b, nil)
		p := startProxy(b, everythingConfig(bin, 1))
		per := "http://" + p.addr + "/mcp/everything"
		agg := "http://" + p.addr + "/mcp"

		names := []string{"(a) direct stdio, SDK client", "(a′) server's own HTTP, SDK", "(b) /mcp/everything, SDK", "(b′) /mcp/everything, plain", "(c) /mcp call_tool, SDK", "(c′) /mcp call_tool, plain"}
		seqCallers := []caller{simpleText(direct), simpleText(httpSession(b, ownHTTP)),
			simpleText(httpSession(b, per)), plainSimpleText(plainSession(b, per)),
			viaCallTool(httpSession(b, agg), "everything"), plainCallTool(plainSession(b, agg), "everything")}
		for _, c := range seqCallers {
			warm(b, c)
		}
		parSets := make([][]caller, len(names))
		for j := 0; j < concurrency; j++ {
			parSets[0] = append(parSets[0], simpleText(direct))
			parSets[1] = append(parSets[1], simpleText(httpSession(b, ownHTTP)))
			parSets[2] = append(parSets[2], simpleText(httpSession(b, per)))
			parSets[3] = append(parSets[3], plainSimpleText(plainSession(b, per)))
			parSets[4] = append(parSets[4], viaCallTool(httpSession(b, agg), "everything"))
			parSets[5] = append(parSets[5], plainCallTool(plainSession(b, agg), "everything"))
		}
		seq := interleavedSeq(b, 8, seqCallers...)
		par := interleavedPar(b, 5, parSets...)

		keys := []string{"a", "a_http", "b", "b_plain", "c", "c_plain"}
		for k, key := range keys {
			report(b, key+"_seq", seq[k])
			report(b, key+"_par", par[k])
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "test_simple_text on the Go SDK conformance server (stdio upstream); scenarios in interleaved rounds\n")
		fmt.Fprintf(&sb, "sequential, %d calls each:\n", calls)
		for k, name := range names {
			fmt.Fprintf(&sb, "  %-30s %s", name, seq[k])
			if k > 0 {
				fmt.Fprintf(&sb, "   %+7.1f µs vs (a)", us(seq[k].p50-seq[0].p50))
			}
			if k == 2 || k == 4 {
				fmt.Fprintf(&sb, ", %+7.1f µs vs (a′)", us(seq[k].p50-seq[1].p50))
			}
			sb.WriteString("\n")
		}
		fmt.Fprintf(&sb, "%d concurrent clients, %d calls each scenario:\n", concurrency, calls)
		for k, name := range names {
			fmt.Fprintf(&sb, "  %-30s %s", name, par[k])
			if k > 0 {
				fmt.Fprintf(&sb, "   %4.0f%% of (a)", 100*par[k].perSec/par[0].perSec)
			}
			if k == 2 || k == 4 {
				fmt.Fprintf(&sb, ", %4.0f%% of (a′)", 100*par[k].perSec/par[1].perSec)
			}
			sb.WriteString("\n")
		}
		fmt.Fprintf(&sb, "SDK clients share one HTTP client that keeps its connections (harness_test.go: benchHTTP).\n")
		writeResult(b, "call_latency", sb.String())
	}
}

// BenchmarkReadyAndRSS: time from process start to "all upstreams ready"
// against the slowest upstream's own start, and RSS with 1 and 20 upstreams.
// Start times vary from run to run on a shared machine, so each case runs
// readyTrials times, alternating the direct start and the proxy's, and the
// median overhead is reported.
func BenchmarkReadyAndRSS(b *testing.B) {
	bin := testutil.EverythingServer(b)
	for i := 0; i < b.N; i++ {
		var sb strings.Builder
		for _, n := range []int{1, 20} {
			var overheads, readies, owns []int64
			var rss, rssAfter int64
			for t := 0; t < readyTrials; t++ {
				own := slowestOwnStart(b, bin, n)
				p := startProxy(b, everythingConfig(bin, n))
				ready := p.readyWall.Milliseconds()
				owns = append(owns, own.Milliseconds())
				readies = append(readies, ready)
				overheads = append(overheads, ready-own.Milliseconds())
				if t == readyTrials-1 {
					// let the runtime settle, then read RSS
					time.Sleep(500 * time.Millisecond)
					rss = rssKB(p.cmd.Process.Pid)
					// and after serving some calls
					cs := httpSession(b, "http://"+p.addr+"/mcp")
					for j := 0; j < 200; j++ {
						if err := viaCallTool(cs, "everything")(context.Background()); err != nil {
							b.Fatal(err)
						}
					}
					rssAfter = rssKB(p.cmd.Process.Pid)
					cs.Close()
				}
				stopProxy(p)
			}
			fmt.Fprintf(&sb, "%2d upstreams, %d trials: ready %4d ms after process start (median); slowest upstream's own start (spawn→initialize→tools/list, %d at once, direct) %4d ms; overhead median %+d ms (trials %s); RSS %.1f MB idle, %.1f MB after 200 calls\n",
				n, readyTrials, median(readies), n, median(owns), median(overheads), joinInts(overheads), float64(rss)/1024, float64(rssAfter)/1024)
			b.ReportMetric(float64(median(readies)), fmt.Sprintf("ready_ms_%d", n))
			b.ReportMetric(float64(median(owns)), fmt.Sprintf("own_start_ms_%d", n))
			b.ReportMetric(float64(median(overheads)), fmt.Sprintf("overhead_ms_%d", n))
			b.ReportMetric(float64(rssAfter)/1024, fmt.Sprintf("rss_MB_%d", n))
		}
		writeResult(b, "ready_rss", sb.String())
	}
}

const readyTrials = 5

func joinInts(v []int64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%+d", x)
	}
	return strings.Join(parts, " ")
}

// slowestOwnStart starts n upstreams at once with a direct Go SDK client and
// returns the time until the slowest has answered initialize and tools/list.
func slowestOwnStart(b testing.TB, bin string, n int) time.Duration {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	sessions := make([]*mcp.ClientSession, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t0 := time.Now()
			c := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
			cs, err := c.Connect(context.Background(), &mcp.CommandTransport{Command: exec.Command(bin)}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := cs.ListTools(context.Background(), nil); err != nil {
				b.Error(err)
			}
			d := time.Since(t0)
			mu.Lock()
			if d > slowest {
				slowest = d
			}
			sessions[i] = cs
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	for _, cs := range sessions {
		if cs != nil {
			cs.Close()
		}
	}
	return slowest
}

func warm(b testing.TB, c caller) {
	for i := 0; i < 50; i++ {
		if err := c(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func must(b testing.TB) func(stats, error) stats {
	return func(s stats, err error) stats {
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
}
