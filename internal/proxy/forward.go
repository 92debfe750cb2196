// Package proxy is the MCP server side of mcpproxy: the aggregate endpoint
// /mcp (retrieve_tools, call_tool, upstream_servers) and the per-server
// endpoint /mcp/{server}, which forwards one upstream transparently in both
// directions.
package proxy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/fastpath"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// LegacyProtocolVersions are the protocol versions offered downstream. They
// match what upstreams speak (see upstream.ProtocolVersion), so every
// message kind has a faithful counterpart on both sides.
var LegacyProtocolVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// readyWait bounds how long a downstream request waits for a connecting
// upstream.
const readyWait = 60 * time.Second

// forwarder serves one upstream at /mcp/{server}.
type forwarder struct {
	name string
	up   func() *upstream.Upstream
	// raiseLogLevel is upstream.Manager.RaiseLogLevel
	raiseLogLevel func(ctx context.Context, server string, level mcp.LoggingLevel) error
	server        *mcp.Server
	version       string
	gate          ToolGate // nil: every tool passes

	subMu sync.Mutex
	subs  map[string]int // upstream subscriptions by URI, refcounted

	fast fastpath.Endpoint // the tools/call fast path
}

func newForwarder(name, version string, m *upstream.Manager, gate ToolGate) *forwarder {
	f := &forwarder{name: name, up: func() *upstream.Upstream { return m.Get(name) }, raiseLogLevel: m.RaiseLogLevel, version: version, subs: map[string]int{}, gate: gate}
	f.server = mcp.NewServer(&mcp.Implementation{Name: name, Version: version}, &mcp.ServerOptions{
		SupportedProtocolVersions: LegacyProtocolVersions,
		SubscribeHandler:          f.subscribe,
		UnsubscribeHandler:        f.unsubscribe,
	})
	f.server.AddReceivingMiddleware(f.middleware)
	f.fast = fastpath.Endpoint{Server: f.server, Setting: m.FastPath(), Versions: LegacyProtocolVersions,
		Route: func(p *mcp.CallToolParamsRaw) (fastpath.Route, bool) {
			u := f.up()
			if u == nil || f.checkCall(p.Name) != nil {
				return fastpath.Route{}, false // the middleware explains
			}
			return fastpath.Route{Upstream: u, Params: *p, Failed: fastpath.WireFailure}, true
		}}
	f.server.AddSendingMiddleware(upstream.PassthroughMiddleware)
	return f
}

func (f *forwarder) session(ctx context.Context) (*upstream.Upstream, *mcp.ClientSession, error) {
	u := f.up()
	if u == nil {
		return nil, nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown server %q", f.name)}
	}
	wctx, cancel := context.WithTimeout(ctx, readyWait)
	defer cancel()
	cs, err := u.WaitReady(wctx)
	if err != nil {
		return u, nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
	}
	return u, cs, nil
}

