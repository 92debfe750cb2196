// Package app builds mcpproxy for `mcpproxy serve` and runs it: the
// configuration, the isolation backend, the upstream manager, the tool
// index, the MCP endpoints, the control plane and the HTTP handler are
// constructed in New; Serve listens, watches the config file and shuts
// everything down in order.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/control"
	"github.com/mcpproxy/mcpproxy/internal/datadir"
	"github.com/mcpproxy/mcpproxy/internal/docker"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/httpapi/ui"
	"github.com/mcpproxy/mcpproxy/internal/index"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/logging"
	"github.com/mcpproxy/mcpproxy/internal/proxy"
	"github.com/mcpproxy/mcpproxy/internal/trust"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// DefaultListen is the default listen address.
const DefaultListen = "127.0.0.1:8080"

// httpDrain is how long requests in flight may take to finish once shutdown
// starts, before they are cancelled; httpClose is how long cancelled
// requests may take to return before their connections are closed.
const (
	httpDrain = 500 * time.Millisecond
	httpClose = 500 * time.Millisecond
)

// Options configures App.
type Options struct {
	ConfigPath string // "" means <DataDir>/mcp_config.json
	DataDir    string // "" means ~/.mcpproxy
	Listen     string // "" means config's listen, else DefaultListen
	Version    string
	Logger     *slog.Logger
	Redactor   *logging.Redactor
	// Started is the process start time, for the "all upstreams ready" figure.
	Started time.Time
	// Ready, if set, receives the bound address once the listener is up.
	Ready func(addr string)
	// Console receives what is shown once to the person who started the
	// proxy and never logged: a newly generated API key. nil discards.
	Console io.Writer
	// ReadOnly refuses every configuration change from MCP clients and the
	// API (--read-only).
	ReadOnly bool
	// DisableManagement leaves the upstream_servers tool out of /mcp
	// (--disable-management).
	DisableManagement bool
	// APIKey, when set, is the API key in force, from the environment
	// (MCPPROXY_API_KEY, e.g. a Kubernetes Secret): nothing is generated or
	// written to the config file, and the file's api_key is ignored.
	APIKey string
	// DockerResolver finds the docker CLI; nil means one of the real OS.
	DockerResolver *docker.Resolver
}

// App is a running mcpproxy.
type App struct {
	opts  Options
	log   *slog.Logger
	mgr   *upstream.Manager
	proxy *proxy.Proxy
	index *index.Index
	iso   *Isolation
	trust *trust.Store
	gate  *trust.Gate
	ctl   *control.Service
	// dirLock is this process's claim on the data directory.
	dirLock *datadir.Lock
	// loaded is the configuration New read (the control plane holds the
	// one in force).
	loaded *config.Config

	auth *httpapi.Auth
	// apiKey is the key in force; keyGenerated is set when New made it.
	apiKey       atomic.Pointer[string]
	keyGenerated bool
	// firstRun is set when New created the config file.
	firstRun bool
}

