// Package apiclient talks to a running mcpproxy's REST API, as the
// `mcpproxy upstream …`, `tools` and `call` commands do: it finds the proxy of a data directory
// (its address from the data directory's lock file, else the config file's
// listen), authenticates with the API key from the config file (or
// MCPPROXY_API_KEY), and decodes the answers.
package apiclient

import (
	"bufio"
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
	"strconv"
	"strings"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/datadir"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/trust"
	"github.com/modelcontextprotocol/go-sdk/mcp"
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
	// Problems name the refused fields of a 400.
	Problems []httpapi.Problem
}

func (e *APIError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Msg, e.Status) }

// ErrUnauthorized is wrapped by the APIError of a refused key.
var ErrUnauthorized = errors.New("the proxy refused the API key")

// ErrNotFound is wrapped by the APIError of a 404 (no such server or tool).
var ErrNotFound = errors.New("not found")

// Unwrap makes a 401 ErrUnauthorized and a 404 ErrNotFound.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusNotFound:
		return ErrNotFound
	}
	return nil
}

// apiError is the APIError of an answer with status and body b.
func apiError(status int, method, path string, b []byte) *APIError {
	var e httpapi.ErrorBody
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = fmt.Sprintf("%s %s: %s", method, path, bytes.TrimSpace(b))
	}
	return &APIError{Status: status, Msg: e.Error, Problems: e.Problems}
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
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return c.doWith(ctx, hc, method, path, in, out)
}

// doWith is do with the HTTP client hc.
func (c *Client) doWith(ctx context.Context, hc *http.Client, method, path string, in, out any) error {
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
		return apiError(resp.StatusCode, method, path, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
	}
	return nil
}

// Servers lists the servers.
func (c *Client) Servers(ctx context.Context) (httpapi.ServerList, error) {
	var l httpapi.ServerList
	err := c.do(ctx, http.MethodGet, "/api/v1/servers", nil, &l)
	return l, err
}

// Server is one server with its configuration and isolation plan.
func (c *Client) Server(ctx context.Context, name string) (httpapi.ServerDetail, error) {
	var d httpapi.ServerDetail
	err := c.do(ctx, http.MethodGet, serverPath(name, ""), nil, &d)
	return d, err
}

// AddServer adds the server object server (as the config file holds one).
func (c *Client) AddServer(ctx context.Context, server json.RawMessage) (httpapi.ServerChange, error) {
	var ch httpapi.ServerChange
	err := c.do(ctx, http.MethodPost, "/api/v1/servers", server, &ch)
	return ch, err
}

// RemoveServer removes a server.
func (c *Client) RemoveServer(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, serverPath(name, ""), nil, nil)
}

// SetEnabled enables or disables a server.
func (c *Client) SetEnabled(ctx context.Context, name string, enabled bool) (httpapi.ServerChange, error) {
	verb := "/disable"
	if enabled {
		verb = "/enable"
	}
	var ch httpapi.ServerChange
	err := c.do(ctx, http.MethodPost, serverPath(name, verb), nil, &ch)
	return ch, err
}

// Restart restarts a server.
func (c *Client) Restart(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, serverPath(name, "/restart"), nil, nil)
}

// ApproveServer approves a quarantined server; with a fingerprint (its
// quarantine.fingerprint as shown), only if it has not changed since.
func (c *Client) ApproveServer(ctx context.Context, name, fingerprint string) (trust.ServerApproval, error) {
	var r trust.ServerApproval
	var body any
	if fingerprint != "" {
		body = httpapi.ServerApprove{Fingerprint: fingerprint}
	}
	err := c.do(ctx, http.MethodPost, serverPath(name, "/approve"), body, &r)
	return r, err
}

// Tools lists a server's tools with their pin states (the changed and new
// ones only with onlyPending).
func (c *Client) Tools(ctx context.Context, name string, onlyPending bool) (trust.ServerTools, error) {
	path := serverPath(name, "/tools")
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
	err := c.do(ctx, http.MethodPost, serverPath(name, "/tools/approve"), req, &r)
	return r, err
}

// Logs is the last n lines of a server's log.
func (c *Client) Logs(ctx context.Context, name string, n int) (httpapi.LogTail, error) {
	var l httpapi.LogTail
	err := c.do(ctx, http.MethodGet, serverPath(name, "/logs")+"?lines="+strconv.Itoa(n), nil, &l)
	return l, err
}

// FollowLogs calls line with the last n lines of a server's log and then
// each new one, until ctx ends or the proxy ends the stream.
func (c *Client) FollowLogs(ctx context.Context, name string, n int, line func(httpapi.LogLine)) error {
	path := serverPath(name, "/logs") + "?follow=true&lines=" + strconv.Itoa(n)
	return c.stream(ctx, path, func(event string, data []byte) error {
		if event != "log" {
			return nil
		}
		var l httpapi.LogLine
		if err := json.Unmarshal(data, &l); err != nil {
			return fmt.Errorf("log stream: %w", err)
		}
		line(l)
		return nil
	})
}

// ListTools lists the tools clients see (server "" for every server).
func (c *Client) ListTools(ctx context.Context, server string) (httpapi.ToolList, error) {
	path := "/api/v1/tools"
	if server != "" {
		path += "?server=" + url.QueryEscape(server)
	}
	var l httpapi.ToolList
	err := c.do(ctx, http.MethodGet, path, nil, &l)
	return l, err
}

// SearchTools searches the tools by what they do.
func (c *Client) SearchTools(ctx context.Context, query string, limit int) (httpapi.ToolSearch, error) {
	var s httpapi.ToolSearch
	err := c.do(ctx, http.MethodGet, "/api/v1/tools/search?q="+url.QueryEscape(query)+"&limit="+strconv.Itoa(limit), nil, &s)
	return s, err
}

// CallTool calls the tool name ("server:tool") with args (a JSON object).
// It waits as long as ctx allows (a tool may take long).
func (c *Client) CallTool(ctx context.Context, name string, args json.RawMessage) (*mcp.CallToolResult, error) {
	var res mcp.CallToolResult
	err := c.doWith(ctx, c.streamClient(), http.MethodPost, "/api/v1/tools/call", httpapi.ToolCall{Name: name, Arguments: args}, &res)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// Healthz checks that the proxy answers.
func (c *Client) Healthz(ctx context.Context) error {
	var h httpapi.Health
	if err := c.do(ctx, http.MethodGet, "/healthz", nil, &h); err != nil {
		return err
	}
	if !h.OK {
		return errors.New("the proxy answered /healthz without ok")
	}
	return nil
}

func serverPath(name, verb string) string {
	return "/api/v1/servers/" + url.PathEscape(name) + verb
}

// streamClient is the HTTP client of requests that may take long: no
// overall timeout, ctx bounds them.
func (c *Client) streamClient() *http.Client {
	if c.HTTP != nil {
		return &http.Client{Transport: c.HTTP.Transport}
	}
	return &http.Client{}
}

// stream reads a Server-Sent Events route, calling each with every event,
// until ctx ends (nil), the stream ends (nil) or each fails.
func (c *Client) stream(ctx context.Context, path string, each func(event string, data []byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.streamClient().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			return &NotRunningError{Base: c.Base, Source: c.Source, Err: ue.Err}
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return apiError(resp.StatusCode, http.MethodGet, path, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var event string
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event != "" {
				if err := each(event, data); err != nil {
					return err
				}
			}
			event, data = "", nil
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: ")...)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("event stream %s: %w", path, err)
	}
	return nil
}
