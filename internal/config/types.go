// Package config defines mcpproxy's configuration file (mcp_config.json): its
// types and defaults, how it is read (JSON with comments, both mcpServers
// forms), validated (every problem listed by JSON path and line:column),
// created on first run, edited in place without losing the user's comments,
// and watched for changes.
package config

import (
	"encoding/json"
	"fmt"
	"time"
)

// FileName is the configuration file's name inside the data directory.
const FileName = "mcp_config.json"

// Config is the whole configuration file.
type Config struct {
	// Listen is the address the HTTP endpoint binds; "" means the default
	// (127.0.0.1:8080) unless --listen is given.
	Listen string `json:"listen,omitempty"`
	// Servers are the upstream MCP servers, in file order. The file may hold
	// them as an array ([{"name": …}]) or as an object ({"name": {…}}).
	Servers []*Server `json:"mcpServers"`
	// DockerIsolation is the global docker isolation block.
	DockerIsolation DockerIsolation `json:"docker_isolation"`
	// Telemetry is the anonymous daily report; off by default.
	Telemetry Telemetry `json:"telemetry"`
	// InitTimeout bounds the MCP initialize handshake of each upstream that is
	// not isolated (isolated servers are bounded by docker_isolation.timeout).
	// Zero means the default (30s).
	InitTimeout Duration `json:"init_timeout,omitempty"`
	// APIKey authenticates the REST API, the web UI's session and
	// `mcpproxy upstream`; generated at first run. A secret: never logged,
	// never in an API response.
	APIKey string `json:"api_key,omitempty"`
	// RequireMCPAuth puts APIKey on /mcp and /mcp/{server} too.
	RequireMCPAuth bool `json:"require_mcp_auth,omitempty"`

	// Warnings are the file's problems that do not stop it from loading:
	// unknown keys (a configuration written for MCPProxy loads, its extra
	// keys ignored) and keys mcpproxy accepts but ignores. Set by Parse;
	// never written to a file.
	Warnings []Problem `json:"-"`
}

// Server is one upstream MCP server. A server with a URL is a Streamable-HTTP
// upstream; otherwise it is a stdio server started from Command.
type Server struct {
	Name       string            `json:"name"`
	Command    string            `json:"command,omitempty"`
	Args       []string          `json:"args,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	WorkingDir string            `json:"working_dir,omitempty"`
	URL        string            `json:"url,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	// Enabled is nil when absent, which means enabled.
	Enabled *bool `json:"enabled,omitempty"`
	// Isolation is the per-server docker isolation override; nil when absent.
	Isolation *ServerIsolation `json:"isolation,omitempty"`
	// Quarantined marks a server an MCP client added or changed: it is not
	// started and shows no tool until a person approves it (the key is then
	// removed). Servers written by hand are trusted as written.
	Quarantined bool `json:"quarantined,omitempty"`
}

// IsEnabled reports whether the server should run (absent means yes).
func (s *Server) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// IsHTTP reports whether the server is a Streamable-HTTP upstream.
func (s *Server) IsHTTP() bool { return s.URL != "" }

// Transport names the server's transport: "http" or "stdio".
func (s *Server) Transport() string {
	if s.IsHTTP() {
		return "http"
	}
	return "stdio"
}

// Clone returns a deep copy of s.
func (s *Server) Clone() *Server {
	if s == nil {
		return nil
	}
	c := *s
	c.Args = append([]string(nil), s.Args...)
	c.Env = cloneMap(s.Env)
	c.Headers = cloneMap(s.Headers)
	if s.Enabled != nil {
		v := *s.Enabled
		c.Enabled = &v
	}
	c.Isolation = s.Isolation.Clone()
	return &c
}

// ServerIsolation overrides the global docker isolation for one server.
// Empty strings and nil slices inherit the global value.
type ServerIsolation struct {
	// Enabled is nil when absent (inherit the global flag). false opts the
	// server out; true takes effect only when the global flag is on.
	Enabled     *bool    `json:"enabled,omitempty"`
	Image       string   `json:"image,omitempty"`
	NetworkMode string   `json:"network_mode,omitempty"`
	WorkingDir  string   `json:"working_dir,omitempty"`
	ExtraArgs   []string `json:"extra_args,omitempty"`
	MemoryLimit string   `json:"memory_limit,omitempty"`
	CPULimit    string   `json:"cpu_limit,omitempty"`
	// Hardened is nil when absent (inherit docker_isolation.hardened);
	// false relaxes the hardened profile for this server (shown in the list
	// view), true applies it even when the global flag is off.
	Hardened *bool `json:"hardened,omitempty"`
	// PidsLimit is nil when absent (inherit docker_isolation.pids_limit).
	PidsLimit *int64 `json:"pids_limit,omitempty"`
	// AllowDangerous lets this server's own extra_args and network_mode
	// give the container host access (--privileged, host namespaces,
	// sensitive mounts; see internal/dockerargs). Meant to be written by
	// hand in the file only; it never applies to the global extra_args.
	AllowDangerous bool `json:"allow_dangerous,omitempty"`
	// Mounts are host paths the container sees (see ParseMount):
	// "~/notes:rw", "/data/in" (read-only), "/host/x:/in/container:ro".
	// A mount of a sensitive path (the home itself, credential folders,
	// /etc, a docker socket, the data dir, …) is refused unless
	// AllowDangerous is set.
	Mounts []string `json:"mounts,omitempty"`
}