// New loads (or creates) the configuration and builds the app.
func New(opts Options) (*App, error) {
	if opts.DataDir == "" {
		opts.DataDir = config.DefaultDataDir()
	}
	if opts.ConfigPath == "" {
		opts.ConfigPath = filepath.Join(opts.DataDir, config.FileName)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	if opts.Redactor == nil {
		// Text taken from servers' stderr is redacted for error messages
		// even when the logger does not redact.
		opts.Redactor = &logging.Redactor{}
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// Hardened containers run as the proxy's own user (nobody for root).
	isolation.SetProxyIDs(os.Getuid(), os.Getgid())
	lock, err := datadir.Acquire(opts.DataDir)
	if err != nil {
		return nil, err
	}
	a := &App{opts: opts, log: opts.Logger, dirLock: lock}
	ok := false
	defer func() {
		if !ok {
			lock.Release()
		}
	}()
	// Holding the lock proves every runtime file is a dead instance's.
	if removed, err := lock.ClearStale(filepath.Join(opts.DataDir, "run"), "bin"); err != nil {
		a.log.Warn("could not remove stale runtime files", "error", err)
	} else if len(removed) > 0 {
		a.log.Info("removed runtime files of a previous instance", "files", len(removed))
	}
	if a.trust, err = trust.Open(opts.DataDir, a.log); err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			_ = a.trust.Close()
		}
	}()
	iso, err := newIsolation(a)
	if err != nil {
		return nil, err
	}
	a.iso = iso
	cfg, created, err := config.LoadOrCreate(opts.ConfigPath, iso.FirstRunProbe)
	if err != nil {
		return nil, err
	}
	if created {
		a.log.Info("created initial config", "path", opts.ConfigPath, "docker_isolation_enabled", cfg.DockerIsolation.Enabled)
	}
	if err := a.ensureAPIKey(cfg); err != nil {
		return nil, err
	}
	a.firstRun = created
	a.updateSecrets(a.loaded)
	iso.selectBackend(a.loaded)

	ix, err := index.New()
	if err != nil {
		return nil, err
	}
	a.index = ix
	logDir := filepath.Join(opts.DataDir, "logs")
	a.ctl = control.New(control.Options{ConfigPath: opts.ConfigPath, Config: a.loaded, ReadOnly: opts.ReadOnly,
		LogDir: logDir, Redact: opts.Redactor.Redact, OnApply: a.configApplied,
		// Removed servers are stopped then: their cache volumes may go.
		OnApplied: a.iso.requestSweep, Logger: a.log})
	a.mgr = upstream.NewManager(upstream.Options{
		Launcher:      iso.Launcher(),
		Logger:        a.log,
		ServerLog:     func(name string) (io.WriteCloser, error) { return logging.ServerLog(logDir, name) },
		Redact:        opts.Redactor.Redact,
		ClientName:    "mcpproxy",
		ClientVersion: opts.Version,
		OnEvent:       a.ctl.UpstreamEvent,
	})
	a.gate = trust.NewGate(a.trust, a.currentTools, a.log)
	a.proxy = proxy.New(proxy.Options{Manager: a.mgr, Index: ix, Controller: a.ctl.MCP(), Logger: a.log, Version: opts.Version,
		DisableManagement: opts.DisableManagement, Gate: a.gate})
	a.ctl.Attach(control.Parts{Manager: a.mgr, Proxy: a.proxy, Gate: a.gate, Trust: a.trust, Index: ix, Isolation: iso})
	ok = true
	return a, nil
}

// Manager returns the upstream manager.
func (a *App) Manager() *upstream.Manager { return a.mgr }

// Config returns the configuration in force.
func (a *App) Config() *config.Config { return a.ctl.Config() }

// Service is the control plane (what the REST API and the web UI use).
func (a *App) Service() *control.Service { return a.ctl }

func (a *App) updateSecrets(cfg *config.Config) {
	if a.opts.Redactor == nil {
		return
	}
	var vals []string
	for _, s := range cfg.Servers {
		for _, v := range s.Env {
			vals = append(vals, v)
		}
		for _, v := range s.Headers {
			vals = append(vals, v)
		}
		vals = append(vals, config.URLSecrets(s.URL)...)
	}
	if k := a.apiKey.Load(); k != nil {
		vals = append(vals, *k)
	}
	a.opts.Redactor.Set(vals)
}

// configApplied is the control plane's hook for each configuration about
// to be applied: the API key, the secrets to redact, the isolation backend.
func (a *App) configApplied(cfg *config.Config) {
	a.keyChanged(cfg)
	a.updateSecrets(cfg)
	a.iso.ConfigChanged(cfg)
}

// Handler returns the HTTP handler with every route, guarded: the REST API
// needs the API key (or the web UI's session), /mcp needs it when
// require_mcp_auth is on, /healthz and the UI's pages are open.
func (a *App) Handler(listen string) *httpapi.Handler {
	mcpMux := http.NewServeMux()
	a.proxy.Register(mcpMux)
	return httpapi.NewHandler(httpapi.Options{
		Service:        a.ctl,
		Auth:           a.auth,
		MCP:            mcpMux,
		RequireMCPAuth: func() bool { return a.Config().RequireMCPAuth },
		UI:             ui.New(ui.Options{Service: a.ctl, Auth: a.auth, Version: a.opts.Version, Logger: a.log}),
		Listen:         listen,
	})
}

