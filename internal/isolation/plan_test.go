package isolation

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

func TestSetupKeepsArgumentsOutOfTheScript(t *testing.T) {
	evil := `'; rm -rf / #`
	p := Decide(globalOn(), &config.Server{Name: "s", Command: "uvx", Args: []string{evil, `$(id)`, "a b"}}, "").Plan
	if p.Setup != "uvx" || p.Command != "sh" {
		t.Fatalf("Setup, Command = %q, %q", p.Setup, p.Command)
	}
	if p.Args[0] != "-c" || p.Args[1] != uvxSetupScript || p.Args[2] != "uvx" {
		t.Fatalf("args = %q", p.Args)
	}
	if got := p.Args[3:]; !reflect.DeepEqual(got, []string{evil, `$(id)`, "a b"}) {
		t.Fatalf("positional args = %q", got)
	}
	for _, script := range []string{uvxSetupScript, pipxSetupScript} {
		if strings.ContainsAny(script, "'") || !strings.Contains(script, `"$@"`) {
			t.Fatalf("script must be constant and forward \"$@\": %s", script)
		}
	}
}

func TestContainerName(t *testing.T) {
	tests := []struct{ server, id, want string }{
		{"github", "a1b2", "mcpproxy-github-a1b2"},
		{"My Server!!", "a1b2", "mcpproxy-My-Server-a1b2"},
		{"../etc", "a1b2", "mcpproxy-etc-a1b2"},
		{"com.pulsemcp/google-flights", "x9", "mcpproxy-com.pulsemcp-google-flights-x9"},
		{"", "a1b2", "mcpproxy-server-a1b2"},
		{"---", "a1b2", "mcpproxy-server-a1b2"},
		{"日本語", "a1b2", "mcpproxy-server-a1b2"},
		{"srv", "", "mcpproxy-srv"},
		{"srv", "bad id!", "mcpproxy-srv-bad-id"},
		{strings.Repeat("a", 100), "z", "mcpproxy-" + strings.Repeat("a", 63) + "-z"},
	}
	for _, tt := range tests {
		got := ContainerName(tt.server, tt.id)
		if got != tt.want {
			t.Errorf("ContainerName(%q, %q) = %q, want %q", tt.server, tt.id, got, tt.want)
		}
		for i, r := range got {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && strings.ContainsRune("_.-", r))
			if !ok {
				t.Errorf("ContainerName(%q) = %q has invalid character %q", tt.server, got, r)
			}
		}
	}
}

func TestDetectRuntime(t *testing.T) {
	tests := map[string]string{
		"python":                   "python",
		"python3":                  "python3",
		"/usr/bin/python3":         "python3",
		"python3.12":               "python3",
		"/opt/py/bin/python3.11":   "python3",
		"python2.7":                "python",
		"Python.exe":               "python",
		`C:\Python312\python.exe`:  "python",
		"uvx":                      "uvx",
		"/Users/me/.local/bin/uvx": "uvx",
		"pip":                      "pip",
		"pip3":                     "pip",
		"pip3.11":                  "pip",
		"pipx":                     "pipx",
		"node":                     "node",
		"nodejs":                   "node",
		"node20":                   "node",
		"npm":                      "npm",
		"npx":                      "npx",
		"yarn":                     "yarn",
		"go":                       "go",
		"go1.21":                   "go",
		"cargo":                    "cargo",
		"rustc":                    "rustc",
		"ruby":                     "ruby",
		"ruby3.2":                  "ruby",
		"gem":                      "gem",
		"php":                      "php",
		"php8.2":                   "php",
		"composer":                 "composer",
		"sh":                       "sh",
		"/bin/bash":                "bash",
		"nodemon":                  "binary",
		"my-python-tool":           "binary",
		"deno":                     "binary",
		"bunx":                     "binary",
		"/opt/bin/mytool":          "binary",
		"python3.":                 "binary",
		"python3..1":               "binary",
		"3python":                  "binary",
		"":                         "binary",
	}
	for cmd, want := range tests {
		if got := DetectRuntime(cmd); got != want {
			t.Errorf("DetectRuntime(%q) = %q, want %q", cmd, got, want)
		}
	}
}

