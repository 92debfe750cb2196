// Package upstream owns the connections to upstream MCP servers: one
// Upstream per configured server, each with a visible state, reconnects with
// backoff, an initialize timeout and a cached tool list, and the Manager that
// starts, stops and reconciles them against the configuration.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/fastpath"
)

// State is an upstream's lifecycle state.
type State string

// The states an upstream moves through.
const (
	StateDisabled   State = "disabled"
	StateConnecting State = "connecting"
	StateReady      State = "ready"
	StateError      State = "error"
	StateStopped    State = "stopped"
	// StateQuarantined is a server that waits for a person's approval
	// (config "quarantined": true): it is never started.
	StateQuarantined State = "quarantined"
)

// ProtocolVersion is the MCP version spoken to upstreams: the stateful
// protocol, in which server-to-client requests and notifications are real
// messages the proxy can route to the right client.
const ProtocolVersion = "2025-11-25"

// Status is a snapshot of an upstream for the API.
type Status struct {
	Name      string         `json:"name"`
	Transport string         `json:"transport"`
	State     State          `json:"state"`
	Enabled   bool           `json:"enabled"`
	Error     string         `json:"last_error,omitempty"`
	ToolCount int            `json:"tool_count"`
	Restarts  int            `json:"restarts"`
	Since     time.Time      `json:"since"`
	Isolation *IsolationInfo `json:"isolation,omitempty"`
}

// Upstream is one upstream MCP server and its connection.
type Upstream struct {
	name string
	m    *Manager

	mu        sync.Mutex
	cfg       *config.Server
	state     State
	lastErr   string
	since     time.Time
	restarts  int
	session   *mcp.ClientSession
	client    *mcp.Client
	tools     []*mcp.Tool
	isolation *IsolationInfo
	ready     chan struct{} // closed when state leaves "connecting"
	cancel    context.CancelFunc
	runCtx    context.Context // the run loop's; nil once stop began
	done      chan struct{}   // closed when the run loop has ended
	bg        sync.WaitGroup  // background work of the run (goBackground)
	live      *Launched       // the running stdio server, nil for HTTP
	raw       *fastpath.Conn  // fast path (fast.go), nil when off
	// end records why the current (or last) session ended (callend.go)
	end *sessionEnd

	// the log level last sent, and to which session (loglevel.go)
	logMu      sync.Mutex
	logSession *mcp.ClientSession
	logSent    mcp.LoggingLevel

	// in-flight downstream requests, for routing server-to-client messages
	notes    noteOrder // noteorder.go
	flightMu sync.Mutex
	flights  []*Flight
	tokens   map[string]*Flight
	tokenSeq uint64
}

// Name is the server's name.
func (u *Upstream) Name() string { return u.name }

// Config returns the server's configuration (do not modify).
func (u *Upstream) Config() *config.Server {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.cfg
}

// Session returns the live client session, or nil when not ready.
func (u *Upstream) Session() *mcp.ClientSession {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.state != StateReady {
		return nil
	}
	return u.session
}

// Tools returns the cached tool list.
func (u *Upstream) Tools() []*mcp.Tool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.tools
}

// InitializeResult returns the upstream's initialize result, or nil.
func (u *Upstream) InitializeResult() *mcp.InitializeResult {
	if s := u.Session(); s != nil {
		return s.InitializeResult()
	}
	return nil
}

// Status returns a snapshot.
func (u *Upstream) Status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	st := Status{
		Name: u.name, Transport: u.cfg.Transport(), State: u.state,
		Enabled: u.cfg.IsEnabled(), Error: u.lastErr, ToolCount: len(u.tools),
		Restarts: u.restarts, Since: u.since,
	}
	st.Isolation = u.isolation.Clone()
	return st
}

// WaitReady waits until the upstream leaves the connecting state or ctx ends,
// and returns the live session or an error naming why it is not available.
func (u *Upstream) WaitReady(ctx context.Context) (*mcp.ClientSession, error) {
	for {
		u.mu.Lock()
		state, sess, ready, lastErr := u.state, u.session, u.ready, u.lastErr
		u.mu.Unlock()
		switch state {
		case StateReady:
			return sess, nil
		case StateDisabled:
			return nil, fmt.Errorf("server %q is disabled", u.name)
		case StateStopped:
			return nil, fmt.Errorf("server %q is stopped", u.name)
		case StateQuarantined:
			return nil, fmt.Errorf("server %q is quarantined: it was added or changed by an MCP client and waits for a person's approval (`mcpproxy upstream approve %s`)", u.name, u.name)
		case StateError:
			// A reconnect may be on its way; report the error now. An
			// error that names the server already is passed on as it is.
			if strings.HasPrefix(lastErr, fmt.Sprintf("server %q ", u.name)) {
				return nil, errors.New(lastErr)
			}
			return nil, fmt.Errorf("server %q is not available: %s", u.name, lastErr)
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("server %q is still connecting: %w", u.name, ctx.Err())
		}
	}
}

