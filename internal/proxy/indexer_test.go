package proxy

import (
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/index"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// fakeTimers is a clock for the indexer: scheduled functions run only
// when the test fires them.
type fakeTimers struct {
	mu    sync.Mutex
	armed []*fakeTimer
}

type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeTimers) afterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{d: d, f: f}
	c.armed = append(c.armed, t)
	return t
}

// pending returns the delays of the timers armed and not stopped.
func (c *fakeTimers) pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ds []time.Duration
	for _, t := range c.armed {
		if !t.stopped {
			ds = append(ds, t.d)
		}
	}
	return ds
}

// fire runs every armed timer, as the clock reaching their time would.
func (c *fakeTimers) fire() {
	c.mu.Lock()
	var due []*fakeTimer
	for _, t := range c.armed {
		if !t.stopped {
			t.stopped = true
			due = append(due, t)
		}
	}
	c.armed = nil
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// Tool lists wait while an upstream is connecting (held for indexHoldMax at
// most), a search applies them at once, and with nothing connecting they
// are applied after indexSettleDelay. The clock is the test's: nothing
// depends on how fast the machine is.
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
	clock := &fakeTimers{}
	x.afterFunc = clock.afterFunc
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
	if found("frobnicate") {
		t.Fatal("update applied while an upstream is connecting")
	}
	if p := clock.pending(); len(p) != 1 || p[0] != indexHoldMax {
		t.Fatalf("timers %v, want one of indexHoldMax", p)
	}
	x.flush() // what retrieve_tools does first
	if !found("frobnicate") {
		t.Fatal("flush did not apply the queued update")
	}

	x.update("b", tools("defenestrate"))
	x.update("b2", tools("exsanguinate")) // the first timer stands
	if found("defenestrate") {
		t.Fatal("second update applied while an upstream is connecting")
	}
	clock.fire() // indexHoldMax passed, the upstream still connecting
	if !found("defenestrate") || !found("exsanguinate") {
		t.Fatal("updates not applied when the hold ended")
	}

	// Nothing connecting (Apply returns once removed servers stopped).
	cfg2 := config.Default()
	cfg2.DockerIsolation.Enabled = false
	m.Apply(cfg2)
	if x.connecting() {
		t.Fatal("upstream still connecting after removal")
	}
	x.update("c", tools("perambulate"))
	if p := clock.pending(); len(p) != 1 || p[0] != indexSettleDelay {
		t.Fatalf("timers %v, want one of indexSettleDelay", p)
	}
	clock.fire()
	if !found("perambulate") {
		t.Fatal("update not applied once the settle delay passed")
	}
	x.update("c", nil)
	x.flush()
	if found("perambulate") {
		t.Fatal("removal not applied")
	}
}
