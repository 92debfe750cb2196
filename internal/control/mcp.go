package control

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/proxy"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// MCP returns the proxy.Controller of upstream_servers: the same
// operations for an MCP client, which internal/trust limits (what a client
// adds or relaunches waits in quarantine; isolation is not its to change).
func (s *Service) MCP() proxy.Controller { return mcpClient{s} }

// mcpClient is the Service as MCP clients reach it.
type mcpClient struct{ s *Service }

var _ proxy.Controller = mcpClient{}

// trustEnv is what the trust policy needs for a change decided against the
// configuration cfg read from the file.
func (s *Service) trustEnv(ctx context.Context, cfg *config.Config) trust.Env {
	return trust.Env{
		Global:     cfg.DockerIsolation,
		DockerPath: s.iso.ResolveDocker(ctx),
		ConfigPath: s.opts.ConfigPath,
	}
}

func (c mcpClient) ListServers(ctx context.Context) (httpapi.ServerList, error) {
	return c.s.ListServers(ctx, false)
}

// MaxWaiting is how many servers may wait in quarantine at once: an MCP
// client adding more (a prompt-injected agent in a loop grows the config
// file and the list every person has to read) is refused until a person
// approves or removes some.
const MaxWaiting = 16

// AddServer adds a server an MCP client sent. Only the fields
// trust.ClientKeys may be set; the decision is made against the file's own
// settings inside the edit. The server is written quarantined.
func (c mcpClient) AddServer(ctx context.Context, name string, raw json.RawMessage) (proxy.ServerChange, error) {
	s := c.s
	var ch trust.Change
	err := s.edit(func(p string) error {
		return config.AddServerFrom(p, func(cfg *config.Config) (*config.Server, error) {
			waiting := 0
			for _, sc := range cfg.Servers {
				if sc.Quarantined {
					waiting++
				}
			}
			if waiting >= MaxWaiting {
				return nil, fmt.Errorf("%d servers already wait in quarantine for a person's approval (at most %d): approve or remove some first (mcpproxy upstream list; the web UI)", waiting, MaxWaiting)
			}
			var err error
			ch, err = trust.ClientAdd(raw, name, s.trustEnv(ctx, cfg))
			return ch.Server, err
		})
	})
	if err != nil {
		return proxy.ServerChange{}, err
	}
	s.noteQuarantine(ch.Server.Name, "add", ch.Changed)
	return quarantinedChange(ch.Server.Name), nil
}

// UpdateServer changes some fields of a server for an MCP client; every
// field it may not set keeps its value, and a change of what the server
// runs puts it back into quarantine.
func (c mcpClient) UpdateServer(ctx context.Context, name string, raw json.RawMessage) (proxy.ServerChange, error) {
	s := c.s
	var ch trust.Change
	err := s.edit(func(p string) error {
		return config.ModifyServer(p, name, func(cfg *config.Config, old *config.Server) (*config.Server, error) {
			var err error
			ch, err = trust.ClientUpdate(old, raw, s.trustEnv(ctx, cfg))
			return ch.Server, err
		})
	})
	if err != nil {
		return proxy.ServerChange{}, err
	}
	if ch.Relaunches() {
		s.noteQuarantine(name, "update", ch.Changed)
		return quarantinedChange(name), nil
	}
	return proxy.ServerChange{Name: name, Quarantined: ch.Server.Quarantined}, nil
}

func (c mcpClient) RemoveServer(ctx context.Context, name string) error {
	return c.s.RemoveServer(ctx, name)
}

func (c mcpClient) SetServerEnabled(ctx context.Context, name string, enabled bool) error {
	s := c.s
	return s.edit(func(p string) error {
		if !enabled {
			return config.SetServerEnabled(p, name, false)
		}
		// Judged against the file inside the edit, as an update is.
		return config.ModifyServer(p, name, func(cfg *config.Config, old *config.Server) (*config.Server, error) {
			if err := trust.ClientEnable(old, s.trustEnv(ctx, cfg)); err != nil {
				return nil, err
			}
			ns := old.Clone()
			on := true
			ns.Enabled = &on
			return ns, nil
		})
	})
}

func (c mcpClient) RestartServer(ctx context.Context, name string) error {
	return c.s.RestartServer(ctx, name)
}

func (s *Service) noteQuarantine(name, op string, changed []string) {
	err := s.trust.NoteQuarantine(name, trust.QuarantineNote{Operation: op, Changed: changed, At: time.Now().UTC()})
	if err != nil {
		s.log.Warn("trust state not updated", "server", name, "error", err)
	}
	s.log.Info("server quarantined until a person approves it", "server", name, "operation", op, "changed", changed)
}

func quarantinedChange(name string) proxy.ServerChange {
	return proxy.ServerChange{Name: name, Quarantined: true,
		Note: fmt.Sprintf("server %q is quarantined: it is not started and shows no tools until a person approves it (mcpproxy upstream approve %s, or the web UI)", name, name)}
}