func (u *Upstream) setState(s State, errText string) {
	u.mu.Lock()
	prev := u.state
	u.state = s
	u.lastErr = errText
	u.since = time.Now()
	if s == StateConnecting && prev != StateConnecting {
		u.ready = make(chan struct{})
	}
	if s != StateConnecting && prev == StateConnecting && u.ready != nil {
		close(u.ready)
	}
	u.mu.Unlock()
	if prev != s || errText != "" {
		u.m.notifyState(u.name)
	}
}

// start runs the upstream's connection loop on a goroutine that stop waits
// for (a disabled or quarantined server is not started).
func (u *Upstream) start() {
	ctx, cancel := context.WithCancel(context.Background())
	u.mu.Lock()
	u.cancel = cancel
	u.runCtx = ctx
	u.done = make(chan struct{})
	done := u.done
	enabled, quarantined := u.cfg.IsEnabled(), u.cfg.Quarantined
	u.mu.Unlock()
	if quarantined || !enabled {
		state := StateDisabled
		if quarantined {
			state = StateQuarantined
		}
		u.setState(state, "")
		close(done)
		cancel()
		return
	}
	u.setState(StateConnecting, "")
	go func() {
		defer close(done)
		u.run(ctx)
	}()
}

// stop ends the connection and waits for the run loop and the work it
// started in the background to finish.
func (u *Upstream) stop(final State) {
	u.mu.Lock()
	cancel, done := u.cancel, u.done
	u.runCtx = nil // no background work starts from now on (goBackground)
	u.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if done != nil {
		<-done
	}
	u.bg.Wait()
	u.mu.Lock()
	u.tools = nil
	u.mu.Unlock()
	u.setState(final, "")
	u.m.toolsChanged(u.name, nil)
}

// goBackground runs f on a goroutine that stop waits for, with the run
// loop's context; once stop has begun it does nothing.
func (u *Upstream) goBackground(f func(ctx context.Context)) {
	u.mu.Lock()
	ctx := u.runCtx
	if ctx == nil {
		u.mu.Unlock()
		return
	}
	u.bg.Add(1)
	u.mu.Unlock()
	go func() {
		defer u.bg.Done()
		f(ctx)
	}()
}

// kill ends the server at once (second signal).
func (u *Upstream) kill() {
	u.mu.Lock()
	live := u.live
	u.mu.Unlock()
	if live != nil {
		live.Kill()
	}
}

// Backoff is how long an upstream waits before it reconnects: Min after
// the first failure, doubling up to Max, and Min again after a connection
// that lasted longer than Reset.
type Backoff struct {
	Min, Max, Reset time.Duration
}

// DefaultBackoff is the reconnect backoff of Options' zero value.
var DefaultBackoff = Backoff{Min: 250 * time.Millisecond, Max: 30 * time.Second, Reset: time.Minute}

// next returns the wait after a connection that lasted ranFor, given the
// wait before it (0 for the first failure).
func (b Backoff) next(prev, ranFor time.Duration) time.Duration {
	switch {
	case prev <= 0 || ranFor > b.Reset:
		return b.Min
	case prev*2 > b.Max:
		return b.Max
	default:
		return prev * 2
	}
}

// run connects, and reconnects with backoff whenever the connection ends,
// until ctx ends.
func (u *Upstream) run(ctx context.Context) {
	b := u.m.backoff
	var delay time.Duration
	for {
		started := time.Now()
		err := u.connectAndServe(ctx)
		if ctx.Err() != nil {
			return
		}
		delay = b.next(delay, time.Since(started))
		msg := "connection closed"
		if err != nil {
			msg = err.Error()
		}
		if u.m.opts.Redact != nil {
			// The error may name the server's URL, with the credential
			// of its query; last_error goes to MCP clients and the API.
			msg = u.m.opts.Redact(msg)
		}
		u.m.log.Warn("upstream disconnected", "server", u.name, "error", msg, "retry_in", delay.String())
		u.mu.Lock()
		u.tools = nil
		u.mu.Unlock()
		u.m.toolsChanged(u.name, nil)
		u.setState(StateError, msg)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		u.mu.Lock()
		u.restarts++
		u.mu.Unlock()
		// The reason stays while the server reconnects: it is still why the
		// server is not ready (last_error), until it is.
		u.setState(StateConnecting, msg)
	}
}
