package trust

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

func isoOn() Env {
	g := config.DefaultDockerIsolation()
	g.Enabled = true
	return Env{Global: g, DockerPath: "/usr/bin/docker", ConfigPath: "/home/me/.mcpproxy/mcp_config.json"}
}

func isoOff() Env {
	e := isoOn()
	e.Global.Enabled = false
	return e
}

func wantRefused(t *testing.T, err error, field string) {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("want a refusal of %s, got %v", field, err)
	}
	if re.Field != field {
		t.Fatalf("refused field %q, want %q (%v)", re.Field, field, err)
	}
	for _, sub := range []string{field, "/home/me/.mcpproxy/mcp_config.json", "authenticated"} {
		if !strings.Contains(err.Error(), sub) {
			t.Fatalf("refusal %q does not mention %q", err, sub)
		}
	}
}

// Every way an MCP client could loosen a server's box is refused, on add and
// on update, with the field named and where a person can set it.
func TestClientRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, server, field string
		env                 Env
	}{
		{"opt out", `{"name":"x","command":"/bin/sh","isolation":{"enabled":false}}`, "isolation.enabled", isoOn()},
		{"opt out while off", `{"name":"x","command":"/bin/sh","isolation":{"enabled":false}}`, "isolation.enabled", isoOff()},
		{"extra args", `{"name":"x","command":"node","isolation":{"extra_args":["--pid=host","--cap-add=SYS_ADMIN"]}}`, "isolation.extra_args", isoOn()},
		{"network host", `{"name":"x","command":"node","isolation":{"network_mode":"host"}}`, "isolation.network_mode", isoOn()},
		{"network none", `{"name":"x","command":"node","isolation":{"network_mode":"none"}}`, "isolation.network_mode", isoOn()},
		{"image", `{"name":"x","command":"node","isolation":{"image":"evil/image"}}`, "isolation.image", isoOn()},
		{"container workdir", `{"name":"x","command":"node","isolation":{"working_dir":"/"}}`, "isolation.working_dir", isoOn()},
		{"memory", `{"name":"x","command":"node","isolation":{"memory_limit":"64g"}}`, "isolation.memory_limit", isoOn()},
		{"cpu", `{"name":"x","command":"node","isolation":{"cpu_limit":"64"}}`, "isolation.cpu_limit", isoOn()},
		{"mounts", `{"name":"x","command":"node","isolation":{"mounts":["/:/host"]}}`, "isolation.mounts", isoOn()},
		{"hardened", `{"name":"x","command":"node","isolation":{"hardened":false}}`, "isolation.hardened", isoOn()},
		{"allow dangerous", `{"name":"x","command":"node","isolation":{"allow_dangerous":true}}`, "isolation.allow_dangerous", isoOn()},
		{"pids", `{"name":"x","command":"node","isolation":{"pids_limit":0}}`, "isolation.pids_limit", isoOn()},
		{"opt-in plus more", `{"name":"x","command":"node","isolation":{"enabled":true,"network_mode":"host"}}`, "isolation.network_mode", isoOn()},
		{"isolation null", `{"name":"x","command":"node","isolation":null}`, "isolation", isoOn()},
		{"host workdir", `{"name":"x","command":"node","working_dir":"/etc"}`, "working_dir", isoOn()},
		{"global block", `{"name":"x","command":"node","docker_isolation":{"enabled":false}}`, "docker_isolation", isoOn()},
		{"quarantine flag", `{"name":"x","command":"node","quarantined":false}`, "quarantined", isoOn()},
		{"unknown field", `{"name":"x","command":"node","some_future_field":1}`, "some_future_field", isoOn()},
		{"docker command", `{"name":"x","command":"docker","args":["run","-v","/:/host","alpine"]}`, "command", isoOn()},
		{"docker by path", `{"name":"x","command":"/usr/bin/docker","args":["run","alpine"]}`, "command", isoOn()},
		{"docker resolved", `{"name":"x","command":"/opt/bin/dkr","args":["run","alpine"]}`, "command", func() Env { e := isoOn(); e.DockerPath = "/opt/bin/dkr"; return e }()},
		{"preload", `{"name":"x","command":"node","env":{"LD_PRELOAD":"/tmp/x.so"}}`, "env.LD_PRELOAD", isoOn()},
		{"docker host", `{"name":"x","command":"node","env":{"DOCKER_HOST":"tcp://10.0.0.1:2375"}}`, "env.DOCKER_HOST", isoOn()},
		{"docker config", `{"name":"x","command":"node","env":{"docker_config":"/tmp"}}`, "env.docker_config", isoOn()},
		{"path", `{"name":"x","command":"node","env":{"PATH":"/tmp"}}`, "env.PATH", isoOn()},
		{"shim token", `{"name":"x","command":"node","env":{"MCPPROXY_SHIM_TOKEN":"x"}}`, "env.MCPPROXY_SHIM_TOKEN", isoOn()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ClientAdd(json.RawMessage(tc.server), "", tc.env)
			wantRefused(t, err, tc.field)
			old := &config.Server{Name: "x", Command: "node", Isolation: &config.ServerIsolation{NetworkMode: "none"}}
			if tc.field == "command" {
				return // an update keeping the command is covered below
			}
			_, err = ClientUpdate(old, json.RawMessage(tc.server), tc.env)
			wantRefused(t, err, tc.field)
		})
	}
}

