package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The fast path: for a stdio upstream, the connection under the SDK client
// session is wrapped (rawConn) so that a forwarder can also send a request
// through it and get the raw result bytes back, without the SDK client's
// typed decode of the result (and without the downstream SDK server's typed
// encode of it; see proxy.rawResult). Everything else (initialize, lists,
// notifications, server-to-client requests, progress) still flows through
// the SDK ClientSession unchanged: only responses to raw requests are taken
// out of the stream.
//
// MCPPROXY_FASTPATH=0 turns it off.

var fastPath = func() bool {
	v := strings.TrimSpace(os.Getenv("MCPPROXY_FASTPATH"))
	return v != "0" && !strings.EqualFold(v, "false") && !strings.EqualFold(v, "off")
}()

// FastPathEnabled reports whether the raw fast path is on (MCPPROXY_FASTPATH).
func FastPathEnabled() bool { return fastPath }

// rawIDPrefix marks requests sent by CallRaw. The SDK client numbers its own
// requests with integers, so string IDs with this prefix never collide.
const rawIDPrefix = "mcpproxy-raw-"

// rawTransport wraps a transport; the connection it makes is kept so that
// the upstream can send raw requests through it.
type rawTransport struct {
	u     *Upstream
	inner mcp.Transport
	conn  *rawConn
}

func (t *rawTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	t.conn = &rawConn{u: t.u, Connection: c, pending: map[jsonrpc.ID]chan *jsonrpc.Response{}, closed: make(chan struct{})}
	return t.conn, nil
}

// rawConn is an mcp.Connection that also carries raw requests.
type rawConn struct {
	mcp.Connection
	u *Upstream // for routing to fast-path flights (rawroute.go)

	seq       atomic.Uint64
	mu        sync.Mutex
	pending   map[jsonrpc.ID]chan *jsonrpc.Response
	closeOnce sync.Once
	closed    chan struct{}
}

// Read returns the next message for the SDK session; responses to raw
// requests are delivered to their callers instead.
func (c *rawConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	for {
		msg, err := c.Connection.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.shut()
			}
			return nil, err
		}
		if req, ok := msg.(*jsonrpc.Request); ok {
			if c.routeRaw(req) {
				continue
			}
		}
		if resp, ok := msg.(*jsonrpc.Response); ok {
			if s, ok := resp.ID.Raw().(string); ok && strings.HasPrefix(s, rawIDPrefix) {
				c.mu.Lock()
				ch := c.pending[resp.ID]
				delete(c.pending, resp.ID)
				c.mu.Unlock()
				if ch != nil {
					ch <- resp
				}
				continue
			}
		}
		return msg, nil
	}
}

func (c *rawConn) Close() error {
	c.shut()
	return c.Connection.Close()
}

func (c *rawConn) shut() {
	c.closeOnce.Do(func() { close(c.closed) })
}

// call sends method with params (raw JSON) and returns the raw result. A
// JSON-RPC error from the upstream is returned as a *jsonrpc.Error wrapped
// the way the SDK client wraps it, so callers see the same error either way.
func (c *rawConn) call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	id, _ := jsonrpc.MakeID(rawIDPrefix + strconv.FormatUint(c.seq.Add(1), 10))
	ch := make(chan *jsonrpc.Response, 1)
	c.mu.Lock()
	select {
	case <-c.closed:
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: calling %q: %v", mcp.ErrConnectionClosed, method, "client is closing")
	default:
	}
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}
	if err := c.Connection.Write(ctx, &jsonrpc.Request{ID: id, Method: method, Params: params}); err != nil {
		forget()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: calling %q: %v", mcp.ErrConnectionClosed, method, err)
	}
	select {
	case resp := <-ch:
		if resp.Error != nil {
			return nil, fmt.Errorf("calling %q: %w", method, resp.Error)
		}
		return resp.Result, nil
	case <-c.closed:
		forget()
		return nil, fmt.Errorf("%w: calling %q: %v", mcp.ErrConnectionClosed, method, "client is closing")
	case <-ctx.Done():
		forget()
		// As the SDK client does: tell the upstream, off the caller's path.
		go func(reason string) {
			nctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			p, _ := json.Marshal(&mcp.CancelledParams{RequestID: id.Raw(), Reason: reason})
			_ = c.Connection.Write(nctx, &jsonrpc.Request{Method: "notifications/cancelled", Params: p})
		}(ctx.Err().Error())
		return nil, ctx.Err()
	}
}

// errNoRaw means the upstream has no raw connection (HTTP upstream, fast
// path off, or not connected): use the SDK session.
var errNoRaw = errors.New("no raw connection")

// CallRaw sends a request through the upstream's raw connection and returns
// the raw result. ok is false when the upstream has no raw connection; the
// caller then uses the SDK session.
func (u *Upstream) CallRaw(ctx context.Context, method string, params json.RawMessage) (res json.RawMessage, ok bool, err error) {
	u.mu.Lock()
	c := u.raw
	u.mu.Unlock()
	if c == nil {
		return nil, false, errNoRaw
	}
	res, err = c.call(ctx, method, params)
	return res, true, err
}

// HasRaw reports whether CallRaw can be used now.
func (u *Upstream) HasRaw() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.raw != nil
}

// rawWrap wraps a stdio transport for the fast path when it is on.
func (u *Upstream) rawWrap(t mcp.Transport) mcp.Transport {
	if !fastPath {
		return t
	}
	return &rawTransport{u: u, inner: t}
}

// rawAttachLocked makes t's raw connection usable (u.mu held).
func (u *Upstream) rawAttachLocked(t mcp.Transport) {
	if rt, ok := t.(*rawTransport); ok && rt.conn != nil {
		u.raw = rt.conn
	}
}

// rawDetach forgets the raw connection when the session ends.
func (u *Upstream) rawDetach() {
	u.mu.Lock()
	u.raw = nil
	u.mu.Unlock()
}
