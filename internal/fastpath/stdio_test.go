package fastpath

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// readAll reads messages from a stdioConn fed with input until an error.
func readAll(t *testing.T, input string, limit int) (msgs []jsonrpc.Message, garbage []string, err error) {
	t.Helper()
	c := newStdioConn(io.NopCloser(strings.NewReader(input)), nopWriteCloser{io.Discard}, nil)
	c.limit = limit
	c.garbage = func(line []byte, count int) { garbage = append(garbage, string(line)) }
	c.start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := c.Read(ctx)
		if err != nil {
			return msgs, garbage, err
		}
		msgs = append(msgs, m)
	}
}

func TestStdioConnReading(t *testing.T) {
	big := `{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"` + strings.Repeat("x", 2000) + `"}}`
	tests := []struct {
		name    string
		in      string
		limit   int
		methods []string
		garbage []string
		err     string
	}{
		{"one per line", `{"jsonrpc":"2.0","method":"a"}` + "\n" + `{"jsonrpc":"2.0","method":"b"}` + "\n", 0, []string{"a", "b"}, nil, "EOF"},
		{"last line without newline", `{"jsonrpc":"2.0","method":"a"}`, 0, []string{"a"}, nil, "EOF"},
		{"banner and log lines are skipped", "Server starting on stdio...\n" + `{"jsonrpc":"2.0","method":"a"}` + "\r\n\n  \nINFO ready\n" + `{"jsonrpc":"2.0","method":"b"}` + "\n",
			0, []string{"a", "b"}, []string{"Server starting on stdio...", "INFO ready"}, "EOF"},
		{"pretty-printed message", "{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"a\"\n}\n" + `{"jsonrpc":"2.0","method":"b"}` + "\n", 0, []string{"a", "b"}, nil, "EOF"},
		{"broken message then a good one", `{"jsonrpc":"2.0","method":` + "\n" + `{"jsonrpc":"2.0","method":"b"}` + "\n", 0,
			[]string{"b"}, []string{`{"jsonrpc":"2.0","method":`}, "EOF"},
		{"JSON log lines are skipped", `{"level":"info","msg":"listening"}` + "\n" + `{"jsonrpc":"2.0","method":"a"}` + "\n", 0,
			[]string{"a"}, []string{`{"level":"info","msg":"listening"}`}, "EOF"},
		{"id-first message after a broken one", `{"broken":` + "\n" + `{"id":1,"jsonrpc":"2.0","method":"b"}` + "\n", 0,
			[]string{"b"}, []string{`{"broken":`}, "EOF"},
		{"garbage with control bytes", "\x00\xff}{ nope\n" + `{"jsonrpc":"2.0","method":"a"}` + "\n", 0, []string{"a"}, []string{"\x00\xff}{ nope"}, "EOF"},
		{"message over the limit", `{"jsonrpc":"2.0","method":"a"}` + "\n" + big + "\n" + `{"jsonrpc":"2.0","method":"c"}` + "\n", 1024,
			[]string{"a"}, nil, "larger than"},
		{"message at the limit", big + "\n", len(big), []string{"notifications/message"}, nil, "EOF"},
		{"messages longer than the read buffer", huge(3*readBufferSize) + "\n" + huge(100*readBufferSize+7) + "\n" + `{"jsonrpc":"2.0","method":"c"}`, 0,
			[]string{"notifications/message", "notifications/message", "c"}, nil, "EOF"},
		{"long message over the limit", `{"jsonrpc":"2.0","method":"a"}` + "\n" + huge(50*readBufferSize) + "\n", 20 * readBufferSize,
			[]string{"a"}, nil, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, garbage, err := readAll(t, tt.in, tt.limit)
			var methods []string
			for _, m := range msgs {
				if r, ok := m.(*jsonrpc.Request); ok {
					methods = append(methods, r.Method)
				}
			}
			if strings.Join(methods, ",") != strings.Join(tt.methods, ",") {
				t.Errorf("messages %v, want %v", methods, tt.methods)
			}
			if strings.Join(garbage, "|") != strings.Join(tt.garbage, "|") {
				t.Errorf("garbage %q, want %q", garbage, tt.garbage)
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want one containing %q", err, tt.err)
			}
			if tt.err == "larger than" && !errors.Is(err, errFrameTooLarge) {
				t.Errorf("error %v does not wrap errFrameTooLarge", err)
			}
		})
	}
}

// huge is a notification of n bytes or a little more.
func huge(n int) string {
	return `{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"` + strings.Repeat("y", n) + `"}}`
}

// An idle connection keeps little memory: its read buffer (a proxy keeps
// one connection per stdio upstream for as long as it runs).
func TestStdioConnIdleHeap(t *testing.T) {
	const n = 64
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	conns := make([]*stdioConn, n)
	writers := make([]*io.PipeWriter, n)
	before := heap()
	for i := range conns {
		r, w := io.Pipe()
		conns[i], writers[i] = newStdioConn(r, nopWriteCloser{io.Discard}, nil), w
		conns[i].start()
	}
	// Each reader has its buffer once it has read a message.
	for i, w := range writers {
		go func() { _, _ = io.WriteString(w, `{"jsonrpc":"2.0","method":"a"}`+"\n") }()
		if _, err := conns[i].Read(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	per := (heap() - before) / n
	for i, c := range conns {
		writers[i].Close()
		c.Close()
	}
	t.Logf("heap per idle connection: %d bytes", per)
	if per > 12<<10 {
		t.Errorf("an idle connection keeps %d bytes of heap, want at most 12 KiB", per)
	}
}

// TestRawRefAliases: a result decoded as rawRef is the message's own bytes,
// not a copy (the fast path relies on it to pass large results through).
func TestRawRefAliases(t *testing.T) {
	raw := []byte(`{"id":"x","result":{"content":[]}}`)
	var m struct {
		Result rawRef `json:"result"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if string(m.Result) != `{"content":[]}` {
		t.Fatalf("result %q", m.Result)
	}
	if &m.Result[0] != &raw[bytes.Index(raw, []byte(`{"content"`))] {
		t.Error("rawRef holds a copy: json.Unmarshal no longer passes a slice of its input")
	}
}
