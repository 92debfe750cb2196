package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/fastpath"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/index"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// Controller performs the upstream_servers operations that change the
// configuration. The app implements it: it checks what an MCP client may
// change (internal/trust), edits the config file and applies the result.
type Controller interface {
	// ListServers is the list view of every server.
	ListServers(ctx context.Context) (httpapi.ServerList, error)
	// AddServer adds the server object a client sent; name is the call's
	// name argument ("" when absent).
	AddServer(ctx context.Context, name string, server json.RawMessage) (ServerChange, error)
	// UpdateServer applies the fields of the server object a client sent to
	// the server named name.
	UpdateServer(ctx context.Context, name string, server json.RawMessage) (ServerChange, error)
	RemoveServer(ctx context.Context, name string) error
	SetServerEnabled(ctx context.Context, name string, enabled bool) error
	RestartServer(ctx context.Context, name string) error
}

// ServerChange is what an upstream_servers add or update did.
type ServerChange struct {
	// Name is the server's name.
	Name string
	// Quarantined is true when the server now waits for a person's approval.
	Quarantined bool
	// Note tells the client what happens next.
	Note string
}

// ToolGate decides which upstream tools clients may see and call (tool
// pinning, internal/trust). Without one every tool passes.
type ToolGate interface {
	// VisibleTools returns the tools of server clients may see, of tools
	// (the server's list or one page of it); nil stays nil.
	VisibleTools(server string, tools []*mcp.Tool) []*mcp.Tool
	// CheckCall returns nil when tool of server may be called, or an error
	// saying why not.
	CheckCall(server, tool string) error
}

// Options configures a Proxy.
type Options struct {
	Manager    *upstream.Manager
	Index      *index.Index
	Controller Controller
	// DisableManagement leaves the upstream_servers tool out of /mcp.
	DisableManagement bool
	// Gate, if set, holds back tools a person has not approved on both
	// endpoints (listing, SDK calls and the fast path alike).
	Gate    ToolGate
	Logger  *slog.Logger
	Version string
}

// Proxy serves /mcp and /mcp/{server}.
type Proxy struct {
	opts Options
	log  *slog.Logger

	agg        *mcp.Server
	aggFast    fastpath.Endpoint // call_tool on /mcp, fast
	aggHandler http.Handler
	srvHandler http.Handler

	mu         sync.Mutex
	forwarders map[string]*forwarder
	indexer    *indexer
}

// New builds the proxy and registers itself as the manager's downstream.
func New(opts Options) *Proxy {
	p := &Proxy{opts: opts, log: opts.Logger, forwarders: map[string]*forwarder{}}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.indexer = newIndexer(opts.Index, opts.Manager, p.log)
	p.agg = mcp.NewServer(&mcp.Implementation{Name: "mcpproxy", Version: opts.Version}, &mcp.ServerOptions{
		SupportedProtocolVersions: LegacyProtocolVersions,
		Instructions:              "mcpproxy aggregates many MCP servers. Use retrieve_tools to find a tool by what it does, then call_tool with its \"server:tool\" name. upstream_servers lists and manages the servers.",
		Capabilities:              &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{ListChanged: true}, Logging: &mcp.LoggingCapabilities{}},
	})
	p.agg.AddSendingMiddleware(upstream.PassthroughMiddleware)
	p.agg.AddReceivingMiddleware(p.aggMiddleware)
	p.registerBuiltins()
	p.aggFast = fastpath.Endpoint{Server: p.agg, Route: p.routeCallTool, Setting: opts.Manager.FastPath(), Versions: LegacyProtocolVersions}
	httpOpts := &mcp.StreamableHTTPOptions{DisableLocalhostProtection: true}
	p.aggHandler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return p.agg }, httpOpts)
	p.srvHandler = mcp.NewStreamableHTTPHandler(func(r *http.Request) *mcp.Server {
		f := p.forwarder(r.PathValue("server"))
		if f == nil {
			return nil
		}
		return f.server
	}, httpOpts)
	opts.Manager.SetDownstream(p)
	return p
}

// Register adds the MCP routes to mux.
func (p *Proxy) Register(mux *http.ServeMux) {
	mux.HandleFunc("/mcp", p.serveAggregate)
	mux.HandleFunc("/mcp/{$}", p.serveAggregate)
	mux.HandleFunc("/mcp/{server}", p.serveServer)
}

func (p *Proxy) serveAggregate(w http.ResponseWriter, r *http.Request) {
	if p.aggFast.Serve(w, r) {
		return
	}
	p.aggHandler.ServeHTTP(w, r)
}

func (p *Proxy) serveServer(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("server")
	if p.opts.Manager.Get(name) == nil {
		writeJSONRPCError(w, http.StatusNotFound, jsonrpc.CodeInvalidParams,
			fmt.Sprintf("unknown server %q: no upstream server with that name is configured (see upstream_servers list on /mcp)", name))
		return
	}
	if f := p.forwarder(name); f != nil && f.fast.Serve(w, r) {
		return
	}
	p.srvHandler.ServeHTTP(w, r)
}

func writeJSONRPCError(w http.ResponseWriter, status int, code int64, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0", "id": nil,
		"error": map[string]any{"code": code, "message": msg},
	})
}

// forwarder returns the per-server forwarder, creating it on first use.
func (p *Proxy) forwarder(name string) *forwarder {
	if p.opts.Manager.Get(name) == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.forwarders[name]
	if f == nil {
		f = newForwarder(name, p.opts.Version, p.opts.Manager, p.opts.Gate)
		p.forwarders[name] = f
	}
	return f
}

func (p *Proxy) existingForwarder(name string) *forwarder {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forwarders[name]
}

// ListChanged implements upstream.Downstream.
func (p *Proxy) ListChanged(server, kind string) {
	if f := p.existingForwarder(server); f != nil {
		notifyListChanged(f.server, kind)
	}
}

// ToolsChanged queues the index update and tells /mcp clients; the control
// plane calls it for the manager's tools events (with the gate's view).
func (p *Proxy) ToolsChanged(server string, tools []*mcp.Tool) {
	p.indexer.update(server, tools)
	notifyListChanged(p.agg, "tools")
}

// StateChanged is called when an upstream changes state; a reconnected
// upstream has no subscriptions.
func (p *Proxy) StateChanged(server string) {
	p.indexer.stateChanged()
	if f := p.existingForwarder(server); f != nil {
		if u := p.opts.Manager.Get(server); u == nil || u.Status().State != upstream.StateReady {
			f.resetSubscriptions()
		}
	}
}

// ResourceUpdated implements upstream.Downstream.
func (p *Proxy) ResourceUpdated(ctx context.Context, server string, params *mcp.ResourceUpdatedNotificationParams) {
	if f := p.existingForwarder(server); f != nil {
		_ = f.server.ResourceUpdated(ctx, params)
	}
}

// Log implements upstream.Downstream: a log message outside any request goes
// to every session of that server.
func (p *Proxy) Log(ctx context.Context, server string, params *mcp.LoggingMessageParams) {
	if f := p.existingForwarder(server); f != nil {
		for ss := range f.server.Sessions() {
			_ = ss.Log(ctx, params)
		}
	}
}

// checkCall asks the gate whether tool of server may be called.
func (p *Proxy) checkCall(server, tool string) error {
	if p.opts.Gate == nil {
		return nil
	}
	return p.opts.Gate.CheckCall(server, tool)
}

// splitToolName splits "server:tool" (the first colon separates).
func splitToolName(s string) (server, tool string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}
