package isolation

import (
	"slices"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

// A server whose args install from git gets the runtime's "-git" image (one
// with git) unless its own isolation.image says otherwise.
func TestGitInstallImage(t *testing.T) {
	slim := "ghcr.io/astral-sh/uv:python3.12-bookworm-slim"
	tests := []struct {
		name    string
		images  map[string]string // over the defaults
		server  config.Server
		image   string
		gitNote bool
	}{
		{"uvx --from git+https", map[string]string{"uvx": slim}, config.Server{Command: "uvx", Args: []string{"--from", "git+https://github.com/o/r", "tool"}}, "python:3.11", true},
		{"uvx --from=git+ssh", map[string]string{"uvx": slim}, config.Server{Command: "uvx", Args: []string{"--from=git+ssh://git@host/o/r.git", "tool"}}, "python:3.11", true},
		{"uvx from PyPI keeps its image", map[string]string{"uvx": slim}, config.Server{Command: "uvx", Args: []string{"mcp-server-fetch"}}, slim, false},
		{"uvx-git overridden", map[string]string{"uvx": slim, "uvx-git": "registry.example/uv-git:1"}, config.Server{Command: "uvx", Args: []string{"git+https://github.com/o/r"}}, "registry.example/uv-git:1", true},
		{"isolation.image wins", nil, config.Server{Command: "uvx", Args: []string{"git+https://github.com/o/r"}, Isolation: &config.ServerIsolation{Image: "mine:1"}}, "mine:1", false},
		{"pip requirement @ git+", nil, config.Server{Command: "pip", Args: []string{"install", "pkg @ git+https://github.com/o/r"}}, "python:3.11", true},
		{"pipx", map[string]string{"pipx-git": "pipx-with-git:2"}, config.Server{Command: "pipx", Args: []string{"run", "--spec", "git+https://github.com/o/r", "tool"}}, "pipx-with-git:2", true},
		{"npx github:", map[string]string{"npx": "node:20-slim"}, config.Server{Command: "npx", Args: []string{"-y", "github:o/r"}}, "node:20", true},
		{"python has no git key", nil, config.Server{Command: "python", Args: []string{"git+https://x/y"}}, "python:3.11", false},
		{"a URL that is not a git install", map[string]string{"uvx": slim}, config.Server{Command: "uvx", Args: []string{"tool", "--url=https://github.com/o/r"}}, slim, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := globalOn()
			for k, v := range tt.images {
				g.DefaultImages[k] = v
			}
			s := tt.server
			s.Name = "g"
			p := Decide(g, &s, "").Plan
			if p.Image != tt.image {
				t.Fatalf("image %q, want %q", p.Image, tt.image)
			}
			noted := slices.ContainsFunc(p.Notes, func(n string) bool {
				return n == `image from default_images["`+p.Runtime+`-git"]: the args install from git`
			})
			if noted != tt.gitNote {
				t.Fatalf("git note %v, want %v: %q", noted, tt.gitNote, p.Notes)
			}
		})
	}
}
