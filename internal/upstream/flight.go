package upstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A Flight is one downstream request being served by this upstream. While it
// is in flight, the upstream's requests to the client (sampling, elicitation,
// roots) and its log notifications are routed to the flight's session, on
// the flight's context, so they travel on the same HTTP stream as the call
// that caused them.
type Flight struct {
	Session *mcp.ServerSession
	Ctx     context.Context
	started time.Time
	token   string // proxy progress token, if any
	orig    any    // the client's own progress token
}

// BeginFlight records a downstream request from session ss, served under
// ctx. The returned function ends it.
func (u *Upstream) BeginFlight(ctx context.Context, ss *mcp.ServerSession) (*Flight, func()) {
	f := &Flight{Session: ss, Ctx: ctx, started: time.Now()}
	u.flightMu.Lock()
	u.flights = append(u.flights, f)
	u.flightMu.Unlock()
	return f, func() {
		// Notifications the upstream sent before the call's response are
		// routed to this flight before it ends (noteorder.go).
		u.notes.waitHandled(noteWait)
		u.flightMu.Lock()
		for i, g := range u.flights {
			if g == f {
				u.flights = append(u.flights[:i], u.flights[i+1:]...)
				break
			}
		}
		if f.token != "" {
			delete(u.tokens, f.token)
		}
		u.flightMu.Unlock()
	}
}

// RewriteProgressToken replaces the client's progress token in meta with a
// token unique to this proxy (clients pick tokens independently, so two of
// them may use the same one) and remembers the mapping for the flight.
func (u *Upstream) RewriteProgressToken(f *Flight, meta mcp.Meta) mcp.Meta {
	tok, ok := meta["progressToken"]
	if !ok || tok == nil {
		return meta
	}
	u.flightMu.Lock()
	u.tokenSeq++
	f.token = "mcpproxy-" + strconv.FormatUint(u.tokenSeq, 10)
	f.orig = tok
	u.tokens[f.token] = f
	u.flightMu.Unlock()
	out := make(mcp.Meta, len(meta))
	for k, v := range meta {
		out[k] = v
	}
	out["progressToken"] = f.token
	return out
}

// target picks the flight that receives a server-to-client message: the most
// recent in-flight request whose client accepts it.
func (u *Upstream) target(accept func(*mcp.ServerSession) bool) *Flight {
	u.flightMu.Lock()
	defer u.flightMu.Unlock()
	for i := len(u.flights) - 1; i >= 0; i-- {
		f := u.flights[i]
		if f.Ctx.Err() != nil {
			continue
		}
		if accept == nil || accept(f.Session) {
			return f
		}
	}
	return nil
}

func clientCaps(ss *mcp.ServerSession) *mcp.ClientCapabilities {
	if ss == nil {
		return nil
	}
	p := ss.InitializeParams()
	if p == nil {
		return nil
	}
	return p.Capabilities
}

func acceptsSampling(ss *mcp.ServerSession) bool {
	c := clientCaps(ss)
	return c != nil && c.Sampling != nil
}

func acceptsElicitation(ss *mcp.ServerSession) bool {
	c := clientCaps(ss)
	return c != nil && c.Elicitation != nil
}

func acceptsRoots(ss *mcp.ServerSession) bool {
	c := clientCaps(ss)
	return c != nil && (c.Roots.ListChanged || c.RootsV2 != nil)
}

// errNoClient is returned to an upstream when no connected client can answer.
func (u *Upstream) errNoClient(what string) error {
	return fmt.Errorf("mcpproxy: no client with a request in flight to server %q supports %s", u.name, what)
}

func (u *Upstream) handleCreateMessage(ctx context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	f := u.target(acceptsSampling)
	if f == nil {
		return nil, u.errNoClient("sampling")
	}
	return f.Session.CreateMessage(f.Ctx, req.Params)
}

func (u *Upstream) handleElicit(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
	f := u.target(acceptsElicitation)
	if f == nil {
		return nil, u.errNoClient("elicitation")
	}
	// The upstream's schema goes to the client as sent: validating it is
	// the two ends' business, not the proxy's (see PassthroughMiddleware).
	return f.Session.Elicit(context.WithValue(f.Ctx, passthroughKey{}, true), req.Params)
}

type passthroughKey struct{}

// PassthroughMiddleware is a sending middleware for the downstream servers:
// for an elicitation the proxy forwards, it stops the SDK from re-validating
// the client's answer against the upstream's schema (the upstream, which
// asked, validates it), so schemas the SDK does not model pass unchanged.
func PassthroughMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		res, err := next(ctx, method, req)
		if method == "elicitation/create" && ctx.Value(passthroughKey{}) != nil {
			if p, ok := req.GetParams().(*mcp.ElicitParams); ok && p != nil {
				p.RequestedSchema = nil
			}
		}
		return res, err
	}
}

func (u *Upstream) handleElicitationComplete(ctx context.Context, req *mcp.ElicitationCompleteNotificationRequest) {
	if f := u.target(acceptsElicitation); f != nil {
		_ = f.Session.NotifyElicitationComplete(f.Ctx, req.Params)
	}
}

func (u *Upstream) handleLog(ctx context.Context, req *mcp.LoggingMessageRequest) {
	if f := u.target(nil); f != nil {
		_ = f.Session.Log(f.Ctx, req.Params)
		return
	}
	if d := u.m.downstream(); d != nil {
		d.Log(context.Background(), u.name, req.Params)
	}
}

func (u *Upstream) handleProgress(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
	tok, _ := req.Params.ProgressToken.(string)
	u.flightMu.Lock()
	f := u.tokens[tok]
	u.flightMu.Unlock()
	if f == nil {
		return
	}
	p := *req.Params
	p.ProgressToken = f.orig
	_ = f.Session.NotifyProgress(f.Ctx, &p)
}

// rootsMiddleware answers the upstream's roots/list with the roots of the
// client whose request is in flight.
func (u *Upstream) rootsMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method == "elicitation/create" {
			// Bypass the SDK client's schema checks: forward as received.
			if r, ok := req.(*mcp.ElicitRequest); ok {
				return u.handleElicit(ctx, r)
			}
		}
		if method != "roots/list" {
			return next(ctx, method, req)
		}
		f := u.target(acceptsRoots)
		if f == nil {
			return &mcp.ListRootsResult{Roots: []*mcp.Root{}}, nil
		}
		res, err := f.Session.ListRoots(f.Ctx, &mcp.ListRootsParams{})
		if err != nil {
			var zero *mcp.ListRootsResult
			if errors.Is(err, context.Canceled) {
				return zero, err
			}
			return nil, err
		}
		return res, nil
	}
}

// NotifyRootsListChanged tells the upstream that a client's roots changed
// (the SDK sends notifications/roots/list_changed when the client's root set
// changes, so a hidden root is added and removed; roots/list itself is
// answered by rootsMiddleware from the client in flight).
func (u *Upstream) NotifyRootsListChanged() {
	u.mu.Lock()
	c := u.client
	u.mu.Unlock()
	if c == nil {
		return
	}
	const uri = "mcpproxy://roots-changed"
	c.AddRoots(&mcp.Root{URI: uri})
	c.RemoveRoots(uri)
}
