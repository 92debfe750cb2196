package config

import (
	"errors"
	"fmt"
)

// AddServerFrom adds the server build returns for the configuration the
// file holds at that moment, in one locked edit: build can decide with the
// file's own settings (its docker_isolation block) and refuse by returning
// an error, and nothing is written then.
func AddServerFrom(path string, build func(c *Config) (*Server, error)) error {
	return editFile(path, func(d *document, c *Config) error {
		s, err := build(c)
		if err != nil {
			return err
		}
		if s == nil {
			return errors.New("add server: no server")
		}
		return d.addServer(c, s)
	})
}

// ModifyServer replaces the server named name by what change returns for it
// (a copy of its current configuration in the file), in one locked edit, as
// UpdateServer writes it. The name cannot change. Nothing is written when
// change fails.
func ModifyServer(path, name string, change func(c *Config, old *Server) (*Server, error)) error {
	return editFile(path, func(d *document, c *Config) error {
		old := c.Server(name)
		if old == nil {
			return fmt.Errorf("server %q: %w", name, ErrServerNotFound)
		}
		s, err := change(c, old.Clone())
		if err != nil {
			return err
		}
		if s == nil || s.Name != name {
			return fmt.Errorf("modify server %q: the name cannot change", name)
		}
		return d.updateServer(s)
	})
}
