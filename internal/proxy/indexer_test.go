package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/index"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// Tool lists wait while an upstream is connecting, a search applies them at
// once, and they are applied by indexHoldMax even if an upstream never
// finishes connecting; with nothing connecting they are applied promptly.
func TestIndexerHoldsUpdatesWhileConnecting(t *testing.T) {
	m := upstream.NewManager(upstream.Options{})
	cfg := config.Default()
	cfg.DockerIsolation.Enabled = false
	cfg.Servers = []*config.Server{{Name: "slow", Command: testutil.FixtureBinary(t), Args: []string{"-hang"}}}
	m.Apply(cfg)
	t.Cleanup(m.Shutdown)
	if st := m.Get("slow").Status().State; st != upstream.StateConnecting {
		t.Fatalf("slow upstream is %s, want connecting", st)
	}
	ix, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	x := newIndexer(ix, m, nil)
	found := func(q string) bool {
		hits, err := ix.Search(q, 5)
		if err != nil {
			t.Fatal(err)
		}
		return len(hits) > 0
	}
	tools := func(name string) []*mcp.Tool {
		return []*mcp.Tool{{Name: name, Description: "a tool", InputSchema: map[string]any{"type": "object"}}}
	}

	x.update("a", tools("frobnicate"))
	time.Sleep(50 * time.Millisecond)
	if found("frobnicate") {
		t.Fatal("update applied while an upstream is connecting")
	}
	x.flush() // what retrieve_tools does first
	if !found("frobnicate") {
		t.Fatal("flush did not apply the queued update")
	}

	start := time.Now()
	x.update("b", tools("defenestrate"))
	time.Sleep(100 * time.Millisecond)
	if found("defenestrate") {
		t.Fatal("second update applied while an upstream is connecting")
	}
	for !found("defenestrate") {
		if time.Since(start) > 3*indexHoldMax {
			t.Fatalf("update not applied within %v while an upstream stays connecting", 3*indexHoldMax)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Nothing connecting: applied within a few indexSettleDelays.
	cfg2 := config.Default()
	cfg2.DockerIsolation.Enabled = false
	m.Apply(cfg2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for x.connecting() {
		if ctx.Err() != nil {
			t.Fatal("upstream still connecting after removal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start = time.Now()
	x.update("c", tools("perambulate"))
	for !found("perambulate") {
		if time.Since(start) > 500*time.Millisecond {
			t.Fatal("update not applied promptly with nothing connecting")
		}
		time.Sleep(5 * time.Millisecond)
	}
	x.update("c", nil)
	x.flush()
	if found("perambulate") {
		t.Fatal("removal not applied")
	}
}
