package control

import (
	"context"
	"encoding/json"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// DockerIsolation implements httpapi.Settings.
func (s *Service) DockerIsolation(ctx context.Context) (config.DockerIsolation, error) {
	return s.Config().DockerIsolation, nil
}

// PatchDockerIsolation implements httpapi.Settings: the change is an edit of
// the file, validated as the file is, and applied at once (servers move
// into or out of containers).
func (s *Service) PatchDockerIsolation(ctx context.Context, patch json.RawMessage) (config.DockerIsolation, error) {
	if err := s.edit(func(p string) error { return config.PatchDockerIsolation(p, patch) }); err != nil {
		return config.DockerIsolation{}, err
	}
	di := s.Config().DockerIsolation
	s.log.Info("docker_isolation changed through the API", "enabled", di.Enabled)
	return di, nil
}

// ServerIsolation implements httpapi.Settings.
func (s *Service) ServerIsolation(ctx context.Context, name string) (httpapi.ServerIsolation, error) {
	cfg := s.Config()
	sc := cfg.Server(name)
	if sc == nil {
		return httpapi.ServerIsolation{}, notFound(name)
	}
	v := httpapi.ServerIsolation{Server: name}
	if sc.Isolation != nil {
		v.Settings = *sc.Isolation.Clone()
	}
	d := s.iso.Decide(cfg, sc)
	v.Effective = upstream.DescribeDecision(d)
	if d.IgnoredOptIn {
		v.Note = ignoredOptInNote
	}
	return v, nil
}

// PatchServerIsolation implements httpapi.Settings.
func (s *Service) PatchServerIsolation(ctx context.Context, name string, patch json.RawMessage) (httpapi.ServerIsolation, error) {
	if err := isolationRefused(patch, "isolation."); err != nil {
		return httpapi.ServerIsolation{}, err
	}
	if s.Config().Server(name) == nil {
		return httpapi.ServerIsolation{}, notFound(name)
	}
	wrapped, err := json.Marshal(map[string]json.RawMessage{"isolation": patch})
	if err != nil {
		return httpapi.ServerIsolation{}, err
	}
	if err := s.edit(func(p string) error { return config.PatchServer(p, name, wrapped, config.PatchOptions{}) }); err != nil {
		return httpapi.ServerIsolation{}, err
	}
	return s.ServerIsolation(ctx, name)
}

// ConfigStatus implements httpapi.Settings.
func (s *Service) ConfigStatus(ctx context.Context) (httpapi.ConfigStatus, error) {
	s.mu.Lock()
	cfg, applied, inv := s.cfg, s.appliedAt, s.invalid
	s.mu.Unlock()
	st := httpapi.ConfigStatus{Path: s.opts.ConfigPath, Valid: inv == nil, AppliedAt: applied, ReadOnly: s.opts.ReadOnly}
	if inv != nil {
		st.Problems, st.InvalidAt = inv.problems, inv.at
	}
	for _, w := range cfg.Warnings {
		st.Warnings = append(st.Warnings, httpapi.ConfigProblem(w))
	}
	return st, nil
}
