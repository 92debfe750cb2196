package app

// Host folders reach the container (issue 10, item 1), against the real
// engine: the folders a server names in its args are mounted read-only at
// the same path, isolation.mounts may make one writable, nothing else of
// the host is there, and the data dir never is.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// memoryServerJS is the reference memory server's entry point in
// testutil.NodeImage.
const memoryServerJS = "/peers/node_modules/@modelcontextprotocol/server-memory/dist/index.js"

// hostFolder makes a folder outside the test's data dir (which is never
// mounted) that the container's user can use whoever it is: mode 0755, or
// 0777 when writable. The folder's parents are /tmp's.
func hostFolder(t testing.TB, writable bool) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mcpproxy-servers-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	mode := os.FileMode(0o755)
	if writable {
		mode = 0o777
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeHostFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mountsOf returns the list view's mounts of a server as "source→target
// mode reason" lines.
func mountsOf(v ServerView) []string {
	var out []string
	if v.Isolation == nil {
		return nil
	}
	for _, m := range v.Isolation.Mounts {
		out = append(out, m.Source+"→"+m.Target+" "+m.Mode+" "+m.Reason)
	}
	return out
}

// The filesystem server, isolated with the defaults and given a host
// folder in its args, reads a file there and cannot write there; a server
// of the same proxy cannot read a host file outside the folder. The list
// view and the debug log name the mount and why.
func TestMountFolderInArgsReadOnly(t *testing.T) {
	t.Parallel()
	image := testutil.NodeImage(t)
	fixture := testutil.FixtureImage(t)
	dir := hostFolder(t, false)
	outside := hostFolder(t, false)
	greeting := "hello from the host " + randomHex(t, 4)
	writeHostFile(t, filepath.Join(dir, "hello.txt"), greeting)
	secret := "outside " + randomHex(t, 8)
	writeHostFile(t, filepath.Join(outside, "secret.txt"), secret)

	h := startIsolated(t, isoConfig(t, nil,
		isoServer("fs", image, nil, "node", fsServerJS, dir),
		isoServer("probe", fixture, nil, "/mcpfixture", dir)))
	cs := h.connect("/mcp", nil)
	v := readyInContainer(t, cs, "fs", 90*time.Second)
	readyInContainer(t, cs, "probe", 60*time.Second)
	npm := cacheVolumeOf(t, v).Source // node servers get an npm cache too
	if got, want := mountsOf(v), []string{dir + "→" + dir + " ro args[1]", npm + "→" + isolation.HardenedHome + "/.npm rw package cache (npm)"}; !slices.Equal(got, want) {
		t.Fatalf("list view mounts %q, want %q", got, want)
	}

	fs := h.connect("/mcp/fs", nil)
	res := callTool(t, fs, "read_text_file", map[string]any{"path": filepath.Join(dir, "hello.txt")})
	if res.IsError || !strings.Contains(resultText(res), greeting) {
		t.Fatalf("read_text_file in the mounted folder: %q (isError %v)", resultText(res), res.IsError)
	}
	res = callTool(t, fs, "write_file", map[string]any{"path": filepath.Join(dir, "new.txt"), "content": "x"})
	if !res.IsError {
		t.Fatalf("write_file in a read-only folder succeeded: %s", resultText(res))
	}
	mustContain(t, resultText(res), "read-only file system")
	if _, err := os.Stat(filepath.Join(dir, "new.txt")); err == nil {
		t.Fatal("the file was written on the host")
	}

	// Outside the folder the host is not there at all (the container's own
	// check, not the server's: the probe reads any path it is given).
	probe := h.connect("/mcp/probe", nil)
	res = callTool(t, probe, "read_file", map[string]any{"path": filepath.Join(dir, "hello.txt")})
	if res.IsError || resultText(res) != greeting {
		t.Fatalf("probe read in the folder: %q", resultText(res))
	}
	res = callTool(t, probe, "read_file", map[string]any{"path": filepath.Join(outside, "secret.txt")})
	if !res.IsError || strings.Contains(resultText(res), secret) {
		t.Fatalf("a host file outside the folder was read: %q", resultText(res))
	}
	mustContain(t, resultText(res), "no such file")
	res = callTool(t, probe, "read_file", map[string]any{"path": filepath.Join(h.dataDir, "mcp_config.json")})
	if !res.IsError {
		t.Fatalf("the data dir's config was read inside: %q", resultText(res))
	}

	mustContain(t, mainLog(t, h), `msg="docker isolation: mount" server=fs type=bind source=`+dir+` target=`+dir+` mode=ro reason=args[1]`)
	mustContain(t, mainLog(t, h), "--mount type=bind,src="+dir+",dst="+dir+",readonly")
}

// With the folder in isolation.mounts as ":rw" the filesystem server
// writes there, and the file is on the host.
func TestMountFolderReadWrite(t *testing.T) {
	t.Parallel()
	image := testutil.NodeImage(t)
	dir := hostFolder(t, true)
	h := startIsolated(t, isoConfig(t, nil,
		isoServer("fs", image, map[string]any{"mounts": []string{dir + ":rw"}}, "node", fsServerJS, dir)))
	cs := h.connect("/mcp", nil)
	v := readyInContainer(t, cs, "fs", 90*time.Second)
	npm := cacheVolumeOf(t, v).Source
	if got, want := mountsOf(v), []string{dir + "→" + dir + " rw isolation.mounts[0]", npm + "→" + isolation.HardenedHome + "/.npm rw package cache (npm)"}; !slices.Equal(got, want) {
		t.Fatalf("list view mounts %q, want %q (the arg is seen through the rw mount)", got, want)
	}
	content := "written inside " + randomHex(t, 4)
	res := callTool(t, h.connect("/mcp/fs", nil), "write_file", map[string]any{"path": filepath.Join(dir, "new.txt"), "content": content})
	if res.IsError {
		t.Fatalf("write_file in a rw mount: %s", resultText(res))
	}
	b, err := os.ReadFile(filepath.Join(dir, "new.txt"))
	if err != nil || string(b) != content {
		t.Fatalf("on the host: %q, %v", b, err)
	}
}

// The memory server with its memory file under a rw mount keeps its graph
// across a restart of the proxy.
func TestMountMemoryServerSurvivesRestart(t *testing.T) {
	t.Parallel()
	image := testutil.NodeImage(t)
	dir := hostFolder(t, true)
	memFile := filepath.Join(dir, "memory.jsonl")
	s := isoServer("memory", image, map[string]any{"mounts": []string{dir + ":rw"}}, "node", memoryServerJS)
	s["env"] = map[string]string{"MEMORY_FILE_PATH": memFile}
	cfg := isoConfig(t, nil, s)
	dataDir := t.TempDir()
	start := func() *harness {
		return startAppWith(t, cfg, func(o *Options) {
			o.DataDir = dataDir
			o.ConfigPath = filepath.Join(dataDir, "mcp_config.json")
		})
	}
	if err := os.WriteFile(filepath.Join(dataDir, "mcp_config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	entity := "Entity-" + randomHex(t, 4)
	h := start()
	cs := h.connect("/mcp", nil)
	readyInContainer(t, cs, "memory", 90*time.Second)
	res := callTool(t, h.connect("/mcp/memory", nil), "create_entities", map[string]any{"entities": []map[string]any{
		{"name": entity, "entityType": "test", "observations": []string{"kept across a restart"}},
	}})
	if res.IsError {
		t.Fatalf("create_entities: %s", resultText(res))
	}
	h.stop()
	if b, err := os.ReadFile(memFile); err != nil || !strings.Contains(string(b), entity) {
		t.Fatalf("memory file on the host: %q, %v", b, err)
	}

	h2 := start()
	cs2 := h2.connect("/mcp", nil)
	readyInContainer(t, cs2, "memory", 90*time.Second)
	res = callTool(t, h2.connect("/mcp/memory", nil), "read_graph", map[string]any{})
	if res.IsError || !strings.Contains(resultText(res), entity) || !strings.Contains(resultText(res), "kept across a restart") {
		t.Fatalf("read_graph after the restart: %s", resultText(res))
	}
}

// A mount of the data dir passes config validation (which does not know
// where the data dir is) but the start refuses it: the server is not
// started at all, and the error names the field.
func TestMountOfDataDirRefusedAtStart(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	dataDir := t.TempDir()
	logs := filepath.Join(dataDir, "logs")
	cfg := isoConfig(t, nil, isoServer("greedy", image, map[string]any{"mounts": []string{logs}}, "/mcpfixture"))
	if err := os.WriteFile(filepath.Join(dataDir, "mcp_config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.RequireDocker(t)
	h := startAppWith(t, cfg, func(o *Options) {
		o.DataDir = dataDir
		o.ConfigPath = filepath.Join(dataDir, "mcp_config.json")
	})
	st := h.waitState("greedy", upstream.StateError, 30*time.Second)
	mustContain(t, st.Error, `docker isolation refused this server's plan: isolation.mounts[0] "`+logs+`": refused: it would give the container mcpproxy's data directory (`)
	if ids := containersOf(t, "docker", h.app.iso.instance.ID); len(ids) != 0 {
		t.Fatalf("a container was started: %v", ids)
	}
	got := clientError(t, h.connect("/mcp", nil), "greedy", "echo")
	mustContain(t, got, "isolation.mounts[0]")
	var l ServerList
	_ = json.Unmarshal([]byte(resultText(callTool(t, h.connect("/mcp", nil), "upstream_servers", map[string]any{"operation": "list"}))), &l)
	if v, _ := findServer(l, "greedy"); v.Isolation == nil || !v.Isolation.Isolated {
		t.Fatalf("list view: %+v", v.Isolation)
	}
}

// A server an MCP client adds with a host folder in its args waits in
// quarantine, and the person approving it sees that its container would
// see that folder; nothing runs before.
func TestClientAddedServerShowsHostPaths(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	dir := hostFolder(t, false)
	h := startIsolated(t, isoConfig(t, map[string]any{"default_images": map[string]any{"binary": image}}))
	cs := h.connect("/mcp", nil)
	text, isErr := manage(t, cs, map[string]any{"operation": "add", "server": map[string]any{"name": "reader", "command": "/mcpfixture", "args": []string{dir}}})
	if isErr || !strings.Contains(text, `"quarantined": true`) {
		t.Fatalf("add: %s", text)
	}
	v := waitServer(t, cs, "reader", 10*time.Second, "quarantined", func(v ServerView) bool { return v.State == upstream.StateQuarantined })
	if v.Quarantine == nil || !slices.Equal(v.Quarantine.Launch.HostPaths, []string{dir + " (ro, args[0])"}) {
		t.Fatalf("quarantine view: %+v", v.Quarantine)
	}
	if ids := containersOf(t, "docker", h.app.iso.instance.ID); len(ids) != 0 {
		t.Fatalf("a quarantined server has containers: %v", ids)
	}
	approve(t, h, "reader")
	readyInContainer(t, cs, "reader", 60*time.Second)
}
