package upstream

import (
	"context"
	"encoding/json"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// A Sink is where a fast-path flight's server-to-client messages go: the
// HTTP response stream of the downstream request that started the flight
// (see proxy's fast path). The SDK session is bypassed for those messages
// because it could only route them to requests it has seen itself.
type Sink interface {
	// Notify sends a notification on the stream.
	Notify(method string, params json.RawMessage)
	// Log sends a log notification if the session's level lets it through.
	Log(params json.RawMessage)
	// Request sends a request on the stream and waits for the client's
	// answer (the raw result, or an error, a *jsonrpc.Error for the
	// client's own error).
	Request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error)
}

type sinkKey struct{}

// WithSink returns ctx carrying s; a flight begun with it routes its
// server-to-client messages to s.
func WithSink(ctx context.Context, s Sink) context.Context {
	return context.WithValue(ctx, sinkKey{}, s)
}

func flightSink(f *Flight) Sink {
	if f == nil {
		return nil
	}
	s, _ := f.Ctx.Value(sinkKey{}).(Sink)
	return s
}

// routeRaw handles a message from the upstream whose target is a fast-path
// flight, and reports whether it did; otherwise the message goes to the SDK
// session, which routes it as it always has.
func (c *rawConn) routeRaw(req *jsonrpc.Request) bool {
	u := c.u
	if u == nil {
		return false
	}
	switch req.Method {
	case "notifications/progress":
		var p struct {
			Token any `json:"progressToken"`
		}
		if json.Unmarshal(req.Params, &p) != nil {
			return false
		}
		tok, _ := p.Token.(string)
		u.flightMu.Lock()
		f := u.tokens[tok]
		var orig any
		if f != nil {
			orig = f.orig
		}
		u.flightMu.Unlock()
		s := flightSink(f)
		if s == nil {
			return false
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(req.Params, &m) != nil {
			return false
		}
		m["progressToken"], _ = json.Marshal(orig)
		params, err := json.Marshal(m)
		if err != nil {
			return false
		}
		s.Notify(req.Method, params)
		return true
	case "notifications/message":
		s := flightSink(u.target(nil))
		if s == nil {
			return false
		}
		s.Log(req.Params)
		return true
	case "notifications/elicitation/complete":
		s := flightSink(u.target(acceptsElicitation))
		if s == nil {
			return false
		}
		s.Notify(req.Method, req.Params)
		return true
	case "sampling/createMessage", "elicitation/create", "roots/list":
		if !req.IsCall() {
			return false
		}
		accept := acceptsSampling
		switch req.Method {
		case "elicitation/create":
			accept = acceptsElicitation
		case "roots/list":
			accept = acceptsRoots
		}
		f := u.target(accept)
		s := flightSink(f)
		if s == nil {
			return false
		}
		go func() {
			res, err := s.Request(f.Ctx, req.Method, req.Params)
			resp := &jsonrpc.Response{ID: req.ID, Result: res, Error: err}
			if err != nil {
				resp.Result = nil
			}
			wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = c.Connection.Write(wctx, resp)
		}()
		return true
	}
	return false
}
