package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// stdioConn is the fast path's newline-delimited JSON-RPC connection over a
// stdio server's pipes, used in place of the SDK's IOTransport connection.
// It reads as the SDK does (a JSON decoder over the stream, one value per
// line, frames bounded by mcp.DefaultMaxLineLength) but decodes each message
// once, on its reader goroutine, where intercept takes the fast path's
// messages (responses to raw requests, messages for fast-path flights) off
// the stream before they would cross to the SDK session's goroutine.
type stdioConn struct {
	r         io.ReadCloser
	w         io.WriteCloser
	intercept func(jsonrpc.Message) bool
	// pre, if set, may take a raw message before it is decoded for the SDK
	// (the SDK's decoder allocates a large buffer per message).
	pre func(json.RawMessage) bool

	wmu       sync.Mutex
	incoming  chan stdioMsg
	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

type stdioMsg struct {
	msg jsonrpc.Message
	err error
}

func newStdioConn(r io.ReadCloser, w io.WriteCloser, intercept func(jsonrpc.Message) bool) *stdioConn {
	c := &stdioConn{r: r, w: w, intercept: intercept, incoming: make(chan stdioMsg), closed: make(chan struct{})}
	go c.readLoop()
	return c
}

func (c *stdioConn) readLoop() {
	lim := &frameLimit{r: c.r, limit: mcp.DefaultMaxLineLength}
	dec := json.NewDecoder(lim)
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == nil {
			var tr [1]byte
			if n, rerr := dec.Buffered().Read(tr[:]); n > 0 {
				if tr[0] != '\n' && tr[0] != '\r' {
					err = fmt.Errorf("invalid trailing data at the end of stream")
				}
			} else if rerr != nil && rerr != io.EOF {
				err = rerr
			}
		}
		if err != nil {
			c.deliver(stdioMsg{err: err})
			return
		}
		lim.count = 0
		if c.pre != nil && c.pre(raw) {
			continue
		}
		msgs, err := decodeBatch(raw)
		if err != nil {
			c.deliver(stdioMsg{err: err})
			return
		}
		for _, m := range msgs {
			if c.intercept != nil && c.intercept(m) {
				continue
			}
			if !c.deliver(stdioMsg{msg: m}) {
				return
			}
		}
	}
}

func (c *stdioConn) deliver(m stdioMsg) bool {
	select {
	case c.incoming <- m:
		return true
	case <-c.closed:
		return false
	}
}

// decodeBatch decodes one JSON-RPC message, or a batch of them.
func decodeBatch(raw json.RawMessage) ([]jsonrpc.Message, error) {
	for _, b := range raw {
		if b == ' ' || b == '\t' || b == '\r' || b == '\n' {
			continue
		}
		if b != '[' {
			break
		}
		var batch []json.RawMessage
		if err := json.Unmarshal(raw, &batch); err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			return nil, errors.New("empty batch")
		}
		out := make([]jsonrpc.Message, 0, len(batch))
		for _, r := range batch {
			m, err := jsonrpc.DecodeMessage(r)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, nil
	}
	m, err := jsonrpc.DecodeMessage(raw)
	if err != nil {
		return nil, err
	}
	return []jsonrpc.Message{m}, nil
}

func (c *stdioConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	default:
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case m := <-c.incoming:
		return m.msg, m.err
	case <-c.closed:
		return nil, io.EOF
	}
}

func (c *stdioConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
	}
	data, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		return fmt.Errorf("marshaling message: %v", err)
	}
	data = append(data, '\n')
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err = c.w.Write(data)
	return err
}

// writeLine writes one encoded message (without its newline).
func (c *stdioConn) writeLine(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.w.Write(append(data, '\n'))
	return err
}

func (c *stdioConn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = errors.Join(c.r.Close(), c.w.Close())
		close(c.closed)
	})
	return c.closeErr
}

func (c *stdioConn) SessionID() string { return "" }

// frameLimit bounds the bytes buffered for one JSON value, as the SDK does.
type frameLimit struct {
	r     io.Reader
	limit int
	count int
}

var errFrameTooLarge = errors.New("inbound JSON-RPC frame exceeded the configured maximum line length")

func (r *frameLimit) Read(p []byte) (int, error) {
	if r.count >= r.limit {
		return 0, errFrameTooLarge
	}
	if len(p) > r.limit-r.count {
		p = p[:r.limit-r.count]
	}
	n, err := r.r.Read(p)
	r.count += n
	return n, err
}
