package fastpath

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The downstream half of the fast path (MCPPROXY_FASTPATH=0 turns it off).
//
// A POST that carries one tools/call request for a live, initialized session
// is answered here rather than by the SDK's streamable handler: on
// /mcp/{server} any tools/call, on /mcp a call_tool whose upstream is ready.
// The call goes to the upstream through its raw connection (Conn.Call) and
// the upstream's result bytes are written back as they are. Server-to-client
// messages the upstream sends during the call (progress, logging, sampling,
// elicitation, roots) are written to this same response, which then becomes
// an SSE stream; the client's answers to the requests among them, and its
// notifications/cancelled for the call, are POSTed back and picked up here
// too. Every other request (and any request this code is not sure about)
// goes to the SDK handler unchanged, so errors such as 404 for an unknown
// session stay the SDK's; why is counted (Stats).

// Endpoint is one MCP endpoint's fast path and its state. Set the exported
// fields before first use.
type Endpoint struct {
	// Server is the endpoint's SDK server (its sessions are the clients).
	Server *mcp.Server
	// Route picks the upstream and the tools/call params to send it for a
	// tools/call received on this endpoint. ok false leaves the request to
	// the SDK handler.
	Route func(p *mcp.CallToolParamsRaw) (Route, bool)
	// Setting turns the fast path on or off.
	Setting Setting
	// Versions are the protocol versions the endpoint speaks; a request
	// for another is left to the SDK handler (which refuses it).
	Versions []string

	levels   sync.Map // session ID -> mcp.LoggingLevel
	calls    sync.Map // session ID + "\x00" + raw request ID -> context.CancelFunc
	waiting  sync.Map // request ID we sent to a client -> chan *fastReply
	seq      atomic.Uint64
	served   atomic.Int64 // tools/call requests answered by the fast path
	stopped  atomic.Int64 // fast-path calls ended by notifications/cancelled
	declined [numReasons]atomic.Int64
}

// Route is where a fast-path tools/call goes.
type Route struct {
	Upstream Upstream
	// Params are sent upstream; their _meta is replaced by the rewritten
	// one.
	Params mcp.CallToolParamsRaw
	// Failed turns an upstream failure into the response: a JSON-RPC
	// error, or (on /mcp, where call_tool reports failures as tool errors)
	// a result.
	Failed func(err error) (result any, rpcErr *jsonrpc.Error)
}

// WireFailure answers a failure as a JSON-RPC error, as the SDK would.
func WireFailure(err error) (any, *jsonrpc.Error) { return nil, toWireError(err) }

type fastReply struct {
	result json.RawMessage
	err    *jsonrpc.Error
}

// clientIDPrefix marks requests the fast path sends to clients.
const clientIDPrefix = "mcpproxy-fast-"

// NoteLevel records a session's log level (the SDK keeps its own copy
// private).
func (e *Endpoint) NoteLevel(ss *mcp.ServerSession, level mcp.LoggingLevel) {
	if ss != nil {
		e.levels.Store(ss.ID(), level)
	}
}

// Reason says why a request was left to the SDK handler.
type Reason int

// Reasons. Those up to NotJSONRPC are found before the message is read and
// count every such request; the others count tools/call requests only (a
// call that fell back).
const (
	ReasonOff            Reason = iota // the fast path is off (every POST)
	ReasonNotPost                      // GET, DELETE, …
	ReasonNoSession                    // no Mcp-Session-Id (initialize)
	ReasonContentType                  // not application/json
	ReasonAccept                       // the client does not accept both JSON and SSE
	ReasonVersion                      // a protocol version the endpoint does not speak
	ReasonBodySize                     // body size unknown or over the limit
	ReasonNotJSONRPC                   // not one JSON-RPC 2.0 object (a batch, garbage)
	ReasonUnknownSession               // a tools/call for a session that is not live
	ReasonNotInitialized               // a tools/call before initialize finished
	ReasonBadParams                    // a tools/call whose params do not decode
	ReasonNoRoute                      // the endpoint's Route declined (e.g. unknown server on /mcp)
	ReasonNoRawConn                    // the upstream has no raw connection (not ready, HTTP)
	ReasonDuplicateID                  // a request ID already in flight in the session
	ReasonConnGone                     // the raw connection went away before the call was sent
	numReasons
)

