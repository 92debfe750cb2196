package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestValueRules(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		rule  string
		check func(string) bool
		good  []string
		bad   []string
	}{
		{"size", validSize,
			[]string{"512m", "1g", "6m", "6144k", "6291456", "1073741824", "1G", "512M", "1.5g", "512mb", "6291456b", "2t"},
			[]string{"", "lots", "0", "256k", "100b", "6291455", "5.9m", "0m", "-1g", "1x", "1 g", "m", ".5g", "0.1b", "99999999999999999999t"}},
		{"cpu", validCPU,
			[]string{"1.0", "0.5", "2", ".5", "16"},
			[]string{"", "-1", "0", "0.0", "abc", "1,5", "1e3", "Inf"}},
		{"network mode", validNetworkMode,
			[]string{"bridge", "none", "host", "default", "container:abc", "container:my_app.1", "my-net", "net_2"},
			[]string{"", "container:", "container:-x", "my net", "-net", "a/b", "service:x"}},
		{"registry", validRegistry,
			[]string{"docker.io", "ghcr.io", "localhost", "localhost:5000", "registry.example.com:5000", "10.0.0.1:5000", "[::1]:5000", "my-registry"},
			[]string{"", "https://docker.io", "docker.io/library", "host:0", "host:70000", "host:", "-bad.io", "a..b", "[zz]:1"}},
		{"image", validImageRef,
			[]string{"python:3.11", "node:20", "alpine", "my-custom-python:latest", "ghcr.io/org/image:tag",
				"localhost:5000/a/b:c", "library/python", "a__b", "a--b", "a.b_c", "img" + digest, "img:tag" + digest,
				"Docker.IO/library/python:3.11", "golang:1.21-alpine", "[::1]:5000/img"},
			[]string{"", "Python:3.11", "My/Image", "img:", "img:-tag", "img@sha256:abc", "a_", "/img", "img/", "a b",
				"host:99999/img", "img:" + strings.Repeat("t", 129), strings.Repeat("a", 256)}},
		{"env name", validEnvName,
			[]string{"A", "api_key", "X-Y", "lower.case"},
			[]string{"", "A=B", "=", "A\x00"}},
		{"http url", validHTTPURL,
			[]string{"http://localhost:8080/mcp", "https://example.com", "https://[::1]:9/x"},
			[]string{"", "example.com", "ftp://example.com", "https://", "https:///x", "http://:80/", "://x"}},
		{"server name", validServerName,
			[]string{"a", "my-server", "my_server.v2", "A1", "..."},
			[]string{"", ".", "..", "a b", "a/b", "ä"}},
		{"header name", validHeaderName,
			[]string{"Authorization", "X-Api-Key", "x_y"},
			[]string{"", "X A", "X:A", "é"}},
		{"listen", validListen,
			[]string{"127.0.0.1:8080", ":8080", "localhost:0", "[::1]:80"},
			[]string{"8080", "localhost", "host:http", "host:70000"}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			for _, s := range tt.good {
				if !tt.check(s) {
					t.Errorf("%q rejected, want accepted", s)
				}
			}
			for _, s := range tt.bad {
				if tt.check(s) {
					t.Errorf("%q accepted, want rejected", s)
				}
			}
		})
	}
}

func TestPaths(t *testing.T) {
	tests := []struct{ base, key, joined, parent string }{
		{"", "mcpServers", "mcpServers", ""},
		{"mcpServers", "github", "mcpServers.github", "mcpServers"},
		{"mcpServers", "my.server", `mcpServers["my.server"]`, "mcpServers"},
		{"mcpServers[2].env", "A=B", `mcpServers[2].env["A=B"]`, "mcpServers[2].env"},
		{"mcpServers[2]", "command", "mcpServers[2].command", "mcpServers[2]"},
		{`mcpServers["a[0]"]`, "x", `mcpServers["a[0]"].x`, `mcpServers["a[0]"]`},
	}
	for _, tt := range tests {
		if got := joinKey(tt.base, tt.key); got != tt.joined {
			t.Errorf("joinKey(%q, %q) = %q, want %q", tt.base, tt.key, got, tt.joined)
		}
		if got := parentPath(tt.joined); got != tt.parent {
			t.Errorf("parentPath(%q) = %q, want %q", tt.joined, got, tt.parent)
		}
	}
	if got := parentPath("mcpServers[2]"); got != "mcpServers" {
		t.Errorf("parentPath(mcpServers[2]) = %q", got)
	}
}

func TestParseUnits(t *testing.T) {
	mem := map[string]int64{"512m": 512 << 20, "1g": 1 << 30, "1.5g": 3 << 29, "256k": 256 << 10, "1073741824": 1 << 30, "512mb": 512 << 20, "100b": 100, "2t": 2 << 40, "1.5b": 1}
	for s, want := range mem {
		if got, err := ParseMemory(s); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	cpu := map[string]int64{"1.0": 1000, "0.5": 500, "2": 2000, ".25": 250, "0.0006": 1, "1.0004": 1000}
	for s, want := range cpu {
		if got, err := ParseMilliCPUs(s); err != nil || got != want {
			t.Errorf("ParseMilliCPUs(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"0.0004", "0", "x", ""} {
		if _, err := ParseMilliCPUs(s); err == nil || !strings.Contains(err.Error(), "cpu_limit") && !strings.Contains(err.Error(), "CPUs") {
			t.Errorf("ParseMilliCPUs(%q) = %v; want an error naming the rule", s, err)
		}
	}
	if _, err := ParseMemory("lots"); err == nil || !strings.Contains(err.Error(), `"lots"`) {
		t.Errorf("ParseMemory(lots) = %v", err)
	}
}

// Validate checks an in-memory configuration with the rules Parse applies:
// a *ValidationError listing every problem (with zero positions), or nil.
func Validate(c *Config) error {
	if c == nil {
		return &ValidationError{Problems: []Problem{{Msg: "no configuration"}}}
	}
	v := &validator{hostPaths: defaultHostPaths()}
	v.config(c, func(i int) string { return fmt.Sprintf("mcpServers[%d]", i) })
	return v.err()
}
