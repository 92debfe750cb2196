package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// arrayFile is a hand-written configuration in the array form with comments,
// unknown keys, trailing commas and mixed one-line/multi-line entries.
const arrayFile = `// mcpproxy config
{
  "listen": "127.0.0.1:8080", // keep local
  "mcpServers": [
    // the filesystem server
    {
      "name": "fs",
      "command": "npx",
      "args": ["-y", "server-fs"], // pinned
      "x-note": "unknown key",
    },
    {"name": "web", "url": "https://example.com/mcp"}, // remote
  ],
  "x-future": {"a": 1},
  /* isolation */
  "docker_isolation": {
    "enabled": false, // off for now
    "memory_limit": "1g"
  }
}
`

// objectFile is the Claude Desktop / Cursor object form, tab-indented,
// without trailing commas.
const objectFile = "{\n" +
	"\t// Claude Desktop style\n" +
	"\t\"mcpServers\": {\n" +
	"\t\t\"fs\": {\n" +
	"\t\t\t\"command\": \"npx\",\n" +
	"\t\t\t\"args\": [\"-y\", \"server-fs\"]\n" +
	"\t\t}, // first\n" +
	"\t\t\"web\": {\"url\": \"https://example.com/mcp\"}\n" +
	"\t},\n" +
	"\t\"x-future\": true\n" +
	"}\n"

// edited returns base with each old→new replacement applied once, failing
// the test if an old string is missing.
func edited(t *testing.T, base string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(base, pairs[i]) {
			t.Fatalf("test setup: %q not in base", pairs[i])
		}
		base = strings.Replace(base, pairs[i], pairs[i+1], 1)
	}
	return base
}

func writeConfig(t *testing.T, content string, mode fs.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertOnlyConfig fails if anything but the config file (a temp file, say)
// is left in its directory.
func assertOnlyConfig(t *testing.T, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(path) {
			t.Errorf("stray file %s left next to the config", e.Name())
		}
	}
}

