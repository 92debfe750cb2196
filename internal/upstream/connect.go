package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/fastpath"
)

// One connection of an upstream: launch (or dial), initialize, list tools,
// serve until it ends, and say why it ended.

// connectAndServe connects once and blocks until the connection ends.
func (u *Upstream) connectAndServe(ctx context.Context) error {
	cfg := u.Config()
	client := u.m.newClient(u)
	var transport mcp.Transport
	var run *Launched
	initTimeout := u.m.initTimeout()
	if cfg.IsHTTP() {
		transport = &mcp.StreamableClientTransport{
			Endpoint:   cfg.URL,
			HTTPClient: &http.Client{Transport: headerTransport{headers: cfg.Headers, base: http.DefaultTransport}},
		}
	} else {
		var stop func()
		var err error
		if run, stop, err = u.launch(ctx, cfg); err != nil {
			return u.launchFailed(err)
		}
		defer stop()
		if run.InitTimeout > 0 {
			initTimeout = run.InitTimeout
		}
		transport = u.fastWrap(&mcp.IOTransport{Reader: run.Stdout(), Writer: run.Stdin()})
	}

	var ictx context.Context
	var cancel context.CancelFunc
	if run != nil && !run.Deadline.IsZero() {
		ictx, cancel = context.WithDeadline(ctx, run.Deadline)
	} else {
		ictx, cancel = context.WithTimeout(ctx, initTimeout)
	}
	var watch sync.WaitGroup
	defer watch.Wait() // after cancel, which ends the watch
	defer cancel()
	if run != nil {
		// If the server ends during initialize, fail at once rather than
		// at the timeout.
		watch.Go(func() {
			select {
			case <-run.Done():
				cancel()
			case <-ictx.Done():
			}
		})
	}
	sess, err := client.Connect(ictx, orderedTransport{inner: transport, o: &u.notes}, &mcp.ClientSessionOptions{ProtocolVersion: ProtocolVersion})
	if err != nil {
		return u.explainStartError(ctx, ictx, run, initTimeout, "before initialize", err)
	}
	defer sess.Close()
	defer u.fastDetach()
	var fc *fastpath.Conn
	if ft, ok := transport.(*fastpath.Transport); ok {
		fc = ft.Conn()
	}
	tools, err := listTools(ictx, sess, fc)
	if err != nil {
		return u.explainStartError(ctx, ictx, run, initTimeout, "while listing tools", fmt.Errorf("tools/list: %w", err))
	}
	u.mu.Lock()
	u.session = sess
	u.client = client
	u.fastAttachLocked(transport)
	u.tools = tools
	if u.isolation != nil {
		u.isolation.Phase = "running"
	}
	u.mu.Unlock()
	// The level clients asked for, before any call can arrive (a server
	// that does not answer it delays readiness by logLevelTimeout at most).
	lctx, lcancel := context.WithTimeout(ictx, logLevelTimeout)
	if err := u.syncLogLevel(lctx); err != nil {
		u.m.log.Debug("upstream refused logging/setLevel", "server", u.name, "error", err)
	}
	lcancel()
	se := u.beginSession()
	u.setState(StateReady, "")
	u.m.log.Info("upstream ready", "server", u.name, "tools", len(tools))
	u.m.toolsChanged(u.name, tools)

	waitErr := make(chan error, 1)
	watch.Go(func() { waitErr <- sess.Wait() }) // ends with the deferred sess.Close
	select {
	case <-ctx.Done():
		se.finish(fmt.Errorf("server %q was stopped", u.name))
		return nil
	case err := <-waitErr:
		reason := u.sessionEnded(run, raw(u), err)
		se.finish(reason)
		return reason
	}
}

// raw returns u's fast-path connection (nil without one).
func raw(u *Upstream) *fastpath.Conn {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.raw
}

// sessionEnded says why a ready session ended: the server broke the
// protocol, or its process or container ended (and how), or the
// connection closed.
func (u *Upstream) sessionEnded(run *Launched, raw *fastpath.Conn, err error) error {
	// Never "ready" without a session: callers see an error state at
	// once; the run loop fills in why the connection ended.
	u.mu.Lock()
	u.session = nil
	u.mu.Unlock()
	u.setState(StateError, "connection closed")
	if raw != nil {
		if perr := raw.ProtocolError(); perr != nil {
			return perr
		}
	}
	if run != nil {
		return u.ended(run, "", err)
	}
	if err == nil {
		err = errors.New("connection closed by server")
	}
	return err
}

