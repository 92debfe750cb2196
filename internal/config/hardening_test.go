package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestHardeningKeys(t *testing.T) {
	c, err := Parse([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.DockerIsolation.Hardened || c.DockerIsolation.PidsLimit != 256 {
		t.Errorf("defaults: hardened %v pids_limit %d, want true 256", c.DockerIsolation.Hardened, c.DockerIsolation.PidsLimit)
	}
	c, err = Parse([]byte(`{
		"docker_isolation": {"hardened": false, "pids_limit": 1024},
		"mcpServers": [{"name": "a", "command": "x", "isolation": {"hardened": true, "pids_limit": 64}}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.DockerIsolation.Hardened || c.DockerIsolation.PidsLimit != 1024 {
		t.Errorf("docker_isolation = %+v", c.DockerIsolation)
	}
	n, yes := int64(64), true
	want := &ServerIsolation{Hardened: &yes, PidsLimit: &n}
	if got := c.Servers[0].Isolation; !reflect.DeepEqual(got, want) {
		t.Errorf("isolation = %+v, want %+v", got, want)
	}
	clone := c.Clone().Servers[0].Isolation
	*clone.Hardened, *clone.PidsLimit = false, 1
	if *c.Servers[0].Isolation.Hardened != true || *c.Servers[0].Isolation.PidsLimit != 64 {
		t.Error("Clone shares the pointers of hardened/pids_limit")
	}
}

func TestHardeningProblems(t *testing.T) {
	const pidsMsg = "must be a whole number from 1 to 4194304: the most processes the container may run (default 256)"
	srv := func(iso string) string {
		return `{"mcpServers": [{"name": "a", "command": "x", "isolation": ` + iso + `}]}`
	}
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"pids_limit zero", `{"docker_isolation": {"pids_limit": 0}}`, []string{`1:37: docker_isolation.pids_limit: ` + pidsMsg}},
		{"pids_limit negative", `{"docker_isolation": {"pids_limit": -1}}`, []string{`1:37: docker_isolation.pids_limit: ` + pidsMsg}},
		{"pids_limit too big", `{"docker_isolation": {"pids_limit": 5000000}}`, []string{`1:37: docker_isolation.pids_limit: ` + pidsMsg}},
		{"pids_limit string", `{"docker_isolation": {"pids_limit": "256"}}`, []string{`1:37: docker_isolation.pids_limit: must be a whole number such as 256`}},
		{"pids_limit fraction", `{"docker_isolation": {"pids_limit": 1.5}}`, []string{`1:37: docker_isolation.pids_limit: must be a whole number such as 256`}},
		{"server pids_limit", srv(`{"pids_limit": 0}`), []string{`1:75: mcpServers[0].isolation.pids_limit: ` + pidsMsg}},
		{"hardened type", `{"docker_isolation": {"hardened": "yes"}}`, []string{`1:35: docker_isolation.hardened: must be true or false`}},
		{"server hardened type", srv(`{"hardened": 0}`), []string{`1:73: mcpServers[0].isolation.hardened: must be true or false`}},
		{"allow_dangerous type", srv(`{"allow_dangerous": "true"}`), []string{`1:80: mcpServers[0].isolation.allow_dangerous: must be true or false`}},
		{"global extra_args", `{"docker_isolation": {"extra_args": ["--rm", "--privileged"]}}`, []string{
			`1:46: docker_isolation.extra_args[1]: "--privileged" gives every isolated container every capability and every host device; remove it; allow_dangerous does not apply to the global settings: if one server really needs it, set it in that server's isolation block and write "allow_dangerous": true there by hand`}},
		{"global network_mode", `{"docker_isolation": {"network_mode": "host"}}`, []string{
			`1:39: docker_isolation.network_mode: "host" gives every isolated container the host's network stack (every host port and loopback service); use "bridge" or "none"; allow_dangerous does not apply to the global settings: if one server really needs it, set it in that server's isolation block and write "allow_dangerous": true there by hand`}},
		{"server extra_args", srv(`{"extra_args": ["--cap-add", "SYS_ADMIN", "-v", "/:/host"]}`), []string{
			`1:76: mcpServers[0].isolation.extra_args[0]: "--cap-add SYS_ADMIN" gives the container Linux capabilities beyond Docker's default set; remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand`,
			`1:102: mcpServers[0].isolation.extra_args[2]: "-v /:/host" gives the container the host's whole filesystem; remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand`}},
		{"relative bind and env-file", srv(`{"extra_args": ["-v", "../..:/h", "--env-file", "/proc/1/environ", "--cidfile", "/tmp/c"]}`), []string{
			`1:76: mcpServers[0].isolation.extra_args[0]: "-v ../..:/h" gives the container the host folder "../.." names relative to mcpproxy's working directory, wherever mcpproxy was started (the home directory, or / with enough ".."); write an absolute path; remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand`,
			`1:94: mcpServers[0].isolation.extra_args[2]: "--env-file /proc/1/environ" gives the container the contents of a host file as its environment: host kernel and process state (/proc); remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand`,
			`1:127: mcpServers[0].isolation.extra_args[4]: "--cidfile /tmp/c" gives the container a file the docker CLI writes on the host (in place of mcpproxy's own container-ID file); remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand`}},
		{"server network_mode", srv(`{"network_mode": "container:db"}`), []string{
			`1:77: mcpServers[0].isolation.network_mode: "container:db" gives the container another container's network namespace; remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand`}},
		{"allow_dangerous of one server does not cover the global args", `{"docker_isolation": {"extra_args": ["--pid=host"]},
			"mcpServers": [{"name": "a", "command": "x", "isolation": {"allow_dangerous": true, "extra_args": ["--pid=host"]}}]}`, []string{
			`1:38: docker_isolation.extra_args[0]: "--pid=host" gives every isolated container the host's process namespace; remove it; allow_dangerous does not apply to the global settings: if one server really needs it, set it in that server's isolation block and write "allow_dangerous": true there by hand`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if got := problemLines(t, err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n    "), strings.Join(tt.want, "\n    "))
			}
		})
	}
}

func TestAllowDangerous(t *testing.T) {
	c, err := Parse([]byte(`{"mcpServers": [
		{"name": "a", "command": "x", "isolation": {"allow_dangerous": true, "extra_args": ["--cap-add=NET_ADMIN"], "network_mode": "host"}},
		{"name": "b", "command": "x", "isolation": {"allow_dangerous": true, "extra_args": ["--cap-drop=ALL"]}}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range c.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		`2:87: mcpServers[0].isolation.extra_args[0]: allowed by "allow_dangerous": true: "--cap-add=NET_ADMIN" gives the container Linux capabilities beyond Docker's default set`,
		`2:127: mcpServers[0].isolation.network_mode: allowed by "allow_dangerous": true: "host" gives the container the host's network stack (every host port and loopback service)`,
		`3:66: mcpServers[1].isolation.allow_dangerous: has no effect: nothing in this server's extra_args, network_mode or mounts needs it; remove it`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n got %s\nwant %s", strings.Join(got, "\n    "), strings.Join(want, "\n    "))
	}
	if !c.Servers[0].Isolation.AllowDangerous {
		t.Error("allow_dangerous not decoded")
	}
	// Validate (an in-memory configuration) applies the same rule.
	c.Servers[0].Isolation.AllowDangerous = false
	if err := Validate(c); err == nil || !strings.Contains(err.Error(), `"--cap-add=NET_ADMIN" gives the container`) {
		t.Errorf("Validate = %v, want the --cap-add problem", err)
	}
}

// The engine socket DOCKER_HOST names may live in a folder whose name says
// nothing (a rootless or relocated engine): binding that folder is refused
// as holding the engine's socket, and so is the SSH agent's folder.
func TestBindOfTheEnginesSocketFolderRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_HOST", "unix://"+dir+"/engine/run/docker.sock")
	t.Setenv("SSH_AUTH_SOCK", dir+"/agent/sock")
	if got := AgentSockets(); !reflect.DeepEqual(got, []string{dir + "/agent/sock", dir + "/engine/run/docker.sock"}) {
		t.Fatalf("AgentSockets() = %v", got)
	}
	srv := func(bind string) string {
		return `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"extra_args": ["-v", "` + bind + `"]}}]}`
	}
	for bind, want := range map[string]string{
		dir + "/engine:/e:ro": "a container engine's socket (" + dir + "/engine/run/docker.sock): control of the host",
		dir + "/agent:/a:ro":  "a socket that hands out the user's credentials or control of the host (" + dir + "/agent/sock)",
	} {
		_, err := Parse([]byte(srv(bind)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("-v %s: %v, want %q", bind, err, want)
		}
	}
	if _, err := Parse([]byte(srv(dir + "/elsewhere:/x:ro"))); err != nil {
		t.Errorf("-v of an unrelated folder: %v", err)
	}
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
	t.Setenv("SSH_AUTH_SOCK", "")
	if got := AgentSockets(); len(got) != 0 {
		t.Errorf("AgentSockets() with a TCP engine and no agent = %v", got)
	}
}