// Clone returns a deep copy of si.
func (si *ServerIsolation) Clone() *ServerIsolation {
	if si == nil {
		return nil
	}
	c := *si
	if si.Enabled != nil {
		v := *si.Enabled
		c.Enabled = &v
	}
	c.ExtraArgs = append([]string(nil), si.ExtraArgs...)
	c.Mounts = append([]string(nil), si.Mounts...)
	if si.Hardened != nil {
		v := *si.Hardened
		c.Hardened = &v
	}
	if si.PidsLimit != nil {
		v := *si.PidsLimit
		c.PidsLimit = &v
	}
	return &c
}

// DockerIsolation is the global docker_isolation block. Its zero value is not
// the default; use DefaultDockerIsolation.
type DockerIsolation struct {
	Enabled       bool              `json:"enabled"`
	MemoryLimit   string            `json:"memory_limit"`
	CPULimit      string            `json:"cpu_limit"`
	Timeout       Duration          `json:"timeout"`
	NetworkMode   string            `json:"network_mode"`
	Registry      string            `json:"registry"`
	DefaultImages map[string]string `json:"default_images"`
	ExtraArgs     []string          `json:"extra_args"`
	// Hardened applies the hardened profile to every isolated server
	// (dropped capabilities, no-new-privileges, read-only root, non-root
	// user, PID limit, …); default true.
	Hardened bool `json:"hardened"`
	// PidsLimit caps the processes of each container; default 256.
	PidsLimit int64 `json:"pids_limit"`
	// CacheVolumes gives each isolated server of a package runner (npx,
	// uvx, pip, go, …) a named volume of its own for the runner's cache,
	// kept across restarts; default true.
	CacheVolumes bool `json:"cache_volumes"`
	// Backend runs the isolated servers: "docker" (default) or
	// "kubernetes" (pods, see Kubernetes).
	Backend string `json:"backend"`
	// Kubernetes says where the kubernetes backend runs its pods.
	Kubernetes Kubernetes `json:"kubernetes"`
}

// Telemetry configures the anonymous daily report.
type Telemetry struct {
	Enabled bool `json:"enabled"`
	// Endpoint is where the report is POSTed; "" means the default endpoint.
	Endpoint string `json:"endpoint,omitempty"`
}

// DefaultImages returns the spec's runtime→image table (a fresh map).
func DefaultImages() map[string]string {
	return map[string]string{
		"python":   "python:3.11",
		"python3":  "python:3.11",
		"uvx":      "python:3.11",
		"pip":      "python:3.11",
		"pipx":     "python:3.11",
		"node":     "node:20",
		"npm":      "node:20",
		"npx":      "node:20",
		"yarn":     "node:20",
		"go":       "golang:1.21-alpine",
		"cargo":    "rust:1.75-slim",
		"rustc":    "rust:1.75-slim",
		"ruby":     "ruby:3.2-alpine",
		"gem":      "ruby:3.2-alpine",
		"php":      "php:8.2-cli-alpine",
		"composer": "php:8.2-cli-alpine",
		"binary":   "alpine:3.18",
		"sh":       "alpine:3.18",
		"bash":     "alpine:3.18",
		// Servers whose args install from git (git+https://…) need git
		// in the image; these full images have it.
		"uvx-git":  "python:3.11",
		"pip-git":  "python:3.11",
		"pipx-git": "python:3.11",
		"npx-git":  "node:20",
	}
}

// DefaultDockerIsolation returns the spec's defaults for docker_isolation.
func DefaultDockerIsolation() DockerIsolation {
	return DockerIsolation{
		Enabled:       false,
		MemoryLimit:   "512m",
		CPULimit:      "1.0",
		Timeout:       Duration(30 * time.Second),
		NetworkMode:   "bridge",
		Registry:      "docker.io",
		DefaultImages: DefaultImages(),
		ExtraArgs:     []string{},
		Hardened:      true,
		PidsLimit:     DefaultPidsLimit,
		CacheVolumes:  true,
		Backend:       BackendDocker,
	}
}

// DefaultPidsLimit is docker_isolation.pids_limit's default.
const DefaultPidsLimit = 256

// MaxPidsLimit is the largest pids_limit accepted (the kernel's pid_max
// ceiling).
const MaxPidsLimit = 4194304

// Default returns the configuration used when there is no file.
func Default() *Config {
	return &Config{
		Servers:         []*Server{},
		DockerIsolation: DefaultDockerIsolation(),
	}
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	if c == nil {
		return nil
	}
	n := *c
	n.Servers = make([]*Server, len(c.Servers))
	for i, s := range c.Servers {
		n.Servers[i] = s.Clone()
	}
	n.DockerIsolation.DefaultImages = cloneMap(c.DockerIsolation.DefaultImages)
	n.DockerIsolation.ExtraArgs = append([]string{}, c.DockerIsolation.ExtraArgs...)
	n.DockerIsolation.Kubernetes = c.DockerIsolation.Kubernetes.Clone()
	n.Warnings = append([]Problem(nil), c.Warnings...)
	return &n
}

// Server returns the server named name, or nil.
func (c *Config) Server(name string) *Server {
	for _, s := range c.Servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Duration is a time.Duration written in JSON as a Go duration string ("30s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts a duration string ("30s", "1m30s").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("must be a duration string such as \"30s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (use a form such as \"30s\" or \"2m\")", s)
	}
	if v < 0 {
		return fmt.Errorf("%q must not be negative", s)
	}
	*d = Duration(v)
	return nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
