package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/proxy"
)

// ListTools implements httpapi.Tools: the tools clients see (the gate's
// view), in configuration order.
func (s *Service) ListTools(ctx context.Context, server string) (httpapi.ToolList, error) {
	out := httpapi.ToolList{Tools: []httpapi.ToolEntry{}}
	if server != "" && s.mgr.Get(server) == nil {
		return out, notFound(server)
	}
	for _, u := range s.mgr.List() {
		if server != "" && u.Name() != server {
			continue
		}
		if u.Session() == nil {
			continue // not ready: its tools are not offered
		}
		for _, t := range s.gate.VisibleTools(u.Name(), u.Tools()) {
			out.Tools = append(out.Tools, httpapi.ToolEntry{Name: u.Name() + ":" + t.Name, Server: u.Name(), Tool: t.Name,
				Description: t.Description, InputSchema: schemaJSON(t.InputSchema)})
		}
	}
	return out, nil
}

// schemaJSON is a tool's input schema as JSON (nil when it has none).
func schemaJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// SearchTools implements httpapi.Tools (the BM25 index retrieve_tools
// uses).
func (s *Service) SearchTools(ctx context.Context, query string, limit int) (httpapi.ToolSearch, error) {
	hits, err := s.proxy.SearchTools(query, limit)
	if err != nil {
		return httpapi.ToolSearch{}, fmt.Errorf("search tools: %w", err)
	}
	out := httpapi.ToolSearch{Query: query, Tools: []httpapi.ToolHit{}}
	for _, h := range hits {
		out.Tools = append(out.Tools, httpapi.ToolHit{Name: h.Server + ":" + h.Name, Server: h.Server, Tool: h.Name,
			Description: h.Description, InputSchema: h.InputSchema, Score: h.Score})
	}
	return out, nil
}

// CallTool implements httpapi.Tools.
func (s *Service) CallTool(ctx context.Context, server, tool string, args json.RawMessage) (*mcp.CallToolResult, error) {
	res, err := s.proxy.CallTool(ctx, server, tool, args)
	var notReady *proxy.NotReadyError
	var refused *proxy.RefusedError
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, proxy.ErrUnknownServer):
		return nil, notFound(server)
	case errors.As(err, &notReady):
		return nil, httpapi.Unavailable(err)
	case errors.As(err, &refused):
		return nil, httpapi.Conflict(err)
	}
	return nil, err
}
