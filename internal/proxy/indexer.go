package proxy

import (
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/index"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// indexer feeds tool-list changes to the search index. Indexing is CPU work
// nobody waits for until a search, so while upstreams are still connecting
// it waits too, and the CPU goes to bringing them up: updates queue here and
// are applied together once no upstream is connecting (or after
// indexHoldMax at the latest). A search applies whatever is queued first, so
// it always sees every tool list received so far.
type indexer struct {
	ix  *index.Index
	m   *upstream.Manager
	log *slog.Logger

	// afterFunc schedules f after d (time.AfterFunc; tests use a fake
	// clock).
	afterFunc func(d time.Duration, f func()) stopper

	mu      sync.Mutex
	pending map[string][]*mcp.Tool // server → tools; nil removes it
	timer   stopper                // armed while updates wait, firing at due
	due     time.Time
	applyMu sync.Mutex // one apply at a time, in queue order
}

const (
	// indexHoldMax bounds how long an update waits for upstreams that keep
	// connecting.
	indexHoldMax = time.Second
	// indexSettleDelay lets whatever waited for the last upstream run
	// before the queued updates take the CPU.
	indexSettleDelay = 10 * time.Millisecond
)

// stopper is a scheduled function (*time.Timer).
type stopper interface{ Stop() bool }

func newIndexer(ix *index.Index, m *upstream.Manager, log *slog.Logger) *indexer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &indexer{ix: ix, m: m, log: log, pending: map[string][]*mcp.Tool{},
		afterFunc: func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }}
}

// update queues server's new tool list (nil: the server is gone).
func (x *indexer) update(server string, tools []*mcp.Tool) {
	if x.ix == nil {
		return
	}
	x.mu.Lock()
	x.pending[server] = tools
	x.mu.Unlock()
	if x.connecting() {
		x.applyIn(indexHoldMax)
	} else {
		x.applyIn(indexSettleDelay)
	}
}

// stateChanged applies the queue soon once no upstream is connecting.
func (x *indexer) stateChanged() {
	x.mu.Lock()
	n := len(x.pending)
	x.mu.Unlock()
	if n > 0 && !x.connecting() {
		x.applyIn(indexSettleDelay)
	}
}

// applyIn makes sure the queue is applied within d.
func (x *indexer) applyIn(d time.Duration) {
	at := time.Now().Add(d)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.timer != nil {
		if !x.due.After(at) {
			return // due sooner already
		}
		x.timer.Stop()
	}
	x.due = at
	var t stopper
	t = x.afterFunc(d, func() {
		x.mu.Lock() // held by applyIn until t and x.timer are set
		if x.timer == t {
			x.timer = nil
		}
		x.mu.Unlock()
		x.flush()
	})
	x.timer = t
}

func (x *indexer) connecting() bool {
	for _, u := range x.m.List() {
		if u.Status().State == upstream.StateConnecting {
			return true
		}
	}
	return false
}

// flush applies every queued update now.
func (x *indexer) flush() {
	if x.ix == nil {
		return
	}
	x.applyMu.Lock()
	defer x.applyMu.Unlock()
	x.mu.Lock()
	batch := x.pending
	x.pending = map[string][]*mcp.Tool{}
	x.mu.Unlock()
	// One Apply for every queued server: one segment of the index, not
	// one per server.
	updates := make(map[string][]index.Tool, len(batch))
	for server, tools := range batch {
		it := make([]index.Tool, 0, len(tools))
		for _, t := range tools {
			if t == nil || t.Name == "" {
				continue // not callable; the index would refuse the whole batch
			}
			schema, _ := json.Marshal(t.InputSchema)
			it = append(it, index.Tool{Server: server, Name: t.Name, Description: t.Description, InputSchema: schema})
		}
		updates[server] = it
	}
	if len(updates) == 0 {
		return
	}
	if err := x.ix.Apply(updates); err != nil && !errors.Is(err, index.ErrClosed) {
		x.log.Warn("index update failed", "servers", len(updates), "error", err)
	}
}
