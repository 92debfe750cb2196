package fastpath

import (
	"bytes"
	"context"
	"encoding/json"
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

// Setting says whether the fast path is on.
type Setting int

// Settings. The zero value follows the environment.
const (
	// FromEnv is on unless MCPPROXY_FASTPATH is 0, false or off.
	FromEnv Setting = iota
	On
	Off
)

// Enabled reports whether the setting turns the fast path on.
func (s Setting) Enabled() bool {
	switch s {
	case On:
		return true
	case Off:
		return false
	}
	return envEnabled
}

var envEnabled = func() bool {
	v := strings.TrimSpace(os.Getenv("MCPPROXY_FASTPATH"))
	return v != "0" && !strings.EqualFold(v, "false") && !strings.EqualFold(v, "off")
}()

// rawIDPrefix marks requests sent by Conn.Call. The SDK client numbers its
// own requests with integers, so string IDs with this prefix never collide.
const rawIDPrefix = "mcpproxy-raw-"

// Transport wraps the transport of a stdio upstream (an mcp.IOTransport);
// the connection it makes, a Conn, also carries the fast path's raw
// requests.
type Transport struct {
	// Inner is the wrapped transport.
	Inner mcp.Transport
	// Flights routes the server-to-client messages of fast-path calls.
	Flights Flights
	// Garbage, if set, is told about each non-JSON line the server writes
	// (its first bytes) and how many were skipped so far.
	Garbage func(line []byte, count int)

	mu   sync.Mutex
	conn *Conn
}

// Connect implements mcp.Transport.
func (t *Transport) Connect(ctx context.Context) (mcp.Connection, error) {
	rc := &Conn{flights: t.Flights, pending: map[jsonrpc.ID]chan *jsonrpc.Response{}, closed: make(chan struct{})}
	if iot, ok := t.Inner.(*mcp.IOTransport); ok && ownReader {
		// Decode once, route on the reader goroutine (stdio.go).
		sc := newStdioConn(iot.Reader, iot.Writer, rc.intercept)
		sc.pre = rc.preResponse
		sc.garbage = t.Garbage
		sc.start()
		rc.Connection = sc
		rc.own = true
	} else {
		c, err := t.Inner.Connect(ctx)
		if err != nil {
			return nil, err
		}
		rc.Connection = c
	}
	t.mu.Lock()
	t.conn = rc
	t.mu.Unlock()
	return rc, nil
}

// Conn is the connection Connect made last, or nil.
func (t *Transport) Conn() *Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conn
}

// ownReader selects stdio.go's reader over wrapping the SDK's IOTransport
// connection (MCPPROXY_FASTPATH_READER=sdk selects the latter, to compare).
var ownReader = os.Getenv("MCPPROXY_FASTPATH_READER") != "sdk"

// Conn is an mcp.Connection that also carries raw requests (Call).
type Conn struct {
	mcp.Connection
	flights Flights // routes messages to fast-path flights (route.go)
	own     bool    // Connection is a stdioConn that calls intercept itself

	seq       atomic.Uint64
	mu        sync.Mutex
	pending   map[jsonrpc.ID]chan *jsonrpc.Response
	closeOnce sync.Once
	closed    chan struct{}
	// bg owns the goroutines that answer the upstream (a client's answer
	// to its request, a cancellation); Close waits for them.
	bg sync.WaitGroup
}

// Read returns the next message for the SDK session; the fast path's own
// messages are taken out first (by the stdioConn's reader, or here).
func (c *Conn) Read(ctx context.Context) (jsonrpc.Message, error) {
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
func (c *Conn) preResponse(raw json.RawMessage) bool {
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
func (c *Conn) intercept(msg jsonrpc.Message) bool {
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

// Close implements mcp.Connection; it returns once the goroutines answering
// the upstream have ended.
func (c *Conn) Close() error {
	c.shut()
	err := c.Connection.Close()
	c.bg.Wait()
	return err
}

func (c *Conn) shut() {
	c.closeOnce.Do(func() { close(c.closed) })
}

// Call sends method with params (raw JSON) and returns the raw result. A
// JSON-RPC error from the upstream is returned as a *jsonrpc.Error wrapped
// the way the SDK client wraps it, so callers see the same error either way.
func (c *Conn) Call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
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
		reason := ctx.Err().Error()
		c.bg.Go(func() {
			nctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			p, _ := json.Marshal(&mcp.CancelledParams{RequestID: id.Raw(), Reason: reason})
			_ = c.Connection.Write(nctx, &jsonrpc.Request{Method: "notifications/cancelled", Params: p})
		})
		return nil, ctx.Err()
	}
}

// writeRequest sends a request; on a stdioConn the envelope is written
// around the raw params without re-encoding them.
func (c *Conn) writeRequest(ctx context.Context, id jsonrpc.ID, method string, params json.RawMessage) error {
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

// OwnReader reports whether messages are read by this package's reader
// (which decodes each once) rather than the SDK's connection.
func (c *Conn) OwnReader() bool { return c.own }

// ProtocolError is why the connection stopped reading, when the server
// broke the protocol (a message over the size limit); nil otherwise.
func (c *Conn) ProtocolError() error {
	if sc, ok := c.Connection.(*stdioConn); ok {
		return sc.readErr()
	}
	return nil
}
