package app

// End-to-end proof of docker isolation (issue 3, "How it is checked") against
// the real Docker engine: every test runs mcpproxy with stdio servers inside
// containers of locally built images (testutil.FixtureImage, EverythingImage,
// NodeImage) and checks what the server sees from inside, what docker says
// about the container, and what the proxy reports.
//
// Network rule: the tests only ever connect to 127.0.0.0/8, to containers
// they started, or to listeners they opened themselves (on the host side of
// the default docker bridge). Nothing is pulled from the internet: the pull
// failure test points the registry at a local listener of its own.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/logging"
	"github.com/mcpproxy/mcpproxy/internal/machine"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// TestMain exports DOCKER_HOST (the engine the docker CLI's current context
// uses) when neither DOCKER_HOST nor DOCKER_CONTEXT is set. mcpproxy then
// execs the docker CLI directly, as the spec prescribes for an exported
// daemon environment. Without it, on Linux every docker call goes through
// `$SHELL -l -c`, which here costs about half a second per call in rc files
// (pyenv rehash among them) and multiplies across the parallel tests; the
// wrap's branches are unit-tested with fakes in internal/docker.
func TestMain(m *testing.M) {
	if os.Getenv("DOCKER_HOST") == "" && os.Getenv("DOCKER_CONTEXT") == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, "docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}").Output()
		cancel()
		if host := strings.TrimSpace(string(out)); err == nil && host != "" {
			os.Setenv("DOCKER_HOST", host)
		}
	}
	os.Exit(m.Run())
}

// ---------------------------------------------------------------- helpers

// isoConfig is a config with global docker isolation on (plus extra global
// keys) and the given servers.
func isoConfig(t testing.TB, global map[string]any, servers ...map[string]any) string {
	g := map[string]any{"enabled": true}
	for k, v := range global {
		g[k] = v
	}
	return jsonConfig(t, map[string]any{"docker_isolation": g, "mcpServers": servers})
}

// isoServer is a stdio server whose per-server isolation runs it from image;
// iso adds per-server isolation keys (network_mode, memory_limit, …).
func isoServer(name, image string, iso map[string]any, command string, args ...string) map[string]any {
	si := map[string]any{"image": image}
	for k, v := range iso {
		si[k] = v
	}
	s := stdioServer(name, command, args...)
	s["isolation"] = si
	return s
}

// startIsolated starts the proxy like startApp and, at cleanup, stops it and
// removes (by ID) any container still labelled with its instance, so that a
// failing test leaves nothing behind.
func startIsolated(t *testing.T, cfg string) *harness {
	t.Helper()
	dockerPath := testutil.RequireDocker(t)
	h := startApp(t, cfg)
	inst := h.app.iso.instance.ID
	t.Cleanup(func() {
		h.stop()
		for _, id := range containersOf(t, dockerPath, inst) {
			t.Logf("removing leftover container %s of instance %s", id, inst)
			_ = exec.Command(dockerPath, "rm", "--force", "--volumes", id).Run()
		}
	})
	return h
}

