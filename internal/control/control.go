// Package control is mcpproxy's control plane: the one place where the
// configuration file, the upstream manager, the trust state and the
// isolation decision meet. It holds the configuration in force, applies
// edits of the file (atomic, comments kept, one at a time) and the file's
// own changes, remembers an edit that was invalid, and reports every change
// of state as a typed event. The REST API and the web UI use it through
// httpapi.Service, MCP clients through proxy.Controller.
package control

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/index"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/proxy"
	"github.com/mcpproxy/mcpproxy/internal/trust"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// Isolation is what the control plane asks of the isolation backend the
// app wired: the docker status, the decision under a configuration, and
// what a running start knows. None of its methods waits for docker.
type Isolation interface {
	// DockerStatus is the cached (or, with refresh, a new) probe.
	DockerStatus(ctx context.Context, refresh bool) httpapi.DockerStatus
	// LastDockerStatus is the status last known; it never probes.
	LastDockerStatus() httpapi.DockerStatus
	// Decide is the isolation decision for s under cfg (with the docker
	// path resolved so far).
	Decide(cfg *config.Config, s *config.Server) isolation.Decision
	// ResolveDocker is the docker binary, resolving it if nobody has yet
	// (for decisions an edit depends on).
	ResolveDocker(ctx context.Context) string
	// StartPhase is the live phase of a server's container start ("" when
	// none is under way).
	StartPhase(server string) string
	// LastExit says why the server's last container ended.
	LastExit(server string) (upstream.ExitNote, bool)
	// RunArgs is the `docker run` argv (after the binary) of plan, for
	// display; nil when the backend is not docker.
	RunArgs(plan *isolation.Plan) []string
}

// Options configures a Service.
type Options struct {
	// ConfigPath is the configuration file.
	ConfigPath string
	// Config is the configuration in force at start.
	Config *config.Config
	// ReadOnly refuses every change (--read-only).
	ReadOnly bool
	// LogDir holds the servers' stderr logs.
	LogDir string
	// Redact masks secret values in text shown to callers (log lines).
	Redact func(string) string
	// OnApply is called with each configuration about to be applied,
	// before the manager applies it (the app: API key, secrets to redact,
	// the isolation backend).
	OnApply func(*config.Config)
	// OnApplied is called with each configuration once the manager has
	// applied it: the servers it removed are stopped (the app: their
	// package cache volumes may go).
	OnApplied func(*config.Config)
	Logger    *slog.Logger
}

// Service is the control plane. Build it with New, attach the parts built
// after it with Attach, and run its event loop with Run.
type Service struct {
	opts Options
	log  *slog.Logger

	mgr   *upstream.Manager
	proxy *proxy.Proxy
	gate  *trust.Gate
	trust *trust.Store
	index *index.Index
	iso   Isolation

	// editMu makes an edit and the apply of its result one step, so that
	// concurrent changes apply in the order they were written.
	editMu sync.Mutex

	mu        sync.Mutex
	cfg       *config.Config
	appliedAt time.Time
	warned    []config.Problem // the warnings last logged
	invalid   *invalidEdit     // the file's last edit, when invalid

	hub    httpapi.Hub
	events *eventQueue
	wg     sync.WaitGroup // followers of log files
}

// invalidEdit is an edit of the file kept out because it was invalid.
type invalidEdit struct {
	problems []httpapi.Problem
	at       time.Time
}

// Parts are what the app builds after the Service: they need it (the
// manager reports to it, the proxy calls it) and it needs them.
type Parts struct {
	Manager   *upstream.Manager
	Proxy     *proxy.Proxy
	Gate      *trust.Gate
	Trust     *trust.Store
	Index     *index.Index
	Isolation Isolation
}

// New returns the control plane for opts; Attach completes it.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Redact == nil {
		opts.Redact = func(s string) string { return s }
	}
	if opts.Config == nil {
		opts.Config = config.Default()
	}
	return &Service{opts: opts, log: opts.Logger, cfg: opts.Config, events: newEventQueue()}
}

// Attach gives the Service the parts built after it.
func (s *Service) Attach(p Parts) {
	s.mgr, s.proxy, s.gate, s.trust, s.index, s.iso = p.Manager, p.Proxy, p.Gate, p.Trust, p.Index, p.Isolation
}

var _ httpapi.Service = (*Service)(nil)

// Config is the configuration in force.
func (s *Service) Config() *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// ConfigPath is the configuration file.
func (s *Service) ConfigPath() string { return s.opts.ConfigPath }

// Apply makes cfg the configuration in force: the app's hook, then the
// manager (servers start, stop and restart as cfg says). It clears a
// remembered invalid edit: cfg is what the file holds now.
func (s *Service) Apply(cfg *config.Config) {
	s.mu.Lock()
	s.cfg = cfg
	s.appliedAt = time.Now().UTC()
	s.invalid = nil
	fresh := !slices.Equal(s.warned, cfg.Warnings)
	s.warned = cfg.Warnings
	s.mu.Unlock()
	if fresh {
		for _, w := range cfg.Warnings {
			s.log.Warn("config warning", "file", s.opts.ConfigPath, "line", w.Line, "col", w.Col, "path", w.Path, "problem", w.Msg)
		}
	}
	if s.opts.OnApply != nil {
		s.opts.OnApply(cfg)
	}
	s.mgr.Apply(cfg)
	if s.opts.OnApplied != nil {
		s.opts.OnApplied(cfg)
	}
	s.events.config()
}

// Invalid remembers that the file's last edit was invalid (err, usually a
// *config.ValidationError): the configuration in force stays.
func (s *Service) Invalid(err error) {
	inv := &invalidEdit{at: time.Now().UTC()}
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			inv.problems = append(inv.problems, httpapi.ConfigProblem(p))
		}
	} else {
		inv.problems = []httpapi.Problem{{Message: err.Error()}}
	}
	s.mu.Lock()
	s.invalid = inv
	s.mu.Unlock()
	s.events.config()
}

// FileChanged is config.Watch's report that the file changed: it is read
// again and applied (or remembered as invalid) in turn with the edits made
// here, so that a change read before an edit is never applied after it.
func (s *Service) FileChanged() {
	s.editMu.Lock()
	defer s.editMu.Unlock()
	cfg, err := config.Load(s.opts.ConfigPath)
	if errors.Is(err, fs.ErrNotExist) {
		return // the middle of a replace: the next event brings the file
	}
	if err != nil {
		s.log.Error("config file changed but is invalid; keeping the running config", "error", err)
		s.Invalid(err)
		return
	}
	s.log.Info("config file changed; applying", "path", s.opts.ConfigPath)
	s.Apply(cfg)
}

// reload reads the file and applies it.
func (s *Service) reload() error {
	cfg, err := config.Load(s.opts.ConfigPath)
	if err != nil {
		return err
	}
	s.Apply(cfg)
	return nil
}

// edit runs one change of the configuration file and applies the result.
func (s *Service) edit(f func(path string) error) error {
	if s.opts.ReadOnly {
		return trust.ErrReadOnly
	}
	s.editMu.Lock()
	defer s.editMu.Unlock()
	if err := f(s.opts.ConfigPath); err != nil {
		return err
	}
	return s.reload()
}

// Close waits for the goroutines the Service started for callers (log
// followers, whose callers' contexts must have ended).
func (s *Service) Close() { s.wg.Wait() }