func TestContainerCommand(t *testing.T) {
	tests := []struct {
		command, image string
		wantCmd        string
		wantSetup      string
	}{
		{"/usr/bin/python3.12", "python:3.11", "python3.12", ""},
		{`C:\Python\python.exe`, "python:3.11", "python", ""},
		{"/usr/local/bin/npx", "node:20", "npx", ""},
		{"/opt/bin/mytool", "alpine:3.18", "/opt/bin/mytool", ""},
		{"./server", "alpine:3.18", "./server", ""},
		{"uvx", "python:3.11", "sh", "uvx"},
		{"uvx", "docker.io/library/python:3.12", "sh", "uvx"},
		{"uvx", "registry.example:5000/python:3.11", "sh", "uvx"},
		{"uvx", "python@sha256:0123", "sh", "uvx"},
		{"uvx", "ghcr.io/astral-sh/uv:python3.13-bookworm-slim", "uvx", ""},
		{"uvx", "my/python:3", "uvx", ""},
		{"pipx", "python:3.11", "sh", "pipx"},
		{"pip", "python:3.11", "pip", ""},
	}
	for _, tt := range tests {
		rt := DetectRuntime(tt.command)
		cmd, _, setup := containerCommand(rt, tt.command, []string{"a"}, tt.image)
		if cmd != tt.wantCmd || setup != tt.wantSetup {
			t.Errorf("containerCommand(%q, %q) = %q setup %q, want %q setup %q", tt.command, tt.image, cmd, setup, tt.wantCmd, tt.wantSetup)
		}
	}
}

func TestQualifyImage(t *testing.T) {
	tests := []struct{ image, registry, want string }{
		{"node:20", "docker.io", "node:20"},
		{"node:20", "", "node:20"},
		{"node:20", "index.docker.io", "node:20"},
		{"node:20", "https://docker.io/", "node:20"},
		{"myfixture:1", "docker.io", "myfixture:1"},
		{"node:20", "registry.example:5000", "registry.example:5000/node:20"},
		{"node:20", "registry.example:5000/", "registry.example:5000/node:20"},
		{"node:20", "https://mirror.example", "mirror.example/node:20"},
		{"myorg/tool:1", "registry.example", "registry.example/myorg/tool:1"},
		{"myorg/tool:1", "docker.io", "myorg/tool:1"},
		{"ghcr.io/astral-sh/uv:latest", "registry.example", "ghcr.io/astral-sh/uv:latest"},
		{"localhost/img", "registry.example", "localhost/img"},
		{"localhost:5000/img:2", "registry.example", "localhost:5000/img:2"},
		{"docker.io/library/node:20", "registry.example", "docker.io/library/node:20"},
		{"node@sha256:abcd", "registry.example", "registry.example/node@sha256:abcd"},
		{"", "registry.example", ""},
	}
	for _, tt := range tests {
		if got := QualifyImage(tt.image, tt.registry); got != tt.want {
			t.Errorf("QualifyImage(%q, %q) = %q, want %q", tt.image, tt.registry, got, tt.want)
		}
	}
}

func TestIsDockerCommand(t *testing.T) {
	tests := []struct {
		command, dockerPath string
		want                bool
	}{
		{"docker", "", true},
		{"/usr/bin/docker", "", true},
		{"/Applications/Docker.app/Contents/Resources/bin/docker", "", true},
		{"docker.exe", "", true},
		{`C:\Program Files\Docker\Docker\resources\bin\docker.exe`, "", true},
		{"/Applications/Docker.app/Contents/Resources/bin/com.docker.cli", "", true},
		{"/opt/x/dkr", "/opt/x/dkr", true},
		{"/opt/x/dkr", "/usr/bin/docker", false},
		{"my-docker-wrapper", "/usr/bin/docker", false},
		{"/opt/docker-tools/bin/uvx", "/usr/bin/docker", false},
		{"dockerize", "", false},
		{"docker-compose", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := IsDockerCommand(tt.command, tt.dockerPath); got != tt.want {
			t.Errorf("IsDockerCommand(%q, %q) = %v, want %v", tt.command, tt.dockerPath, got, tt.want)
		}
	}
}