// dockerOut runs docker and returns its trimmed stdout; it fails t on error.
func dockerOut(t testing.TB, args ...string) string {
	t.Helper()
	out, err := dockerRun(args...)
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func dockerRun(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// containersOf lists the IDs of all containers (running or not) labelled as
// belonging to mcpproxy instance inst.
func containersOf(t testing.TB, dockerPath, inst string) []string {
	t.Helper()
	out, err := exec.Command(dockerPath, "ps", "-aq", "--no-trunc", "--filter", "label="+isolation.LabelInstance+"="+inst).Output()
	if err != nil {
		t.Errorf("docker ps: %v", err)
		return nil
	}
	return strings.Fields(string(out))
}

// containerExists reports whether docker knows a container by this ID.
func containerExists(id string) bool {
	_, err := dockerRun("container", "inspect", "--format", "{{.Id}}", id)
	return err == nil
}

// removeContainersAtCleanup force-removes the containers by ID when t ends.
func removeContainersAtCleanup(t testing.TB, ids ...string) {
	t.Cleanup(func() {
		for _, id := range ids {
			if id != "" {
				_, _ = dockerRun("rm", "--force", "--volumes", id)
			}
		}
	})
}

// assertInstanceContainersGone checks, after the proxy stopped, that no
// container labelled with its instance exists any more.
func assertInstanceContainersGone(t *testing.T, h *harness) {
	t.Helper()
	inst := h.app.iso.instance.ID
	if ids := containersOf(t, "docker", inst); len(ids) > 0 {
		t.Fatalf("after shutdown, `docker ps -a --filter label=%s=%s` still lists %v", isolation.LabelInstance, inst, ids)
	}
}

// listServers calls upstream_servers list through the aggregate endpoint.
func listServers(t testing.TB, cs *mcp.ClientSession) ServerList {
	t.Helper()
	res := callTool(t, cs, "upstream_servers", map[string]any{"operation": "list"})
	if res.IsError {
		t.Fatalf("upstream_servers list: %s", resultText(res))
	}
	var l ServerList
	if err := json.Unmarshal([]byte(resultText(res)), &l); err != nil {
		t.Fatalf("upstream_servers list: %v\n%s", err, resultText(res))
	}
	return l
}

func findServer(l ServerList, name string) (ServerView, bool) {
	for _, s := range l.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return ServerView{}, false
}

// waitServer polls upstream_servers list until ok accepts the server's view.
func waitServer(t testing.TB, cs *mcp.ClientSession, name string, timeout time.Duration, what string, ok func(ServerView) bool) ServerView {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last ServerView
	for {
		if v, found := findServer(listServers(t, cs), name); found {
			last = v
			if ok(v) {
				return v
			}
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(last, "", "  ")
			t.Fatalf("server %q: not %s after %s; last view:\n%s", name, what, timeout, b)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// readyInContainer waits until name is ready in a container whose ID is known.
func readyInContainer(t testing.TB, cs *mcp.ClientSession, name string, timeout time.Duration) ServerView {
	t.Helper()
	return waitServer(t, cs, name, timeout, "ready in a container", func(v ServerView) bool {
		return v.State == upstream.StateReady && v.Isolation != nil && v.Isolation.Isolated && v.Isolation.ContainerID != ""
	})
}

func whoami(t testing.TB, cs *mcp.ClientSession) testutil.FixtureIdentity {
	t.Helper()
	res := callTool(t, cs, "whoami", map[string]any{})
	if res.IsError {
		t.Fatalf("whoami: %s", resultText(res))
	}
	var id testutil.FixtureIdentity
	if err := json.Unmarshal([]byte(resultText(res)), &id); err != nil {
		t.Fatalf("whoami: %v: %s", err, resultText(res))
	}
	return id
}

// listPIDsVia calls server's list_pids through the aggregate call_tool.
func listPIDsVia(t testing.TB, cs *mcp.ClientSession, server string) []testutil.FixtureProcess {
	t.Helper()
	res := callTool(t, cs, "call_tool", map[string]any{"name": server + ":list_pids"})
	if res.IsError {
		t.Fatalf("%s:list_pids: %s", server, resultText(res))
	}
	var procs []testutil.FixtureProcess
	if err := json.Unmarshal([]byte(resultText(res)), &procs); err != nil {
		t.Fatalf("%s:list_pids: %v: %s", server, err, resultText(res))
	}
	return procs
}

func listPIDs(t testing.TB, cs *mcp.ClientSession) []testutil.FixtureProcess {
	t.Helper()
	res := callTool(t, cs, "list_pids", map[string]any{})
	if res.IsError {
		t.Fatalf("list_pids: %s", resultText(res))
	}
	var procs []testutil.FixtureProcess
	if err := json.Unmarshal([]byte(resultText(res)), &procs); err != nil {
		t.Fatalf("list_pids: %v: %s", err, resultText(res))
	}
	return procs
}

// hostProcesses counts the processes visible in the host's /proc.
func hostProcesses(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	return n
}

// tryCall calls a tool and returns the error instead of failing t.
func tryCall(cs *mcp.ClientSession, name string, args any, timeout time.Duration) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func mainLog(t testing.TB, h *harness) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dataDir, "logs", logging.MainLogName))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ------------------------------------------------------------------ tests

// The conformance suite through /mcp/everything, with the reference server
// running inside a container: 40 of 40.
func TestIsolatedConformance(t *testing.T) {
	t.Parallel()
	image := testutil.EverythingImage(t)
	testutil.RequireShared(t)
	h := startIsolated(t, isoConfig(t, nil, isoServer("everything", image, nil, "/everything-server")))
	cs := h.connect("/mcp", nil)
	v := readyInContainer(t, cs, "everything", 60*time.Second)
	if v.Isolation.Image != image || !strings.HasPrefix(v.Isolation.ContainerName, "mcpproxy-everything-") {
		t.Fatalf("isolation info: %+v", v.Isolation)
	}
	res := testutil.Conformance(t, h.url("/mcp/everything"))
	if res.Failed != 0 || res.Passed != 40 {
		t.Fatalf("conformance through /mcp/everything (server in a container): %d passed, %d failed, want 40/0\n%s", res.Passed, res.Failed, res.Output)
	}
	// It really ran in that container the whole time.
	if after, _ := findServer(listServers(t, cs), "everything"); after.Isolation == nil || after.Isolation.ContainerID != v.Isolation.ContainerID || after.Restarts != 0 {
		t.Fatalf("the server was restarted or left its container during the suite: %+v", after)
	}
}

// The isolated server has its own PID namespace: it sees only its own
// processes, starting at pid 1; a host server in the same proxy sees the host.
func TestIsolationPIDNamespace(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	hostBin := testutil.FixtureBinary(t)
	host := stdioServer("onhost", hostBin)
	host["isolation"] = map[string]any{"enabled": false}
	h := startIsolated(t, isoConfig(t, nil, isoServer("boxed", image, nil, "/mcpfixture"), host))
	cs := h.connect("/mcp", nil)
	readyInContainer(t, cs, "boxed", 60*time.Second)
	h.waitState("onhost", upstream.StateReady, 30*time.Second)

	inside := listPIDs(t, h.connect("/mcp/boxed", nil))
	hostCount := hostProcesses(t)
	hasPID1 := slices.ContainsFunc(inside, func(p testutil.FixtureProcess) bool { return p.PID == 1 })
	hasServer := slices.ContainsFunc(inside, func(p testutil.FixtureProcess) bool { return strings.HasPrefix(p.Cmdline, "/mcpfixture") })
	if !hasPID1 || !hasServer {
		t.Fatalf("inside the container the numbering starts at pid 1 and the server is there; list_pids: %+v", inside)
	}
	if len(inside) > 3 {
		t.Fatalf("the container sees %d processes, want only its own (≤ 3): %+v", len(inside), inside)
	}
	me := fmt.Sprint(os.Getpid())
	for _, p := range inside {
		// PID 1 is the container's own init: the stdio shim (or
		// docker-init where the shim is not used).
		if p.PID == 1 && (strings.HasPrefix(p.Cmdline, "/.mcpproxy/shim ") || strings.HasPrefix(p.Cmdline, "/sbin/docker-init -- ")) {
			continue
		}
		if strings.Contains(p.Cmdline, "docker") || strings.Contains(p.Cmdline, os.Args[0]) {
			t.Fatalf("the container sees a host process: %+v", p)
		}
	}
	if hostCount < len(inside)+5 {
		t.Fatalf("host /proc has %d processes, the container %d: expected the host to have many more", hostCount, len(inside))
	}

	// The control: the same tool on the host sees the host's processes,
	// this test among them.
	onHost := listPIDs(t, h.connect("/mcp/onhost", nil))
	if len(onHost) < hostCount/2 || !slices.ContainsFunc(onHost, func(p testutil.FixtureProcess) bool { return fmt.Sprint(p.PID) == me }) {
		t.Fatalf("host server sees %d processes (host has %d) and not the test (pid %s)", len(onHost), hostCount, me)
	}
	t.Logf("container sees %d process(es) %v; host /proc has %d", len(inside), inside, hostCount)
}

// A canary file the test writes on the host cannot be read inside; the same
// tool of a host server reads it.
func TestIsolationFilesystem(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	hostBin := testutil.FixtureBinary(t)
	canary := filepath.Join(t.TempDir(), "canary.txt")
	secret := "canary-" + randomHex(t, 8)
	if err := os.WriteFile(canary, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	host := stdioServer("onhost", hostBin)
	host["isolation"] = map[string]any{"enabled": false}
	h := startIsolated(t, isoConfig(t, nil, isoServer("boxed", image, nil, "/mcpfixture"), host))
	cs := h.connect("/mcp", nil)
	readyInContainer(t, cs, "boxed", 60*time.Second)
	h.waitState("onhost", upstream.StateReady, 30*time.Second)

	boxed := h.connect("/mcp/boxed", nil)
	res := callTool(t, boxed, "read_file", map[string]any{"path": canary})
	if !res.IsError || strings.Contains(resultText(res), secret) {
		t.Fatalf("read_file %s inside the container: want an error, got %q (isError %v)", canary, resultText(res), res.IsError)
	}
	mustContain(t, resultText(res), "no such file")
	// The file system inside is the container's: /etc/hostname holds its
	// own hostname, not the host's.
	res = callTool(t, boxed, "read_file", map[string]any{"path": "/etc/hostname"})
	hostname, _ := os.Hostname()
	if res.IsError || strings.TrimSpace(resultText(res)) == hostname {
		t.Fatalf("/etc/hostname inside: %q (isError %v), host's is %q", resultText(res), res.IsError, hostname)
	}

	res = callTool(t, h.connect("/mcp/onhost", nil), "read_file", map[string]any{"path": canary})
	if res.IsError || resultText(res) != secret {
		t.Fatalf("control: the host server must read the canary: %q", resultText(res))
	}
}

// network_mode "none": no connection to a listener the test opened on the
// host side of the docker bridge; "bridge": the listener sees the connection.
func TestIsolationNetwork(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	testutil.RequireDocker(t)
	gw := testutil.BridgeGateway(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatalf("listen on the bridge gateway %s: %v", gw, err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	got := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			got <- c.RemoteAddr().String()
			c.Close()
		}
	}()
	addr := ln.Addr().String()

	h := startIsolated(t, isoConfig(t, nil,
		isoServer("netnone", image, map[string]any{"network_mode": "none"}, "/mcpfixture"),
		isoServer("netbridge", image, map[string]any{"network_mode": "bridge"}, "/mcpfixture")))
	cs := h.connect("/mcp", nil)
	if v := readyInContainer(t, cs, "netnone", 60*time.Second); v.Isolation.NetworkMode != "none" {
		t.Fatalf("netnone network mode %q", v.Isolation.NetworkMode)
	}
	if v := readyInContainer(t, cs, "netbridge", 60*time.Second); v.Isolation.NetworkMode != "bridge" {
		t.Fatalf("netbridge network mode %q", v.Isolation.NetworkMode)
	}

	res := callTool(t, h.connect("/mcp/netnone", nil), "dial", map[string]any{"addr": addr, "timeout_ms": 1500})
	if !res.IsError {
		t.Fatalf("network_mode none: dial %s succeeded: %s", addr, resultText(res))
	}
	t.Logf("none: dial %s: %s", addr, resultText(res))
	if n := accepted.Load(); n != 0 {
		t.Fatalf("network_mode none: the listener saw %d connection(s)", n)
	}

	res = callTool(t, h.connect("/mcp/netbridge", nil), "dial", map[string]any{"addr": addr, "timeout_ms": 5000})
	if res.IsError || resultText(res) != "ok" {
		t.Fatalf("network_mode bridge: dial %s: %s", addr, resultText(res))
	}
	select {
	case from := <-got:
		t.Logf("bridge: the listener on %s accepted a connection from %s", addr, from)
	case <-time.After(5 * time.Second):
		t.Fatal("network_mode bridge: the listener saw no connection")
	}
}

// A server that allocates past its memory_limit is OOM-killed; the proxy
// says so (state error, last_error, last_exit), keeps serving another
// isolated server, then restarts the killed one.
func TestIsolationOOMKill(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	h := startIsolated(t, isoConfig(t, nil,
		isoServer("hog", image, map[string]any{"memory_limit": "64m"}, "/mcpfixture"),
		isoServer("other", image, nil, "/mcpfixture")))
	cs := h.connect("/mcp", nil)
	first := readyInContainer(t, cs, "hog", 60*time.Second)
	readyInContainer(t, cs, "other", 60*time.Second)
	if first.Isolation.MemoryLimit != "64m" {
		t.Fatalf("hog memory limit %q", first.Isolation.MemoryLimit)
	}
	if id := whoami(t, h.connect("/mcp/hog", nil)); id.MemoryLimit != strconv.Itoa(64<<20) {
		t.Fatalf("cgroup memory limit inside: %q, want %d", id.MemoryLimit, 64<<20)
	}

	res := callTool(t, cs, "call_tool", map[string]any{"name": "hog:alloc", "args": map[string]any{"mb": 200}})
	if !res.IsError {
		t.Fatalf("alloc 200 MiB under a 64m limit succeeded: %s", resultText(res))
	}
	// The client whose call failed is told why: the session's end reason,
	// which is also the server's last_error until it reconnects (that error
	// state lasts one backoff, 250 ms: too short to be caught by looking, so
	// the reason is read where it stays — the call's result and the log).
	callErr := resultText(res)
	mustContain(t, callErr, `server "hog" ended during the call: server "hog" exited (code 137): container `+first.Isolation.ContainerName)
	mustContain(t, callErr, "OOM-killed")
	mustContain(t, callErr, "memory limit (64m)")
	t.Logf("alloc result: %s", callErr)

	// The other isolated server keeps serving meanwhile.
	res = callTool(t, cs, "call_tool", map[string]any{"name": "other:echo", "args": map[string]any{"text": "still here"}})
	if res.IsError || resultText(res) != "still here" {
		t.Fatalf("other server while hog is down: %s", resultText(res))
	}

	// last_exit keeps the reason after the restart.
	v := waitServer(t, cs, "hog", 30*time.Second, "reported OOM-killed", func(v ServerView) bool {
		return v.LastExit != nil && v.LastExit.OOMKilled
	})
	mustContain(t, v.LastExit.Reason, "OOM-killed")
	mustContain(t, v.LastExit.Reason, first.Isolation.ContainerName)
	// The error state was entered with that reason (the run loop logs it as
	// it sets it).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		line := lineWith(h.logs.String(), "upstream disconnected", "server=hog")
		if line != "" {
			mustContain(t, line, "memory limit (64m)")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no \"upstream disconnected\" line for hog in the log")
		}
	}

	// Then it restarts, in a new container, and works.
	again := waitServer(t, cs, "hog", 30*time.Second, "restarted", func(v ServerView) bool {
		return v.State == upstream.StateReady && v.Restarts >= 1 && v.Isolation != nil && v.Isolation.ContainerID != "" && v.Isolation.ContainerID != first.Isolation.ContainerID
	})
	res = callTool(t, cs, "call_tool", map[string]any{"name": "hog:echo", "args": map[string]any{"text": "back"}})
	if res.IsError || resultText(res) != "back" {
		t.Fatalf("hog after restart: %s", resultText(res))
	}
	if containerExists(first.Isolation.ContainerID) {
		t.Fatalf("the OOM-killed container %s still exists", first.Isolation.ContainerID)
	}
	t.Logf("restarted as %s", again.Isolation.ContainerName)
}

// docker inspect of the container (by the ID upstream_servers reports) shows
// the configured memory, CPUs, labels and network; after shutdown the proxy
// has removed every container of its instance.
func TestIsolationDockerInspect(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	h := startIsolated(t, isoConfig(t, nil,
		isoServer("limits", image, map[string]any{"memory_limit": "96m", "cpu_limit": "0.5", "network_mode": "none"}, "/mcpfixture")))
	cs := h.connect("/mcp", nil)
	v := readyInContainer(t, cs, "limits", 60*time.Second)
	id := v.Isolation.ContainerID
	// On a local Linux daemon the server's stdio is the shim's socket, not
	// docker's attach stream.
	if v.Isolation.Stdio != "socket" {
		t.Fatalf("isolation.stdio = %q, want \"socket\"", v.Isolation.Stdio)
	}

	var raw []struct {
		ID     string `json:"Id"`
		Name   string
		Config struct {
			Image  string
			Labels map[string]string
		}
		HostConfig struct {
			Memory      int64
			NanoCpus    int64
			NetworkMode string
		}
		State struct{ Running bool }
	}
	if err := json.Unmarshal([]byte(dockerOut(t, "inspect", id)), &raw); err != nil || len(raw) != 1 {
		t.Fatalf("docker inspect %s: %v", id, err)
	}
	c := raw[0]
	inst := h.app.iso.instance.ID
	checks := []struct {
		what      string
		got, want any
	}{
		{"ID", c.ID, id},
		{"Name", c.Name, "/" + v.Isolation.ContainerName},
		{"Image", c.Config.Image, image},
		{"Running", c.State.Running, true},
		{"HostConfig.Memory", c.HostConfig.Memory, int64(96 << 20)},
		{"HostConfig.NanoCpus", c.HostConfig.NanoCpus, int64(500_000_000)},
		{"HostConfig.NetworkMode", c.HostConfig.NetworkMode, "none"},
		{"label " + isolation.LabelManaged, c.Config.Labels[isolation.LabelManaged], "true"},
		{"label " + isolation.LabelInstance, c.Config.Labels[isolation.LabelInstance], inst},
		{"label " + isolation.LabelServer, c.Config.Labels[isolation.LabelServer], "limits"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("docker inspect %s: %s = %v, want %v", id[:12], ch.what, ch.got, ch.want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	h.stop()
	assertInstanceContainersGone(t, h)
	if containerExists(id) {
		t.Fatalf("container %s survived the proxy's shutdown", id)
	}
	// Nor is any docker CLI of this instance (docker run, docker events)
	// left running.
	if pids := processesMentioning(t, isolation.LabelInstance+"="+inst); len(pids) > 0 {
		t.Fatalf("after shutdown, processes still mention the instance: %v", pids)
	}
}

// processesMentioning lists host processes whose command line contains s.
func processesMentioning(t testing.TB, s string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			out = append(out, e.Name()+": "+string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
		}
	}
	return out
}

// An env value arrives inside the container and appears in no host process's
// command line, not in main.log and not in `docker inspect` (the stdio shim
// receives it over its socket). The docker CLI of the container is among
// the host processes, carrying the shim's entrypoint, not the variable.
func TestIsolationEnvSecrets(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	secret := "s3cret-" + randomHex(t, 12)
	s := isoServer("envbox", image, nil, "/mcpfixture")
	s["env"] = map[string]string{"MCPPROXY_E2E_TOKEN": secret}
	h := startIsolated(t, isoConfig(t, nil, s))
	cs := h.connect("/mcp", nil)
	readyInContainer(t, cs, "envbox", 60*time.Second)

	res := callTool(t, h.connect("/mcp/envbox", nil), "getenv", map[string]any{"name": "MCPPROXY_E2E_TOKEN"})
	if res.IsError || resultText(res) != secret {
		t.Fatalf("getenv inside: %q, want the configured value", resultText(res))
	}

	// Every host process's command line, while the container runs. The
	// docker CLI that runs the server is among them, carrying the name only.
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	scanned, sawName := 0, false
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // exited meanwhile
		}
		scanned++
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("the secret value is in the command line of pid %s: %q", e.Name(), bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
		if bytes.Contains(b, []byte("\x00-e\x00MCPPROXY_E2E_TOKEN\x00")) {
			t.Fatalf("the variable is passed through docker (pid %s): %q", e.Name(), bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
		if bytes.Contains(b, []byte("--entrypoint\x00/.mcpproxy/shim")) && bytes.Contains(b, []byte("mcpproxy-envbox")) {
			sawName = true
		}
	}
	if !sawName {
		t.Fatalf("no host process runs the envbox container with the stdio shim (scanned %d): is the server in a container?", scanned)
	}
	v, _ := findServer(listServers(t, cs), "envbox")
	if v.Isolation == nil || v.Isolation.Secrets != isolation.SecretsShim {
		t.Fatalf("the list view does not say the shim delivered the env: %+v", v.Isolation)
	}
	if out := dockerOut(t, "inspect", v.Isolation.ContainerID); strings.Contains(out, secret) || strings.Contains(out, "MCPPROXY_E2E_TOKEN") {
		t.Fatal("the secret (or its name) is in docker inspect")
	}
	if strings.Contains(mainLog(t, h), secret) || strings.Contains(h.logs.String(), secret) {
		t.Fatal("the secret value reached main.log")
	}
	t.Logf("scanned %d command lines", scanned)
}

// At debug level the log has "docker isolation" lines: the decision and the
// full docker argv, with env names but never their values.
func TestIsolationDebugLogShowsDockerArgv(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	secret := "argv-secret-" + randomHex(t, 8)
	s := isoServer("argv", image, map[string]any{"memory_limit": "128m"}, "/mcpfixture", "-name", "argv-fixture")
	s["env"] = map[string]string{"ARGV_TOKEN": secret}
	h := startIsolated(t, isoConfig(t, nil, s))
	cs := h.connect("/mcp", nil)
	v := readyInContainer(t, cs, "argv", 60*time.Second)

	var lines []string
	for _, l := range strings.Split(mainLog(t, h), "\n") {
		if strings.Contains(strings.ToLower(l), "docker isolation") {
			lines = append(lines, l)
		}
	}
	joined := strings.Join(lines, "\n")
	mustContain(t, joined, `docker isolation decision`)
	var run string
	for _, l := range lines {
		if strings.Contains(l, "docker isolation: docker run") && strings.Contains(l, "server=argv") {
			run = l
		}
	}
	if run == "" {
		t.Fatalf("no `docker isolation: docker run` line for server argv in main.log:\n%s", joined)
	}
	for _, want := range []string{" run ", "--name " + v.Isolation.ContainerName, "--memory 128m", "--network bridge", "--cap-drop ALL", "--read-only", "profile=hardened",
		" " + image + " ", "/mcpfixture -name argv-fixture", isolation.LabelInstance + "=" + h.app.iso.instance.ID} {
		mustContain(t, run, want)
	}
	if strings.Contains(run, "ARGV_TOKEN") {
		t.Fatalf("with the stdio shim the env does not go through docker at all:\n%s", run)
	}
	if strings.Contains(joined, secret) || strings.Contains(mainLog(t, h), secret) {
		t.Fatalf("an env value is in the log:\n%s", joined)
	}
}

// A server whose command is `docker run …` is not wrapped again: it works,
// its isolation info says why, and docker has no mcpproxy-labelled container
// for it.
func TestIsolationDockerCommandNotWrapped(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	name := "mcpproxy-e2e-user-" + randomHex(t, 4)
	s := stdioServer("userdocker", "docker", "run", "-i", "--rm", "--name", name, "--label", "mcpproxy-e2e.case="+name, image, "/mcpfixture")
	h := startIsolated(t, isoConfig(t, nil, s))
	cs := h.connect("/mcp", nil)
	h.waitState("userdocker", upstream.StateReady, 60*time.Second)
	ids := strings.Fields(dockerOut(t, "ps", "-aq", "--no-trunc", "--filter", "label=mcpproxy-e2e.case="+name))
	removeContainersAtCleanup(t, ids...)

	v, _ := findServer(listServers(t, cs), "userdocker")
	if v.Isolation == nil || v.Isolation.Isolated || v.Isolation.Reason != isolation.ReasonDockerCommand || v.Isolation.ContainerID != "" {
		t.Fatalf("isolation info of a docker-run server: %+v", v.Isolation)
	}
	res := callTool(t, h.connect("/mcp/userdocker", nil), "echo", map[string]any{"text": "not wrapped"})
	if res.IsError || resultText(res) != "not wrapped" {
		t.Fatalf("echo: %s", resultText(res))
	}
	// Exactly one container runs it: the user's own, without mcpproxy's labels.
	if len(ids) != 1 {
		t.Fatalf("containers of the user's docker run: %v", ids)
	}
	labels := dockerOut(t, "inspect", "--format", "{{json .Config.Labels}}", ids[0])
	if strings.Contains(labels, "com.mcpproxy") {
		t.Fatalf("the user's container carries mcpproxy labels: %s", labels)
	}
	if mine := containersOf(t, "docker", h.app.iso.instance.ID); len(mine) != 0 {
		t.Fatalf("mcpproxy-labelled containers of this proxy: %v (the docker-run server was wrapped)", mine)
	}
	// Its container is the user's docker run itself: no docker run inside
	// a docker run.
	if id := whoami(t, h.connect("/mcp/userdocker", nil)); id.PID != 1 {
		t.Fatalf("whoami in the user's container: %+v", id)
	}
}

// With the global flag off, a per-server opt-in is ignored: the server runs
// on the host, and main.log has the warning exactly once, even after edits.
func TestIsolationGlobalGateIgnoresOptIn(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	hostBin := testutil.FixtureBinary(t)
	testutil.RequireDocker(t)
	s := stdioServer("optin", hostBin)
	s["isolation"] = map[string]any{"enabled": true, "image": image}
	cfg := func(extra ...map[string]any) string {
		return jsonConfig(t, map[string]any{
			"docker_isolation": map[string]any{"enabled": false},
			"mcpServers":       append([]map[string]any{s}, extra...),
		})
	}
	h := startIsolated(t, cfg())
	h.waitState("optin", upstream.StateReady, 30*time.Second)
	cs := h.connect("/mcp", nil)
	v, _ := findServer(listServers(t, cs), "optin")
	if v.Isolation == nil || v.Isolation.Isolated || v.Isolation.Reason != isolation.ReasonOptInIgnored {
		t.Fatalf("isolation info: %+v", v.Isolation)
	}
	me := h.connect("/mcp/optin", nil)
	hostname, _ := os.Hostname()
	if id := whoami(t, me); id.PID <= 1 || id.Hostname != hostname {
		t.Fatalf("whoami: %+v: want a host process (pid > 1, hostname %q)", id, hostname)
	}
	if procs := listPIDs(t, me); !slices.ContainsFunc(procs, func(p testutil.FixtureProcess) bool { return p.PID == os.Getpid() }) {
		t.Fatalf("list_pids on the host does not show this test (pid %d): %d processes", os.Getpid(), len(procs))
	}
	if ids := containersOf(t, "docker", h.app.iso.instance.ID); len(ids) != 0 {
		t.Fatalf("containers were started: %v", ids)
	}

	const warning = "per-server docker isolation opt-in ignored"
	count := func() int { return strings.Count(mainLog(t, h), warning) }
	if n := count(); n != 1 {
		t.Fatalf("main.log has the warning %d times after start, want 1:\n%s", n, mainLog(t, h))
	}
	line := mainLog(t, h)[strings.Index(mainLog(t, h), warning):]
	line = line[:strings.IndexByte(line, '\n')]
	mustContain(t, line, "servers=optin")

	// A config edit (a new server) and a reload through the API.
	if err := os.WriteFile(h.cfgPath, []byte(cfg(stdioServer("second", hostBin))), 0o600); err != nil {
		t.Fatal(err)
	}
	h.waitState("second", upstream.StateReady, 30*time.Second)
	callTool(t, cs, "upstream_servers", map[string]any{"operation": "restart", "name": "optin"})
	h.waitState("optin", upstream.StateReady, 30*time.Second)
	cfgNow, err := config.Load(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	h.app.ctl.Apply(cfgNow)
	if n := count(); n != 1 {
		t.Fatalf("main.log has the warning %d times after a config edit and a reload, want 1", n)
	}
}

// Turning the global flag on moves a running server into a container, and
// turning it off moves it back, without restarting the proxy.
func TestIsolationToggleMovesRunningServer(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	hostBin := testutil.FixtureBinary(t)
	// The same static binary runs on the host and, mounted at the same
	// path, in the container.
	s := isoServer("mover", image, map[string]any{"extra_args": []string{"-v", hostBin + ":" + hostBin + ":ro"}}, hostBin)
	h := startIsolated(t, jsonConfig(t, map[string]any{
		"docker_isolation": map[string]any{"enabled": false},
		"mcpServers":       []map[string]any{s},
	}))
	h.waitState("mover", upstream.StateReady, 30*time.Second)
	cs := h.connect("/mcp", nil)
	hostname, _ := os.Hostname()
	whoamiVia := func() testutil.FixtureIdentity {
		res := callTool(t, cs, "call_tool", map[string]any{"name": "mover:whoami"})
		if res.IsError {
			t.Fatalf("whoami: %s", resultText(res))
		}
		var id testutil.FixtureIdentity
		if err := json.Unmarshal([]byte(resultText(res)), &id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	if id := whoamiVia(); id.PID <= 1 || id.Hostname != hostname {
		t.Fatalf("before: whoami %+v, want the host", id)
	}
	patch := func(enabled bool) {
		if code, body := h.api(http.MethodPatch, "/api/v1/config/docker-isolation", fmt.Sprintf(`{"enabled": %v}`, enabled)); code != http.StatusOK {
			t.Fatalf("PATCH docker-isolation %v: %d %s", enabled, code, body)
		}
	}

	patch(true)
	v := readyInContainer(t, cs, "mover", 60*time.Second)
	// Docker names a container's host after its ID.
	id := whoamiVia()
	if id.Hostname == hostname || id.Hostname == "" || !strings.HasPrefix(v.Isolation.ContainerID, id.Hostname) {
		t.Fatalf("after enabling: whoami %+v, container %s: want the server in that container", id, v.Isolation.ContainerID)
	}
	if procs := listPIDsVia(t, cs, "mover"); len(procs) > 3 {
		t.Fatalf("after enabling: the server sees %d processes, want only the container's", len(procs))
	}
	if !containerExists(v.Isolation.ContainerID) {
		t.Fatalf("container %s does not exist", v.Isolation.ContainerID)
	}

	patch(false)
	waitServer(t, cs, "mover", 30*time.Second, "back on the host", func(v ServerView) bool {
		return v.State == upstream.StateReady && v.Isolation != nil && !v.Isolation.Isolated
	})
	if id := whoamiVia(); id.PID <= 1 || id.Hostname != hostname {
		t.Fatalf("after disabling: whoami %+v, want the host", id)
	}
	if procs := listPIDsVia(t, cs, "mover"); len(procs) < hostProcesses(t)/2 {
		t.Fatalf("after disabling: the server sees %d processes, want the host's", len(procs))
	}
	deadline := time.Now().Add(10 * time.Second)
	for containerExists(v.Isolation.ContainerID) {
		if time.Now().After(deadline) {
			t.Fatalf("container %s still exists after the server left it", v.Isolation.ContainerID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b, _ := os.ReadFile(h.cfgPath); !strings.Contains(string(b), `"enabled": false`) {
		t.Fatalf("config after PATCH:\n%s", b)
	}
}

// TestIsolationCrashReaper is crash safety between proxies sharing an
// engine: two proxies with different data dirs run; one is killed with -9
// and its containers outlive it; the other, restarted, never touches them
// (they are not its data dir's); the killed proxy's next start on its data
// dir removes exactly them. Unlabelled containers and managed ones of
// another data dir are never removed.
func TestIsolationCrashReaper(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	testutil.RequireDocker(t)
	bin := testutil.ProxyBinary(t)
	tmp := t.TempDir()

	type proc struct {
		cmd  *exec.Cmd
		base string
		logs *syncBuffer
	}
	start := func(dataDir string) *proc {
		port := testutil.FreePort(t)
		p := &proc{base: "http://127.0.0.1:" + strconv.Itoa(port), logs: &syncBuffer{}}
		p.cmd = exec.Command(bin, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--log-level", "debug")
		// A TMPDIR of their own: reapers of older builds (other tests on
		// this engine) judged instances by lock files in the shared temp
		// dir and would take these for dead.
		p.cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
				done := make(chan struct{})
				go func() { _ = p.cmd.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					_ = p.cmd.Process.Kill()
					<-done
				}
			}
			if t.Failed() {
				t.Logf("proxy output:\n%s", p.logs.String())
			}
		})
		return p
	}
	newDataDir := func() string {
		d := t.TempDir()
		cfg := isoConfig(t, map[string]any{"network_mode": "none"},
			isoServer("a", image, nil, "/mcpfixture", "-ignore-eof"),
			isoServer("b", image, nil, "/mcpfixture", "-ignore-eof"))
		if err := os.WriteFile(filepath.Join(d, "mcp_config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// containers waits until a and b are ready in containers and returns
	// their IDs.
	containers := func(p *proc, dataDir string) map[string]string {
		deadline := time.Now().Add(90 * time.Second)
		for {
			var l ServerList
			// The API key is written into the file at the first start.
			if cfg, err := config.Load(filepath.Join(dataDir, "mcp_config.json")); err == nil && cfg.APIKey != "" {
				req, _ := http.NewRequest(http.MethodGet, p.base+"/api/v1/servers", nil)
				req.Header.Set("Authorization", "Bearer "+cfg.APIKey)
				if resp, err := http.DefaultClient.Do(req); err == nil { // not listening yet: try again
					_ = json.NewDecoder(resp.Body).Decode(&l)
					resp.Body.Close()
				}
			}
			ids := map[string]string{}
			for _, s := range l.Servers {
				if s.State == upstream.StateReady && s.Isolation != nil && s.Isolation.ContainerID != "" {
					ids[s.Name] = s.Isolation.ContainerID
				}
			}
			if len(ids) == 2 {
				return ids
			}
			if time.Now().After(deadline) {
				t.Fatalf("servers not ready in containers: %+v\n%s", l.Servers, p.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	running := func(id string) bool {
		out, err := dockerRun("inspect", "--format", "{{.State.Running}}", id)
		return err == nil && out == "true"
	}
	removedBy := func(p *proc) []string {
		re := regexp.MustCompile(`msg="docker isolation: removed orphaned container of a dead instance" container_id=(\w+)`)
		var ids []string
		for _, m := range re.FindAllStringSubmatch(p.logs.String(), -1) {
			ids = append(ids, m[1])
		}
		sort.Strings(ids)
		return ids
	}

	dirA, dirB := newDataDir(), newDataDir()
	a := start(dirA)
	crashed := containers(a, dirA)
	removeContainersAtCleanup(t, crashed["a"], crashed["b"])
	b := start(dirB)
	bOwn := containers(b, dirB)
	removeContainersAtCleanup(t, bOwn["a"], bOwn["b"])

	if err := a.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	// The killed proxy's containers outlive it and their docker CLIs: once
	// no docker CLI of the dead instance is left (they die with the proxy),
	// both still run.
	dead := dockerOut(t, "inspect", "--format", `{{index .Config.Labels "`+isolation.LabelInstance+`"}}`, crashed["a"])
	for deadline := time.Now().Add(30 * time.Second); len(processesMentioning(t, isolation.LabelInstance+"="+dead)) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("docker CLIs of the killed proxy still run: %v", processesMentioning(t, isolation.LabelInstance+"="+dead))
		}
	}
	for name, id := range crashed {
		if !running(id) {
			t.Fatalf("after kill -9, container %s of server %s is not running", id[:12], name)
		}
	}
	// An unlabelled container and a managed one of a data dir nobody uses.
	unlabelled := dockerOut(t, "run", "-d", "--network", "none", image, "/mcpfixture", "-ignore-eof")
	stranger := dockerOut(t, "run", "-d", "--network", "none", "--label", isolation.LabelManaged+"=true",
		"--label", isolation.LabelInstance+"=0123456789abcdef", "--label", isolation.LabelServer+"=x",
		"--label", isolation.LabelHost+"="+isolation.HostID(machine.ID()), "--label", isolation.LabelDataDir+"=not-a-data-dir-of-this-test",
		image, "/mcpfixture", "-ignore-eof")
	removeContainersAtCleanup(t, unlabelled, stranger)

	// B, restarted (its reaper runs at every start), keeps A's containers:
	// they are another data dir's.
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Wait(); err != nil {
		t.Fatalf("proxy B: %v", err)
	}
	b2 := start(dirB)
	containers(b2, dirB)
	// Its reaper has judged A's containers once it logged keeping each.
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range crashed {
		for lineWith(b2.logs.String(), "reaper keeps a container of another data dir", "container_id="+id) == "" {
			if time.Now().After(deadline) {
				t.Fatalf("proxy B's reaper never judged A's container %s:\n%s", id[:12], b2.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if got := removedBy(b2); len(got) != 0 {
		t.Fatalf("proxy B removed %v: containers that are not its data dir's", got)
	}
	for name, id := range crashed {
		if !running(id) {
			state, _ := dockerRun("inspect", "--format", "{{.State.Status}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}} finished={{.State.FinishedAt}}", id)
			t.Fatalf("proxy B touched container %s of A's server %s: %s", id[:12], name, state)
		}
	}

	// A's next start on its data dir reaps exactly its dead containers.
	a2 := start(dirA)
	containers(a2, dirA)
	deadline = time.Now().Add(30 * time.Second)
	want := []string{crashed["a"], crashed["b"]}
	sort.Strings(want)
	for !slices.Equal(removedBy(a2), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted proxy A removed %v, want exactly %v", removedBy(a2), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range want {
		if containerExists(id) {
			t.Fatalf("container %s of the killed proxy is still there", id[:12])
		}
	}
	for what, id := range map[string]string{"unlabelled": unlabelled, "another data dir's": stranger} {
		if !running(id) {
			t.Fatalf("the %s container %s was removed", what, id[:12])
		}
	}
}

// The Node reference filesystem server runs isolated: it lists and reads the
// mounted directory and cannot read a host file that is not mounted, even
// under a directory it is allowed to serve.
func TestIsolatedNodeFilesystemServer(t *testing.T) {
	t.Parallel()
	image := testutil.NodeImage(t)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "hello.txt"), []byte("hello from the mount"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The canary sits under /tmp on the host. The server is allowed to serve
	// /tmp too, so only the container stands between it and the canary.
	canaryDir, err := os.MkdirTemp("/tmp", "mcpproxy-canary-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(canaryDir) })
	canary := filepath.Join(canaryDir, "canary.txt")
	secret := "node-canary-" + randomHex(t, 8)
	if err := os.WriteFile(canary, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	s := isoServer("fs", image, map[string]any{"network_mode": "none", "extra_args": []string{"-v", data + ":/data:ro"}},
		"node", "/peers/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js", "/data", "/tmp")
	h := startIsolated(t, isoConfig(t, nil, s))
	cs := h.connect("/mcp", nil)
	v := readyInContainer(t, cs, "fs", 90*time.Second)
	if v.Isolation.Runtime != "node" {
		t.Fatalf("runtime %q", v.Isolation.Runtime)
	}
	fs := h.connect("/mcp/fs", nil)

	res := callTool(t, fs, "list_directory", map[string]any{"path": "/data"})
	if res.IsError {
		t.Fatalf("list_directory /data: %s", resultText(res))
	}
	mustContain(t, resultText(res), "hello.txt")
	res = callTool(t, fs, "read_text_file", map[string]any{"path": "/data/hello.txt"})
	if res.IsError || !strings.Contains(resultText(res), "hello from the mount") {
		t.Fatalf("read_text_file /data/hello.txt: %s", resultText(res))
	}

	res = callTool(t, fs, "read_text_file", map[string]any{"path": canary})
	if !res.IsError || strings.Contains(resultText(res), secret) {
		t.Fatalf("read_text_file %s (host file, not mounted): %q", canary, resultText(res))
	}
	t.Logf("reading the host canary from inside: %s", resultText(res))
	if b, err := os.ReadFile(canary); err != nil || string(b) != secret {
		t.Fatalf("the canary is readable on the host: %q %v", b, err)
	}
	res = callTool(t, fs, "list_directory", map[string]any{"path": "/tmp"})
	if res.IsError || strings.Contains(resultText(res), filepath.Base(canaryDir)) {
		t.Fatalf("list_directory /tmp inside shows the host's /tmp: %s", resultText(res))
	}
}

// Fail closed: with Docker unavailable, a server that must be isolated does
// not start on the host; its state is error and says why.
//
// Not parallel: it changes PATH and DOCKER_HOST of the test process.
func TestIsolationFailsClosedWithoutDocker(t *testing.T) {
	image := testutil.FixtureImage(t)
	hostBin := testutil.FixtureBinary(t)
	fake := t.TempDir()
	script := "#!/bin/sh\necho 'fake docker: Cannot connect to the Docker daemon' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(fake, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fake+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-such-docker.sock"))

	// The command is the host binary: had the proxy fallen back to the host,
	// the server would become ready.
	h := startApp(t, isoConfig(t, nil, isoServer("boxed", image, nil, hostBin)))
	st := h.waitState("boxed", upstream.StateError, 30*time.Second)
	mustContain(t, st.Error, "Docker is unavailable")
	mustContain(t, st.Error, "not starting it on the host")
	cs := h.connect("/mcp", nil)
	// Every attempt fails closed: watched until three retries have been
	// made (a count, not a pause), none ever ready.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		l := listServers(t, cs)
		v, _ := findServer(l, "boxed")
		if v.State == upstream.StateReady {
			t.Fatalf("the server became ready without Docker: %+v", v)
		}
		if v.Restarts >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than three retries in 60s: %+v", v)
		}
		if l.DockerStatus.Available || v.DockerAvailable {
			t.Fatalf("docker_status says available: %+v", l.DockerStatus)
		}
		if v.Isolation == nil || !v.Isolation.Isolated {
			t.Fatalf("isolation info: %+v", v.Isolation)
		}
	}
	v, _ := findServer(listServers(t, cs), "boxed")
	if v.State == upstream.StateError {
		mustContain(t, v.LastError, "Docker is unavailable")
	}
	t.Logf("last_error: %s", st.Error)
}

// Fail closed with the kubernetes backend: an API server that does not
// answer (a port on 127.0.0.1 that a listener of the test's own held, then
// closed) keeps the server off the host, and its state names the cluster,
// not Docker.
func TestFailsClosedWithoutTheCluster(t *testing.T) {
	hostBin := testutil.FixtureBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	kubeconfig := "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster: {server: \"https://" + addr + "\", insecure-skip-tls-verify: true}\n" +
		"users:\n- name: u\n  user: {token: not-a-secret}\ncontexts:\n- name: c\n  context: {cluster: gone, user: u}\ncurrent-context: c\n"
	if err := os.WriteFile(kc, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	g := map[string]any{"backend": "kubernetes", "kubernetes": map[string]any{"kubeconfig": kc, "namespace": "default"}}
	h := startApp(t, isoConfig(t, g, isoServer("boxed", "mcpproxy-test/unused:1", nil, hostBin)))
	st := h.waitState("boxed", upstream.StateError, 60*time.Second)
	mustContain(t, st.Error, "docker isolation (backend kubernetes) is required for this server but the Kubernetes cluster is unavailable (")
	mustContain(t, st.Error, "not starting it on the host")
	if strings.Contains(st.Error, "Docker is unavailable") {
		t.Errorf("the error names Docker with the kubernetes backend: %s", st.Error)
	}
	t.Logf("last_error: %s", st.Error)
}

// A failed pull names the image and the registry's error. The registry is a
// listener of the test's own, so nothing leaves the machine.
func TestIsolationImagePullFailure(t *testing.T) {
	t.Parallel()
	testutil.RequireDocker(t)
	var hits atomic.Int32
	// The registry holds its first answer until the test has seen the pull
	// in the list view: the pull phase is there to be seen however slow
	// the machine.
	seen := make(chan struct{})
	var seenOnce sync.Once
	sawPull := func() { seenOnce.Do(func() { close(seen) }) }
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			select {
			case <-seen:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`)
	}))
	defer reg.Close()
	defer sawPull() // before the close, which waits for the handler
	registry := strings.TrimPrefix(reg.URL, "http://")
	const image = "mcpproxy-test/does-not-exist:1"
	h := startIsolated(t, isoConfig(t, map[string]any{"registry": registry}, isoServer("ghost", image, nil, "/mcpfixture")))
	cs := h.connect("/mcp", nil)
	// While the pull runs, upstream_servers list shows it.
	pulling := waitServer(t, cs, "ghost", 30*time.Second, "pulling", func(v ServerView) bool {
		return v.Isolation != nil && strings.HasPrefix(v.Isolation.Phase, "pulling image "+registry+"/"+image)
	})
	t.Logf("phase while pulling: %q (state %s)", pulling.Isolation.Phase, pulling.State)
	sawPull()
	st := h.waitState("ghost", upstream.StateError, 60*time.Second)
	mustContain(t, st.Error, "image "+registry+"/"+image+" is not present locally and could not be pulled from "+registry+": the registry has no such image (")
	mustContain(t, st.Error, " — build or load it (docker load / docker build), or set isolation.image / default_images to an image you have")
	if strings.Count(st.Error, "\n") > 0 {
		t.Fatalf("the error is not one line: %q", st.Error)
	}
	if hits.Load() == 0 {
		t.Fatalf("the local registry was never asked; error: %s", st.Error)
	}
	v, _ := findServer(listServers(t, cs), "ghost")
	if v.Isolation == nil || v.Isolation.Image != registry+"/"+image {
		t.Fatalf("isolation info: %+v", v.Isolation)
	}
	mustContain(t, mainLog(t, h), "docker isolation: pulling image")
	// The client calling the server gets the same line.
	got := clientError(t, cs, "ghost", "echo")
	mustContain(t, got, "image "+registry+"/"+image+" is not present locally and could not be pulled from "+registry+": the registry has no such image (")
	mustContain(t, got, " — build or load it (docker load / docker build), or set isolation.image / default_images to an image you have")
	t.Logf("last_error: %s", st.Error)
}

// docker_isolation.timeout bounds the whole start; a server that never
// answers initialize fails after it, and the error names the step the start
// was in. Against the engine that step is MCP initialize unless starting
// the container itself used up the 2 s (a loaded machine): either way the
// message names a step of the start, and its wording fits it. The wording
// for a start that stalls in MCP initialize is pinned by
// TestIsolatedStartTimeoutDuringInitialize (upstream), where the steps
// before it take no time.
func TestIsolationStartTimeoutNamesStep(t *testing.T) {
	t.Parallel()
	image := testutil.FixtureImage(t)
	h := startIsolated(t, isoConfig(t, map[string]any{"timeout": "2s"}, isoServer("hang", image, nil, "/mcpfixture", "-hang")))
	st := h.waitState("hang", upstream.StateError, 60*time.Second)
	m := regexp.MustCompile(`^start timed out after 2s \(docker_isolation\.timeout\) during (preparing docker|checking docker|checking image|starting container|connecting stdio|MCP initialize): `).FindStringSubmatch(st.Error)
	if m == nil {
		t.Fatalf("last_error %q does not say the 2s docker_isolation.timeout ran out, nor in which step", st.Error)
	}
	if m[1] == "MCP initialize" {
		mustContain(t, st.Error, "the container started but did not answer initialize")
	}
	t.Logf("last_error: %s", st.Error)
}

// Without DOCKER_HOST/DOCKER_CONTEXT exported, the daemon settings are read
// from the login shell once, and docker is then exec'd directly (not through
// $SHELL -l per call). Not parallel: it unsets DOCKER_HOST for the process.
func TestIsolationLoadsLoginShellEnvironmentOnce(t *testing.T) {
	image := testutil.FixtureImage(t)
	t.Setenv("DOCKER_HOST", "")
	os.Unsetenv("DOCKER_HOST")
	t.Setenv("DOCKER_CONTEXT", "")
	os.Unsetenv("DOCKER_CONTEXT")
	h := startIsolated(t, isoConfig(t, nil, isoServer("hydrated", image, nil, "/mcpfixture")))
	cs := h.connect("/mcp", nil)
	v := readyInContainer(t, cs, "hydrated", 90*time.Second)
	if v.Isolation.SpawnMode != "direct" {
		t.Fatalf("spawn_mode = %q, want direct after the login-shell environment was loaded", v.Isolation.SpawnMode)
	}
	logs := h.logs.String()
	if n := strings.Count(logs, "environment loaded from login shell"); n != 1 {
		t.Fatalf("login shell environment loaded %d times, want once; log:\n%s", n, logs)
	}
}
