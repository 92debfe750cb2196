package fastpath

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// stdioConn is the fast path's newline-delimited JSON-RPC connection over a
// stdio server's pipes, used in place of the SDK's IOTransport connection.
// It reads one message per line (a value spread over several lines, as a
// pretty-printing server writes it, is put together again), bounded by
// mcp.DefaultMaxLineLength, and decodes each message once, on its reader
// goroutine, where intercept takes the fast path's messages (responses to
// raw requests, messages for fast-path flights) off the stream before they
// would cross to the SDK session's goroutine.
//
// A hostile or careless server cannot make it buffer more than the limit
// or end the session with noise: a line that is not JSON (a banner, a log
// line on stdout) is skipped and reported to garbage; a message larger than
// the limit is read past without being kept, and ends the connection with
// an error that says so.
type stdioConn struct {
	r         io.ReadCloser
	w         io.WriteCloser
	intercept func(jsonrpc.Message) bool
	// pre, if set, may take a raw message before it is decoded for the SDK
	// (the SDK's decoder allocates a large buffer per message).
	pre func(json.RawMessage) bool
	// garbage, if set, is told about each skipped non-JSON line (its first
	// bytes) and how many were skipped so far.
	garbage func(line []byte, count int)
	// limit bounds one message; 0 means mcp.DefaultMaxLineLength.
	limit int

	// failed is why reading stopped, when it was not the end of the stream
	// (a message over the limit, a read error).
	failed atomic.Pointer[error]

	wmu       sync.Mutex
	incoming  chan stdioMsg
	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
	reading   sync.WaitGroup // the reader goroutine; Close waits for it
}

type stdioMsg struct {
	msg jsonrpc.Message
	err error
}

func newStdioConn(r io.ReadCloser, w io.WriteCloser, intercept func(jsonrpc.Message) bool) *stdioConn {
	c := &stdioConn{r: r, w: w, intercept: intercept, incoming: make(chan stdioMsg), closed: make(chan struct{})}
	return c
}

// start runs the reader; call it once the hooks are set.
func (c *stdioConn) start() { c.reading.Go(c.readLoop) }

// readBufferSize is the reader's buffer: most messages fit, and every
// connection keeps one for its life (a message longer than it is gathered
// in pieces, see readFrame).
const readBufferSize = 8 << 10

// maxValueLines bounds how many lines one message may be spread over
// before the lines gathered so far are taken for garbage.
const maxValueLines = 10000

func (c *stdioConn) readLoop() {
	limit := c.limit
	if limit <= 0 {
		limit = mcp.DefaultMaxLineLength
	}
	br := bufio.NewReaderSize(c.r, readBufferSize)
	var acc []byte // a message spread over lines, so far
	accLines, skipped := 0, 0
	skip := func(b []byte) {
		skipped++
		if c.garbage != nil {
			c.garbage(b[:min(len(b), 200)], skipped)
		}
	}
	for {
		line, err := readFrame(br, limit-len(acc))
		if errors.Is(err, errFrameTooLarge) {
			err = fmt.Errorf("the server sent a message larger than the %d MiB limit: %w", limit>>20, err)
			c.failed.Store(&err)
			c.deliver(stdioMsg{err: err})
			return
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			switch {
			case len(acc) == 0 && t[0] != '{' && t[0] != '[':
				skip(t)
			default:
				if len(acc) > 0 && t[0] == '{' && bytes.Contains(t, jsonrpcKey) && json.Valid(t) {
					// A whole message on this line: what came before was
					// not the start of one.
					skip(acc)
					acc, accLines = nil, 0
				}
				if acc == nil {
					acc = line // readFrame's buffer is ours
				} else {
					acc = append(append(acc, '\n'), line...)
				}
				accLines++
				if !json.Valid(acc) {
					if accLines >= maxValueLines {
						skip(acc)
						acc, accLines = nil, 0
					}
					break
				}
				raw := json.RawMessage(acc)
				acc, accLines = nil, 0
				if !c.dispatch(raw, skip) {
					return
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				c.failed.Store(&err)
			}
			c.deliver(stdioMsg{err: err})
			return
		}
	}
}

// readErr is why reading stopped early (nil at the end of the stream or
// while it goes on).
func (c *stdioConn) readErr() error {
	if p := c.failed.Load(); p != nil {
		return *p
	}
	return nil
}

var jsonrpcKey = []byte(`"jsonrpc"`)

// dispatch decodes one message and hands it on; false when the connection
// is done. JSON that is not JSON-RPC (a structured log line on stdout) is
// skipped.
func (c *stdioConn) dispatch(raw json.RawMessage, skip func([]byte)) bool {
	if c.pre != nil && c.pre(raw) {
		return true
	}
	msgs, err := decodeBatch(raw)
	if err != nil {
		skip(raw)
		return true
	}
	for _, m := range msgs {
		if c.intercept != nil && c.intercept(m) {
			continue
		}
		if !c.deliver(stdioMsg{msg: m}) {
			return false
		}
	}
	return true
}

// readFrame returns the next line without its newline, in a buffer of its
// own. A line longer than limit is read to its end without being kept and
// reported as errFrameTooLarge. At the end of the stream it returns what
// is left with the reader's error.
func readFrame(br *bufio.Reader, limit int) ([]byte, error) {
	// A long line is gathered in pieces and copied once into a buffer of
	// its exact size (appending would leave up to twice its size behind).
	var pieces [][]byte
	total := 0
	for {
		frag, err := br.ReadSlice('\n')
		if total+len(frag) > limit+1 { // +1: the newline
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) && err != io.EOF {
				return nil, err
			}
			return nil, errFrameTooLarge
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			pieces = append(pieces, bytes.Clone(frag))
			total += len(frag)
			continue
		}
		line := make([]byte, 0, total+len(frag))
		for _, p := range pieces {
			line = append(line, p...)
		}
		line = append(line, frag...)
		if err == nil {
			line = line[:len(line)-1]
		}
		return line, err
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

// Close closes both pipes and returns once the reader has ended (closing
// its pipe ends its read).
func (c *stdioConn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = errors.Join(c.r.Close(), c.w.Close())
		close(c.closed)
	})
	c.reading.Wait()
	return c.closeErr
}

func (c *stdioConn) SessionID() string { return "" }

// errFrameTooLarge reports a message larger than the limit.
var errFrameTooLarge = errors.New("inbound JSON-RPC frame exceeded the configured maximum line length")
