package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const trustDoc = `{
  // my servers
  "mcpServers": [
    {
      "name": "fs", // the file server
      "command": "npx",
      "isolation": {"network_mode": "none"}
    }
  ],
  "docker_isolation": {"enabled": true}
}
`

func writeDoc(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// SetAPIKey adds api_key and keeps every comment; a weak key is refused.
func TestSetAPIKey(t *testing.T) {
	p := writeDoc(t, trustDoc)
	key, err := NewAPIKey()
	if err != nil || len(key) != 64 {
		t.Fatalf("key %q %v", key, err)
	}
	if other, _ := NewAPIKey(); other == key {
		t.Fatal("two keys are equal")
	}
	if err := SetAPIKey(p, key); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	for _, want := range []string{"// my servers", "// the file server", `"api_key": "` + key + `"`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("lacks %q:\n%s", want, b)
		}
	}
	c, err := Load(p)
	if err != nil || c.APIKey != key {
		t.Fatalf("load: %v %q", err, c.APIKey)
	}
	if err := SetAPIKey(p, "short"); err == nil {
		t.Fatal("a short key was written")
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
}

// ModifyServer changes a server in one locked edit from what the file holds;
// the quarantined flag is written and removed; a refusal writes nothing.
func TestModifyServerAndAddServerFrom(t *testing.T) {
	p := writeDoc(t, trustDoc)
	err := AddServerFrom(p, func(c *Config) (*Server, error) {
		if !c.DockerIsolation.Enabled {
			t.Error("the build function does not see the file's settings")
		}
		return &Server{Name: "new", Command: "uvx", Quarantined: true}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := Load(p)
	if s := c.Server("new"); s == nil || !s.Quarantined {
		t.Fatalf("added: %+v", s)
	}
	if err := ModifyServer(p, "new", func(c *Config, s *Server) (*Server, error) {
		s.Quarantined = false
		return s, nil
	}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if strings.Contains(string(b), "quarantined") || !strings.Contains(string(b), "// the file server") {
		t.Fatalf("after approval:\n%s", b)
	}
	refused := errors.New("refused")
	before, _ := os.ReadFile(p)
	if err := ModifyServer(p, "fs", func(*Config, *Server) (*Server, error) { return nil, refused }); !errors.Is(err, refused) {
		t.Fatalf("refusal: %v", err)
	}
	if err := AddServerFrom(p, func(*Config) (*Server, error) { return nil, refused }); !errors.Is(err, refused) {
		t.Fatalf("refusal: %v", err)
	}
	if err := ModifyServer(p, "fs", func(_ *Config, s *Server) (*Server, error) { s.Name = "other"; return s, nil }); err == nil {
		t.Fatal("a rename was written")
	}
	if err := ModifyServer(p, "nosuch", func(_ *Config, s *Server) (*Server, error) { return s, nil }); !errors.Is(err, ErrServerNotFound) {
		t.Fatalf("unknown server: %v", err)
	}
	if after, _ := os.ReadFile(p); string(after) != string(before) {
		t.Fatalf("a refused edit wrote:\n%s", after)
	}
}
