package upstream

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/fastpath"
)

// DefaultInitTimeout bounds the MCP initialize handshake of host servers.
const DefaultInitTimeout = 30 * time.Second

// Downstream receives what upstreams send toward clients that is not tied
// to one in-flight request.
type Downstream interface {
	// ListChanged reports notifications/{kind}/list_changed ("tools",
	// "prompts" or "resources") from the upstream.
	ListChanged(server, kind string)
	// ResourceUpdated reports notifications/resources/updated.
	ResourceUpdated(ctx context.Context, server string, p *mcp.ResourceUpdatedNotificationParams)
	// Log delivers a log notification that arrived while no request of any
	// client was in flight.
	Log(ctx context.Context, server string, p *mcp.LoggingMessageParams)
}

// ConfigAware is implemented by launchers whose behaviour depends on the
// whole configuration (the docker launcher reads docker_isolation).
type ConfigAware interface {
	// SetConfig gives the launcher the configuration about to be applied.
	SetConfig(cfg *config.Config)
	// Key returns a string that changes whenever the way s would be launched
	// changes (for example when its isolation decision changes), so the
	// manager restarts it.
	Key(s *config.Server) string
}

// Options configures a Manager.
type Options struct {
	// Launcher starts stdio servers; nil means HostLauncher.
	Launcher Launcher
	// Logger receives lifecycle events; nil discards.
	Logger *slog.Logger
	// ServerLog opens the stderr log of a server; nil discards stderr.
	ServerLog func(server string) (io.WriteCloser, error)
	// StopGrace is how long a stopping server gets after stdin closes and
	// again after SIGTERM; zero means 2s.
	StopGrace time.Duration
	// OnEvent receives every change of a server: its state, its tool list.
	// It is called synchronously, with no lock of the manager's held; it
	// must not block.
	OnEvent func(Event)
	// Downstream receives broadcasts; may be set later with SetDownstream.
	Downstream Downstream
	// Redact, when set, masks secret values in text taken from a server's
	// stderr before it reaches an error message (the client, last_error,
	// the main log).
	Redact func(string) string
	// ClientName is the implementation name sent to upstreams.
	ClientName, ClientVersion string
	// Backoff is the reconnect backoff; zero fields take DefaultBackoff's.
	Backoff Backoff
	// FastPath turns the tools/call fast path on or off for stdio
	// upstreams (the zero value follows MCPPROXY_FASTPATH).
	FastPath fastpath.Setting
}

// Manager owns every Upstream.
type Manager struct {
	opts      Options
	log       *slog.Logger
	launcher  Launcher
	stopGrace time.Duration
	backoff   Backoff

	// applyMu serializes Apply and Reconcile, so that an older
	// configuration never overwrites a newer one; readers never take it.
	applyMu sync.Mutex

	mu      sync.Mutex
	cfg     *config.Config
	order   []string
	ups     map[string]*Upstream
	keys    map[string]string
	stderrs map[string]*ringBuffer
	down    Downstream
	closed  bool
	// log levels asked for by downstream clients (loglevel.go)
	logAll    mcp.LoggingLevel
	logServer map[string]mcp.LoggingLevel
}

// NewManager returns a manager with no servers.
func NewManager(opts Options) *Manager {
	m := &Manager{
		opts: opts, log: opts.Logger, launcher: opts.Launcher, stopGrace: opts.StopGrace,
		ups: map[string]*Upstream{}, keys: map[string]string{}, stderrs: map[string]*ringBuffer{}, logServer: map[string]mcp.LoggingLevel{},
		down: opts.Downstream, cfg: config.Default(),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.launcher == nil {
		m.launcher = HostLauncher{}
	}
	if m.stopGrace == 0 {
		m.stopGrace = 2 * time.Second
	}
	m.backoff = opts.Backoff
	if m.backoff.Min <= 0 {
		m.backoff.Min = DefaultBackoff.Min
	}
	if m.backoff.Max <= 0 {
		m.backoff.Max = DefaultBackoff.Max
	}
	if m.backoff.Reset <= 0 {
		m.backoff.Reset = DefaultBackoff.Reset
	}
	return m
}

// SetDownstream sets the receiver of broadcasts.
func (m *Manager) SetDownstream(d Downstream) {
	m.mu.Lock()
	m.down = d
	m.mu.Unlock()
}

func (m *Manager) downstream() Downstream {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.down
}

// FastPath is the fast-path setting the manager's upstreams use.
func (m *Manager) FastPath() fastpath.Setting { return m.opts.FastPath }

// Launcher returns the launcher in use.
func (m *Manager) Launcher() Launcher { return m.launcher }

// Config returns the configuration last applied.
func (m *Manager) Config() *config.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

func (m *Manager) initTimeout() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cfg != nil && m.cfg.InitTimeout > 0 {
		return m.cfg.InitTimeout.D()
	}
	return DefaultInitTimeout
}

