package app

// End-to-end proof that no MCP client can loosen the box (issue 7): every
// refused upstream_servers change is tried through a real MCP client against
// the running proxy, and checked by its effect — the config file, the
// processes and containers that ran, what the server can read.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/control"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
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
	if isErr || !strings.Contains(text, `"quarantined": true`) {
		t.Fatalf("add with allowed fields: %s", text)
	}
	// Quarantined: configured, no container, no tools, until approved.
	v = waitServer(t, cs, "hostile", 10*time.Second, "quarantined", func(v ServerView) bool { return v.State == upstream.StateQuarantined })
	if v.Quarantine == nil || !strings.Contains(v.Quarantine.Reason, "added by an MCP client") || !strings.Contains(v.Quarantine.Approve, "mcpproxy upstream approve hostile") {
		t.Fatalf("list view of the quarantined server: %+v", v.Quarantine)
	}
	if ids := dockerOut(t, "ps", "-aq", "--filter", "label="+isolation.LabelServer+"=hostile", "--filter", "label="+isolation.LabelInstance+"="+h.app.iso.instance.ID); ids != "" {
		t.Fatalf("a quarantined server has containers: %s", ids)
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

// approve approves a quarantined server through the authenticated API, as
// a person would (the CLI and the web UI call the same route).
func approve(t testing.TB, h *harness, name string) {
	t.Helper()
	code, body := h.api(http.MethodPost, "/api/v1/servers/"+name+"/approve", "")
	var res struct {
		Name           string `json:"name"`
		WasQuarantined bool   `json:"was_quarantined"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &res) != nil || res.Name != name || !res.WasQuarantined {
		t.Fatalf("approve %s: %d %s", name, code, body)
	}
}

// retrieveNames returns the "server:tool" names retrieve_tools finds.
func retrieveNames(t testing.TB, cs *mcp.ClientSession, query string) []string {
	t.Helper()
	res := callTool(t, cs, "retrieve_tools", map[string]any{"query": query, "limit": 100})
	var out struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal([]byte(resultText(res)), &out); err != nil {
		t.Fatalf("retrieve_tools: %v: %s", err, resultText(res))
	}
	var names []string
	for _, tl := range out.Tools {
		names = append(names, tl.Name)
	}
	return names
}

// A server an MCP client adds is written quarantined and runs nothing —
// not on enable, not on restart — and shows no tool on any endpoint until a
// person approves it; then it works. An MCP update of what a trusted
// server runs stops it and quarantines it again.
func TestQuarantineUntilApproved(t *testing.T) {
	t.Parallel()
	bin := testutil.FixtureBinary(t)
	canary := newCanary(t)
	h := startApp(t, hostConfig(t, stdioServer("trusted", bin, "-name", "trusted")))
	h.waitState("trusted", upstream.StateReady, 30*time.Second)
	cs := h.connect("/mcp", nil)

	// The command records every start in the canary file.
	starter := []string{"-c", "echo started >> " + string(canary) + " && exec " + bin}
	text, isErr := manage(t, cs, map[string]any{"operation": "add", "server": map[string]any{"name": "q", "command": "/bin/sh", "args": starter}})
	if isErr || !strings.Contains(text, "quarantined") {
		t.Fatalf("add: %s", text)
	}
	b, _ := os.ReadFile(h.cfgPath)
	var file struct {
		Servers []map[string]any `json:"mcpServers"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if q := file.Servers[len(file.Servers)-1]; q["name"] != "q" || q["quarantined"] != true {
		t.Fatalf("the file holds %v", q)
	}
	h.waitState("q", upstream.StateQuarantined, 10*time.Second)
	for _, args := range []map[string]any{
		{"operation": "enable", "name": "q"},
		{"operation": "restart", "name": "q"},
		{"operation": "update", "name": "q", "server": map[string]any{"enabled": true}},
	} {
		if text, isErr := manage(t, cs, args); isErr {
			t.Fatalf("%v: %s", args, text)
		}
		h.waitState("q", upstream.StateQuarantined, 10*time.Second)
	}
	assertHidden := func(server string) {
		t.Helper()
		for _, n := range retrieveNames(t, cs, "echo text unchanged") {
			if strings.HasPrefix(n, server+":") {
				t.Fatalf("retrieve_tools lists %s", n)
			}
		}
		res := callTool(t, cs, "call_tool", map[string]any{"name": server + ":echo", "args": map[string]any{"text": "x"}})
		if !res.IsError || !strings.Contains(resultText(res), "quarantined") {
			t.Fatalf("call_tool %s:echo: %s", server, resultText(res))
		}
		c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.url("/mcp/" + server)}, nil); err == nil {
			s.Close()
			t.Fatalf("/mcp/%s answers initialize while quarantined", server)
		} else if !strings.Contains(err.Error(), "quarantined") {
			t.Fatalf("/mcp/%s: %v", server, err)
		}
	}
	assertHidden("q")
	canary.assertAbsent(t)
	v, _ := findServer(listServers(t, cs), "q")
	if v.Quarantine == nil || !strings.Contains(v.Quarantine.Reason, "added by an MCP client") {
		t.Fatalf("list view: %+v", v)
	}
	// An MCP client cannot approve: it has no route and no field for it.
	if text, isErr := manage(t, cs, map[string]any{"operation": "update", "name": "q", "server": map[string]any{"quarantined": false}}); !isErr {
		t.Fatalf("an MCP client released quarantine: %s", text)
	}
	if code, _ := apiRequest(t, http.MethodPost, h.url("/api/v1/servers/q/approve"), "", ""); code != http.StatusUnauthorized {
		t.Fatalf("approve without the key: %d", code)
	}
	canary.assertAbsent(t)

	approve(t, h, "q")
	h.waitState("q", upstream.StateReady, 30*time.Second)
	if _, err := os.Stat(string(canary)); err != nil {
		t.Fatalf("the approved server did not start: %v", err)
	}
	res := callTool(t, cs, "call_tool", map[string]any{"name": "q:echo", "args": map[string]any{"text": "approved"}})
	if res.IsError || resultText(res) != "approved" {
		t.Fatalf("q:echo after approval: %s", resultText(res))
	}
	if b, _ := os.ReadFile(h.cfgPath); strings.Contains(string(b), "quarantined") {
		t.Fatalf("approval left the flag in the file:\n%s", b)
	}
	// Approving again changes nothing.
	if code, body := h.api(http.MethodPost, "/api/v1/servers/q/approve", ""); code != http.StatusOK || !strings.Contains(string(body), `"was_quarantined": false`) {
		t.Fatalf("second approval: %d %s", code, body)
	}
	if code, _ := h.api(http.MethodPost, "/api/v1/servers/nosuch/approve", ""); code != http.StatusNotFound {
		t.Fatalf("approve of an unknown server: %d", code)
	}

	// A prompt-injected client swaps what the trusted server runs: the
	// server stops and waits for a person again.
	text, isErr = manage(t, cs, map[string]any{"operation": "update", "name": "trusted", "server": map[string]any{"command": "/bin/sh", "args": starter}})
	if isErr || !strings.Contains(text, "quarantined") {
		t.Fatalf("update of the trusted server: %s", text)
	}
	h.waitState("trusted", upstream.StateQuarantined, 10*time.Second)
	assertHidden("trusted")
	v, _ = findServer(listServers(t, cs), "trusted")
	if v.Quarantine == nil || !strings.Contains(v.Quarantine.Reason, "args, command changed by an MCP client") {
		t.Fatalf("list view of the re-quarantined server: %+v", v.Quarantine)
	}
	b, _ = os.ReadFile(string(canary))
	if n := strings.Count(string(b), "started"); n != 1 {
		t.Fatalf("the swapped command ran %d times before approval", n-1)
	}
}

