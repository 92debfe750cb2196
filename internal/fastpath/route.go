package fastpath

import (
	"context"
	"encoding/json"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// A Sink is where a fast-path flight's server-to-client messages go: the
// HTTP response stream of the downstream request that started the flight
// (see Endpoint). The SDK session is bypassed for those messages
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

// sinkOf returns the Sink a flight's context carries, or nil.
func sinkOf(ctx context.Context) Sink {
	if ctx == nil {
		return nil
	}
	s, _ := ctx.Value(sinkKey{}).(Sink)
	return s
}

// Want says which clients may receive a server-to-client message.
type Want int

// What a message needs of the client that receives it.
const (
	// WantAny: any client (log notifications).
	WantAny Want = iota
	// WantSampling, WantElicitation, WantRoots: a client that declared
	// that capability.
	WantSampling
	WantElicitation
	WantRoots
)

// Flights is what the fast path needs of an upstream to route the
// server-to-client messages of its calls: the downstream requests in
// flight. Each returns the flight's context (which carries its Sink when the
// flight is a fast-path call, see WithSink); ok false when there is none.
type Flights interface {
	// ByProgressToken finds the flight that owns the proxy's progress
	// token tok, with the client's own token.
	ByProgressToken(tok string) (ctx context.Context, orig any, ok bool)
	// Target finds the most recent live flight whose client accepts a
	// message that needs want.
	Target(want Want) (ctx context.Context, ok bool)
}

// sinkFor is the Sink of the flight Flights.Target picks, or nil.
func sinkFor(f Flights, want Want) (Sink, context.Context) {
	ctx, ok := f.Target(want)
	if !ok {
		return nil, nil
	}
	return sinkOf(ctx), ctx
}

// routeRaw handles a message from the upstream whose target is a fast-path
// flight, and reports whether it did; otherwise the message goes to the SDK
// session, which routes it as it always has.
func (c *Conn) routeRaw(req *jsonrpc.Request) bool {
	fl := c.flights
	if fl == nil {
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
		ctx, orig, ok := fl.ByProgressToken(tok)
		s := sinkOf(ctx)
		if !ok || s == nil {
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
		s, _ := sinkFor(fl, WantAny)
		if s == nil {
			return false
		}
		s.Log(req.Params)
		return true
	case "notifications/elicitation/complete":
		s, _ := sinkFor(fl, WantElicitation)
		if s == nil {
			return false
		}
		s.Notify(req.Method, req.Params)
		return true
	case "sampling/createMessage", "elicitation/create", "roots/list":
		if !req.IsCall() {
			return false
		}
		want := WantSampling
		switch req.Method {
		case "elicitation/create":
			want = WantElicitation
		case "roots/list":
			want = WantRoots
		}
		s, fctx := sinkFor(fl, want)
		if s == nil {
			return false
		}
		c.bg.Go(func() {
			res, err := s.Request(fctx, req.Method, req.Params)
			resp := &jsonrpc.Response{ID: req.ID, Result: res, Error: err}
			if err != nil {
				resp.Result = nil
			}
			wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = c.Connection.Write(wctx, resp)
		})
		return true
	}
	return false
}
