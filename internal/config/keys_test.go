package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tailscale/hujson"
)

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		problems []string
		warnings []string
	}{
		{"typo of a top-level key", `{"docker_isolaton": {"enabled": true}}`,
			[]string{`1:2: docker_isolaton: unknown key "docker_isolaton": did you mean "docker_isolation"? (a misspelt key would be ignored)`}, nil},
		{"typo of mcpServers", `{"mcpServer": []}`,
			[]string{`1:2: mcpServer: unknown key "mcpServer": did you mean "mcpServers"? (a misspelt key would be ignored)`}, nil},
		{"other case and separators", `{"mcp_servers": [], "Telemetry": {}}`,
			[]string{
				`1:2: mcp_servers: unknown key "mcp_servers": did you mean "mcpServers"? (a misspelt key would be ignored)`,
				`1:21: Telemetry: unknown key "Telemetry": did you mean "telemetry"? (a misspelt key would be ignored)`,
			}, nil},
		{"VS Code's servers", `{"servers": {}}`,
			[]string{`1:2: servers: unknown key "servers": did you mean "mcpServers"?`}, nil},
		{"typo of isolation in a server", `{"mcpServers": {"a": {"command": "x", "isolaton": {"enabled": false}}}}`,
			[]string{`1:39: mcpServers.a.isolaton: unknown key "isolaton": did you mean "isolation"? (a misspelt key would be ignored)`}, nil},
		{"swapped letters", `{"mcpServers": [{"name": "a", "comamnd": "x"}]}`,
			[]string{
				`1:17: mcpServers[0].command: required for stdio servers (or set "url" for an HTTP server)`,
				`1:31: mcpServers[0].comamnd: unknown key "comamnd": did you mean "command"? (a misspelt key would be ignored)`,
			}, nil},
		{"unknown key in docker_isolation", `{"docker_isolation": {"gpu": true}}`,
			[]string{`1:23: docker_isolation.gpu: unknown key "gpu" in "docker_isolation"; the keys are: backend, cache_volumes, cpu_limit, default_images, enabled, extra_args, hardened, kubernetes, memory_limit, network_mode, pids_limit, registry, timeout`}, nil},
		{"typo in docker_isolation", `{"docker_isolation": {"enabeld": true}}`,
			[]string{`1:23: docker_isolation.enabeld: unknown key "enabeld": did you mean "enabled"? (a misspelt key would be ignored)`}, nil},
		{"unknown key in isolation", `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"caps": []}}]}`,
			[]string{`1:61: mcpServers[0].isolation.caps: unknown key "caps" in a server's "isolation" block; the keys are: allow_dangerous, cpu_limit, enabled, extra_args, hardened, image, memory_limit, mounts, network_mode, pids_limit, working_dir`}, nil},
		{"allow_dangerous in docker_isolation", `{"docker_isolation": {"allow_dangerous": true}}`,
			[]string{`1:23: docker_isolation.allow_dangerous: "allow_dangerous" is a key of a server's "isolation" block, not of "docker_isolation"; move it there`}, nil},
		{"registry in isolation", `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"registry": "r.io"}}]}`,
			[]string{`1:61: mcpServers[0].isolation.registry: "registry" is a key of "docker_isolation", not of a server's "isolation" block; move it there`}, nil},
		{"isolation key on the server", `{"mcpServers": [{"name": "a", "command": "x", "network_mode": "none"}]}`,
			[]string{`1:47: mcpServers[0].network_mode: "network_mode" is a key of a server's "isolation" block, not of a server; move it there`}, nil},
		{"docker_isolation key at the top", `{"extra_args": []}`,
			[]string{`1:2: extra_args: "extra_args" is a key of "docker_isolation", not of the top level; move it there`}, nil},
		{"other keys are warnings", `{
	"future": {"x": 1},
	"mcpServers": {"a": {"command": "x", "type": "stdio", "disabled_tools": ["t"]}},
	"telemetry": {"enabled": false, "interval": "24h"}
}`, nil, []string{
			`2:2: future: unknown key "future" is ignored`,
			`3:39: mcpServers.a.type: unknown key "type" is ignored`,
			`3:56: mcpServers.a.disabled_tools: unknown key "disabled_tools" is ignored`,
			`4:34: telemetry.interval: unknown key "interval" is ignored`,
		}},
		{"MCPProxy's keys load", `{
	"listen": "127.0.0.1:8080",
	"data_dir": "~/.mcpproxy",
	"enable_tray": true,
	"top_k": 5,
	"docker_isolation": {"enabled": true, "enable_cache_volume": true, "log_max_size": "100m", "log_max_files": "3", "log_driver": ""},
	"mcpServers": [{"name": "a", "command": "x", "protocol": "stdio", "quarantined": false, "created": "2025-01-01T00:00:00Z",
		"isolation": {"log_max_size": "10m"}}]
}`, nil, []string{
			`3:2: data_dir: unknown key "data_dir" is ignored`,
			`4:2: enable_tray: unknown key "enable_tray" is ignored`,
			`5:2: top_k: unknown key "top_k" is ignored`,
			`6:40: docker_isolation.enable_cache_volume: "enable_cache_volume" is MCPProxy's setting; mcpproxy ignores it`,
			`6:69: docker_isolation.log_max_size: "log_max_size" is MCPProxy's setting; mcpproxy ignores it`,
			`6:93: docker_isolation.log_max_files: "log_max_files" is MCPProxy's setting; mcpproxy ignores it`,
			`6:115: docker_isolation.log_driver: "log_driver" is MCPProxy's setting; mcpproxy ignores it`,
			`7:47: mcpServers[0].protocol: unknown key "protocol" is ignored`,
			`7:90: mcpServers[0].created: unknown key "created" is ignored`,
			`8:17: mcpServers[0].isolation.log_max_size: "log_max_size" is MCPProxy's setting; mcpproxy ignores it`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if tt.problems != nil {
				if got := problemLines(t, err); !reflect.DeepEqual(got, tt.problems) {
					t.Errorf("problems:\n got %q\nwant %q", got, tt.problems)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range c.Warnings {
				got = append(got, w.String())
			}
			if !reflect.DeepEqual(got, tt.warnings) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tt.warnings)
			}
		})
	}
}

