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
// (c) /mcp call_tool.
func BenchmarkCallLatency(b *testing.B) {
	bin := testutil.EverythingServer(b)
	for i := 0; i < b.N; i++ {
		// (a) direct: one stdio session; 8 concurrent callers share it, as
		// 8 clients of one stdio server would through any proxy.
		direct := stdioSession(b, bin)
		warm(b, simpleText(direct))
		aSeq := must(b)(sequential(calls, simpleText(direct)))
		directs := make([]caller, concurrency)
		for j := range directs {
			directs[j] = simpleText(direct)
		}
		aPar := must(b)(concurrent(calls, directs))

		p := startProxy(b, everythingConfig(bin, 1))
		per := httpSession(b, "http://"+p.addr+"/mcp/everything")
		warm(b, simpleText(per))
		bSeq := must(b)(sequential(calls, simpleText(per)))
		pers := make([]caller, concurrency)
		for j := range pers {
			pers[j] = simpleText(httpSession(b, "http://"+p.addr+"/mcp/everything"))
		}
		bPar := must(b)(concurrent(calls, pers))

		agg := httpSession(b, "http://"+p.addr+"/mcp")
		warm(b, viaCallTool(agg, "everything"))
		cSeq := must(b)(sequential(calls, viaCallTool(agg, "everything")))
		aggs := make([]caller, concurrency)
		for j := range aggs {
			aggs[j] = viaCallTool(httpSession(b, "http://"+p.addr+"/mcp"), "everything")
		}
		cPar := must(b)(concurrent(calls, aggs))

		report(b, "a_seq", aSeq)
		report(b, "b_seq", bSeq)
		report(b, "c_seq", cSeq)
		report(b, "a_par", aPar)
		report(b, "b_par", bPar)
		report(b, "c_par", cPar)
		var sb strings.Builder
		fmt.Fprintf(&sb, "test_simple_text on the Go SDK conformance server (stdio upstream)\n")
		fmt.Fprintf(&sb, "sequential, %d calls:\n", calls)
		fmt.Fprintf(&sb, "  (a) direct stdio        %s\n", aSeq)
		fmt.Fprintf(&sb, "  (b) /mcp/everything     %s   (+%.1f µs at p50)\n", bSeq, us(bSeq.p50-aSeq.p50))
		fmt.Fprintf(&sb, "  (c) /mcp call_tool      %s   (+%.1f µs at p50)\n", cSeq, us(cSeq.p50-aSeq.p50))
		fmt.Fprintf(&sb, "%d concurrent clients, %d calls:\n", concurrency, calls)
		fmt.Fprintf(&sb, "  (a) direct stdio        %s\n", aPar)
		fmt.Fprintf(&sb, "  (b) /mcp/everything     %s   (%.0f%% of direct)\n", bPar, 100*bPar.perSec/aPar.perSec)
		fmt.Fprintf(&sb, "  (c) /mcp call_tool      %s   (%.0f%% of direct)\n", cPar, 100*cPar.perSec/aPar.perSec)
		writeResult(b, "call_latency", sb.String())
	}
}

// BenchmarkReadyAndRSS: time from process start to "all upstreams ready"
// against the slowest upstream's own start, and RSS with 1 and 20 upstreams.
func BenchmarkReadyAndRSS(b *testing.B) {
	bin := testutil.EverythingServer(b)
	for i := 0; i < b.N; i++ {
		var sb strings.Builder
		for _, n := range []int{1, 20} {
			own := slowestOwnStart(b, bin, n)
			p := startProxy(b, everythingConfig(bin, n))
			// let the runtime settle, then read RSS
			time.Sleep(500 * time.Millisecond)
			rss := rssKB(p.cmd.Process.Pid)
			// and after serving some calls
			cs := httpSession(b, "http://"+p.addr+"/mcp")
			for j := 0; j < 200; j++ {
				if err := viaCallTool(cs, "everything")(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			rssAfter := rssKB(p.cmd.Process.Pid)
			fmt.Fprintf(&sb, "%2d upstreams: ready %4d ms after process start; slowest upstream's own start (spawn→initialize→tools/list, %d at once, direct) %4d ms; overhead %+d ms; RSS %.1f MB idle, %.1f MB after 200 calls\n",
				n, p.readyMS, n, own.Milliseconds(), p.readyMS-own.Milliseconds(), float64(rss)/1024, float64(rssAfter)/1024)
			b.ReportMetric(float64(p.readyMS), fmt.Sprintf("ready_ms_%d", n))
			b.ReportMetric(float64(own.Milliseconds()), fmt.Sprintf("own_start_ms_%d", n))
			b.ReportMetric(float64(rssAfter)/1024, fmt.Sprintf("rss_MB_%d", n))
		}
		writeResult(b, "ready_rss", sb.String())
	}
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
