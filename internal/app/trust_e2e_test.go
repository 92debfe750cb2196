package app

// End-to-end proof that no MCP client can loosen the box (issue 7): every
// refused upstream_servers change is tried through a real MCP client against
// the running proxy, and checked by its effect — the config file, the
// processes and containers that ran, what the server can read.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// manage calls upstream_servers with args and returns the result's text and
// whether it is an error.
func manage(t testing.TB, cs *mcp.ClientSession, args map[string]any) (string, bool) {
	t.Helper()
	res := callTool(t, cs, "upstream_servers", args)
	return resultText(res), res.IsError
}

// hostCanary is a file a command would create on the host if it ran there.
type hostCanary string

func newCanary(t testing.TB) hostCanary {
	return hostCanary(filepath.Join(t.TempDir(), "ran-on-host"))
}

// shell is a command line that creates the canary when run.
func (c hostCanary) shell() []string { return []string{"-c", "id > " + string(c)} }

func (c hostCanary) assertAbsent(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(string(c)); err == nil {
		t.Fatalf("a refused command ran on the host: %s exists", c)
	}
}

// Every isolation-loosening change an MCP client tries through
// upstream_servers is refused with the field named and where it can be set;
// the config file keeps every byte, nothing runs on the host, no container
// starts; a server added with the allowed fields runs isolated and cannot
// read a host file.
func TestMCPClientCannotLoosenIsolation(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	canary := newCanary(t)
	secretFile := filepath.Join(t.TempDir(), "host-secret.txt")
	secret := "host-secret-" + randomHex(t, 8)
	if err := os.WriteFile(secretFile, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	caseLabel := "mcpproxy-e2e.case=loosen-" + randomHex(t, 4)
	trusted := isoServer("trusted", image, map[string]any{"network_mode": "none"}, "/mcpfixture")
	h := startIsolated(t, isoConfig(t, map[string]any{"default_images": map[string]any{"binary": image}}, trusted))
	cs := h.connect("/mcp", nil)
	readyInContainer(t, cs, "trusted", 60*time.Second)
	before, err := os.ReadFile(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	sh := func(extra map[string]any) map[string]any {
		s := map[string]any{"name": "evil", "command": "/bin/sh", "args": canary.shell()}
		for k, v := range extra {
			s[k] = v
		}
		return s
	}
	dangerousArgs := []string{"--pid=host", "--cap-add=SYS_ADMIN", "--security-opt", "seccomp=unconfined", "-v", "/var/run/docker.sock:/var/run/docker.sock"}
	for _, tc := range []struct {
		name  string
		args  map[string]any
		field string
	}{
		{"add opted out", map[string]any{"operation": "add", "server": sh(map[string]any{"isolation": map[string]any{"enabled": false}})}, "isolation.enabled"},
		{"add extra_args", map[string]any{"operation": "add", "server": sh(map[string]any{"isolation": map[string]any{"extra_args": dangerousArgs}})}, "isolation.extra_args"},
		{"add network host", map[string]any{"operation": "add", "server": sh(map[string]any{"isolation": map[string]any{"network_mode": "host"}})}, "isolation.network_mode"},
		{"add image", map[string]any{"operation": "add", "server": sh(map[string]any{"isolation": map[string]any{"image": "alpine:3.18"}})}, "isolation.image"},
		{"add container workdir", map[string]any{"operation": "add", "server": sh(map[string]any{"isolation": map[string]any{"working_dir": "/host"}})}, "isolation.working_dir"},
		{"add memory", map[string]any{"operation": "add", "server": sh(map[string]any{"isolation": map[string]any{"memory_limit": "64g"}})}, "isolation.memory_limit"},
		{"add cpu", map[string]any{"operation": "add", "server": sh(map[string]any{"isolation": map[string]any{"cpu_limit": "16"}})}, "isolation.cpu_limit"},
		{"add mounts", map[string]any{"operation": "add", "server": sh(map[string]any{"isolation": map[string]any{"mounts": []string{"/:/host"}}})}, "isolation.mounts"},
		{"add hardened off", map[string]any{"operation": "add", "server": sh(map[string]any{"isolation": map[string]any{"hardened": false}})}, "isolation.hardened"},
		{"add allow_dangerous", map[string]any{"operation": "add", "server": sh(map[string]any{"isolation": map[string]any{"allow_dangerous": true}})}, "isolation.allow_dangerous"},
		{"add pids_limit", map[string]any{"operation": "add", "server": sh(map[string]any{"isolation": map[string]any{"pids_limit": 0}})}, "isolation.pids_limit"},
		{"add host workdir", map[string]any{"operation": "add", "server": sh(map[string]any{"working_dir": "/"})}, "working_dir"},
		{"add docker_isolation", map[string]any{"operation": "add", "server": sh(map[string]any{"docker_isolation": map[string]any{"enabled": false}})}, "docker_isolation"},
		{"add quarantined false", map[string]any{"operation": "add", "server": sh(map[string]any{"quarantined": false})}, "quarantined"},
		{"add future field", map[string]any{"operation": "add", "server": sh(map[string]any{"privileged_mode": true})}, "privileged_mode"},
		{"add LD_PRELOAD", map[string]any{"operation": "add", "server": sh(map[string]any{"env": map[string]string{"LD_PRELOAD": "/tmp/x.so"}})}, "env.LD_PRELOAD"},
		{"add DOCKER_HOST", map[string]any{"operation": "add", "server": sh(map[string]any{"env": map[string]string{"DOCKER_HOST": "unix:///tmp/other.sock"}})}, "env.DOCKER_HOST"},
		{"add docker command", map[string]any{"operation": "add", "server": map[string]any{"name": "dind", "command": "docker",
			"args": []string{"run", "-i", "--rm", "--label", caseLabel, "-v", filepath.Dir(secretFile) + ":/host", image, "/mcpfixture"}}}, "command"},
		{"update opt out", map[string]any{"operation": "update", "name": "trusted", "server": map[string]any{"isolation": map[string]any{"enabled": false}}}, "isolation.enabled"},
		{"update extra_args", map[string]any{"operation": "update", "name": "trusted", "server": map[string]any{"isolation": map[string]any{"extra_args": dangerousArgs}}}, "isolation.extra_args"},
		{"update network host", map[string]any{"operation": "update", "name": "trusted", "server": map[string]any{"isolation": map[string]any{"network_mode": "host"}}}, "isolation.network_mode"},
		{"update to docker", map[string]any{"operation": "update", "name": "trusted", "server": map[string]any{"command": "docker",
			"args": []string{"run", "-i", "--rm", "--label", caseLabel, image, "/mcpfixture"}}}, "command"},
		{"update global", map[string]any{"operation": "update", "name": "trusted", "docker_isolation": map[string]any{"enabled": false}}, "docker_isolation"},
	} {
		text, isErr := manage(t, cs, tc.args)
		if !isErr {
			t.Errorf("%s: accepted: %s", tc.name, text)
			continue
		}
		for _, sub := range []string{tc.field, "config file", "authenticated"} {
			if !strings.Contains(text, sub) {
				t.Errorf("%s: refusal %q does not mention %q", tc.name, text, sub)
			}
		}
		after, _ := os.ReadFile(h.cfgPath)
		if !bytes.Equal(before, after) {
			t.Fatalf("%s: the config file changed:\n%s", tc.name, after)
		}
	}
	for _, name := range []string{"evil", "dind"} {
		if h.app.Manager().Get(name) != nil {
			t.Fatalf("a refused server %q is configured", name)
		}
	}
	canary.assertAbsent(t)
	if ids := dockerOut(t, "ps", "-aq", "--filter", "label="+caseLabel); ids != "" {
		t.Fatalf("a refused docker command started containers: %s", ids)
	}
	// The trusted server is untouched: still in its container, network none.
	v := readyInContainer(t, cs, "trusted", 10*time.Second)
	if v.Isolation.NetworkMode != "none" {
		t.Fatalf("trusted server's network: %+v", v.Isolation)
	}

	// What an MCP client may do: add the hostile fixture with the allowed
	// fields. It runs in a container and cannot read the host file.
	text, isErr := manage(t, cs, map[string]any{"operation": "add", "server": map[string]any{"name": "hostile", "command": "/mcpfixture", "args": []string{"-name", "hostile"}}})
	if isErr {
		t.Fatalf("add with allowed fields: %s", text)
	}
	approve(t, h, "hostile")
	readyInContainer(t, cs, "hostile", 60*time.Second)
	res := callTool(t, cs, "call_tool", map[string]any{"name": "hostile:read_file", "args": map[string]any{"path": secretFile}})
	if !res.IsError || strings.Contains(resultText(res), secret) {
		t.Fatalf("the client-added server read the host file: %q", resultText(res))
	}
	// An update with allowed fields keeps the trusted server's isolation
	// block (a field-level merge, not a replacement).
	if text, isErr := manage(t, cs, map[string]any{"operation": "update", "name": "trusted", "server": map[string]any{"args": []string{"-name", "renamed"}}}); isErr {
		t.Fatalf("update with allowed fields: %s", text)
	}
	var cfg struct {
		Servers []struct {
			Name      string         `json:"name"`
			Args      []string       `json:"args"`
			Isolation map[string]any `json:"isolation"`
		} `json:"mcpServers"`
	}
	b, _ := os.ReadFile(h.cfgPath)
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, s := range cfg.Servers {
		if s.Name == "trusted" && (s.Isolation["network_mode"] != "none" || s.Isolation["image"] != image || len(s.Args) != 2) {
			t.Fatalf("after an MCP update the trusted server is %+v", s)
		}
	}
	canary.assertAbsent(t)
}

// With docker isolation off an opt-out or a host working_dir is still
// refused, and nothing runs on the host.
func TestMCPClientRefusalsWithIsolationOff(t *testing.T) {
	t.Parallel()
	canary := newCanary(t)
	h := startApp(t, hostConfig(t))
	cs := h.connect("/mcp", nil)
	before, _ := os.ReadFile(h.cfgPath)
	for _, extra := range []map[string]any{
		{"isolation": map[string]any{"enabled": false}},
		{"working_dir": "/"},
		{"env": map[string]string{"LD_PRELOAD": "/tmp/x.so"}},
	} {
		s := map[string]any{"name": "evil", "command": "/bin/sh", "args": canary.shell()}
		for k, v := range extra {
			s[k] = v
		}
		if text, isErr := manage(t, cs, map[string]any{"operation": "add", "server": s}); !isErr {
			t.Fatalf("%v accepted: %s", extra, text)
		}
	}
	after, _ := os.ReadFile(h.cfgPath)
	if !bytes.Equal(before, after) || h.app.Manager().Get("evil") != nil {
		t.Fatalf("a refused add reached the config:\n%s", after)
	}
	canary.assertAbsent(t)
}

// approve lets a person approve a server the way the API does. (Before
// quarantine exists this only waits for the server to be configured.)
func approve(t testing.TB, h *harness, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.app.Manager().Get(name) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("server %q never configured", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