// Serve runs until ctx ends (or the HTTP server fails, which is returned).
// It returns once every goroutine it started has ended.
func (a *App) Serve(ctx context.Context) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	listen := a.opts.Listen
	if listen == "" {
		listen = a.Config().Listen
	}
	if listen == "" {
		listen = DefaultListen
	}
	defer a.dirLock.Release()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (use --listen to pick another address)", listen, err)
	}
	if err := a.dirLock.SetListen(ln.Addr().String()); err != nil {
		a.log.Warn("could not record the listen address in the data dir lock", "error", err)
	}
	if !httpapi.IsLoopbackListen(listen) {
		a.log.Warn("LISTENING ON A NON-LOOPBACK ADDRESS: any machine that can reach it can use every upstream server through mcpproxy; bind 127.0.0.1 unless you mean it", "listen", ln.Addr().String())
	}
	// Requests live in reqCtx so that shutdown can end the ones that never
	// finish on their own: every MCP client keeps a standalone SSE stream
	// (a hanging GET) open for the whole session.
	reqCtx, endRequests := context.WithCancel(context.Background())
	defer endRequests()
	srv := &http.Server{Handler: a.Handler(listen), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return reqCtx }}
	// Watch first, then re-read: an edit made between New's load and the
	// watch's start is not missed (apply is a no-op for unchanged servers).
	// The watcher only says the file changed: the control plane reads it
	// again in turn with its own edits.
	watched := config.Watch(ctx, a.opts.ConfigPath, func(*config.Config) { a.ctl.FileChanged() },
		func(error) { a.ctl.FileChanged() })
	cfg := a.Config()
	if fresh, err := config.Load(a.opts.ConfigPath); err == nil {
		cfg = fresh
	}
	a.ctl.Apply(cfg)
	var bg sync.WaitGroup
	bg.Go(func() { a.ctl.Run(ctx) })
	// Resolving docker and reaping orphans of crashed instances never
	// delay our own servers.
	bg.Go(func() { a.iso.Start(ctx) })
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	a.log.Info("mcpproxy listening", "addr", ln.Addr().String(), "mcp", "http://"+ln.Addr().String()+"/mcp", "ui", "http://"+ln.Addr().String()+"/", "config", a.opts.ConfigPath)
	a.announce(ln.Addr().String())
	if a.opts.Ready != nil {
		a.opts.Ready(ln.Addr().String())
	}

	bg.Go(func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		a.mgr.WaitSettled(wctx)
		if ctx.Err() == nil {
			ready := 0
			ups := a.mgr.List()
			for _, u := range ups {
				if u.Status().State == upstream.StateReady {
					ready++
				}
			}
			a.log.Info("all upstreams settled", "ready", ready, "total", len(ups), "since_start_ms", time.Since(a.opts.Started).Milliseconds())
		}
	})
	bg.Go(func() { a.iso.RunTelemetry(ctx) })

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
		// The listener failed: nothing can reach the proxy any more.
		serveErr = fmt.Errorf("serve on %s: %w", ln.Addr(), serveErr)
		a.log.Error("the HTTP server stopped; shutting down", "error", serveErr)
		stop()
	}
	a.log.Info("shutting down")
	// Requests in flight get httpDrain to finish; then the rest (hanging
	// streams, calls into upstreams about to stop) are cancelled and get
	// httpClose to return before every connection is closed. Shutdown alone
	// would wait for each of them, and up to 5s for connections a client
	// opened without sending a request yet.
	sctx, cancel := context.WithTimeout(context.Background(), httpDrain+httpClose)
	defer cancel()
	drain := time.AfterFunc(httpDrain, endRequests)
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	drain.Stop()
	endRequests()
	if serveErr == nil {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve on %s: %w", ln.Addr(), err)
		}
	}
	a.mgr.Shutdown()
	bg.Wait()
	a.ctl.Close()
	<-watched
	a.iso.Close()
	if err := a.trust.Close(); err != nil {
		a.log.Error("trust state not written at shutdown", "error", err)
	}
	_ = a.index.Close()
	a.log.Info("shutdown complete")
	return serveErr
}

// Kill ends every upstream at once (second signal).
func (a *App) Kill() {
	a.mgr.Kill()
	a.iso.KillContainers()
}
