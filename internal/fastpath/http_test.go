package fastpath

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// rawUpstream is an Upstream over a Conn (nil: no raw connection).
type rawUpstream struct{ c *Conn }

func (u rawUpstream) FastConn() *Conn                                   { return u.c }
func (u rawUpstream) ExplainFailure(_ context.Context, err error) error { return err }
func (u rawUpstream) BeginCall(ctx context.Context, ss *mcp.ServerSession, meta mcp.Meta) (mcp.Meta, func()) {
	return meta, func() {}
}

// liveSession serves srv over Streamable HTTP and returns the ID of an
// initialized client session.
func liveSession(t *testing.T, srv *mcp.Server) string {
	t.Helper()
	h := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(h.Close)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: h.URL, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs.ID()
}

// post is a request as a Streamable HTTP client sends it.
func post(sid, body string, edit func(*http.Request)) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	r.Header.Set("Mcp-Session-Id", sid)
	if edit != nil {
		edit(r)
	}
	return r
}

const callBody = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"t","arguments":{}}}`

// Every request the endpoint does not answer is counted under why; a call
// it answers is the upstream's bytes under the client's ID.
func TestEndpointReasons(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "s", Version: "1"}, nil)
	sid := liveSession(t, srv)
	conn, _ := connPair(t, nil, func(req map[string]any) string {
		id, _ := json.Marshal(req["id"])
		return `{"jsonrpc":"2.0","id":` + string(id) + `,"result":{"content":[],"isError":false}}`
	})
	route := Route{Upstream: rawUpstream{conn}, Failed: WireFailure}
	e := &Endpoint{Server: srv, Setting: On, Versions: []string{"2025-11-25"}, Route: func(p *mcp.CallToolParamsRaw) (Route, bool) {
		switch p.Name {
		case "nowhere":
			return Route{}, false
		case "unready":
			return Route{Upstream: rawUpstream{}}, true
		}
		r := route
		r.Params = *p
		return r, true
	}}
	tests := []struct {
		name   string
		req    *http.Request
		reason Reason // -1: not counted
	}{
		{"GET", httptest.NewRequest(http.MethodGet, "/mcp", nil), ReasonNotPost},
		{"initialize has no session", post("", callBody, nil), ReasonNoSession},
		{"content type", post(sid, callBody, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }), ReasonContentType},
		{"accept", post(sid, callBody, func(r *http.Request) { r.Header.Set("Accept", "application/json") }), ReasonAccept},
		{"version", post(sid, callBody, func(r *http.Request) { r.Header.Set("Mcp-Protocol-Version", "1999-01-01") }), ReasonVersion},
		{"unknown length", post(sid, callBody, func(r *http.Request) { r.ContentLength = -1 }), ReasonBodySize},
		{"batch", post(sid, "["+callBody+"]", nil), ReasonNotJSONRPC},
		{"not JSON-RPC 2.0", post(sid, `{"jsonrpc":"1.0","id":1,"method":"tools/call"}`, nil), ReasonNotJSONRPC},
		{"unknown session", post("nope", callBody, nil), ReasonUnknownSession},
		{"unknown session, not a call", post("nope", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil), -1},
		{"not a call", post(sid, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil), -1},
		{"bad params", post(sid, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":"x"}`, nil), ReasonBadParams},
		{"no route", post(sid, strings.Replace(callBody, `"t"`, `"nowhere"`, 1), nil), ReasonNoRoute},
		{"no raw connection", post(sid, strings.Replace(callBody, `"t"`, `"unready"`, 1), nil), ReasonNoRawConn},
		{"an unknown reply", post(sid, `{"jsonrpc":"2.0","id":"mcpproxy-fast-99","result":{}}`, nil), -1},
		{"an unknown cancellation", post(sid, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":99}}`, nil), -1},
	}
	for _, tt := range tests {
		before := e.Stats().Declined
		if e.Serve(httptest.NewRecorder(), tt.req) {
			t.Errorf("%s: answered by the fast path", tt.name)
			continue
		}
		after := e.Stats().Declined
		for r := range numReasons {
			want := before[r]
			if r == tt.reason {
				want++
			}
			if after[r] != want {
				t.Errorf("%s: %s counted %d, want %d", tt.name, r, after[r], want)
			}
		}
	}
	// The body is restored for the SDK handler.
	r := post(sid, callBody, func(r *http.Request) { r.Header.Set("Accept", "application/json") })
	e.Serve(httptest.NewRecorder(), r)
	if b, _ := io.ReadAll(r.Body); string(b) != callBody {
		t.Fatalf("body left for the SDK: %q", b)
	}

	w := httptest.NewRecorder()
	if !e.Serve(w, post(sid, callBody, nil)) {
		t.Fatalf("a call was not served; declined %v", e.Stats().Declined)
	}
	if got := w.Body.String(); got != `{"jsonrpc":"2.0","id":7,"result":{"content":[],"isError":false}}` || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("answer %q (%s)", got, w.Header().Get("Content-Type"))
	}
	if st := e.Stats(); st.Served != 1 {
		t.Fatalf("served %d", st.Served)
	}

	// Off: every POST declined as such.
	off := &Endpoint{Server: srv, Setting: Off, Route: e.Route}
	if off.Serve(httptest.NewRecorder(), post(sid, callBody, nil)) || off.Stats().Declined[ReasonOff] != 1 {
		t.Fatalf("off: %v", off.Stats())
	}
}

// An upstream error is a JSON-RPC error with the upstream's code, as the
// SDK would answer it.
func TestWireFailure(t *testing.T) {
	_, we := WireFailure(&jsonrpc.Error{Code: -32602, Message: "bad"})
	if we.Code != -32602 || we.Message != "bad" {
		t.Fatalf("%+v", we)
	}
	_, we = WireFailure(context.DeadlineExceeded)
	if we.Message != "context deadline exceeded" {
		t.Fatalf("%+v", we)
	}
}