// TestCompatModes pins how MCPProxy's "mode" is judged: ignored with a
// warning when mcpproxy isolates at least as much as MCPProxy would, an
// error when it would isolate less.
func TestCompatModes(t *testing.T) {
	server := func(iso string) string {
		return `{"docker_isolation": {"enabled": true}, "mcpServers": [{"name": "a", "command": "x", "isolation": ` + iso + `}]}`
	}
	tests := []struct {
		in      string
		problem string // "" when it loads
		warning string
	}{
		{`{"docker_isolation": {"enabled": true, "mode": "docker"}}`, "",
			`docker_isolation.mode: "mode" is MCPProxy's setting; mcpproxy ignores it (servers already run in a container)`},
		{`{"docker_isolation": {"enabled": false, "mode": "docker"}}`,
			`docker_isolation.mode: "mode": "docker" asks for isolation, but mcpproxy has no "mode" and would run servers on the host: set "enabled": true (in docker_isolation, and not false in the server's isolation block) and remove "mode"`, ""},
		{`{"docker_isolation": {"mode": "sandbox"}}`,
			`docker_isolation.mode: "mode": "sandbox" (MCPProxy's host sandbox) does not exist in mcpproxy, which would run servers on the host unconfined: set "enabled": true to run them in containers, or remove "mode" to run them on the host`, ""},
		{`{"docker_isolation": {"enabled": true, "mode": "sandbox"}}`, "",
			`docker_isolation.mode: "mode" is MCPProxy's setting; mcpproxy ignores it (servers already run in a container)`},
		{`{"docker_isolation": {"enabled": true, "mode": "none"}}`, "",
			`docker_isolation.mode: "mode" is MCPProxy's setting; mcpproxy ignores it and isolates as "enabled" says`},
		{`{"docker_isolation": {"mode": "vm"}}`,
			`docker_isolation.mode: must be "docker", "sandbox" or "none" (MCPProxy's isolation mode; mcpproxy uses "enabled" instead: remove it)`, ""},
		{server(`{"mode": "docker"}`), "",
			`mcpServers[0].isolation.mode: "mode" is MCPProxy's setting; mcpproxy ignores it (this server already run in a container)`},
		{server(`{"mode": "docker", "enabled": false}`),
			`mcpServers[0].isolation.mode: "mode": "docker" asks for isolation, but mcpproxy has no "mode" and would run this server on the host: set "enabled": true (in docker_isolation, and not false in the server's isolation block) and remove "mode"`, ""},
		{server(`{"mode": "none"}`), "",
			`mcpServers[0].isolation.mode: "mode" is MCPProxy's setting; mcpproxy ignores it and isolates as "enabled" says`},
		{`{"mcpServers": [{"name": "a", "command": "x", "isolation": {"mode": "docker"}}]}`,
			`mcpServers[0].isolation.mode: "mode": "docker" asks for isolation, but mcpproxy has no "mode" and would run this server on the host: set "enabled": true (in docker_isolation, and not false in the server's isolation block) and remove "mode"`, ""},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.in))
		if tt.problem != "" {
			var ve *ValidationError
			if err == nil || !strings.Contains(err.Error(), tt.problem) || (asVE(err, &ve) && len(ve.Problems) != 1) {
				t.Errorf("%s:\n got error %v\nwant %s", tt.in, err, tt.problem)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if len(c.Warnings) != 1 || !strings.HasSuffix(c.Warnings[0].String(), tt.warning) {
			t.Errorf("%s:\n got warnings %v\nwant %s", tt.in, c.Warnings, tt.warning)
		}
	}
}

