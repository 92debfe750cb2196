package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/fastpath"
)

func (p *Proxy) registerBuiltins() {
	p.agg.AddTool(&mcp.Tool{
		Name: "retrieve_tools",
		Description: "Search the tools of every upstream MCP server by what they do (ranked full-text search over tool names and descriptions). " +
			"Returns the best matches with their \"server:tool\" names and input schemas; call one with call_tool.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"query":{"type":"string","description":"What you want to do, in plain words"},"limit":{"type":"integer","minimum":1,"maximum":100,"description":"Maximum number of tools to return (default 10)"}},"required":["query"]}`),
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	}, p.retrieveTools)
	p.agg.AddTool(&mcp.Tool{
		Name:        "call_tool",
		Description: "Call a tool of an upstream MCP server. name is \"server:tool\" as returned by retrieve_tools; args are the tool's arguments. The upstream's result is returned unchanged.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string","description":"server:tool"},"args":{"type":"object","description":"Arguments for the tool"}},"required":["name"]}`),
	}, p.callTool)
	if p.opts.DisableManagement {
		return
	}
	p.agg.AddTool(&mcp.Tool{
		Name: "upstream_servers",
		Description: "List and manage upstream MCP servers. operation: list | add | remove | update | enable | disable | restart. " +
			"add/update take server (an object with name, command, args, env, url, headers, enabled; update changes only the fields given); the others take name. " +
			"A server added, or whose command, args, env, url or headers are changed, through this tool waits in quarantine (not started, no tools) until a person approves it. " +
			"Isolation settings cannot be changed here.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"operation":{"type":"string","enum":["list","add","remove","update","enable","disable","restart"]},"name":{"type":"string"},"server":{"type":"object"}},"required":["operation"]}`),
	}, p.upstreamServers)
}

func textResult(isErr bool, format string, a ...any) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: isErr, Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf(format, a...)}}}
}

func jsonResult(v any) (*mcp.CallToolResult, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, nil
}

func (p *Proxy) retrieveTools(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var in struct {
		Query string `json:"query"`
		Limit int    `json:"limit"`
	}
	if err := json.Unmarshal(orEmpty(req.Params.Arguments), &in); err != nil {
		return textResult(true, "retrieve_tools: invalid arguments: %v", err), nil
	}
	if in.Query == "" {
		return textResult(true, "retrieve_tools: query is required (describe what you want to do, e.g. \"read a file\")"), nil
	}
	if in.Limit <= 0 {
		in.Limit = 10
	}
	if in.Limit > 100 {
		in.Limit = 100
	}
	p.indexer.flush()
	hits, err := p.opts.Index.Search(in.Query, in.Limit)
	if err != nil {
		return textResult(true, "retrieve_tools: %v", err), nil
	}
	type tool struct {
		Name        string          `json:"name"`
		Server      string          `json:"server"`
		Tool        string          `json:"tool"`
		Description string          `json:"description,omitempty"`
		InputSchema json.RawMessage `json:"input_schema,omitempty"`
		Score       float64         `json:"score"`
	}
	out := struct {
		Tools []tool `json:"tools"`
		Total int    `json:"total"`
	}{Tools: []tool{}}
	for _, h := range hits {
		out.Tools = append(out.Tools, tool{Name: h.Server + ":" + h.Name, Server: h.Server, Tool: h.Name, Description: h.Description, InputSchema: h.InputSchema, Score: h.Score})
	}
	out.Total = len(out.Tools)
	return jsonResult(out)
}

func orEmpty(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

func (p *Proxy) callTool(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	res, err := p.forwardCall(ctx, req, false)
	if err != nil {
		return nil, err
	}
	return res.(*mcp.CallToolResult), nil
}

// aggMiddleware answers call_tool on /mcp with the upstream's result bytes
// through its raw connection, so the result is neither decoded nor
// re-encoded on the way (when the HTTP fast path did not take the request
// already), and notes each session's log level for that fast path.
func (p *Proxy) aggMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		switch r := req.(type) {
		case *mcp.CallToolRequest:
			if r.Params.Name == "call_tool" {
				return p.forwardCall(ctx, r, true)
			}
		case *mcp.ServerRequest[*mcp.SetLoggingLevelParams]:
			res, err := next(ctx, method, req)
			if err == nil {
				p.aggFast.NoteLevel(r.Session, r.Params.Level)
				p.opts.Manager.RaiseLogLevelAll(ctx, r.Params.Level)
			}
			return res, err
		}
		return next(ctx, method, req)
	}
}

// callToolArgs are call_tool's arguments.
type callToolArgs struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

// routeCallTool is the /mcp fast path's route: a call_tool whose upstream
// is ready goes to it directly; anything else (bad arguments, unknown or
// unready server) is left to forwardCall, which explains or waits.
func (p *Proxy) routeCallTool(params *mcp.CallToolParamsRaw) (fastpath.Route, bool) {
	if params.Name != "call_tool" {
		return fastpath.Route{}, false
	}
	var in callToolArgs
	if json.Unmarshal(orEmpty(params.Arguments), &in) != nil {
		return fastpath.Route{}, false
	}
	server, tool, ok := splitToolName(in.Name)
	if !ok {
		return fastpath.Route{}, false
	}
	u := p.opts.Manager.Get(server)
	if u == nil || p.checkCall(server, tool) != nil {
		return fastpath.Route{}, false // forwardCall explains
	}
	return fastpath.Route{
		Upstream: u,
		Params:   mcp.CallToolParamsRaw{Name: tool, Arguments: in.Args},
		Failed:   func(err error) (any, *jsonrpc.Error) { return callToolFailure(in.Name, server, tool, err), nil },
	}, true
}

