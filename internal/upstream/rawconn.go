package upstream

import (
	"bytes"
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

// The fast path (upstream half). For a stdio upstream the connection under
// the SDK client session is a rawConn: by default over rawio.go's stdioConn,
// which decodes each incoming message once on its reader goroutine. Through
// it a forwarder sends tools/call with raw params (CallRaw) and gets the
// upstream's result bytes back, never decoded into typed content; responses
// to those requests are taken off the stream before the SDK sees them, and
// so are the server-to-client messages (progress, logging, sampling,
// elicitation, roots) whose target is a fast-path flight (rawroute.go), which
// go to that flight's Sink. Everything else (initialize, lists, ping,
// list_changed, messages for SDK-path flights) flows through the SDK
// ClientSession exactly as before.
//
// MCPPROXY_FASTPATH=0 (or false/off) turns it off: plain IOTransport, and
// the proxy's fast path declines every request.

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
	rc := &rawConn{u: t.u, pending: map[jsonrpc.ID]chan *jsonrpc.Response{}, closed: make(chan struct{})}
	if iot, ok := t.inner.(*mcp.IOTransport); ok && ownReader {
		// Decode once, route on the reader goroutine (rawio.go).
		sc := newStdioConn(iot.Reader, iot.Writer, rc.intercept)
		sc.pre = rc.preResponse
		sc.garbage = t.u.garbageLine
		sc.start()
		rc.Connection = sc
		rc.own = true
	} else {
		c, err := t.inner.Connect(ctx)
		if err != nil {
			return nil, err
		}
		rc.Connection = c
	}
	t.conn = rc
	return rc, nil
}

// ownReader selects rawio.go's reader over wrapping the SDK's IOTransport
// connection (MCPPROXY_FASTPATH_READER=sdk selects the latter).
var ownReader = os.Getenv("MCPPROXY_FASTPATH_READER") != "sdk"

// rawConn is an mcp.Connection that also carries raw requests.
type rawConn struct {
	mcp.Connection
	u   *Upstream // for routing to fast-path flights (rawroute.go)
	own bool      // Connection is a stdioConn that calls intercept itself

	seq       atomic.Uint64
	mu        sync.Mutex
	pending   map[jsonrpc.ID]chan *jsonrpc.Response
	closeOnce sync.Once
	closed    chan struct{}
}

// Read returns the next message for the SDK session; the fast path's own
// messages are taken out first (by the stdioConn's reader, or here).
func (c *rawConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	for {
		msg, err := c.Connection.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.shut()
			}
			return nil, err
		}
		if !c.own && c.intercept(msg) {
			continue
		}
		return msg, nil
	}
}

// preResponse takes a response to a raw request straight from the wire,
// decoded with encoding/json (cheap for this small envelope).
func (c *rawConn) preResponse(raw json.RawMessage) bool {
	if !bytes.Contains(raw, rawIDBytes) {
		return false
	}
	var m struct {
		ID     *string        `json:"id"`
		Method *string        `json:"method"`
		Result rawRef         `json:"result"`
		Error  *jsonrpc.Error `json:"error"`
	}
	if json.Unmarshal(raw, &m) != nil || m.ID == nil || m.Method != nil || !strings.HasPrefix(*m.ID, rawIDPrefix) {
		return false
	}
	id, err := jsonrpc.MakeID(*m.ID)
	if err != nil {
		return false
	}
	resp := &jsonrpc.Response{ID: id, Result: json.RawMessage(m.Result)}
	if m.Error != nil {
		resp.Error = m.Error
		resp.Result = nil
	}
	return c.intercept(resp)
}

var rawIDBytes = []byte(`"` + rawIDPrefix)

// rawRef is a JSON value kept as a slice of the message it was decoded
// from: json.RawMessage would copy it, and a tool's result can be many
// megabytes. It is only used with json.Unmarshal of a message buffer that
// is never reused (stdioConn gives each message a buffer of its own);
// TestRawRefAliases checks that the value is not copied.
type rawRef []byte

// UnmarshalJSON keeps b itself.
func (r *rawRef) UnmarshalJSON(b []byte) error {
	*r = b
	return nil
}

// intercept handles msg if it belongs to the fast path: a response to a raw
// request, or a message for a fast-path flight.
func (c *rawConn) intercept(msg jsonrpc.Message) bool {
	switch m := msg.(type) {
	case *jsonrpc.Request:
		return c.routeRaw(m)
	case *jsonrpc.Response:
		s, ok := m.ID.Raw().(string)
		if !ok || !strings.HasPrefix(s, rawIDPrefix) {
			return false
		}
		c.mu.Lock()
		ch := c.pending[m.ID]
		delete(c.pending, m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
		return true
	}
	return false
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
	if err := c.writeRequest(ctx, id, method, params); err != nil {
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

// writeRequest sends a request; on a stdioConn the envelope is written
// around the raw params without re-encoding them.
func (c *rawConn) writeRequest(ctx context.Context, id jsonrpc.ID, method string, params json.RawMessage) error {
	sc, ok := c.Connection.(*stdioConn)
	if !ok || !json.Valid(params) || bytes.ContainsAny(params, "\r\n") {
		return c.Connection.Write(ctx, &jsonrpc.Request{ID: id, Method: method, Params: params})
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	idb, _ := json.Marshal(id.Raw())
	mb, _ := json.Marshal(method)
	buf := make([]byte, 0, len(params)+len(idb)+len(mb)+48)
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	buf = append(buf, idb...)
	buf = append(buf, `,"method":`...)
	buf = append(buf, mb...)
	buf = append(buf, `,"params":`...)
	buf = append(buf, params...)
	buf = append(buf, '}')
	return sc.writeLine(buf)
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

// protocolError is why the raw connection stopped reading, when the
// server broke the protocol (nil otherwise).
func (c *rawConn) protocolError() error {
	if sc, ok := c.Connection.(*stdioConn); ok {
		return sc.readErr()
	}
	return nil
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

// SetFastPath turns the fast path on or off (for tests; it applies to
// connections made afterwards) and returns the previous setting.
func SetFastPath(on bool) bool {
	prev := fastPath
	fastPath = on
	return prev
}
