package app

import (
	"context"
	"encoding/json"

	"github.com/mcpproxy/mcpproxy/internal/config"
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
// file's own settings inside the edit.
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
	return proxy.ServerChange{Name: ch.Server.Name}, nil
}

// UpdateServer implements proxy.Controller: an MCP client changes some
// fields of a server; every field it may not set keeps its value.
func (a *App) UpdateServer(ctx context.Context, name string, raw json.RawMessage) (proxy.ServerChange, error) {
	err := a.edit(func(p string) error {
		return config.ModifyServer(p, name, func(c *config.Config, old *config.Server) (*config.Server, error) {
			ch, err := trust.ClientUpdate(old, raw, a.trustEnv(ctx, c))
			return ch.Server, err
		})
	})
	if err != nil {
		return proxy.ServerChange{}, err
	}
	return proxy.ServerChange{Name: name}, nil
}
