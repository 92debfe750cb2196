package fastpath

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// fakeServer is the upstream end of a Conn: it reads the requests the Conn
// writes and answers as answer says (nil: no answer).
type fakeServer struct {
	lines  *bufio.Scanner
	w      io.Writer
	wmu    sync.Mutex
	mu     sync.Mutex
	seen   []map[string]any
	answer func(req map[string]any) string
	done   chan struct{}
}

// connPair connects a Conn (through Transport) to a fakeServer.
func connPair(t *testing.T, flights Flights, answer func(map[string]any) string) (*Conn, *fakeServer) {
	t.Helper()
	upR, upW := io.Pipe()     // Conn → server
	downR, downW := io.Pipe() // server → Conn
	s := &fakeServer{lines: bufio.NewScanner(upR), w: downW, answer: answer, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for s.lines.Scan() {
			var req map[string]any
			if json.Unmarshal(s.lines.Bytes(), &req) != nil {
				continue
			}
			s.mu.Lock()
			s.seen = append(s.seen, req)
			s.mu.Unlock()
			if s.answer != nil {
				if out := s.answer(req); out != "" {
					s.send(out)
				}
			}
		}
	}()
	tr := &Transport{Inner: &mcp.IOTransport{Reader: downR, Writer: upW}, Flights: flights}
	c, err := tr.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tr.Conn() != c.(*Conn) || !tr.Conn().OwnReader() {
		t.Fatal("Transport does not keep its connection")
	}
	t.Cleanup(func() {
		c.Close()
		downW.Close()
		upR.Close()
		<-s.done
	})
	return c.(*Conn), s
}

func (s *fakeServer) send(line string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, _ = io.WriteString(s.w, line+"\n")
}

func (s *fakeServer) requests() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.seen...)
}

// A raw call's result comes back as the upstream's bytes; its error keeps
// the upstream's code; other messages go to the SDK side (Read).
func TestConnCall(t *testing.T) {
	c, s := connPair(t, nil, func(req map[string]any) string {
		id, _ := json.Marshal(req["id"])
		switch req["method"] {
		case "tools/call":
			return `{"jsonrpc":"2.0","id":` + string(id) + `,"result":{"content":[{"type":"text","text":"raw  bytes"}]}}`
		case "fail":
			return `{"jsonrpc":"2.0","id":` + string(id) + `,"error":{"code":-32602,"message":"bad tool"}}`
		}
		return ""
	})
	ctx := context.Background()
	res, ok, err := CallTool(ctx, c, mcp.Meta{"progressToken": "p1"}, &mcp.CallToolParamsRaw{Name: "t", Arguments: json.RawMessage(`{"a": 1}`)})
	if !ok || err != nil || string(res.Raw) != `{"content":[{"type":"text","text":"raw  bytes"}]}` {
		t.Fatalf("CallTool = %s, %v, %v", res.Raw, ok, err)
	}
	if b, _ := res.MarshalJSON(); string(b) != string(res.Raw) {
		t.Fatal("a Result does not marshal to its bytes")
	}
	req := s.requests()[0]
	params := req["params"].(map[string]any)
	if params["name"] != "t" || params["arguments"].(map[string]any)["a"] != 1.0 || params["_meta"].(map[string]any)["progressToken"] != "p1" ||
		!strings.HasPrefix(req["id"].(string), rawIDPrefix) {
		t.Fatalf("request sent %v", req)
	}
	_, err = c.Call(ctx, "fail", json.RawMessage(`{}`))
	var we *jsonrpc.Error
	if !errors.As(err, &we) || we.Code != -32602 || !strings.Contains(err.Error(), `calling "fail"`) {
		t.Fatalf("error %v", err)
	}
	// An SDK-side message passes through.
	go s.send(`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`)
	msg, err := c.Read(ctx)
	if r, ok := msg.(*jsonrpc.Request); err != nil || !ok || r.Method != "notifications/tools/list_changed" {
		t.Fatalf("Read = %v, %v", msg, err)
	}
	// No raw connection: the caller takes the SDK path.
	if _, ok, _ := CallTool(ctx, nil, nil, &mcp.CallToolParamsRaw{Name: "t"}); ok {
		t.Fatal("CallTool without a connection")
	}
}

// A call whose context ends tells the upstream (notifications/cancelled);
// a call pending when the connection closes fails with ErrConnectionClosed.
func TestConnCallCancelAndClose(t *testing.T) {
	c, s := connPair(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "tools/call", json.RawMessage(`{"name":"slow"}`))
		errc <- err
	}()
	waitFor(t, func() bool { return len(s.requests()) == 1 }, "the request")
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	waitFor(t, func() bool {
		r := s.requests()
		return len(r) == 2 && r[1]["method"] == "notifications/cancelled"
	}, "notifications/cancelled")
	go func() {
		_, err := c.Call(context.Background(), "tools/call", json.RawMessage(`{}`))
		errc <- err
	}()
	waitFor(t, func() bool { return len(s.requests()) == 3 }, "the second request")
	c.Close()
	if err := <-errc; !errors.Is(err, mcp.ErrConnectionClosed) {
		t.Fatalf("call at close: %v", err)
	}
	if _, err := c.Call(context.Background(), "x", json.RawMessage(`{}`)); !errors.Is(err, mcp.ErrConnectionClosed) {
		t.Fatalf("call after close: %v", err)
	}
}

