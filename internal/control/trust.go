package control

import (
	"context"
	"fmt"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// ApproveServer implements httpapi.Servers: a person lets a quarantined
// server run. Its tools are pinned when they are first listed; a server
// that had pins keeps them, so a tool that differs still waits. With a
// fingerprint (the list view's quarantine.fingerprint, as the person saw
// it), a server whose entry changed since is not approved (409): an MCP
// client cannot swap what runs between a person's look and their approval.
func (s *Service) ApproveServer(ctx context.Context, name, fingerprint string) (trust.ServerApproval, error) {
	was := false
	err := s.edit(func(p string) error {
		return config.ModifyServer(p, name, func(c *config.Config, sc *config.Server) (*config.Server, error) {
			if fingerprint != "" && sc.Quarantined && trust.Fingerprint(sc) != fingerprint {
				return nil, httpapi.Conflict(fmt.Errorf("server %q changed since it was shown (the fingerprint differs): review what it runs now and approve again", name))
			}
			was = sc.Quarantined
			sc.Quarantined = false
			return sc, nil
		})
	})
	if err != nil {
		return trust.ServerApproval{}, err
	}
	if was {
		if err := s.trust.ServerApproved(name); err != nil {
			s.log.Warn("trust state not updated", "server", name, "error", err)
		}
		s.log.Info("quarantined server approved", "server", name)
	}
	return trust.ServerApproval{Name: name, WasQuarantined: was}, nil
}

// ServerTools implements httpapi.Tools: a server's tools with their pin
// states (with onlyPending, the changed and new ones) and diffs.
func (s *Service) ServerTools(ctx context.Context, name string, onlyPending bool) (trust.ServerTools, error) {
	if s.mgr.Get(name) == nil {
		return trust.ServerTools{}, notFound(name)
	}
	return s.gate.ServerTools(name, onlyPending), nil
}

// ApproveTools implements httpapi.Tools: a person approves changed or new
// tools; clients of both endpoints are told the tool list changed.
func (s *Service) ApproveTools(ctx context.Context, name string, req trust.ToolApproval) (trust.ToolApprovalResult, error) {
	u := s.mgr.Get(name)
	if u == nil {
		return trust.ToolApprovalResult{}, notFound(name)
	}
	res, err := s.gate.ApproveTools(name, req)
	if err != nil || len(res.Approved) == 0 {
		return res, err
	}
	if tools := u.Tools(); tools != nil {
		s.proxy.ToolsChanged(name, s.gate.VisibleTools(name, tools))
	}
	s.proxy.ListChanged(name, "tools")
	s.events.tools(name)
	return res, nil
}
