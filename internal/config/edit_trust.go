package config

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// MinAPIKeyLen is the shortest api_key accepted.
const MinAPIKeyLen = 32

// NewAPIKey returns a fresh API key: 32 random bytes, hex-encoded.
func NewAPIKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate API key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// apiKeyProblem says what is wrong with an api_key value ("" when nothing
// is; an absent key is generated at start).
func apiKeyProblem(key string) string {
	switch {
	case key == "":
		return ""
	case len(key) < MinAPIKeyLen:
		return fmt.Sprintf("must be at least %d characters (remove the key and mcpproxy generates one)", MinAPIKeyLen)
	case strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "must not contain spaces or control characters"
	}
	return ""
}

// SetAPIKey sets the top-level api_key of the configuration file at path.
func SetAPIKey(path, key string) error {
	if msg := apiKeyProblem(key); msg != "" || key == "" {
		return errors.New("set API key: invalid key")
	}
	raw, err := json.Marshal(key)
	if err != nil {
		return err
	}
	return editFile(path, func(d *document, c *Config) error {
		return d.setMember(&d.root, "api_key", raw)
	})
}