func (m *Manager) key(s *config.Server) string {
	b, _ := json.Marshal(s)
	k := string(b)
	if ca, ok := m.launcher.(ConfigAware); ok && !s.IsHTTP() {
		k += "\x00" + ca.Key(s)
	}
	return k
}

// Apply reconciles the running upstreams with cfg: new servers start, removed
// ones stop, and servers whose configuration or launch (for example their
// isolation) changed restart. Unchanged servers are not touched. The launch
// keys are computed before the manager's lock is taken (a launcher's Key
// never waits, but it is the launcher's code, not the manager's).
func (m *Manager) Apply(cfg *config.Config) {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	m.apply(cfg)
}

// Reconcile applies the configuration last applied again: a server whose
// launch key changed meanwhile (its decision depends on the docker path,
// resolved in the background) restarts; nothing else is touched.
func (m *Manager) Reconcile() {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	m.apply(m.Config())
}

func (m *Manager) apply(cfg *config.Config) {
	if ca, ok := m.launcher.(ConfigAware); ok {
		ca.SetConfig(cfg)
	}
	want := map[string]*config.Server{}
	keys := map[string]string{}
	var order []string
	for _, s := range cfg.Servers {
		c := s.Clone()
		want[s.Name] = c
		keys[s.Name] = m.key(c)
		order = append(order, s.Name)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.cfg = cfg
	var toStop []*Upstream
	var toStart []*Upstream
	var toRestart []*Upstream
	for name, u := range m.ups {
		if _, ok := want[name]; !ok {
			toStop = append(toStop, u)
			delete(m.ups, name)
			delete(m.keys, name)
		}
	}
	for _, name := range order {
		s, k := want[name], keys[name]
		u, ok := m.ups[name]
		if !ok {
			u = &Upstream{name: name, m: m, cfg: s, state: StateStopped, ready: make(chan struct{}), tokens: map[string]*Flight{}}
			m.ups[name] = u
			m.keys[name] = k
			toStart = append(toStart, u)
			continue
		}
		if m.keys[name] != k {
			m.keys[name] = k
			u.mu.Lock()
			u.cfg = s
			u.mu.Unlock()
			toRestart = append(toRestart, u)
		}
	}
	m.order = order
	m.mu.Unlock()

	var wg sync.WaitGroup
	for _, u := range toStop {
		wg.Add(1)
		go func(u *Upstream) {
			defer wg.Done()
			m.log.Info("stopping removed upstream", "server", u.name)
			u.stop(StateStopped)
			m.notifyState(u.name)
		}(u)
	}
	for _, u := range toRestart {
		wg.Add(1)
		go func(u *Upstream) {
			defer wg.Done()
			m.log.Info("restarting changed upstream", "server", u.name)
			u.stop(StateStopped)
			u.start()
		}(u)
	}
	wg.Wait()
	for _, u := range toStart {
		u.start()
	}
}

// Get returns the upstream named name, or nil.
func (m *Manager) Get(name string) *Upstream {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ups[name]
}

// List returns the upstreams in configuration order.
func (m *Manager) List() []*Upstream {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Upstream, 0, len(m.order))
	for _, n := range m.order {
		if u := m.ups[n]; u != nil {
			out = append(out, u)
		}
	}
	return out
}

// Restart stops and starts one server.
func (m *Manager) Restart(name string) bool {
	u := m.Get(name)
	if u == nil {
		return false
	}
	u.stop(StateStopped)
	u.start()
	return true
}

// WaitSettled waits until no upstream is connecting or ctx ends.
func (m *Manager) WaitSettled(ctx context.Context) {
	for _, u := range m.List() {
		_, _ = u.WaitReady(ctx)
	}
}

// Shutdown stops every upstream concurrently and waits for them.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	m.closed = true
	ups := m.allLocked()
	m.mu.Unlock()
	eachConcurrently(ups, func(u *Upstream) { u.stop(StateStopped) })
}

// Kill ends every upstream process at once.
func (m *Manager) Kill() {
	m.mu.Lock()
	ups := m.allLocked()
	m.mu.Unlock()
	for _, u := range ups {
		u.kill()
	}
}

// allLocked returns every upstream, in no order (m.mu held).
func (m *Manager) allLocked() []*Upstream {
	ups := make([]*Upstream, 0, len(m.ups))
	for _, u := range m.ups {
		ups = append(ups, u)
	}
	return ups
}

// eachConcurrently calls f for every upstream at once and waits for all.
func eachConcurrently(ups []*Upstream, f func(*Upstream)) {
	var wg sync.WaitGroup
	for _, u := range ups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(u)
		}()
	}
	wg.Wait()
}

func (m *Manager) notifyState(name string) {
	if m.opts.OnEvent != nil {
		m.opts.OnEvent(Event{Kind: EventState, Server: name})
	}
}

func (m *Manager) toolsChanged(name string, tools []*mcp.Tool) {
	if m.opts.OnEvent != nil {
		m.opts.OnEvent(Event{Kind: EventTools, Server: name, Tools: tools})
	}
}