// callToolFailure is call_tool's answer when the upstream call failed.
func callToolFailure(name, server, tool string, err error) *mcp.CallToolResult {
	var werr *jsonrpc.Error
	if errors.As(err, &werr) {
		return textResult(true, "call_tool %s: server %q tool %q failed: %s (code %d)", name, server, tool, werr.Message, werr.Code)
	}
	return textResult(true, "call_tool %s: server %q tool %q failed: %v", name, server, tool, err)
}

// forwardCall performs call_tool: "server:tool" with args, the upstream's
// result returned unchanged, failures as error results naming both. With
// raw, the upstream's raw connection is used when it has one.
func (p *Proxy) forwardCall(ctx context.Context, req *mcp.CallToolRequest, raw bool) (mcp.Result, error) {
	var in callToolArgs
	if err := json.Unmarshal(orEmpty(req.Params.Arguments), &in); err != nil {
		return textResult(true, "call_tool: invalid arguments: %v", err), nil
	}
	server, tool, ok := splitToolName(in.Name)
	if !ok {
		return textResult(true, "call_tool: name %q must be \"server:tool\" (use retrieve_tools to find names)", in.Name), nil
	}
	u := p.opts.Manager.Get(server)
	if u == nil {
		return textResult(true, "call_tool %s: unknown server %q", in.Name, server), nil
	}
	wctx, cancel := context.WithTimeout(ctx, readyWait)
	cs, err := u.WaitReady(wctx)
	cancel()
	if err != nil {
		return textResult(true, "call_tool %s: server %q tool %q: %v", in.Name, server, tool, err), nil
	}
	if err := p.checkCall(server, tool); err != nil {
		return textResult(true, "call_tool %s: %v", in.Name, err), nil
	}
	meta, end := u.BeginCall(ctx, req.Session, req.Params.Meta)
	defer end()
	var res mcp.Result
	done := false
	if raw {
		var fr *fastpath.Result
		if fr, done, err = fastpath.CallTool(ctx, u.FastConn(), meta, &mcp.CallToolParamsRaw{Name: tool, Arguments: in.Args}); fr != nil {
			res = fr
		}
	}
	if !done {
		var args any
		if len(in.Args) > 0 && string(in.Args) != "null" {
			args = in.Args
		}
		res, err = cs.CallTool(ctx, &mcp.CallToolParams{Meta: meta, Name: tool, Arguments: args})
	}
	if err != nil {
		return callToolFailure(in.Name, server, tool, u.ExplainFailure(ctx, err)), nil
	}
	return res, nil
}

// upstreamServersArgs are the arguments of upstream_servers.
var upstreamServersArgs = []string{"operation", "name", "server"}

func (p *Proxy) upstreamServers(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var in struct {
		Operation string          `json:"operation"`
		Name      string          `json:"name"`
		Server    json.RawMessage `json:"server"`
	}
	dec := json.NewDecoder(bytes.NewReader(orEmpty(req.Params.Arguments)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var keys map[string]json.RawMessage
		if json.Unmarshal(orEmpty(req.Params.Arguments), &keys) == nil {
			for k := range keys {
				if !slices.Contains(upstreamServersArgs, k) {
					return textResult(true, "upstream_servers: unknown argument %q: it takes only operation, name and server (a server's name, command, args, env, url, headers and enabled); "+
						"global settings such as docker_isolation, and a server's isolation, can only be changed in the config file or through the authenticated REST API, web UI or CLI", k), nil
				}
			}
		}
		return textResult(true, "upstream_servers: invalid arguments: %v", err), nil
	}
	c := p.opts.Controller
	if c == nil {
		return textResult(true, "upstream_servers: management is not available"), nil
	}
	needName := func() error {
		if in.Name == "" {
			return fmt.Errorf("upstream_servers %s: name is required", in.Operation)
		}
		return nil
	}
	var err error
	var change ServerChange
	switch in.Operation {
	case "list":
		v, err := c.ListServers(ctx)
		if err != nil {
			return textResult(true, "upstream_servers list: %v", err), nil
		}
		return jsonResult(v)
	case "add", "update":
		if len(in.Server) == 0 {
			return textResult(true, "upstream_servers %s: server is required (an object with at least name and command or url)", in.Operation), nil
		}
		if in.Operation == "add" {
			change, err = c.AddServer(ctx, in.Name, in.Server)
		} else {
			if in.Name == "" {
				var named struct {
					Name string `json:"name"`
				}
				_ = json.Unmarshal(in.Server, &named)
				in.Name = named.Name
			}
			if err = needName(); err == nil {
				change, err = c.UpdateServer(ctx, in.Name, in.Server)
			}
		}
		if change.Name != "" {
			in.Name = change.Name
		}
	case "remove":
		if err = needName(); err == nil {
			err = c.RemoveServer(ctx, in.Name)
		}
	case "enable", "disable":
		if err = needName(); err == nil {
			err = c.SetServerEnabled(ctx, in.Name, in.Operation == "enable")
		}
	case "restart":
		if err = needName(); err == nil {
			err = c.RestartServer(ctx, in.Name)
		}
	default:
		return textResult(true, "upstream_servers: unknown operation %q (use list, add, remove, update, enable, disable or restart)", in.Operation), nil
	}
	if err != nil {
		return textResult(true, "upstream_servers %s %s: %v", in.Operation, in.Name, err), nil
	}
	out := map[string]any{"ok": true, "operation": in.Operation, "name": in.Name}
	if change.Quarantined {
		out["quarantined"] = true
	}
	if change.Note != "" {
		out["note"] = change.Note
	}
	return jsonResult(out)
}
