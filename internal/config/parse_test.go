package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func boolPtr(b bool) *bool { return &b }

// problemLines formats the problems of a *ValidationError as
// "line:col: path: msg" strings.
func problemLines(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = p.String()
	}
	return out
}

func TestParseServerForms(t *testing.T) {
	want := []*Server{
		{Name: "fs", Command: "npx", Args: []string{"-y", "@modelcontextprotocol/server-filesystem", "/tmp"}, Env: map[string]string{"DEBUG": "1"}},
		{Name: "remote", URL: "https://example.com/mcp", Headers: map[string]string{"Authorization": "Bearer x"}, Enabled: boolPtr(false)},
	}
	tests := []struct {
		name string
		in   string
	}{
		{"array", `{"mcpServers": [
			{"name": "fs", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"], "env": {"DEBUG": "1"}},
			{"name": "remote", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer x"}, "enabled": false}
		]}`},
		{"object", `{"mcpServers": {
			"fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"], "env": {"DEBUG": "1"}},
			"remote": {"name": "remote", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer x"}, "enabled": false}
		}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Servers, want) {
				t.Errorf("servers:\n got %+v\nwant %+v", c.Servers, want)
			}
			if s := c.Server("remote"); s == nil || s.IsEnabled() || s.Transport() != "http" {
				t.Errorf("Server(remote) = %+v", s)
			}
		})
	}
}

func TestParseEmptyServers(t *testing.T) {
	for _, in := range []string{`{}`, `{"mcpServers": null}`, `{"mcpServers": []}`, `{"mcpServers": {}}`} {
		c, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if c.Servers == nil || len(c.Servers) != 0 {
			t.Errorf("%s: Servers = %#v, want empty non-nil", in, c.Servers)
		}
	}
}

func TestParseCommentsAndTrailingCommas(t *testing.T) {
	in := "\xef\xbb\xbf" + `// mcpproxy configuration
{
  /* the servers */
  "mcpServers": [
    {
      "name": "a", // inline comment
      "command": "uvx",
      "args": ["pkg",], /* trailing comma in array */
    },
  ],
  "docker_isolation": {"enabled": true,}, // trailing comma in object
}
`
	c, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 1 || c.Servers[0].Name != "a" || !reflect.DeepEqual(c.Servers[0].Args, []string{"pkg"}) {
		t.Errorf("servers = %+v", c.Servers)
	}
	if !c.DockerIsolation.Enabled {
		t.Error("docker_isolation.enabled = false, want true")
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Parse({}) = %+v, want Default()", c)
	}
	if err := Validate(Default()); err != nil {
		t.Errorf("Validate(Default()) = %v", err)
	}

	c, err = Parse([]byte(`{
		"listen": "127.0.0.1:9090",
		"init_timeout": "45s",
		"telemetry": {"enabled": true, "endpoint": "https://t.example.com/v1"},
		"docker_isolation": {
			"memory_limit": "1g",
			"timeout": "60s",
			"default_images": {"python": "python:3.12", "deno": "denoland/deno:2.0.0"},
			"extra_args": ["--cap-drop=ALL"]
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultDockerIsolation()
	want.MemoryLimit = "1g"
	want.Timeout = Duration(60 * time.Second)
	want.DefaultImages["python"] = "python:3.12"
	want.DefaultImages["deno"] = "denoland/deno:2.0.0"
	want.ExtraArgs = []string{"--cap-drop=ALL"}
	if !reflect.DeepEqual(c.DockerIsolation, want) {
		t.Errorf("docker_isolation:\n got %+v\nwant %+v", c.DockerIsolation, want)
	}
	if c.DockerIsolation.DefaultImages["npx"] != "node:20" {
		t.Error("default_images lost a default entry")
	}
	if c.Listen != "127.0.0.1:9090" || c.InitTimeout.D() != 45*time.Second ||
		c.Telemetry != (Telemetry{Enabled: true, Endpoint: "https://t.example.com/v1"}) {
		t.Errorf("config = %+v", c)
	}
}

func TestParseIsolation(t *testing.T) {
	c, err := Parse([]byte(`{"mcpServers": [{
		"name": "custom-python-server",
		"command": "python",
		"args": ["-m", "my_server"],
		"isolation": {
			"enabled": true,
			"image": "my-custom-python:latest",
			"network_mode": "none",
			"working_dir": "/app",
			"extra_args": ["--cap-drop=ALL"],
			"memory_limit": "256m",
			"cpu_limit": "0.5"
		},
		"enabled": true
	}, {"name": "plain", "command": "python", "isolation": {"enabled": false}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &ServerIsolation{Enabled: boolPtr(true), Image: "my-custom-python:latest", NetworkMode: "none",
		WorkingDir: "/app", ExtraArgs: []string{"--cap-drop=ALL"}, MemoryLimit: "256m", CPULimit: "0.5"}
	if got := c.Servers[0].Isolation; !reflect.DeepEqual(got, want) {
		t.Errorf("isolation = %+v, want %+v", got, want)
	}
	if got := c.Servers[1].Isolation; got == nil || got.Enabled == nil || *got.Enabled {
		t.Errorf("isolation = %+v, want enabled=false", got)
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"syntax", "{\n  \"mcpServers\": [\n    {\"name\": \"a\" \"command\": \"x\"}\n  ]\n}",
			[]string{`3:18: invalid JSON: invalid character '"' after object value (expecting ',' or '}')`}},
		{"empty file", "", []string{`1:1: invalid JSON: parsing value: unexpected EOF`}},
		{"not an object", "[1]", []string{`1:1: the configuration must be a JSON object`}},
		{"args type", `{"mcpServers": [{"name": "a", "command": "x", "args": "x"}]}`,
			[]string{`1:55: mcpServers[0].args: must be an array of strings`}},
		{"args element type", `{"mcpServers": [{"name": "a", "command": "x", "args": ["ok", 1]}]}`,
			[]string{`1:62: mcpServers[0].args[1]: must be a string`}},
		{"enabled type", `{"mcpServers": [{"name": "a", "command": "x", "enabled": "yes"}]}`,
			[]string{`1:58: mcpServers[0].enabled: must be true or false`}},
		{"env type", `{"mcpServers": [{"name": "a", "command": "x", "env": ["A=1"]}]}`,
			[]string{`1:54: mcpServers[0].env: must be an object of string values`}},
		{"env value type", `{"mcpServers": [{"name": "a", "command": "x", "env": {"A": 1}}]}`,
			[]string{`1:60: mcpServers[0].env.A: must be a string`}},
		{"server not object", `{"mcpServers": ["a"]}`, []string{`1:17: mcpServers[0]: must be a server object`}},
		{"servers type", `{"mcpServers": "a"}`,
			[]string{`1:16: mcpServers: must be an array of servers or an object keyed by server name`}},
		{"name missing", "{\"mcpServers\": [\n  {\"command\": \"x\"}\n]}",
			[]string{`2:3: mcpServers[0].name: required: a unique name of letters, digits, "_", "." and "-"`}},
		{"name type", `{"mcpServers": [{"name": 7, "command": "x"}]}`,
			[]string{`1:26: mcpServers[0].name: must be a string`}},
		{"name chars", `{"mcpServers": [{"name": "my server", "command": "x"}]}`,
			[]string{`1:26: mcpServers[0].name: "my server" may only contain letters, digits, "_", "." and "-" (it is used in the URL /mcp/{name} and in container names) and must not be "." or ".."`}},
		{"name dots", `{"mcpServers": {"..": {"command": "x"}}}`,
			[]string{`1:23: mcpServers[".."].name: ".." may only contain letters, digits, "_", "." and "-" (it is used in the URL /mcp/{name} and in container names) and must not be "." or ".."`}},
		{"duplicate name", "{\"mcpServers\": [\n {\"name\": \"a\", \"command\": \"x\"},\n {\"name\": \"a\", \"command\": \"y\"}\n]}",
			[]string{`3:11: mcpServers[1].name: duplicate server name "a" (also mcpServers[0]); names must be unique`}},
		{"object form name mismatch", `{"mcpServers": {"a": {"name": "b", "command": "x"}}}`,
			[]string{`1:31: mcpServers.a.name: must match its key "a" (or be removed)`}},
		{"object form duplicate key", "{\"mcpServers\": {\n \"a\": {\"command\": \"x\"},\n \"a\": {\"command\": \"y\"}\n}}",
			[]string{`3:2: mcpServers.a: duplicate key; remove all but one`}},
		{"duplicate known key", `{"mcpServers": [{"name": "a", "command": "x", "command": "y"}]}`,
			[]string{`1:47: mcpServers[0].command: duplicate key; remove all but one`}},
		{"command missing", "{\"mcpServers\": [\n {\"name\": \"a\"}\n]}",
			[]string{`2:2: mcpServers[0].command: required for stdio servers (or set "url" for an HTTP server)`}},
		{"command and url", `{"mcpServers": [{"name": "a", "command": "x", "url": "http://h/mcp"}]}`,
			[]string{`1:54: mcpServers[0].url: cannot be combined with "command": a server is either stdio ("command") or HTTP ("url"); remove one`}},
		{"url scheme", `{"mcpServers": [{"name": "a", "url": "ftp://h/mcp"}]}`,
			[]string{`1:38: mcpServers[0].url: must be an http:// or https:// URL with a host, such as "https://example.com/mcp"`}},
		{"url host", `{"mcpServers": [{"name": "a", "url": "https:///mcp"}]}`,
			[]string{`1:38: mcpServers[0].url: must be an http:// or https:// URL with a host, such as "https://example.com/mcp"`}},
		{"url type does not also say command required", `{"mcpServers": [{"name": "a", "url": 5}]}`,
			[]string{`1:38: mcpServers[0].url: must be a string`}},
		{"headers without url", `{"mcpServers": [{"name": "a", "command": "x", "headers": {"X-A": "1"}}]}`,
			[]string{`1:58: mcpServers[0].headers: only valid for HTTP servers (set "url" or remove "headers")`}},
		{"header name", `{"mcpServers": [{"name": "a", "url": "http://h", "headers": {"X A": "1"}}]}`,
			[]string{"1:69: mcpServers[0].headers[\"X A\"]: invalid header name: use letters, digits and !#$%&'*+-.^_`|~"}},
		{"env name with =", `{"mcpServers": [{"name": "a", "command": "x", "env": {"A=B": "1"}}]}`,
			[]string{`1:62: mcpServers[0].env["A=B"]: invalid variable name: it must be non-empty and contain no "=" or NUL`}},
		{"env name empty", `{"mcpServers": [{"name": "a", "command": "x", "env": {"": "1"}}]}`,
			[]string{`1:59: mcpServers[0].env[""]: invalid variable name: it must be non-empty and contain no "=" or NUL`}},
		{"env name NUL", `{"mcpServers": [{"name": "a", "command": "x", "env": {"A\u0000": "1"}}]}`,
			[]string{`1:66: mcpServers[0].env["A\x00"]: invalid variable name: it must be non-empty and contain no "=" or NUL`}},
		{"isolation type", `{"mcpServers": [{"name": "a", "command": "x", "isolation": true}]}`,
			[]string{`1:60: mcpServers[0].isolation: must be an object`}},
		{"isolation image", `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"image": "My/Image"}}]}`,
			[]string{`1:70: mcpServers[0].isolation.image: ` + imageMsg}},
		{"isolation working_dir", `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"working_dir": "app"}}]}`,
			[]string{`1:76: mcpServers[0].isolation.working_dir: must be an absolute path inside the container, such as "/app"`}},
		{"isolation network_mode", `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"network_mode": "my net"}}]}`,
			[]string{`1:77: mcpServers[0].isolation.network_mode: ` + networkMsg}},
		{"isolation memory_limit", `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"memory_limit": "lots"}}]}`,
			[]string{`1:77: mcpServers[0].isolation.memory_limit: ` + sizeMsg}},
		{"isolation cpu_limit", `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"cpu_limit": "0"}}]}`,
			[]string{`1:74: mcpServers[0].isolation.cpu_limit: ` + cpuMsg}},
		{"isolation extra_args", `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"extra_args": [true]}}]}`,
			[]string{`1:76: mcpServers[0].isolation.extra_args[0]: must be a string`}},
		{"isolation enabled", `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"enabled": 1}}]}`,
			[]string{`1:72: mcpServers[0].isolation.enabled: must be true or false`}},
		{"docker memory_limit", `{"docker_isolation": {"memory_limit": "lots"}}`,
			[]string{`1:39: docker_isolation.memory_limit: must be a size such as "512m" or "1g" (a number of bytes with an optional b, k, m or g suffix, at least 6m: docker refuses less)`}},
		{"docker memory_limit zero", `{"docker_isolation": {"memory_limit": "0"}}`,
			[]string{`1:39: docker_isolation.memory_limit: ` + sizeMsg}},
		{"docker memory_limit below docker's minimum", `{"docker_isolation": {"memory_limit": "1k"}}`,
			[]string{`1:39: docker_isolation.memory_limit: ` + sizeMsg}},
		{"isolation memory_limit below docker's minimum", `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"memory_limit": "5m"}}]}`,
			[]string{`1:77: mcpServers[0].isolation.memory_limit: ` + sizeMsg}},
		{"docker memory_limit empty", `{"docker_isolation": {"memory_limit": ""}}`,
			[]string{`1:39: docker_isolation.memory_limit: must not be empty; remove the key to use the default ("512m")`}},
		{"docker cpu_limit negative", `{"docker_isolation": {"cpu_limit": "-1"}}`,
			[]string{`1:36: docker_isolation.cpu_limit: ` + cpuMsg}},
		{"docker cpu_limit text", `{"docker_isolation": {"cpu_limit": "abc"}}`,
			[]string{`1:36: docker_isolation.cpu_limit: ` + cpuMsg}},
		{"docker cpu_limit number", `{"docker_isolation": {"cpu_limit": 1}}`,
			[]string{`1:36: docker_isolation.cpu_limit: must be a string`}},
		{"docker timeout", `{"docker_isolation": {"timeout": "soon"}}`,
			[]string{`1:34: docker_isolation.timeout: "soon" is not a duration; use a form such as "30s" or "2m"`}},
		{"docker timeout zero", `{"docker_isolation": {"timeout": "0s"}}`,
			[]string{`1:34: docker_isolation.timeout: must be a positive duration such as "30s"`}},
		{"docker timeout negative", `{"docker_isolation": {"timeout": "-5s"}}`,
			[]string{`1:34: docker_isolation.timeout: must be a positive duration such as "30s"`}},
		{"docker timeout number", `{"docker_isolation": {"timeout": 30}}`,
			[]string{`1:34: docker_isolation.timeout: must be a duration string such as "30s"`}},
		{"docker network_mode empty", `{"docker_isolation": {"network_mode": ""}}`,
			[]string{`1:39: docker_isolation.network_mode: must not be empty; remove the key to use the default ("bridge")`}},
		{"docker network_mode", `{"docker_isolation": {"network_mode": "container:"}}`,
			[]string{`1:39: docker_isolation.network_mode: ` + networkMsg}},
		{"docker registry", `{"docker_isolation": {"registry": "https://docker.io"}}`,
			[]string{`1:35: docker_isolation.registry: must be a registry host such as "docker.io" or "registry.example.com:5000"`}},
		{"docker default_images", `{"docker_isolation": {"default_images": {"python": "Python 3"}}}`,
			[]string{`1:52: docker_isolation.default_images.python: ` + imageMsg}},
		{"docker default_images type", `{"docker_isolation": {"default_images": ["python:3"]}}`,
			[]string{`1:41: docker_isolation.default_images: must be an object of string values`}},
		{"docker extra_args", `{"docker_isolation": {"extra_args": "--rm"}}`,
			[]string{`1:37: docker_isolation.extra_args: must be an array of strings`}},
		{"docker enabled", `{"docker_isolation": {"enabled": "true"}}`,
			[]string{`1:34: docker_isolation.enabled: must be true or false`}},
		{"docker_isolation type", `{"docker_isolation": true}`,
			[]string{`1:22: docker_isolation: must be an object`}},
		{"telemetry endpoint", `{"telemetry": {"endpoint": "localhost:9000"}}`,
			[]string{`1:28: telemetry.endpoint: must be an http:// or https:// URL with a host; remove the key to use the default endpoint`}},
		{"init_timeout", `{"init_timeout": "0"}`,
			[]string{`1:18: init_timeout: must be a positive duration such as "30s"`}},
		{"listen", `{"listen": "8080"}`,
			[]string{`1:12: listen: must be host:port such as "127.0.0.1:8080"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", c)
			}
			if c != nil {
				t.Errorf("Parse returned a config with an error")
			}
			if got := problemLines(t, err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	in := `{
  "mcpServers": [
    {"name": "ok", "command": "npx"},
    {"command": "uvx", "args": "pkg"},
    {"name": "ok", "url": "ftp://x", "command": "y"},
    {"name": "h", "command": "x", "headers": {"A": "b"}, "env": {"=": "1"}}
  ],
  "docker_isolation": {
    "memory_limit": "lots",
    "cpu_limit": "0",
    "network_mode": "",
    "default_images": {"go": "golang:1.22", "bad": "UPPER"}
  },
  "telemetry": {"endpoint": "nope"}
}`
	_, err := Parse([]byte(in))
	want := []string{
		`4:5: mcpServers[1].name: required: a unique name of letters, digits, "_", "." and "-"`,
		`4:32: mcpServers[1].args: must be an array of strings`,
		`5:14: mcpServers[2].name: duplicate server name "ok" (also mcpServers[0]); names must be unique`,
		`5:27: mcpServers[2].url: cannot be combined with "command": a server is either stdio ("command") or HTTP ("url"); remove one`,
		`5:27: mcpServers[2].url: must be an http:// or https:// URL with a host, such as "https://example.com/mcp"`,
		`6:46: mcpServers[3].headers: only valid for HTTP servers (set "url" or remove "headers")`,
		`6:71: mcpServers[3].env["="]: invalid variable name: it must be non-empty and contain no "=" or NUL`,
		`9:21: docker_isolation.memory_limit: ` + sizeMsg,
		`10:18: docker_isolation.cpu_limit: ` + cpuMsg,
		`11:21: docker_isolation.network_mode: must not be empty; remove the key to use the default ("bridge")`,
		`12:52: docker_isolation.default_images.bad: ` + imageMsg,
		`14:29: telemetry.endpoint: must be an http:// or https:// URL with a host; remove the key to use the default endpoint`,
	}
	if got := problemLines(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n    "), strings.Join(want, "\n    "))
	}
}

func TestValidationErrorError(t *testing.T) {
	e := &ValidationError{File: "/c.json", Problems: []Problem{
		{Path: "mcpServers[0].command", Line: 3, Col: 7, Msg: "required"},
		{Path: "docker_isolation.timeout", Msg: "bad"},
		{Line: 1, Col: 1, Msg: "invalid JSON"},
	}}
	want := "/c.json:3:7: mcpServers[0].command: required\n/c.json: docker_isolation.timeout: bad\n/c.json:1:1: invalid JSON"
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	e.File = ""
	want = "3:7: mcpServers[0].command: required\ndocker_isolation.timeout: bad\n1:1: invalid JSON"
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte("{\n  \"mcpServers\": [{\"name\": \"a\"}]\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + `:2:18: mcpServers[0].command: required for stdio servers (or set "url" for an HTTP server)`
	if err == nil || err.Error() != want {
		t.Errorf("Load error = %v, want %s", err, want)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestValidate(t *testing.T) {
	valid := Default()
	valid.Servers = []*Server{{Name: "a", Command: "x"}, {Name: "b", URL: "http://localhost:1/mcp"}}
	if err := Validate(valid); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}

	tests := []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{"nil server", func(c *Config) { c.Servers = append(c.Servers, nil) }, []string{"mcpServers[2]: must be a server object"}},
		{"duplicate", func(c *Config) { c.Servers[1].Name = "a" },
			[]string{`mcpServers[1].name: duplicate server name "a" (also mcpServers[0]); names must be unique`}},
		{"neither", func(c *Config) { c.Servers[0].Command = "" },
			[]string{`mcpServers[0].command: required for stdio servers (or set "url" for an HTTP server)`}},
		{"arg NUL", func(c *Config) { c.Servers[0].Args = []string{"a\x00"} },
			[]string{`mcpServers[0].args[0]: must not contain a NUL byte`}},
		{"env value NUL", func(c *Config) { c.Servers[0].Env = map[string]string{"A": "\x00"} },
			[]string{`mcpServers[0].env.A: value must not contain a NUL byte`}},
		{"header value CRLF", func(c *Config) { c.Servers[1].Headers = map[string]string{"X": "a\r\nb"} },
			[]string{`mcpServers[1].headers.X: value must not contain CR, LF or NUL`}},
		{"zero docker isolation", func(c *Config) { c.DockerIsolation = DockerIsolation{} }, []string{
			`docker_isolation.memory_limit: must not be empty; remove the key to use the default ("512m")`,
			`docker_isolation.cpu_limit: must not be empty; remove the key to use the default ("1.0")`,
			`docker_isolation.network_mode: must not be empty; remove the key to use the default ("bridge")`,
			`docker_isolation.registry: must not be empty; remove the key to use the default ("docker.io")`,
			`docker_isolation.timeout: must be a positive duration such as "30s"`,
			`docker_isolation.pids_limit: must be a whole number from 1 to 4194304: the most processes the container may run (default 256)`,
		}},
		{"empty runtime", func(c *Config) { c.DockerIsolation.DefaultImages[""] = "x" },
			[]string{`docker_isolation.default_images[""]: runtime name must not be empty`}},
		{"negative init_timeout", func(c *Config) { c.InitTimeout = -1 },
			[]string{`init_timeout: must be a positive duration such as "30s"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid.Clone()
			tt.change(c)
			if got := problemLines(t, Validate(c)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	if Validate(nil) == nil {
		t.Error("Validate(nil) = nil")
	}
}