// Approvals and MCP edits at the same time never lose one another's change
// and never corrupt the file; the comments stay.
func TestConcurrentApprovalsAndEdits(t *testing.T) {
	t.Parallel()
	bin := testutil.FixtureBinary(t)
	h := startApp(t, "{\n  // keep this comment\n  \"docker_isolation\": {\"enabled\": false},\n  \"mcpServers\": []\n}\n")
	cs := h.connect("/mcp", nil)
	const n = 8
	for i := range n {
		if text, isErr := manage(t, cs, map[string]any{"operation": "add", "server": map[string]any{"name": fmt.Sprintf("s%d", i), "command": bin, "enabled": false}}); isErr {
			t.Fatal(text)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4*n)
	for i := range n {
		name := fmt.Sprintf("s%d", i)
		wg.Add(3)
		go func() {
			defer wg.Done()
			if code, body := h.api(http.MethodPost, "/api/v1/servers/"+name+"/approve", ""); code != http.StatusOK {
				errs <- fmt.Sprintf("approve %s: %d %s", name, code, body)
			}
		}()
		go func() {
			defer wg.Done()
			if text, isErr := manage(t, cs, map[string]any{"operation": "add", "server": map[string]any{"name": "new" + name, "command": bin, "enabled": false}}); isErr {
				errs <- text
			}
		}()
		go func() {
			defer wg.Done()
			if text, isErr := manage(t, cs, map[string]any{"operation": "update", "name": name, "server": map[string]any{"env": map[string]string{"N": name}}}); isErr {
				errs <- text
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	b, err := os.ReadFile(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, string(b), "// keep this comment")
	cfg, err := config.Parse(b)
	if err != nil {
		t.Fatalf("the file is corrupt: %v\n%s", err, b)
	}
	for i := range n {
		name := fmt.Sprintf("s%d", i)
		s, added := cfg.Server(name), cfg.Server("new"+name)
		if s == nil || added == nil || s.Env["N"] != name || !added.Quarantined {
			t.Fatalf("lost an update of %s: %+v %+v\n%s", name, s, added, b)
		}
		// The env change and the approval race; whichever came last decides
		// the flag, but both are in the file: an env change after the
		// approval quarantines again, one before it was approved.
	}
	if fi, _ := os.Stat(h.cfgPath); fi.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v", fi.Mode().Perm())
	}
}

// An MCP client in a loop (a prompt-injected agent) cannot grow the config
// file and the approval list without bound: once control.MaxWaiting
// servers wait in quarantine, further adds are refused and the file stays
// as it was; removing one makes room again.
func TestQuarantineHoldsAtMostMaxWaiting(t *testing.T) {
	t.Parallel()
	canary := newCanary(t)
	h := startApp(t, hostConfig(t))
	cs := h.connect("/mcp", nil)
	add := func(i int) (string, bool) {
		return manage(t, cs, map[string]any{"operation": "add", "server": map[string]any{
			"name": fmt.Sprintf("flood-%d", i), "command": "/bin/sh", "args": canary.shell()}})
	}
	for i := range control.MaxWaiting {
		if text, isErr := add(i); isErr {
			t.Fatalf("add %d: %s", i, text)
		}
	}
	before, err := os.ReadFile(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	text, isErr := add(control.MaxWaiting)
	if !isErr || !strings.Contains(text, fmt.Sprintf("%d servers already wait in quarantine", control.MaxWaiting)) || !strings.Contains(text, "approve or remove some first") {
		t.Fatalf("add past the limit: error %v: %s", isErr, text)
	}
	if after, _ := os.ReadFile(h.cfgPath); !bytes.Equal(after, before) {
		t.Fatalf("the refused add changed the config file:\n%s", after)
	}
	if text, isErr := manage(t, cs, map[string]any{"operation": "remove", "name": "flood-0"}); isErr {
		t.Fatalf("remove: %s", text)
	}
	if text, isErr := add(control.MaxWaiting); isErr {
		t.Fatalf("add after a removal: %s", text)
	}
	canary.assertAbsent(t)
}