var reasonNames = [numReasons]string{"off", "not POST", "no session", "content type", "accept", "protocol version",
	"body size", "not one JSON-RPC object", "unknown session", "not initialized", "bad params", "no route",
	"no raw connection", "duplicate request ID", "connection gone"}

func (r Reason) String() string {
	if r >= 0 && r < numReasons {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// CallReasons are the reasons that apply to tools/call requests only: a
// tools/call counted under one of them fell back to the SDK path.
var CallReasons = []Reason{ReasonUnknownSession, ReasonNotInitialized, ReasonBadParams, ReasonNoRoute, ReasonNoRawConn, ReasonDuplicateID, ReasonConnGone}

// Stats counts what the endpoint did.
type Stats struct {
	// Served is the tools/call requests answered by the fast path (counted
	// before the answer is written).
	Served int64
	// Stopped is the fast-path calls ended by notifications/cancelled.
	Stopped int64
	// Declined counts the requests left to the SDK handler, by reason
	// (reasons never seen are absent).
	Declined map[Reason]int64
}

// Stats returns the counts so far.
func (e *Endpoint) Stats() Stats {
	st := Stats{Served: e.served.Load(), Stopped: e.stopped.Load(), Declined: map[Reason]int64{}}
	for r := range numReasons {
		if n := e.declined[r].Load(); n > 0 {
			st.Declined[r] = n
		}
	}
	return st
}

// InFlight reports how many fast-path calls are under way.
func (e *Endpoint) InFlight() int {
	n := 0
	e.calls.Range(func(any, any) bool { n++; return true })
	return n
}

// decline counts why r is left to the SDK handler and returns false.
func (e *Endpoint) decline(why Reason) bool {
	e.declined[why].Add(1)
	return false
}

// wireMsg is the part of an incoming JSON-RPC message the fast path looks at.
type wireMsg struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   *jsonrpc.Error  `json:"error"`
}

// Serve answers r if it is a fast-path request and reports whether it did.
// When it returns false, r (with its body restored) is for the SDK handler.
func (e *Endpoint) Serve(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case r.Method != http.MethodPost:
		return e.decline(ReasonNotPost)
	case !e.Setting.Enabled():
		return e.decline(ReasonOff)
	}
	sid := r.Header.Get("Mcp-Session-Id")
	if sid == "" {
		return e.decline(ReasonNoSession)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return e.decline(ReasonContentType)
	}
	if jsonOK, streamOK := accepts(r.Header.Values("Accept")); !jsonOK || !streamOK {
		return e.decline(ReasonAccept)
	}
	if v := r.Header.Get("Mcp-Protocol-Version"); v != "" && !slices.Contains(e.Versions, v) {
		return e.decline(ReasonVersion)
	}
	// Only bodies of known, bounded size: anything else (and its error
	// answers) is the SDK's.
	if r.ContentLength <= 0 || r.ContentLength > mcp.DefaultMaxRequestBodyBytes {
		return e.decline(ReasonBodySize)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, r.ContentLength))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return e.decline(ReasonBodySize)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return e.decline(ReasonNotJSONRPC)
	}
	var m wireMsg
	if json.Unmarshal(trimmed, &m) != nil || m.JSONRPC != "2.0" {
		return e.decline(ReasonNotJSONRPC)
	}
	isCall := m.Method == "tools/call" && len(m.ID) > 0 && string(m.ID) != "null"
	ss := e.liveSession(sid)
	if ss == nil {
		e.levels.Delete(sid) // a closed session's level is no longer needed
		return isCall && e.decline(ReasonUnknownSession)
	}
	if ss.InitializeParams() == nil {
		return isCall && e.decline(ReasonNotInitialized)
	}
	switch {
	case isCall:
		return e.toolsCall(w, r, ss, sid, &m)
	case m.Method == "" && len(m.ID) > 0 && (m.Result != nil || m.Error != nil):
		var id string
		if json.Unmarshal(m.ID, &id) != nil || !strings.HasPrefix(id, clientIDPrefix) {
			return false
		}
		ch, ok := e.waiting.LoadAndDelete(sid + "\x00" + id)
		if !ok {
			return false
		}
		ch.(chan *fastReply) <- &fastReply{result: m.Result, err: m.Error}
		w.WriteHeader(http.StatusAccepted)
		return true
	case m.Method == "notifications/cancelled" && len(m.ID) == 0:
		var p struct {
			RequestID json.RawMessage `json:"requestId"`
		}
		if json.Unmarshal(m.Params, &p) != nil {
			return false
		}
		cancel, ok := e.calls.Load(sid + "\x00" + string(p.RequestID))
		if !ok {
			return false
		}
		cancel.(context.CancelFunc)()
		e.stopped.Add(1)
		w.WriteHeader(http.StatusAccepted)
		return true
	}
	return false
}

