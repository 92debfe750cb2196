package upstream

import "github.com/modelcontextprotocol/go-sdk/mcp"

// EventKind says what changed about a server.
type EventKind int

// The kinds of Event.
const (
	// EventState: the server changed state (or its error changed); read
	// it with Status.
	EventState EventKind = iota + 1
	// EventTools: the server's tool list changed; Event.Tools is the new
	// list (nil when the server went away).
	EventTools
)

// Event is one change of a server, as the manager reports it through
// Options.OnEvent: the one route by which the proxy, the index and live
// views learn about upstreams.
type Event struct {
	Kind   EventKind
	Server string
	// Tools is the new tool list of an EventTools.
	Tools []*mcp.Tool
}
