package app

import (
	"context"

	"encoding/json"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/proxy"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// trustEnv is what the trust policy needs for a change decided against
// the configuration cfg read from the file.
func (a *App) trustEnv(ctx context.Context, cfg *config.Config) trust.Env {
	return trust.Env{
		Global:     cfg.DockerIsolation,
		DockerPath: a.iso.resolver.Resolve(ctx).Path,
		ConfigPath: a.opts.ConfigPath,
	}
}

// AddServer implements proxy.Controller: an MCP client adds a server. Only
// the fields trust.ClientKeys may be set; the decision is made against the
// file's own settings inside the edit. The server is written quarantined.
func (a *App) AddServer(ctx context.Context, name string, raw json.RawMessage) (proxy.ServerChange, error) {
	var ch trust.Change
	err := a.edit(func(p string) error {
		return config.AddServerFrom(p, func(c *config.Config) (*config.Server, error) {
			var err error
			ch, err = trust.ClientAdd(raw, name, a.trustEnv(ctx, c))
			return ch.Server, err
		})
	})
	if err != nil {
		return proxy.ServerChange{}, err
	}
	a.noteQuarantine(ch.Server.Name, "add", ch.Changed)
	return quarantinedChange(ch.Server.Name), nil
}

// UpdateServer implements proxy.Controller: an MCP client changes some
// fields of a server; every field it may not set keeps its value, and a
// change of what the server runs puts it back into quarantine.
func (a *App) UpdateServer(ctx context.Context, name string, raw json.RawMessage) (proxy.ServerChange, error) {
	var ch trust.Change
	err := a.edit(func(p string) error {
		return config.ModifyServer(p, name, func(c *config.Config, old *config.Server) (*config.Server, error) {
			var err error
			ch, err = trust.ClientUpdate(old, raw, a.trustEnv(ctx, c))
			return ch.Server, err
		})
	})
	if err != nil {
		return proxy.ServerChange{}, err
	}
	if ch.Relaunches() {
		a.noteQuarantine(name, "update", ch.Changed)
		return quarantinedChange(name), nil
	}
	return proxy.ServerChange{Name: name, Quarantined: ch.Server.Quarantined}, nil
}

// RemoveServer implements proxy.Controller; the server's pins and
// quarantine note go with it.
func (a *App) RemoveServer(ctx context.Context, name string) error {
	if err := a.edit(func(p string) error { return config.RemoveServer(p, name) }); err != nil {
		return err
	}
	if err := a.trust.Forget(name); err != nil {
		a.log.Warn("trust state not updated", "server", name, "error", err)
	}
	a.gate.ServerForgotten(name)
	return nil
}

func (a *App) noteQuarantine(name, op string, changed []string) {
	err := a.trust.NoteQuarantine(name, trust.QuarantineNote{Operation: op, Changed: changed, At: time.Now().UTC()})
	if err != nil {
		a.log.Warn("trust state not updated", "server", name, "error", err)
	}
	a.log.Info("server quarantined until a person approves it", "server", name, "operation", op, "changed", changed)
}

func quarantinedChange(name string) proxy.ServerChange {
	return proxy.ServerChange{Name: name, Quarantined: true,
		Note: fmt.Sprintf("server %q is quarantined: it is not started and shows no tools until a person approves it (mcpproxy upstream approve %s, or the web UI)", name, name)}
}

// ApproveServer implements httpapi.Trust: a person lets a quarantined
// server run. Its tools are pinned when they are first listed; a server
// that had pins keeps them, so a tool that differs still waits.
func (a *App) ApproveServer(ctx context.Context, name string) (trust.ServerApproval, error) {
	was := false
	err := a.edit(func(p string) error {
		return config.ModifyServer(p, name, func(c *config.Config, s *config.Server) (*config.Server, error) {
			was = s.Quarantined
			s.Quarantined = false
			return s, nil
		})
	})
	if err != nil {
		return trust.ServerApproval{}, err
	}
	if was {
		if err := a.trust.ServerApproved(name); err != nil {
			a.log.Warn("trust state not updated", "server", name, "error", err)
		}
		a.log.Info("quarantined server approved", "server", name)
	}
	return trust.ServerApproval{Name: name, WasQuarantined: was}, nil
}

// ensureAPIKey makes cfg the configuration in force with an API key: the
// file's, or a new one written into the file (comments kept, mode 0600)
// and shown once on the console by Serve.
func (a *App) ensureAPIKey(cfg *config.Config) error {
	if a.opts.APIKey != "" {
		return a.envAPIKey(cfg)
	}
	if cfg.APIKey == "" {
		key, err := config.NewAPIKey()
		if err != nil {
			return err
		}
		if err := config.SetAPIKey(a.opts.ConfigPath, key); err != nil {
			return fmt.Errorf("cannot store a new API key in %s: %w (set \"api_key\" to a random string of at least %d characters yourself)", a.opts.ConfigPath, err, config.MinAPIKeyLen)
		}
		if cfg, err = config.Load(a.opts.ConfigPath); err != nil {
			return err
		}
		if cfg.APIKey != key {
			return fmt.Errorf("the API key written to %s did not read back", a.opts.ConfigPath)
		}
		a.keyGenerated = true
	}
	a.cfg = cfg
	a.apiKey.Store(&cfg.APIKey)
	a.auth = &httpapi.Auth{
		Key:   func() string { return *a.apiKey.Load() },
		Where: `"api_key" in ` + a.opts.ConfigPath,
	}
	return nil
}

// keyChanged adopts an api_key edited in the file. A file whose key was
// removed keeps the key in force until the next start, which generates a
// new one.
func (a *App) keyChanged(cfg *config.Config) {
	if a.opts.APIKey != "" {
		return // the environment's key stays in force
	}
	cur := a.apiKey.Load()
	switch {
	case cfg.APIKey == "" && cur != nil && *cur != "":
		a.log.Warn("api_key was removed from the config file; the running proxy keeps its key until it restarts (a new one is generated then)", "config", a.opts.ConfigPath)
	case cfg.APIKey != "" && (cur == nil || *cur != cfg.APIKey):
		a.apiKey.Store(&cfg.APIKey)
		a.log.Info("api_key changed in the config file; the new key is in force and web UI sessions of the old one ended", "config", a.opts.ConfigPath)
	}
}

// announceKey shows a newly generated API key once, on the console only
// (never in a log), with where the web UI is.
func (a *App) announceKey(addr string) {
	if !a.keyGenerated || a.opts.Console == nil {
		return
	}
	fmt.Fprintf(a.opts.Console, "\nmcpproxy generated an API key for its REST API, web UI and `mcpproxy upstream` commands.\n"+
		"It is stored as \"api_key\" in %s and shown only this once:\n\n    %s\n\n"+
		"Web UI: http://%s/ (sign in with the key)\n\n", a.opts.ConfigPath, *a.apiKey.Load(), addr)
}

// apiMux returns the REST API's routes (all behind the API key).
func (a *App) apiMux() *httpapi.Mux {
	api := httpapi.NewMux()
	a.registerAPI(api)
	httpapi.RegisterTrust(api, a)
	return api
}

// currentTools is the gate's view of a server: its tools as last listed
// and whether it is connected.
func (a *App) currentTools(server string) ([]*mcp.Tool, bool) {
	u := a.mgr.Get(server)
	if u == nil {
		return nil, false
	}
	// Session is non-nil exactly while the server is ready (and costs
	// less than a Status on this per-call path).
	live := u.Session() != nil
	return u.Tools(), live
}

// ServerTools implements httpapi.Trust: a server's tools with their pin
// states (with onlyPending, the changed and new ones) and diffs.
func (a *App) ServerTools(ctx context.Context, name string, onlyPending bool) (trust.ServerTools, error) {
	if a.mgr.Get(name) == nil {
		return trust.ServerTools{}, fmt.Errorf("server %q: %w", name, config.ErrServerNotFound)
	}
	return a.gate.ServerTools(name, onlyPending), nil
}

// ApproveTools implements httpapi.Trust: a person approves changed or new
// tools; clients of both endpoints are told the tool list changed.
func (a *App) ApproveTools(ctx context.Context, name string, req trust.ToolApproval) (trust.ToolApprovalResult, error) {
	u := a.mgr.Get(name)
	if u == nil {
		return trust.ToolApprovalResult{}, fmt.Errorf("server %q: %w", name, config.ErrServerNotFound)
	}
	res, err := a.gate.ApproveTools(name, req)
	if err != nil || len(res.Approved) == 0 {
		return res, err
	}
	if tools := u.Tools(); tools != nil {
		a.proxy.ToolsChanged(name, a.gate.VisibleTools(name, tools))
	}
	a.proxy.ListChanged(name, "tools")
	return res, nil
}