// waitFor polls cond (a condition on state another goroutine changes).
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recordingSink is a Sink that records what it gets and answers requests.
type recordingSink struct {
	mu       sync.Mutex
	notes    []string
	logs     []string
	requests []string
}

func (r *recordingSink) Notify(method string, params json.RawMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, method+" "+string(params))
}
func (r *recordingSink) Log(params json.RawMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, string(params))
}
func (r *recordingSink) Request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	r.mu.Lock()
	r.requests = append(r.requests, method)
	r.mu.Unlock()
	if method == "roots/list" {
		return nil, &jsonrpc.Error{Code: -1, Message: "no roots here"}
	}
	return json.RawMessage(`{"answered":true}`), nil
}

// oneFlight is Flights with a single fast-path flight.
type oneFlight struct {
	ctx   context.Context
	token string
	wants map[Want]bool
}

func (f oneFlight) ByProgressToken(tok string) (context.Context, any, bool) {
	if tok != f.token {
		return nil, nil, false
	}
	return f.ctx, "client-token", true
}

func (f oneFlight) Target(w Want) (context.Context, bool) {
	if !f.wants[w] {
		return nil, false
	}
	return f.ctx, true
}

// The upstream's messages during a fast-path call go to the call's Sink:
// progress with the client's token, logs, and requests whose answers go
// back upstream with the same ID. Messages for no fast-path flight go to
// the SDK side.
func TestRouteToSink(t *testing.T) {
	sink := &recordingSink{}
	fl := oneFlight{ctx: WithSink(context.Background(), sink), token: "mcpproxy-7", wants: map[Want]bool{WantAny: true, WantSampling: true, WantRoots: true}}
	c, s := connPair(t, fl, nil)
	sent := make(chan struct{})
	go func() { // pipes are synchronous: the reader hands some of these to Read
		defer close(sent)
		s.send(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"mcpproxy-7","progress":1}}`)
		s.send(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}`)
		s.send(`{"jsonrpc":"2.0","id":41,"method":"sampling/createMessage","params":{}}`)
		s.send(`{"jsonrpc":"2.0","id":42,"method":"roots/list"}`)
		// Not for the fast path: unknown token, elicitation (not wanted).
		s.send(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"other","progress":1}}`)
		s.send(`{"jsonrpc":"2.0","id":43,"method":"elicitation/create","params":{}}`)
	}()
	defer func() { <-sent }()
	for _, want := range []string{"notifications/progress", "elicitation/create"} {
		msg, err := c.Read(context.Background())
		if r, ok := msg.(*jsonrpc.Request); err != nil || !ok || r.Method != want {
			t.Fatalf("Read = %v, %v; want %s", msg, err, want)
		}
	}
	waitFor(t, func() bool { return len(s.requests()) == 2 }, "the answers to the upstream's requests")
	answers := map[float64]map[string]any{}
	for _, r := range s.requests() {
		answers[r["id"].(float64)] = r
	}
	if answers[41]["result"].(map[string]any)["answered"] != true || answers[42]["error"].(map[string]any)["message"] != "no roots here" {
		t.Fatalf("answers %v", answers)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.notes) != 1 || !strings.Contains(sink.notes[0], `"progressToken":"client-token"`) || len(sink.logs) != 1 {
		t.Fatalf("sink got notes %q logs %q", sink.notes, sink.logs)
	}
}

func TestDecodeBatch(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		fail bool
	}{
		{`{"jsonrpc":"2.0","method":"a"}`, 1, false},
		{` [{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","id":1,"result":{}}]`, 2, false},
		{`[]`, 0, true},
		{`[{"jsonrpc":"2.0","method":"a"}, 3]`, 0, true},
		{`{"nope":1}`, 0, true},
	}
	for _, tt := range tests {
		msgs, err := decodeBatch(json.RawMessage(tt.in))
		if (err != nil) != tt.fail || len(msgs) != tt.n {
			t.Errorf("decodeBatch(%s) = %d messages, %v", tt.in, len(msgs), err)
		}
	}
}

func TestSettingAndLevels(t *testing.T) {
	if !On.Enabled() || Off.Enabled() || FromEnv.Enabled() != envEnabled {
		t.Fatal("Setting.Enabled")
	}
	levels := []mcp.LoggingLevel{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}
	for i, l := range levels {
		if LogLevelRank(l) != i {
			t.Errorf("LogLevelRank(%s) = %d", l, LogLevelRank(l))
		}
	}
	if LogLevelRank("bogus") != 0 {
		t.Error("an unknown level must rank as debug")
	}
	if ReasonNoRawConn.String() != "no raw connection" || Reason(99).String() != "Reason(99)" {
		t.Error("Reason.String")
	}
}