func TestEdits(t *testing.T) {
	newServer := &Server{Name: "new", Command: "uvx", Args: []string{"pkg"}, Env: map[string]string{"K": "v"}}
	tests := []struct {
		name string
		base string
		edit func(path string) error
		want func(t *testing.T, base string) string
	}{
		{"AddServer/array", arrayFile,
			func(p string) error { return addServer(p, newServer) },
			func(t *testing.T, b string) string {
				return edited(t, b, `    {"name": "web", "url": "https://example.com/mcp"}, // remote
`, `    {"name": "web", "url": "https://example.com/mcp"}, // remote
    {
      "name": "new",
      "command": "uvx",
      "args": ["pkg"],
      "env": {
        "K": "v"
      }
    },
`)
			}},
		{"AddServer/object", objectFile,
			func(p string) error { return addServer(p, newServer) },
			func(t *testing.T, b string) string {
				return edited(t, b, "\t\t\"web\": {\"url\": \"https://example.com/mcp\"}\n",
					"\t\t\"web\": {\"url\": \"https://example.com/mcp\"},\n"+
						"\t\t\"new\": {\n"+
						"\t\t\t\"command\": \"uvx\",\n"+
						"\t\t\t\"args\": [\"pkg\"],\n"+
						"\t\t\t\"env\": {\n"+
						"\t\t\t\t\"K\": \"v\"\n"+
						"\t\t\t}\n"+
						"\t\t}\n")
			}},
		{"AddServer/no mcpServers", "{\n  \"x-other\": 1 // why\n}\n",
			func(p string) error { return addServer(p, &Server{Name: "a", URL: "http://localhost:3000/mcp"}) },
			func(t *testing.T, b string) string {
				return "{\n  \"x-other\": 1, // why\n  \"mcpServers\": [\n    {\n      \"name\": \"a\",\n      \"url\": \"http://localhost:3000/mcp\"\n    }\n  ]\n}\n"
			}},
		{"AddServer/empty array", "{\n  \"mcpServers\": [],\n  \"x\": 1\n}\n",
			func(p string) error { return addServer(p, &Server{Name: "a", Command: "x"}) },
			func(t *testing.T, b string) string {
				return "{\n  \"mcpServers\": [\n    {\n      \"name\": \"a\",\n      \"command\": \"x\"\n    }\n  ],\n  \"x\": 1\n}\n"
			}},
		{"AddServer/one line", `{"mcpServers": [{"name": "a", "command": "x"}], "x": 1}`,
			func(p string) error { return addServer(p, &Server{Name: "b", Command: "y", Args: []string{"1"}}) },
			func(t *testing.T, b string) string {
				return `{"mcpServers": [{"name": "a", "command": "x"}, {"name": "b", "command": "y", "args": ["1"]}], "x": 1}`
			}},
		{"AddServer/CRLF", "{\r\n    \"mcpServers\": [\r\n        {\"name\": \"a\", \"command\": \"x\"} // a\r\n    ]\r\n}\r\n",
			func(p string) error {
				return addServer(p, &Server{Name: "b", Command: "y", Env: map[string]string{"A": "1"}})
			},
			func(t *testing.T, b string) string {
				return "{\r\n    \"mcpServers\": [\r\n        {\"name\": \"a\", \"command\": \"x\"}, // a\r\n" +
					"        {\r\n            \"name\": \"b\",\r\n            \"command\": \"y\",\r\n            \"env\": {\r\n" +
					"                \"A\": \"1\"\r\n            }\r\n        }\r\n    ]\r\n}\r\n"
			}},

		{"UpdateServer/array", arrayFile,
			func(p string) error {
				return updateServer(p, &Server{Name: "fs", Command: "npx", Args: []string{"-y", "server-fs@2"}, Enabled: boolPtr(true)})
			},
			func(t *testing.T, b string) string {
				return edited(t, b, `      "args": ["-y", "server-fs"], // pinned
      "x-note": "unknown key",
`, `      "args": ["-y", "server-fs@2"], // pinned
      "x-note": "unknown key",
      "enabled": true,
`)
			}},
		{"UpdateServer/object", objectFile,
			func(p string) error {
				return updateServer(p, &Server{Name: "fs", Command: "npx", Args: []string{"-y", "server-fs@2"}, Enabled: boolPtr(true)})
			},
			func(t *testing.T, b string) string {
				return edited(t, b, "\t\t\t\"args\": [\"-y\", \"server-fs\"]\n",
					"\t\t\t\"args\": [\"-y\", \"server-fs@2\"],\n\t\t\t\"enabled\": true\n")
			}},
		{"UpdateServer/removes and syncs nested", `{
  "mcpServers": [
    {
      "name": "a",
      "command": "x",
      "args": [], // none yet
      "env": {
        "KEEP": "1", // kept
        "DROP": "2"
      },
      "enabled": false,
      "isolation": {
        // custom image
        "image": "img:1",
        "log_max_size": "10m"
      }
    }
  ]
}
`,
			func(p string) error {
				return updateServer(p, &Server{Name: "a", URL: "http://h/mcp", Env: map[string]string{"KEEP": "1", "NEW": "3"},
					Isolation: &ServerIsolation{Image: "img:2", NetworkMode: "none"}})
			},
			func(t *testing.T, b string) string {
				return `{
  "mcpServers": [
    {
      "name": "a",
      "args": [], // none yet
      "env": {
        "KEEP": "1", // kept
        "NEW": "3"
      },
      "isolation": {
        // custom image
        "image": "img:2",
        "log_max_size": "10m",
        "network_mode": "none"
      },
      "url": "http://h/mcp"
    }
  ]
}
`
			}},
		{"UpdateServer/object keeps inner name", `{"mcpServers": {"a": {"name": "a", "command": "x", "env": {"A": "1"}}}}`,
			func(p string) error { return updateServer(p, &Server{Name: "a", Command: "y"}) },
			func(t *testing.T, b string) string {
				return `{"mcpServers": {"a": {"name": "a", "command": "y"}}}`
			}},
		{"AddServer/empty object form", "{\n  \"mcpServers\": {}\n}\n",
			func(p string) error { return addServer(p, &Server{Name: "a", Command: "x"}) },
			func(t *testing.T, b string) string {
				return "{\n  \"mcpServers\": {\n    \"a\": {\n      \"command\": \"x\"\n    }\n  }\n}\n"
			}},
		{"AddServer/null", `{"mcpServers": null}`,
			func(p string) error { return addServer(p, &Server{Name: "a", Command: "x"}) },
			func(t *testing.T, b string) string {
				return "{\"mcpServers\": [\n  {\n    \"name\": \"a\",\n    \"command\": \"x\"\n  }\n]}"
			}},
		{"UpdateServer/unchanged", arrayFile,
			func(p string) error {
				return updateServer(p, &Server{Name: "fs", Command: "npx", Args: []string{"-y", "server-fs"}})
			},
			func(t *testing.T, b string) string { return b }},

		{"RemoveServer/array first", arrayFile,
			func(p string) error { return RemoveServer(p, "fs") },
			func(t *testing.T, b string) string {
				return edited(t, b, `    // the filesystem server
    {
      "name": "fs",
      "command": "npx",
      "args": ["-y", "server-fs"], // pinned
      "x-note": "unknown key",
    },
`, "")
			}},
		{"RemoveServer/array last", arrayFile,
			func(p string) error { return RemoveServer(p, "web") },
			func(t *testing.T, b string) string {
				return edited(t, b, `    {"name": "web", "url": "https://example.com/mcp"}, // remote
`, "")
			}},
		{"RemoveServer/object last", objectFile,
			func(p string) error { return RemoveServer(p, "web") },
			func(t *testing.T, b string) string {
				return edited(t, b, "\t\t}, // first\n\t\t\"web\": {\"url\": \"https://example.com/mcp\"}\n", "\t\t} // first\n")
			}},
		{"RemoveServer/object first", objectFile,
			func(p string) error { return RemoveServer(p, "fs") },
			func(t *testing.T, b string) string {
				return edited(t, b, "\t\t\"fs\": {\n\t\t\t\"command\": \"npx\",\n\t\t\t\"args\": [\"-y\", \"server-fs\"]\n\t\t}, // first\n", "")
			}},
		{"RemoveServer/only one", "{\n  \"mcpServers\": [\n    {\"name\": \"a\", \"command\": \"x\"}\n  ]\n}\n",
			func(p string) error { return RemoveServer(p, "a") },
			func(t *testing.T, b string) string { return "{\n  \"mcpServers\": []\n}\n" }},

		{"SetServerEnabled/array", arrayFile,
			func(p string) error { return SetServerEnabled(p, "fs", false) },
			func(t *testing.T, b string) string {
				return edited(t, b, `      "x-note": "unknown key",
`, `      "x-note": "unknown key",
      "enabled": false,
`)
			}},
		{"SetServerEnabled/one-line entry", arrayFile,
			func(p string) error { return SetServerEnabled(p, "web", false) },
			func(t *testing.T, b string) string {
				return edited(t, b, `{"name": "web", "url": "https://example.com/mcp"}`,
					`{"name": "web", "url": "https://example.com/mcp", "enabled": false}`)
			}},
		{"SetServerEnabled/object replace", "{\"mcpServers\": {\"a\": {\n  \"command\": \"x\",\n  \"enabled\": false /* paused */\n}}}",
			func(p string) error { return SetServerEnabled(p, "a", true) },
			func(t *testing.T, b string) string {
				return "{\"mcpServers\": {\"a\": {\n  \"command\": \"x\",\n  \"enabled\": true /* paused */\n}}}"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.base, 0o644)
			if err := tt.edit(path); err != nil {
				t.Fatalf("edit: %v", err)
			}
			want := tt.want(t, tt.base)
			if got := readFile(t, path); got != want {
				t.Errorf("file after edit:\n%s\nwant:\n%s", got, want)
			}
			if _, err := Load(path); err != nil {
				t.Errorf("edited file does not load: %v", err)
			}
			if want != tt.base {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
				}
			}
			assertOnlyConfig(t, path)
		})
	}
}

