package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/index"
)

// ErrUnknownServer is wrapped by CallTool's error for a server that is not
// configured.
var ErrUnknownServer = errors.New("unknown server")

// NotReadyError is CallTool's error for a server that is not ready
// (disabled, stopped, quarantined, failing, still connecting).
type NotReadyError struct{ Err error }

func (e *NotReadyError) Error() string { return e.Err.Error() }
func (e *NotReadyError) Unwrap() error { return e.Err }

// RefusedError is CallTool's error for a tool the gate holds back (changed
// or new since a person approved the server's tools).
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// CallTool calls tool of server as call_tool does, for a caller that is not
// an MCP session (the REST API): it waits for a connecting server, refuses a
// withheld tool, and returns the upstream's result (a tool that failed is a
// result with IsError). A failure to reach the tool is an error.
func (p *Proxy) CallTool(ctx context.Context, server, tool string, args json.RawMessage) (*mcp.CallToolResult, error) {
	u := p.opts.Manager.Get(server)
	if u == nil {
		return nil, fmt.Errorf("server %q: %w", server, ErrUnknownServer)
	}
	wctx, cancel := context.WithTimeout(ctx, readyWait)
	cs, err := u.WaitReady(wctx)
	cancel()
	if err != nil {
		return nil, &NotReadyError{Err: err}
	}
	if err := p.checkCall(server, tool); err != nil {
		return nil, &RefusedError{Err: err}
	}
	// No flight: a REST caller has no session to take the server's
	// sampling, elicitation or log messages (they get "no client").
	var a any
	if len(args) > 0 && string(args) != "null" {
		a = args
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: a})
	if err != nil {
		return callToolFailure(server+":"+tool, server, tool, err), nil
	}
	return res, nil
}

// SearchTools ranks the visible tools against query, as retrieve_tools
// does (every tool list received so far is indexed first).
func (p *Proxy) SearchTools(query string, limit int) ([]index.Hit, error) {
	if p.opts.Index == nil {
		return nil, nil
	}
	p.indexer.flush()
	return p.opts.Index.Search(query, limit)
}