func (f *forwarder) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		switch method {
		case "initialize":
			res, err := next(ctx, method, req)
			if err != nil {
				return res, err
			}
			_, cs, err := f.session(ctx)
			if err != nil {
				return nil, err
			}
			if ir, ok := res.(*mcp.InitializeResult); ok {
				up := cs.InitializeResult()
				if up != nil {
					if up.Capabilities != nil {
						caps := *up.Capabilities
						ir.Capabilities = &caps
					}
					ir.Instructions = up.Instructions
					if up.ServerInfo != nil {
						si := *up.ServerInfo
						ir.ServerInfo = &si
					}
				}
			}
			return res, nil
		case "notifications/initialized":
			res, err := next(ctx, method, req)
			// Forward every log message the upstream chooses to send until
			// the client picks a level itself (the upstream filters too).
			if ss, ok := req.GetSession().(*mcp.ServerSession); ok {
				_, _ = next(ctx, "logging/setLevel", &mcp.ServerRequest[*mcp.SetLoggingLevelParams]{Session: ss, Params: &mcp.SetLoggingLevelParams{Level: "debug"}})
				f.fast.NoteLevel(ss, "debug")
			}
			return res, err
		case "notifications/roots/list_changed":
			if u := f.up(); u != nil {
				u.NotifyRootsListChanged()
			}
			return next(ctx, method, req)
		case "logging/setLevel":
			r := req.(*mcp.ServerRequest[*mcp.SetLoggingLevelParams])
			if _, _, err := f.session(ctx); err != nil {
				return nil, err
			}
			if err := f.raiseLogLevel(ctx, f.name, r.Params.Level); err != nil {
				return nil, err
			}
			f.fast.NoteLevel(r.Session, r.Params.Level)
			return next(ctx, method, req)
		}
		if !forwarded[method] {
			return next(ctx, method, req)
		}
		// Everything below is answered by the upstream.
		u, cs, err := f.session(ctx)
		if err != nil {
			return nil, err
		}
		switch method {
		case "tools/list":
			res, err := cs.ListTools(ctx, req.(*mcp.ListToolsRequest).Params)
			if err == nil && f.gate != nil {
				res.Tools = f.gate.VisibleTools(f.name, res.Tools)
			}
			return res, err
		case "prompts/list":
			return cs.ListPrompts(ctx, req.(*mcp.ListPromptsRequest).Params)
		case "resources/list":
			return cs.ListResources(ctx, req.(*mcp.ListResourcesRequest).Params)
		case "resources/templates/list":
			return cs.ListResourceTemplates(ctx, req.(*mcp.ListResourceTemplatesRequest).Params)
		case "tools/call":
			r := req.(*mcp.CallToolRequest)
			if err := f.checkCall(r.Params.Name); err != nil {
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: err.Error()}
			}
			meta, end := u.BeginCall(ctx, r.Session, r.Params.Meta)
			defer end()
			if res, ok, err := fastpath.CallTool(ctx, u.FastConn(), meta, r.Params); ok {
				if err != nil {
					return nil, u.ExplainFailure(ctx, err)
				}
				return res, nil
			}
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Meta: meta, Name: r.Params.Name, Arguments: r.Params.Arguments})
			if err != nil {
				return nil, u.ExplainFailure(ctx, err)
			}
			return res, nil
		case "prompts/get":
			r := req.(*mcp.GetPromptRequest)
			fl, end := u.BeginFlight(ctx, r.Session)
			defer end()
			p := *r.Params
			p.Meta = u.RewriteProgressToken(fl, p.Meta)
			return cs.GetPrompt(ctx, &p)
		case "resources/read":
			r := req.(*mcp.ReadResourceRequest)
			fl, end := u.BeginFlight(ctx, r.Session)
			defer end()
			p := *r.Params
			p.Meta = u.RewriteProgressToken(fl, p.Meta)
			return cs.ReadResource(ctx, &p)
		default: // completion/complete
			r := req.(*mcp.CompleteRequest)
			_, end := u.BeginFlight(ctx, r.Session)
			defer end()
			return cs.Complete(ctx, r.Params)
		}
	}
}

// checkCall asks the gate whether tool may be called.
func (f *forwarder) checkCall(tool string) error {
	if f.gate == nil {
		return nil
	}
	return f.gate.CheckCall(f.name, tool)
}

// forwarded are the methods the forwarder answers from the upstream session.
var forwarded = map[string]bool{
	"tools/list": true, "prompts/list": true, "resources/list": true, "resources/templates/list": true,
	"tools/call": true, "prompts/get": true, "resources/read": true, "completion/complete": true,
}

func (f *forwarder) subscribe(ctx context.Context, req *mcp.SubscribeRequest) error {
	_, cs, err := f.session(ctx)
	if err != nil {
		return err
	}
	f.subMu.Lock()
	defer f.subMu.Unlock()
	if f.subs[req.Params.URI] == 0 {
		if err := cs.Subscribe(ctx, req.Params); err != nil {
			return err
		}
	}
	f.subs[req.Params.URI]++
	return nil
}

func (f *forwarder) unsubscribe(ctx context.Context, req *mcp.UnsubscribeRequest) error {
	_, cs, err := f.session(ctx)
	if err != nil {
		return err
	}
	f.subMu.Lock()
	defer f.subMu.Unlock()
	if f.subs[req.Params.URI] <= 1 {
		delete(f.subs, req.Params.URI)
		return cs.Unsubscribe(ctx, req.Params)
	}
	f.subs[req.Params.URI]--
	return nil
}

// resetSubscriptions forgets upstream subscriptions (after a reconnect the
// new upstream session has none).
func (f *forwarder) resetSubscriptions() {
	f.subMu.Lock()
	f.subs = map[string]int{}
	f.subMu.Unlock()
}

const sentinel = "__mcpproxy_list_changed__"

// notifyListChanged makes the SDK send notifications/{kind}/list_changed to
// every session of s by adding and removing a hidden feature (list requests
// are answered by the proxy, so the sentinel is never listed).
func notifyListChanged(s *mcp.Server, kind string) {
	switch kind {
	case "tools":
		s.AddTool(&mcp.Tool{Name: sentinel, InputSchema: map[string]any{"type": "object"}}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
		s.RemoveTools(sentinel)
	case "prompts":
		s.AddPrompt(&mcp.Prompt{Name: sentinel}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{}, nil
		})
		s.RemovePrompts(sentinel)
	case "resources":
		uri := "mcpproxy://" + sentinel
		s.AddResource(&mcp.Resource{URI: uri, Name: sentinel}, func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{}, nil
		})
		s.RemoveResources(uri)
	}
}