// A field config.Server gains later is closed to MCP clients until someone
// adds it to ClientKeys: every JSON key of config.Server and
// ServerIsolation outside the allow-list is refused.
func TestEveryOtherServerFieldIsRefused(t *testing.T) {
	keys := jsonKeys(reflect.TypeFor[config.Server]())
	for _, k := range ClientKeys {
		if !slices.Contains(keys, k) {
			t.Fatalf("ClientKeys names %q, which config.Server does not have", k)
		}
	}
	for _, k := range keys {
		if slices.Contains(ClientKeys, k) {
			continue
		}
		f, _ := fieldByKey(reflect.TypeFor[config.Server](), k)
		val, _ := json.Marshal(sample(f.Type))
		raw := `{"name":"x","command":"node",` + jsonString(k) + `:` + string(val) + `}`
		_, err := ClientAdd(json.RawMessage(raw), "", isoOn())
		var re *RefusedError
		if !errors.As(err, &re) || !strings.HasPrefix(re.Field, k) {
			t.Errorf("config.Server key %q (%s): want a refusal, got %v", k, raw, err)
		}
	}
	for _, k := range jsonKeys(reflect.TypeFor[config.ServerIsolation]()) {
		f, _ := fieldByKey(reflect.TypeFor[config.ServerIsolation](), k)
		val, _ := json.Marshal(sample(f.Type))
		if k == "enabled" {
			val = []byte("false")
		}
		raw := `{"name":"x","command":"node","isolation":{` + jsonString(k) + `:` + string(val) + `}}`
		_, err := ClientAdd(json.RawMessage(raw), "", isoOn())
		var re *RefusedError
		if !errors.As(err, &re) || re.Field != "isolation."+k {
			t.Errorf("isolation key %q (%s): want a refusal, got %v", k, raw, err)
		}
	}
}

func jsonKeys(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		if k := jsonKey(f); k != "" {
			out = append(out, k)
		}
	}
	return out
}

func jsonKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if jsonKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// sample is a non-zero value of type t, as JSON would carry it.
func sample(t reflect.Type) any {
	switch t.Kind() {
	case reflect.Pointer:
		return sample(t.Elem())
	case reflect.String:
		return "x"
	case reflect.Bool:
		return true
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Float64:
		return 1
	case reflect.Slice:
		return []any{sample(t.Elem())}
	case reflect.Map:
		return map[string]any{"k": sample(t.Elem())}
	case reflect.Struct:
		m := map[string]any{}
		for f := range t.Fields() {
			if k := jsonKey(f); k != "" {
				m[k] = sample(f.Type)
			}
		}
		return m
	}
	return 1
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestClientAddAllowed(t *testing.T) {
	for _, tc := range []struct {
		name, server, argName string
		env                   Env
		want                  config.Server
		changed               []string
	}{
		{"stdio", `{"name":"fs","command":"npx","args":["-y","pkg"],"env":{"TOKEN":"t0k3n"},"enabled":false}`, "", isoOn(),
			config.Server{Name: "fs", Command: "npx", Args: []string{"-y", "pkg"}, Env: map[string]string{"TOKEN": "t0k3n"}, Enabled: new(false), Quarantined: true},
			[]string{"command", "args", "env"}},
		{"http", `{"url":"https://example.com/mcp","headers":{"Authorization":"Bearer x"}}`, "remote", isoOn(),
			config.Server{Name: "remote", URL: "https://example.com/mcp", Headers: map[string]string{"Authorization": "Bearer x"}, Quarantined: true},
			[]string{"url", "headers"}},
		{"opt-in is harmless", `{"name":"py","command":"uvx","isolation":{"enabled":true}}`, "py", isoOn(),
			config.Server{Name: "py", Command: "uvx", Quarantined: true}, []string{"command"}},
		{"docker while isolation is off", `{"name":"d","command":"docker","args":["run","x"]}`, "", isoOff(),
			config.Server{Name: "d", Command: "docker", Args: []string{"run", "x"}, Quarantined: true}, []string{"command", "args"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := ClientAdd(json.RawMessage(tc.server), tc.argName, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*ch.Server, tc.want) {
				t.Fatalf("server %+v, want %+v", *ch.Server, tc.want)
			}
			if !slices.Equal(ch.Changed, tc.changed) {
				t.Fatalf("changed %v, want %v", ch.Changed, tc.changed)
			}
		})
	}
	if _, err := ClientAdd(json.RawMessage(`{"name":"a","command":"x"}`), "b", isoOn()); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Fatalf("name disagreement: %v", err)
	}
	if _, err := ClientAdd(json.RawMessage(`{"command":"x"}`), "", isoOn()); err == nil || !strings.Contains(err.Error(), "name is required") {
		t.Fatalf("no name: %v", err)
	}
	if _, err := ClientAdd(json.RawMessage(`["x"]`), "", isoOn()); err == nil {
		t.Fatal("an array is not a server")
	}
	if _, err := ClientAdd(json.RawMessage(`{"name":"x","command":"n","args":"-y"}`), "", isoOn()); err == nil || !strings.Contains(err.Error(), "server.args: must be an array of strings") {
		t.Fatalf("bad args: %v", err)
	}
}