// TestEveryKeyIsDecoded sets each known key of every block, one at a time,
// to a value of its field's type, and checks the decoder stores it: a field
// added to a struct (hence a known key) without a decoder case fails here.
func TestEveryKeyIsDecoded(t *testing.T) {
	blocks := []struct {
		typ  reflect.Type
		wrap func(member string) string
		get  func(c *Config) reflect.Value
	}{
		{reflect.TypeOf(Config{}), func(m string) string { return "{" + m + "}" },
			func(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() }},
		{reflect.TypeOf(DockerIsolation{}), func(m string) string { return `{"docker_isolation": {` + m + "}}" },
			func(c *Config) reflect.Value { return reflect.ValueOf(&c.DockerIsolation).Elem() }},
		{reflect.TypeOf(Kubernetes{}), func(m string) string { return `{"docker_isolation": {"kubernetes": {` + m + "}}}" },
			func(c *Config) reflect.Value { return reflect.ValueOf(&c.DockerIsolation.Kubernetes).Elem() }},
		{reflect.TypeOf(Telemetry{}), func(m string) string { return `{"telemetry": {` + m + "}}" },
			func(c *Config) reflect.Value { return reflect.ValueOf(&c.Telemetry).Elem() }},
		{reflect.TypeOf(Server{}), func(m string) string { return `{"mcpServers": [{` + m + "}]}" },
			func(c *Config) reflect.Value { return reflect.ValueOf(c.Servers[0]).Elem() }},
		{reflect.TypeOf(ServerIsolation{}), func(m string) string { return `{"mcpServers": [{"isolation": {` + m + "}}]}" },
			func(c *Config) reflect.Value { return reflect.ValueOf(c.Servers[0].Isolation).Elem() }},
	}
	for _, b := range blocks {
		for i := range b.typ.NumField() {
			f := b.typ.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if key == "" || key == "-" {
				continue
			}
			t.Run(b.typ.Name()+"."+key, func(t *testing.T) {
				val, ok := sampleJSON(f.Type)
				if !ok {
					return // a nested block: covered by its own rows
				}
				def := newDecoder(nil).config(mustParse(t, b.wrap("")))
				base := b.get(def).Field(i)
				if val == "bool" { // the opposite of the default
					val = fmt.Sprint(!(base.Kind() == reflect.Bool && base.Bool()))
				}
				data := []byte(b.wrap(fmt.Sprintf("%q: %s", key, val)))
				root, err := hujson.Parse(data)
				if err != nil {
					t.Fatal(err)
				}
				d := newDecoder(data)
				c := d.config(&root)
				if len(d.problems) > 0 {
					t.Fatalf("decoding %s: %v", data, d.problems)
				}
				got := b.get(c).Field(i)
				if reflect.DeepEqual(got.Interface(), base.Interface()) {
					t.Errorf("%s: key %q was not decoded into %s (add a case to the decoder)", data, key, f.Name)
				}
			})
		}
	}
}

func asVE(err error, ve **ValidationError) bool {
	v, ok := err.(*ValidationError)
	*ve = v
	return ok
}

func mustParse(t *testing.T, s string) *hujson.Value {
	t.Helper()
	v, err := hujson.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

// sampleJSON is a JSON value of type t unlike every default; "bool" for
// booleans, whose value the caller picks against the default.
func sampleJSON(t reflect.Type) (string, bool) {
	switch {
	case t == reflect.TypeOf(Duration(0)):
		return `"7s"`, true
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct,
		t.Kind() == reflect.Struct,
		t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Pointer:
		return "", false
	case t.Kind() == reflect.Pointer:
		return sampleJSON(t.Elem())
	}
	var v any
	switch t.Kind() {
	case reflect.String:
		v = "sample-value"
	case reflect.Bool:
		return "bool", true
	case reflect.Int, reflect.Int64:
		v = 7
	case reflect.Slice:
		v = []string{"sample"}
	case reflect.Map:
		v = map[string]string{"sample": "value"}
	default:
		return "", false
	}
	b, _ := json.Marshal(v)
	return string(b), true
}
