package fastpath

import (
	"context"
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Upstream is what the fast path needs of an upstream server.
type Upstream interface {
	// FastConn is the upstream's live raw connection, nil when it has
	// none (HTTP upstream, fast path off, not connected).
	FastConn() *Conn
	// BeginCall records a downstream call from session ss, served under
	// ctx, so that the upstream's messages during it are routed to it. It
	// returns meta with the client's progress token replaced by one unique
	// to the proxy, and the function that ends the call.
	BeginCall(ctx context.Context, ss *mcp.ServerSession, meta mcp.Meta) (mcp.Meta, func())
	// ExplainFailure turns the failure of a call into one that says why
	// the server went away (an OOM kill, an exit), when it did.
	ExplainFailure(ctx context.Context, err error) error
}

// Result is a result forwarded as the upstream's bytes: the SDK server
// encodes it with MarshalJSON, so a tools/call result is never decoded into
// typed content and re-encoded.
type Result struct {
	mcp.ResultBase
	Raw json.RawMessage
}

// MarshalJSON returns the upstream's bytes.
func (r *Result) MarshalJSON() ([]byte, error) { return r.Raw, nil }

// rawCallToolParams is tools/call's params as sent upstream: the client's
// arguments pass as received.
type rawCallToolParams struct {
	Meta      mcp.Meta        `json:"_meta,omitempty"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

var emptyObject = json.RawMessage("{}")

// CallTool forwards tools/call through c (an upstream's FastConn) with meta
// (already rewritten, see Upstream.BeginCall). ok is false when c is nil or
// the params cannot be sent raw: the caller then uses the SDK session.
func CallTool(ctx context.Context, c *Conn, meta mcp.Meta, p *mcp.CallToolParamsRaw) (res *Result, ok bool, err error) {
	if c == nil {
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
	raw, err := c.Call(ctx, "tools/call", params)
	if err != nil {
		return nil, true, err
	}
	return &Result{Raw: raw}, true, nil
}

// LogLevelRank orders logging levels from debug (0) to emergency (7); an
// unknown level ranks as debug.
func LogLevelRank(l mcp.LoggingLevel) int {
	switch l {
	case "info":
		return 1
	case "notice":
		return 2
	case "warning":
		return 3
	case "error":
		return 4
	case "critical":
		return 5
	case "alert":
		return 6
	case "emergency":
		return 7
	}
	return 0
}