// launch starts the stdio server of cfg and returns it with the function
// that stops it (and closes its stderr log).
func (u *Upstream) launch(ctx context.Context, cfg *config.Server) (*Launched, func(), error) {
	stderr := u.m.stderrFor(u.name)
	run, err := u.m.launcher.Launch(ctx, cfg, stderr)
	u.mu.Lock()
	if run != nil && run.Isolation != nil {
		u.isolation = run.Isolation.Clone()
	}
	if err == nil {
		u.live = run
	}
	u.mu.Unlock()
	if err != nil {
		stderr.Close()
		return nil, nil, err
	}
	return run, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = run.Stop(sctx, u.m.stopGrace)
		stderr.Close()
		u.mu.Lock()
		if u.live == run {
			u.live = nil
		}
		u.mu.Unlock()
	}, nil
}

// explainStartError says why a start failed after the server was launched:
// the server ended (or closed its stdio) — see ended —, the start's
// deadline passed, or the handshake failed otherwise.
func (u *Upstream) explainStartError(ctx, ictx context.Context, run *Launched, timeout time.Duration, when string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	timedOut := errors.Is(ictx.Err(), context.DeadlineExceeded)
	if run != nil {
		select {
		case <-run.Done():
			return u.ended(run, when, err)
		default:
		}
		if !timedOut {
			return u.ended(run, when, err)
		}
	}
	if timedOut {
		tail := u.m.stderrTail(u.name)
		if tail != "" {
			tail = "; stderr: " + tail
		}
		if run != nil && run.Isolation != nil && run.Isolation.Isolated {
			return fmt.Errorf("start timed out after %s (docker_isolation.timeout) during MCP initialize: the container started but did not answer initialize%s", timeout, tail)
		}
		return fmt.Errorf("no answer to MCP initialize within %s%s", timeout, tail)
	}
	return err
}

// listTools lists every tool of the server: through the raw connection
// when there is one (decoded once, with encoding/json), otherwise through
// the SDK session. The SDK's ListTools re-encodes every tool's schema with a
// decoder that allocates tens of KiB per call: 300 MB of garbage for a
// server with 10,000 tools, which made the proxy's memory peak.
func listTools(ctx context.Context, s *mcp.ClientSession, rc *fastpath.Conn) ([]*mcp.Tool, error) {
	if s.InitializeResult() != nil && s.InitializeResult().Capabilities != nil && s.InitializeResult().Capabilities.Tools == nil {
		return nil, nil
	}
	if rc == nil || !rc.OwnReader() {
		return listAllTools(ctx, s)
	}
	var out []*mcp.Tool
	cursor := ""
	for {
		params := []byte(`{}`)
		if cursor != "" {
			params, _ = json.Marshal(map[string]string{"cursor": cursor})
		}
		raw, err := rc.Call(ctx, "tools/list", params)
		if err != nil {
			return nil, err
		}
		var page struct {
			Tools      []*mcp.Tool `json:"tools"`
			NextCursor string      `json:"nextCursor"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("tools/list: %w", err)
		}
		for _, t := range page.Tools {
			if t != nil && t.Name != "" {
				out = append(out, t)
			}
		}
		if page.NextCursor == "" || page.NextCursor == cursor {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

func listAllTools(ctx context.Context, s *mcp.ClientSession) ([]*mcp.Tool, error) {
	if s.InitializeResult() != nil && s.InitializeResult().Capabilities != nil && s.InitializeResult().Capabilities.Tools == nil {
		return nil, nil
	}
	var out []*mcp.Tool
	params := &mcp.ListToolsParams{}
	for {
		res, err := s.ListTools(ctx, params)
		if err != nil {
			return nil, err
		}
		out = append(out, res.Tools...)
		if res.NextCursor == "" {
			return out, nil
		}
		params = &mcp.ListToolsParams{Cursor: res.NextCursor}
	}
}

// refreshTools re-lists tools after notifications/tools/list_changed.
func (u *Upstream) refreshTools(ctx context.Context) {
	s := u.Session()
	if s == nil {
		return
	}
	u.mu.Lock()
	rc := u.raw
	u.mu.Unlock()
	tools, err := listTools(ctx, s, rc)
	if err != nil {
		u.m.log.Warn("refresh tools failed", "server", u.name, "error", err)
		return
	}
	u.mu.Lock()
	u.tools = tools
	u.mu.Unlock()
	u.m.toolsChanged(u.name, tools)
}

type headerTransport struct {
	headers map[string]string
	base    http.RoundTripper
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(t.headers) > 0 {
		r = r.Clone(r.Context())
		for k, v := range t.headers {
			r.Header.Set(k, v)
		}
	}
	return t.base.RoundTrip(r)
}