func (e *Endpoint) liveSession(sid string) *mcp.ServerSession {
	for ss := range e.Server.Sessions() {
		if ss.ID() == sid {
			return ss
		}
	}
	return nil
}

func (e *Endpoint) toolsCall(w http.ResponseWriter, r *http.Request, ss *mcp.ServerSession, sid string, m *wireMsg) bool {
	if len(m.Params) == 0 {
		return e.decline(ReasonBadParams)
	}
	var params mcp.CallToolParamsRaw
	if json.Unmarshal(m.Params, &params) != nil {
		return e.decline(ReasonBadParams)
	}
	rt, ok := e.Route(&params)
	if !ok || rt.Upstream == nil {
		return e.decline(ReasonNoRoute)
	}
	if rt.Upstream.FastConn() == nil {
		return e.decline(ReasonNoRawConn)
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	key := sid + "\x00" + string(m.ID)
	if _, dup := e.calls.LoadOrStore(key, cancel); dup {
		return e.decline(ReasonDuplicateID)
	}
	defer e.calls.Delete(key)

	s := &fastSink{e: e, w: w, sid: sid}
	ctx = WithSink(ctx, s)
	meta, end := rt.Upstream.BeginCall(ctx, ss, params.Meta)
	res, ok, err := CallTool(ctx, rt.Upstream.FastConn(), meta, &rt.Params)
	end()
	if ok && err != nil {
		err = rt.Upstream.ExplainFailure(ctx, err)
	}
	if !ok {
		// The raw connection went away before anything was sent.
		return e.decline(ReasonConnGone)
	}
	// Counted before the answer is written: a client that has its answer
	// sees the count.
	e.served.Add(1)
	var result json.RawMessage
	var rpcErr *jsonrpc.Error
	if err != nil {
		var v any
		v, rpcErr = rt.Failed(err)
		if rpcErr == nil {
			if result, err = json.Marshal(v); err != nil {
				rpcErr = toWireError(err)
			}
		}
	} else {
		result = res.Raw
	}
	if rpcErr != nil {
		out, _ := json.Marshal(struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Error   *jsonrpc.Error  `json:"error"`
		}{"2.0", m.ID, rpcErr})
		s.final(out)
	} else {
		// The result is written as it came, between its envelope's two
		// halves: a large result is never copied again.
		head := make([]byte, 0, len(m.ID)+32)
		head = append(head, `{"jsonrpc":"2.0","id":`...)
		head = append(head, m.ID...)
		head = append(head, `,"result":`...)
		s.final(head, result, closeBrace)
	}
	return true
}

// toWireError turns an error into a JSON-RPC error as the SDK would: a
// wrapped JSON-RPC error keeps its code, the message is the whole error.
func toWireError(err error) *jsonrpc.Error {
	var we *jsonrpc.Error
	if errors.As(err, &we) {
		if err == error(we) {
			return we
		}
		return &jsonrpc.Error{Code: we.Code, Message: err.Error()}
	}
	return &jsonrpc.Error{Message: err.Error()}
}

// fastSink is a fast-path call's response. It stays plain JSON unless a
// server-to-client message comes first, in which case it becomes an SSE
// stream (the client accepts both).
type fastSink struct {
	e   *Endpoint
	w   http.ResponseWriter
	sid string

	mu   sync.Mutex
	sse  bool
	done bool
}