// An update changes only the fields it names; everything a person set that
// clients may not touch (isolation, working_dir, unknown future fields)
// keeps its value.
func TestClientUpdateMerges(t *testing.T) {
	old := &config.Server{
		Name: "trusted", Command: "node", Args: []string{"server.js"}, WorkingDir: "/srv",
		Env:       map[string]string{"TOKEN": "secret", "MODE": "prod"},
		Isolation: &config.ServerIsolation{NetworkMode: "none", MemoryLimit: "128m", ExtraArgs: []string{"--read-only"}},
	}
	ch, err := ClientUpdate(old, json.RawMessage(`{"args":["server.js","--verbose"],"env":{"MODE":null,"LEVEL":"debug"}}`), isoOn())
	if err != nil {
		t.Fatal(err)
	}
	want := old.Clone()
	want.Args = []string{"server.js", "--verbose"}
	want.Env = map[string]string{"TOKEN": "secret", "LEVEL": "debug"}
	want.Quarantined = true // what a trusted server runs changed
	if !reflect.DeepEqual(ch.Server, want) {
		t.Fatalf("merged %+v\nwant %+v", ch.Server, want)
	}
	if !slices.Equal(ch.Changed, []string{"args", "env"}) || !ch.Relaunches() {
		t.Fatalf("changed %v", ch.Changed)
	}
	if old.Env["MODE"] != "prod" {
		t.Fatal("the old server was modified")
	}

	ch, err = ClientUpdate(old, json.RawMessage(`{"enabled":false,"name":"trusted"}`), isoOn())
	if err != nil || ch.Relaunches() || ch.Server.IsEnabled() || ch.Server.Quarantined {
		t.Fatalf("enabled only: %+v %v", ch, err)
	}
	// The same values again change nothing a trusted server runs.
	ch, err = ClientUpdate(old, json.RawMessage(`{"command":"node","args":["server.js"],"env":{"MODE":"prod"}}`), isoOn())
	if err != nil || ch.Relaunches() || ch.Server.Quarantined {
		t.Fatalf("same values: %+v %v", ch, err)
	}
	// An update of a quarantined server never releases it.
	q := old.Clone()
	q.Quarantined = true
	if ch, err = ClientUpdate(q, json.RawMessage(`{"enabled":true}`), isoOn()); err != nil || !ch.Server.Quarantined {
		t.Fatalf("update of a quarantined server: %+v %v", ch, err)
	}
	if _, err := ClientUpdate(old, json.RawMessage(`{"name":"other"}`), isoOn()); err == nil {
		t.Fatal("a rename must be refused")
	}
}

// While isolation is on, an MCP client cannot change what a server that
// runs outside a container executes (a hand-written opt-out or a docker
// command), nor what a server whose box a person loosened by hand
// (allow_dangerous) runs, but may still disable them.
func TestClientUpdateOfUnisolatedServer(t *testing.T) {
	optOut := &config.Server{Name: "host", Command: "node", Isolation: &config.ServerIsolation{Enabled: new(false)}}
	_, err := ClientUpdate(optOut, json.RawMessage(`{"args":["-e","evil()"]}`), isoOn())
	wantRefused(t, err, "command")
	if !strings.Contains(err.Error(), "would not run in a container") {
		t.Fatalf("refusal: %v", err)
	}
	if _, err := ClientUpdate(optOut, json.RawMessage(`{"enabled":false}`), isoOn()); err != nil {
		t.Fatalf("disabling: %v", err)
	}
	loose := &config.Server{Name: "l", Command: "node", Isolation: &config.ServerIsolation{AllowDangerous: true, ExtraArgs: []string{"--privileged"}}}
	_, err = ClientUpdate(loose, json.RawMessage(`{"args":["evil.js"]}`), isoOn())
	wantRefused(t, err, "args")
	if _, err := ClientUpdate(loose, json.RawMessage(`{"enabled":false}`), isoOn()); err != nil {
		t.Fatalf("disabling a loosened server: %v", err)
	}
	dind := &config.Server{Name: "d", Command: "docker", Args: []string{"run", "img"}}
	_, err = ClientUpdate(dind, json.RawMessage(`{"args":["run","-v","/:/host","img"]}`), isoOn())
	wantRefused(t, err, "command")
	ch, err := ClientUpdate(dind, json.RawMessage(`{"command":"node","args":["x.js"]}`), isoOn())
	if err != nil || !ch.Relaunches() {
		t.Fatalf("turning a docker server into an isolated one: %+v %v", ch, err)
	}
}
