package upstream

import (
	"context"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The Go SDK client hands an incoming notification to a handler goroutine
// but delivers a response to its caller directly, so a log or progress
// notification the upstream sent before a call's response can be handled
// after the call has returned — too late to be routed to the client whose
// call it belongs to. noteOrder closes that gap: the connection counts the
// routed notifications as they are read (in wire order), the handlers count
// them as they finish, and a flight ends only once every notification read
// before its end has been handled (bounded by noteWait). The fast path reads
// and routes on one goroutine and needs none of this.

// noteWait bounds how long the end of a call waits for earlier
// notifications to be handled.
const noteWait = time.Second

// routedNotes are the notifications routed to the call in flight.
var routedNotes = map[string]bool{"notifications/message": true, "notifications/progress": true}

type noteOrder struct {
	mu         sync.Mutex
	read       uint64        // routed notifications read from the connection
	handled    uint64        // routed notifications whose handler returned
	handledNow chan struct{} // closed when handled grows
}

func (o *noteOrder) noteRead() {
	o.mu.Lock()
	o.read++
	o.mu.Unlock()
}

func (o *noteOrder) noteHandled() {
	o.mu.Lock()
	o.handled++
	if o.handledNow != nil {
		close(o.handledNow)
		o.handledNow = nil
	}
	o.mu.Unlock()
}

// reset starts counting for a new connection.
func (o *noteOrder) reset() {
	o.mu.Lock()
	o.handled = o.read
	if o.handledNow != nil {
		close(o.handledNow)
		o.handledNow = nil
	}
	o.mu.Unlock()
}

// waitHandled waits until every routed notification read so far has been
// handled, or for at most d.
func (o *noteOrder) waitHandled(d time.Duration) {
	o.mu.Lock()
	target := o.read
	if o.handled >= target {
		o.mu.Unlock()
		return
	}
	o.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		o.mu.Lock()
		if o.handled >= target {
			o.mu.Unlock()
			return
		}
		if o.handledNow == nil {
			o.handledNow = make(chan struct{})
		}
		ch := o.handledNow
		o.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return
		}
	}
}

// noteMiddleware counts routed notifications as their handlers return.
func (u *Upstream) noteMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if !routedNotes[method] {
			return next(ctx, method, req)
		}
		defer u.notes.noteHandled()
		return next(ctx, method, req)
	}
}

// orderedTransport counts the routed notifications its connection reads.
type orderedTransport struct {
	inner mcp.Transport
	o     *noteOrder
}

func (t orderedTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	t.o.reset()
	return orderedConn{Connection: c, o: t.o}, nil
}

type orderedConn struct {
	mcp.Connection
	o *noteOrder
}

func (c orderedConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	msg, err := c.Connection.Read(ctx)
	if r, ok := msg.(*jsonrpc.Request); ok && !r.IsCall() && routedNotes[r.Method] {
		c.o.noteRead()
	}
	return msg, err
}