func TestEditsReachConfig(t *testing.T) {
	path := writeConfig(t, arrayFile, 0o600)
	steps := []func() error{
		func() error {
			return addServer(path, &Server{Name: "gh", Command: "docker", Args: []string{"run", "-i", "ghcr.io/github/github-mcp-server"}})
		},
		func() error { return SetServerEnabled(path, "web", false) },
		func() error { return PatchDockerIsolation(path, json.RawMessage(`{"enabled": true}`)) },
		func() error {
			return PatchServer(path, "fs", json.RawMessage(`{"isolation": {"enabled": false}}`), PatchOptions{})
		},
		func() error { return RemoveServer(path, "gh") },
		func() error {
			return updateServer(path, &Server{Name: "web", URL: "https://example.org/mcp", Enabled: boolPtr(false)})
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !c.DockerIsolation.Enabled || c.Server("gh") != nil || c.Server("web").IsEnabled() ||
		c.Server("web").URL != "https://example.org/mcp" || *c.Server("fs").Isolation.Enabled {
		t.Errorf("config after edits: %+v", c)
	}
	got := readFile(t, path)
	for _, keep := range []string{"// mcpproxy config", "// keep local", "// the filesystem server", "// pinned",
		`"x-note": "unknown key"`, `"x-future": {"a": 1}`, "/* isolation */", "// off for now"} {
		if !strings.Contains(got, keep) {
			t.Errorf("lost %q:\n%s", keep, got)
		}
	}
}

func TestEditErrorsLeaveFileUntouched(t *testing.T) {
	invalid := "{\n  \"mcpServers\": [{\"name\": \"a\"}] // no command\n}\n"
	tests := []struct {
		name    string
		base    string
		edit    func(path string) error
		wantIs  error
		wantErr string // exact Error() with the path replaced by FILE
	}{
		{"add duplicate", arrayFile, func(p string) error { return addServer(p, &Server{Name: "fs", Command: "x"}) },
			ErrServerExists, `add server "fs": server already exists`},
		{"add invalid name", arrayFile, func(p string) error { return addServer(p, &Server{Name: "bad name", Command: "x"}) }, nil,
			`FILE: mcpServers[2].name: "bad name" may only contain letters, digits, "_", "." and "-" (it is used in the URL /mcp/{name} and in container names) and must not be "." or ".."`},
		{"add invalid server", objectFile, func(p string) error { return addServer(p, &Server{Name: "x", Command: "c", URL: "http://h"}) }, nil,
			`FILE: mcpServers.x.url: cannot be combined with "command": a server is either stdio ("command") or HTTP ("url"); remove one`},
		{"update missing", arrayFile, func(p string) error { return updateServer(p, &Server{Name: "nope", Command: "x"}) },
			ErrServerNotFound, `server "nope": server not found`},
		{"update invalid", arrayFile, func(p string) error {
			return updateServer(p, &Server{Name: "fs", Command: "npx", Isolation: &ServerIsolation{MemoryLimit: "lots"}})
		}, nil, `FILE: mcpServers[0].isolation.memory_limit: ` + sizeMsg},
		{"remove missing", objectFile, func(p string) error { return RemoveServer(p, "nope") },
			ErrServerNotFound, `server "nope": server not found`},
		{"enable missing", arrayFile, func(p string) error { return SetServerEnabled(p, "nope", true) },
			ErrServerNotFound, `server "nope": server not found`},
		{"invalid file", invalid, func(p string) error { return PatchDockerIsolation(p, json.RawMessage(`{"enabled": true}`)) }, nil,
			`FILE:2:18: mcpServers[0].command: required for stdio servers (or set "url" for an HTTP server)`},
		{"syntax error", "{\"mcpServers\": [}", func(p string) error { return RemoveServer(p, "a") }, nil,
			`FILE:1:17: invalid JSON: invalid character '}' at start of value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.base, 0o644)
			err := tt.edit(path)
			if err == nil {
				t.Fatal("edit succeeded")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			if got := strings.ReplaceAll(err.Error(), path, "FILE"); got != tt.wantErr {
				t.Errorf("error:\n got %s\nwant %s", got, tt.wantErr)
			}
			if got := readFile(t, path); got != tt.base {
				t.Errorf("file changed:\n%s", got)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
				t.Errorf("mode changed to %v", fi.Mode().Perm())
			}
			assertOnlyConfig(t, path)
		})
	}
}

func TestEditMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := PatchDockerIsolation(path, json.RawMessage(`{"enabled": true}`)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error = %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file was created")
	}
}

func TestEditUnchangedDoesNotWrite(t *testing.T) {
	path := writeConfig(t, arrayFile, 0o644)
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := PatchDockerIsolation(path, json.RawMessage(`{"enabled": false}`)); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || after.Mode().Perm() != 0o644 {
		t.Error("an edit that changes nothing rewrote the file")
	}
}

func TestEditThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles", "mcp.json")
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte(arrayFile), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, FileName)
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symlinks:", err)
	}
	if err := PatchDockerIsolation(link, json.RawMessage(`{"enabled": true}`)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced (%v)", err)
	}
	if got := readFile(t, target); !strings.Contains(got, `"enabled": true, // off for now`) {
		t.Errorf("target not edited:\n%s", got)
	}
}

func TestEditConcurrent(t *testing.T) {
	path := writeConfig(t, arrayFile, 0o600)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Go(func() {
			errs <- addServer(path, &Server{Name: fmt.Sprintf("s%d", i), Command: "x"})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 12 {
		t.Errorf("%d servers after 10 concurrent adds to 2, want 12", len(c.Servers))
	}
}

// addServer and updateServer edit the file through the document's own
// edits (what AddServerFrom and ModifyServer use).
func addServer(path string, s *Server) error {
	return editFile(path, func(d *document, c *Config) error { return d.addServer(c, s) })
}

func updateServer(path string, s *Server) error {
	return editFile(path, func(d *document, c *Config) error { return d.updateServer(s) })
}
