// Package apiclient talks to a running mcpproxy's REST API, as the
// `mcpproxy upstream …` commands do: it finds the proxy of a data directory
// (its address from the data directory's lock file, else the config file's
// listen), authenticates with the API key from the config file (or
// MCPPROXY_API_KEY), and decodes the answers.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/datadir"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// KeyEnv names the environment variable that, when set, holds the API key
// (a deployment whose config file has none).
const KeyEnv = "MCPPROXY_API_KEY"

// DefaultListen is where a proxy listens when nothing says otherwise.
const DefaultListen = "127.0.0.1:8080"

// Client is one running mcpproxy's REST API.
type Client struct {
	// Base is the proxy's URL, "http://host:port".
	Base string
	// Key is the API key.
	Key string
	// Source says where Base came from, for error messages.
	Source string
	// HTTP is the client used; nil means one with a 30 s timeout.
	HTTP *http.Client
}

// NotRunningError says no proxy answered at the address tried.
type NotRunningError struct {
	Base, Source string
	Err          error
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("mcpproxy is not running at %s (%s): %v — start it with `mcpproxy serve`, or pass the same --data-dir/--config it runs with", e.Base, e.Source, e.Err)
}

func (e *NotRunningError) Unwrap() error { return e.Err }

// APIError is an answer other than 2xx, with the proxy's error message.
type APIError struct {
	Status int
	Msg    string
}

func (e *APIError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Msg, e.Status) }

// ErrUnauthorized is wrapped by the APIError of a refused key.
var ErrUnauthorized = errors.New("the proxy refused the API key")

func (e *APIError) Unwrap() error {
	if e.Status == http.StatusUnauthorized {
		return ErrUnauthorized
	}
	return nil
}

// FromConfig returns the client for the proxy that serves dataDir with the
// config file configPath.
func FromConfig(dataDir, configPath string) (*Client, error) {
	cfg, err := config.Load(configPath)
	if err != nil {
		return nil, err
	}
	key := os.Getenv(KeyEnv)
	if key == "" {
		key = cfg.APIKey
	}
	if key == "" {
		return nil, fmt.Errorf("%s has no api_key: mcpproxy writes one at its first start (run `mcpproxy serve` once), or set %s", configPath, KeyEnv)
	}
	listen, source := cfg.Listen, "listen in "+configPath
	if listen == "" {
		listen, source = DefaultListen, "the default address"
	}
	if o, ok, err := datadir.Running(dataDir); err == nil && ok && o.Listen != "" {
		listen, source = o.Listen, fmt.Sprintf("the proxy of %s, pid %d", dataDir, o.PID)
	}
	return &Client{Base: "http://" + dialable(listen), Key: key, Source: source}, nil
}

// dialable turns a listen address into one to connect to: an unspecified
// host ("", 0.0.0.0, ::) is loopback.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// do sends one request and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ctx.Err() == nil {
			return &NotRunningError{Base: c.Base, Source: c.Source, Err: ue.Err}
		}
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s %s: %s", method, path, bytes.TrimSpace(b))
		}
		return &APIError{Status: resp.StatusCode, Msg: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
	}
	return nil
}

// Server is one server of the list view, the fields the CLI shows.
type Server struct {
	Name      string `json:"name"`
	Transport string `json:"transport"`
	State     string `json:"state"`
	Enabled   bool   `json:"enabled"`
	LastError string `json:"last_error,omitempty"`
	ToolCount int    `json:"tool_count"`
	Isolation *struct {
		Isolated      bool   `json:"isolated"`
		Reason        string `json:"reason"`
		Image         string `json:"image,omitempty"`
		ContainerName string `json:"container_name,omitempty"`
	} `json:"isolation"`
	Quarantine    *trust.QuarantineView `json:"quarantine,omitempty"`
	ToolsWithheld []string              `json:"tools_withheld,omitempty"`
}

// ServerList is GET /api/v1/servers, the fields the CLI shows.
type ServerList struct {
	Servers []Server `json:"servers"`
}

// Servers lists the servers.
func (c *Client) Servers(ctx context.Context) (ServerList, error) {
	var l ServerList
	err := c.do(ctx, http.MethodGet, "/api/v1/servers", nil, &l)
	return l, err
}

// ApproveServer approves a quarantined server.
func (c *Client) ApproveServer(ctx context.Context, name string) (trust.ServerApproval, error) {
	var r trust.ServerApproval
	err := c.do(ctx, http.MethodPost, "/api/v1/servers/"+url.PathEscape(name)+"/approve", nil, &r)
	return r, err
}

// Tools lists a server's tools with their pin states (the changed and new
// ones only with onlyPending).
func (c *Client) Tools(ctx context.Context, name string, onlyPending bool) (trust.ServerTools, error) {
	path := "/api/v1/servers/" + url.PathEscape(name) + "/tools"
	if onlyPending {
		path += "?changed=1"
	}
	var st trust.ServerTools
	err := c.do(ctx, http.MethodGet, path, nil, &st)
	return st, err
}

// ApproveTools approves tools of a server.
func (c *Client) ApproveTools(ctx context.Context, name string, req trust.ToolApproval) (trust.ToolApprovalResult, error) {
	var r trust.ToolApprovalResult
	err := c.do(ctx, http.MethodPost, "/api/v1/servers/"+url.PathEscape(name)+"/tools/approve", req, &r)
	return r, err
}