// writeEventLocked writes one SSE event whose data is the parts, in order.
func (s *fastSink) writeEventLocked(parts ...[]byte) {
	if !s.sse {
		s.sse = true
		h := s.w.Header()
		h.Set("Cache-Control", "no-cache, no-transform")
		h.Set("Content-Type", "text/event-stream")
		h.Set("Connection", "keep-alive")
		s.w.WriteHeader(http.StatusOK)
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > bigWrite {
		_, _ = s.w.Write(eventPrefix)
		for _, p := range parts {
			_, _ = s.w.Write(p)
		}
		_, _ = s.w.Write(eventSuffix)
	} else {
		buf := make([]byte, 0, n+32)
		buf = append(buf, eventPrefix...)
		for _, p := range parts {
			buf = append(buf, p...)
		}
		buf = append(buf, eventSuffix...)
		_, _ = s.w.Write(buf)
	}
	_ = http.NewResponseController(s.w).Flush()
}

var (
	eventPrefix = []byte("event: message\ndata: ")
	eventSuffix = []byte("\n\n")
	closeBrace  = []byte("}")
)

// bigWrite is the size above which a message's parts are written one by
// one instead of being joined first.
const bigWrite = 64 << 10

// final writes the call's response, the parts joined: as the JSON body,
// or as the last event once the response is a stream.
func (s *fastSink) final(parts ...[]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	if s.sse {
		s.writeEventLocked(parts...)
		return
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	h := s.w.Header()
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(n))
	s.w.WriteHeader(http.StatusOK)
	if len(parts) == 1 || n > bigWrite {
		for _, p := range parts {
			_, _ = s.w.Write(p)
		}
		return
	}
	buf := make([]byte, 0, n)
	for _, p := range parts {
		buf = append(buf, p...)
	}
	_, _ = s.w.Write(buf)
}

func (s *fastSink) send(msg []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.writeEventLocked(msg)
	return true
}

func notification(method string, params json.RawMessage) []byte {
	out := make([]byte, 0, len(params)+len(method)+48)
	out = append(out, `{"jsonrpc":"2.0","method":`...)
	mb, _ := json.Marshal(method)
	out = append(out, mb...)
	if len(params) > 0 {
		out = append(out, `,"params":`...)
		out = append(out, params...)
	}
	return append(out, '}')
}

// Notify implements Sink.
func (s *fastSink) Notify(method string, params json.RawMessage) {
	s.send(notification(method, params))
}

// Log implements Sink: the session's level filters, as the SDK's
// ServerSession.Log does (nothing before a level is set).
func (s *fastSink) Log(params json.RawMessage) {
	lv, _ := s.e.levels.Load(s.sid)
	level, _ := lv.(mcp.LoggingLevel)
	if level == "" {
		return
	}
	var p struct {
		Level mcp.LoggingLevel `json:"level"`
	}
	_ = json.Unmarshal(params, &p)
	if LogLevelRank(p.Level) < LogLevelRank(level) {
		return
	}
	s.send(notification("notifications/message", params))
}

// Request implements Sink.
func (s *fastSink) Request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	id := clientIDPrefix + strconv.FormatUint(s.e.seq.Add(1), 10)
	key := s.sid + "\x00" + id
	ch := make(chan *fastReply, 1)
	s.e.waiting.Store(key, ch)
	defer s.e.waiting.Delete(key)
	out := make([]byte, 0, len(params)+len(method)+64)
	out = append(out, `{"jsonrpc":"2.0","id":"`...)
	out = append(out, id...)
	out = append(out, `","method":`...)
	mb, _ := json.Marshal(method)
	out = append(out, mb...)
	if len(params) > 0 {
		out = append(out, `,"params":`...)
		out = append(out, params...)
	}
	out = append(out, '}')
	if !s.send(out) {
		return nil, context.Canceled
	}
	select {
	case rep := <-ch:
		if rep.err != nil {
			return nil, rep.err
		}
		return rep.result, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// accepts is the SDK's Accept check for POST.
func accepts(values []string) (jsonOK, streamOK bool) {
	for _, value := range values {
		for _, raw := range strings.Split(value, ",") {
			base, _, _ := strings.Cut(strings.TrimSpace(raw), ";")
			switch strings.ToLower(strings.TrimSpace(base)) {
			case "application/json", "application/*":
				jsonOK = true
			case "text/*", "text/event-stream":
				streamOK = true
			case "*/*":
				jsonOK, streamOK = true, true
			}
		}
	}
	return jsonOK, streamOK
}
