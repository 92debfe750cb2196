package proxy

import (
	"context"
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// rawResult is a result forwarded as the upstream's bytes: the SDK server
// encodes it with MarshalJSON, so a tools/call result is never decoded into
// typed content and re-encoded (see upstream.CallRaw).
type rawResult struct {
	mcp.ResultBase
	raw json.RawMessage
}

func (r *rawResult) MarshalJSON() ([]byte, error) { return r.raw, nil }

// rawCallToolParams is tools/call's params as sent upstream: the client's
// arguments pass as received.
type rawCallToolParams struct {
	Meta      mcp.Meta        `json:"_meta,omitempty"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

var emptyObject = json.RawMessage("{}")

// fastCallTool forwards tools/call through the upstream's raw connection.
// ok is false when the upstream has none; the caller then uses the SDK
// session (with the same, already rewritten, meta).
func fastCallTool(ctx context.Context, u *upstream.Upstream, meta mcp.Meta, p *mcp.CallToolParamsRaw) (mcp.Result, bool, error) {
	if !u.HasRaw() {
		return nil, false, nil
	}
	args := p.Arguments
	if len(args) == 0 || string(args) == "null" {
		args = emptyObject
	}
	params, err := json.Marshal(&rawCallToolParams{Meta: meta, Name: p.Name, Arguments: args})
	if err != nil {
		return nil, false, nil
	}
	raw, ok, err := u.CallRaw(ctx, "tools/call", params)
	if !ok {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	return &rawResult{raw: raw}, true, nil
}
