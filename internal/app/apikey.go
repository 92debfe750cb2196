package app

import (
	"fmt"
	"os"
	"runtime"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
)

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
	a.privateConfig()
	a.loaded = cfg
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

// privateConfig takes group and other permissions off the config file: it
// holds the API key and every server's secrets (mcpproxy's own writes are
// 0600 already). A file it cannot change is logged as a warning.
func (a *App) privateConfig() {
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(a.opts.ConfigPath)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	perm := fi.Mode().Perm()
	if err := os.Chmod(a.opts.ConfigPath, perm&0o700); err != nil {
		a.log.Warn("the config file holds the API key and every server's secrets but other users can read it; run chmod 600 on it",
			"path", a.opts.ConfigPath, "mode", fmt.Sprintf("%04o", perm), "error", err)
		return
	}
	a.log.Info("config file made private: it holds the API key and every server's secrets",
		"path", a.opts.ConfigPath, "mode_was", fmt.Sprintf("%04o", perm), "mode", fmt.Sprintf("%04o", perm&0o700))
}
