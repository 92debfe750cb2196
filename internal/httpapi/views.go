package httpapi

import (
	"encoding/json"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/trust"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// The view types below are the JSON answers of the REST API and what the
// web UI renders. Field names are the API's; the OpenAPI document
// (openapi.go) is generated from these types.

// DockerStatus is docker_status in the servers list and GET
// /api/v1/docker/status: whether the container backend can run containers.
type DockerStatus struct {
	// Backend is "kubernetes" when isolated servers run as pods (then
	// DockerPath is the API server and Source the credentials used); ""
	// for docker.
	Backend string `json:"backend,omitempty"`
	// Available reports whether the daemon (or cluster) answered.
	Available bool `json:"available"`
	// DockerPath is the resolved docker binary ("" when not found).
	DockerPath string `json:"docker_path"`
	// Source says how the binary was found: "PATH", "well-known
	// location", "login shell" (or, for kubernetes, the credentials).
	Source string `json:"source,omitempty"`
	// Version is the daemon's server version.
	Version string `json:"version,omitempty"`
	// CheckedAt is when the daemon was last asked.
	CheckedAt time.Time `json:"checked_at"`
	// Error says why docker is not available.
	Error string `json:"error,omitempty"`
}

// ServerView is one server as the list shows it: its state and, for a
// stdio server, what the isolation policy decided.
type ServerView struct {
	Name string `json:"name"`
	// Transport is "stdio" or "http".
	Transport string `json:"transport"`
	// State is disabled, connecting, ready, error, stopped or quarantined.
	State   upstream.State `json:"state"`
	Enabled bool           `json:"enabled"`
	// LastError is why the server is not ready (one line: exit code and
	// the last lines of its stderr, secrets masked).
	LastError string    `json:"last_error,omitempty"`
	ToolCount int       `json:"tool_count"`
	Restarts  int       `json:"restarts"`
	Since     time.Time `json:"since"`
	// DockerAvailable repeats DockerStatus.Available.
	DockerAvailable bool `json:"docker_available"`
	// Isolation is the decision (isolated or why not) with the plan's
	// image and limits and, while it runs, the container.
	Isolation *upstream.IsolationInfo `json:"isolation"`
	// LastExit says why the server's last container ended (for example that
	// it was OOM-killed); it outlives the restart that follows.
	LastExit *upstream.ExitNote `json:"last_exit,omitempty"`
	// Quarantine says why a quarantined server waits and how to approve it.
	Quarantine *trust.QuarantineView `json:"quarantine,omitempty"`
	// ToolsWithheld are the tools held back because they changed or are
	// new since a person approved the server's tools (see
	// GET /api/v1/servers/{name}/tools?changed=1).
	ToolsWithheld []string `json:"tools_withheld,omitempty"`
}

// ServerList is GET /api/v1/servers and upstream_servers list.
type ServerList struct {
	DockerStatus DockerStatus `json:"docker_status"`
	// DockerIsolation is the global docker_isolation block in force.
	DockerIsolation config.DockerIsolation `json:"docker_isolation"`
	Servers         []ServerView           `json:"servers"`
	// ConfigWarnings are the configuration file's warnings (unknown keys,
	// settings mcpproxy ignores, dangerous settings allowed by hand), one
	// "line:col: path: message" each.
	ConfigWarnings []string `json:"config_warnings,omitempty"`
	// ConfigInvalid, when set, says the file on disk is invalid and its
	// last edit was not applied (details: GET /api/v1/config/status).
	ConfigInvalid bool `json:"config_invalid,omitempty"`
}

// Redacted replaces every env and header value in the server views of the
// API: the names are shown, the values never. A PATCH that sends this
// value back for a name that exists keeps the value in the file.
const Redacted = "<redacted>"

// ServerDetail is GET /api/v1/servers/{name}: the list view of one server
// with its configuration and its isolation plan.
type ServerDetail struct {
	ServerView
	// Config is the server's configuration as the file holds it, with every
	// env and header value replaced by Redacted.
	Config *config.Server `json:"config"`
	// Plan is how the server's container is run, when it is isolated.
	Plan *PlanView `json:"plan,omitempty"`
	// IsolationNote explains an isolation setting the global gate ignores
	// (a per-server opt-in while docker_isolation.enabled is false).
	IsolationNote string `json:"isolation_note,omitempty"`
	// LogFile is the server's stderr log on the proxy's host.
	LogFile string `json:"log_file,omitempty"`
}

// PlanView is an isolated server's container as the policy decided it
// (isolation.Plan, as JSON).
type PlanView struct {
	Runtime    string   `json:"runtime"`
	Image      string   `json:"image"`
	Command    string   `json:"command"`
	Args       []string `json:"args,omitempty"`
	Setup      string   `json:"setup,omitempty"`
	WorkingDir string   `json:"working_dir,omitempty"`
	EnvNames   []string `json:"env_names,omitempty"`
	// Network is the network mode ("bridge", "none", …).
	Network string `json:"network"`
	// Memory and CPUs are the limits in docker's syntax ("512m", "1.0").
	Memory    string `json:"memory"`
	CPUs      string `json:"cpus"`
	PidsLimit int64  `json:"pids_limit,omitempty"`
	// TimeoutSeconds bounds the whole start.
	TimeoutSeconds  float64     `json:"timeout_seconds"`
	User            string      `json:"user,omitempty"`
	ReadOnlyRoot    bool        `json:"read_only_root"`
	CapDrop         []string    `json:"cap_drop,omitempty"`
	CapAdd          []string    `json:"cap_add,omitempty"`
	NoNewPrivileges bool        `json:"no_new_privileges"`
	Init            bool        `json:"init"`
	Mounts          []MountView `json:"mounts,omitempty"`
	Tmpfs           []string    `json:"tmpfs,omitempty"`
	Hardened        bool        `json:"hardened"`
	Profile         string      `json:"profile,omitempty"`
	AllowDangerous  bool        `json:"allow_dangerous,omitempty"`
	// ExtraArgs are extra_args (global, then the server's), verbatim.
	ExtraArgs []string `json:"extra_args,omitempty"`
	Notes     []string `json:"notes,omitempty"`
	// DockerRun is the exact `docker run` argv (after the docker binary)
	// for the docker backend; env values never appear (-e NAME only).
	DockerRun []string `json:"docker_run,omitempty"`
}

// MountView is one mount of a plan.
type MountView struct {
	Type     string `json:"type"`
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
	Reason   string `json:"reason,omitempty"`
}

// ServerChange is what an add, update, enable or disable did: the server
// as it is now.
type ServerChange struct {
	Server ServerDetail `json:"server"`
	// Restarted is true when the change made the server (re)start.
	Restarted bool `json:"restarted"`
}

// Done is the answer of an action that has nothing else to say.
type Done struct {
	OK bool `json:"ok"`
	// Note tells what happens next, when something does.
	Note string `json:"note,omitempty"`
}

// ServerIsolation is GET /api/v1/servers/{name}/isolation: the server's own
// isolation block as the file holds it and what the policy makes of it.
type ServerIsolation struct {
	Server string `json:"server"`
	// Settings is the server's "isolation" block; empty fields inherit
	// docker_isolation.
	Settings config.ServerIsolation `json:"settings"`
	// Effective is the decision under the global block in force.
	Effective *upstream.IsolationInfo `json:"effective"`
	// Note explains a setting the global gate ignores.
	Note string `json:"note,omitempty"`
}

// Problem is one thing wrong with a configuration or a request: Path is the
// configuration key as in the file ("docker_isolation.memory_limit",
// "mcpServers[2].isolation.image") or the request's field.
type Problem struct {
	Path    string `json:"path"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Message string `json:"message"`
}

// ErrorBody is every error answer: a message, and for a refused
// configuration change the problems by field.
type ErrorBody struct {
	Error    string    `json:"error"`
	Problems []Problem `json:"problems,omitempty"`
}

// ConfigStatus is GET /api/v1/config/status: whether the file on disk is
// what runs.
type ConfigStatus struct {
	// Path is the configuration file.
	Path string `json:"path"`
	// Valid is false when the file's last edit was invalid: the proxy keeps
	// running the configuration applied before it.
	Valid bool `json:"valid"`
	// Problems are the invalid edit's problems (empty when Valid).
	Problems []Problem `json:"problems,omitempty"`
	// Warnings are the warnings of the configuration in force (unknown
	// keys with "did you mean", ignored settings).
	Warnings []Problem `json:"warnings,omitempty"`
	// AppliedAt is when the configuration in force was applied.
	AppliedAt time.Time `json:"applied_at"`
	// InvalidAt is when the invalid edit was seen (zero when Valid).
	InvalidAt time.Time `json:"invalid_at,omitzero"`
	// ReadOnly is true when the proxy refuses changes (--read-only).
	ReadOnly bool `json:"read_only,omitempty"`
}

// ToolHit is one result of a tool search.
type ToolHit struct {
	// Name is "server:tool", as call_tool and POST /api/v1/tools/call take it.
	Name        string          `json:"name"`
	Server      string          `json:"server"`
	Tool        string          `json:"tool"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
	Score       float64         `json:"score"`
}

// ToolSearch is GET /api/v1/tools/search.
type ToolSearch struct {
	Query string    `json:"query"`
	Tools []ToolHit `json:"tools"`
}

// ToolList is GET /api/v1/tools: every tool clients can see, by server.
type ToolList struct {
	Tools []ToolEntry `json:"tools"`
}

// ToolEntry is one tool of ToolList.
type ToolEntry struct {
	Name        string          `json:"name"`
	Server      string          `json:"server"`
	Tool        string          `json:"tool"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
}

// ToolCall is the body of POST /api/v1/tools/call.
type ToolCall struct {
	// Name is "server:tool".
	Name string `json:"name"`
	// Arguments are the tool's arguments (an object); absent means {}.
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// LogTail is GET /api/v1/servers/{name}/logs: the last lines of the
// server's stderr log, secrets masked.
type LogTail struct {
	Server string `json:"server"`
	// File is the log file on the proxy's host.
	File  string   `json:"file"`
	Lines []string `json:"lines"`
}

// LogLine is one line of a followed log (event "log" of
// GET /api/v1/servers/{name}/logs?follow=1).
type LogLine struct {
	Server string `json:"server"`
	Line   string `json:"line"`
}

// SessionState is GET /api/v1/session.
type SessionState struct {
	Authenticated bool `json:"authenticated"`
}

// SignIn is the body of POST /api/v1/session.
type SignIn struct {
	APIKey string `json:"api_key"`
}

// Health is GET /healthz.
type Health struct {
	OK bool `json:"ok"`
}

// ServerApprove is the optional body of a server's approval.
type ServerApprove struct {
	// Fingerprint is the quarantine.fingerprint the person was shown: the
	// approval is refused (409) if the server changed since.
	Fingerprint string `json:"fingerprint,omitempty"`
}
