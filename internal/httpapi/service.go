package httpapi

import (
	"context"
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// Service is what the REST API and the web UI ask of the running proxy.
// Every mutation goes through the same manager and the same isolation
// decision as the configuration file and MCP clients; configuration changes
// are edits of the file (atomic, comments kept) applied at once.
//
// Errors: config.ErrServerNotFound (wrapped) for an unknown server (404),
// trust.ErrReadOnly under --read-only (403), a *config.ValidationError or
// *RequestError for a change refused by the configuration's rules (400,
// with the problems by field), ErrConflict-wrapping errors for a state that
// does not allow the action (409).
type Service interface {
	Servers
	Tools
	Settings
	Logs
	Events
}

// Servers are the upstream servers: their state, configuration and life.
type Servers interface {
	// ListServers is every server in configuration order with the docker
	// status (refresh probes docker again instead of using the cache).
	ListServers(ctx context.Context, refresh bool) (ServerList, error)
	// GetServer is one server with its configuration (secrets redacted)
	// and isolation plan.
	GetServer(ctx context.Context, name string) (ServerDetail, error)
	// AddServer adds a server (a person's: it is not quarantined). server
	// is the server object as the configuration file holds it.
	AddServer(ctx context.Context, server json.RawMessage) (ServerChange, error)
	// PatchServer changes the named fields of a server: a JSON merge patch
	// (RFC 7396) of its configuration object — a field the patch does not
	// name keeps its value, null removes it; env, headers and isolation
	// are merged key by key.
	PatchServer(ctx context.Context, name string, patch json.RawMessage) (ServerChange, error)
	// RemoveServer stops and removes a server (its pins go with it).
	RemoveServer(ctx context.Context, name string) error
	// SetServerEnabled enables or disables a server.
	SetServerEnabled(ctx context.Context, name string, enabled bool) (ServerChange, error)
	// RestartServer stops and starts a server.
	RestartServer(ctx context.Context, name string) error
	// ApproveServer lets a quarantined server run.
	// A non-empty fingerprint must be the server's current one (409).
	ApproveServer(ctx context.Context, name, fingerprint string) (trust.ServerApproval, error)
	// DockerStatus is the container backend's availability (refresh probes
	// again).
	DockerStatus(ctx context.Context, refresh bool) (DockerStatus, error)
}

// Tools are the upstream tools: listed, searched, approved and called.
type Tools interface {
	// ListTools is every tool clients can see (server "" = all servers).
	ListTools(ctx context.Context, server string) (ToolList, error)
	// SearchTools ranks the visible tools against query (BM25).
	SearchTools(ctx context.Context, query string, limit int) (ToolSearch, error)
	// ServerTools lists a server's tools with their pin states (only the
	// changed and new ones with onlyPending).
	ServerTools(ctx context.Context, name string, onlyPending bool) (trust.ServerTools, error)
	// ApproveTools pins tools a person approved.
	ApproveTools(ctx context.Context, name string, req trust.ToolApproval) (trust.ToolApprovalResult, error)
	// CallTool calls tool of server with args (a JSON object or empty), as
	// call_tool does: a withheld or quarantined tool is refused. A tool
	// that fails answers a result with IsError, not an error.
	CallTool(ctx context.Context, server, tool string, args json.RawMessage) (*mcp.CallToolResult, error)
}

// Settings are the isolation settings and the configuration file's state.
type Settings interface {
	// DockerIsolation is the global docker_isolation block in force, every
	// field (defaults filled in).
	DockerIsolation(ctx context.Context) (config.DockerIsolation, error)
	// PatchDockerIsolation applies a JSON merge patch to docker_isolation
	// in the file, validated exactly as the file is, and returns the block
	// in force afterwards.
	PatchDockerIsolation(ctx context.Context, patch json.RawMessage) (config.DockerIsolation, error)
	// ServerIsolation is a server's isolation block and what it decides.
	ServerIsolation(ctx context.Context, name string) (ServerIsolation, error)
	// PatchServerIsolation applies a JSON merge patch to a server's
	// isolation block (allow_dangerous is the file's alone).
	PatchServerIsolation(ctx context.Context, name string, patch json.RawMessage) (ServerIsolation, error)
	// ConfigStatus says whether the file on disk is what runs.
	ConfigStatus(ctx context.Context) (ConfigStatus, error)
}

// Logs are the servers' stderr logs.
type Logs interface {
	// LogTail is the last n lines of a server's log, secrets masked.
	LogTail(ctx context.Context, name string, n int) (LogTail, error)
	// FollowLog is LogTail and then each line the server writes after
	// those, secrets masked, until ctx ends (then the channel is closed).
	FollowLog(ctx context.Context, name string, n int) (LogTail, <-chan LogLine, error)
}

// Events are the proxy's changes of state, for live views.
type Events interface {
	// Subscribe returns the events from now on until ctx ends (then the
	// channel is closed). A subscriber that falls behind gets an
	// EventResync instead of the events it missed.
	Subscribe(ctx context.Context) <-chan Event
}
