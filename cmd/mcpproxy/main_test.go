package main

// Process-level tests: each test runs the real mcpproxy binary (built once
// per test run by TestMain) with its own --data-dir and listen port, and
// looks at it from the outside — exit codes, stdout/stderr, the files it
// writes, its MCP endpoint, and its process tree in /proc.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// proxyBin is the mcpproxy binary under test, built by TestMain.
var proxyBin string

// defaultParallel is how many tests run at once unless -test.parallel is
// given: they mostly wait on processes, so more than GOMAXPROCS fit.
const defaultParallel = 8

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if f := flag.Lookup("test.parallel"); f != nil && !explicit {
		_ = f.Value.Set(strconv.Itoa(max(defaultParallel, runtime.GOMAXPROCS(0))))
	}
	dir, err := os.MkdirTemp("", "mcpproxy-main-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		root, err := testutil.ModuleRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		proxyBin = filepath.Join(dir, "mcpproxy")
		build := exec.Command("go", "build", "-o", proxyBin, "./cmd/mcpproxy")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build ./cmd/mcpproxy: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// --- running the binary ---

// syncBuffer collects a process's output; safe to read while it is written.
type syncBuffer = testutil.SyncBuffer

// testEnv is the environment the binary runs with: the test's own, without
// a desktop session.
func testEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DISPLAY=") || strings.HasPrefix(kv, "WAYLAND_DISPLAY=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// runCLI runs a short mcpproxy command and returns its output and exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLIEnv(t, testEnv(), args...)
}

// proxy is one running `mcpproxy serve`.
type proxy struct {
	t       *testing.T
	cmd     *exec.Cmd
	dataDir string
	addr    string
	stdout  *syncBuffer
	stderr  *syncBuffer
	exited  chan struct{}
	waitErr error
	// tree is every descendant seen by recordTree, killed (by pid, after
	// checking it is the same process) at cleanup if it is still alive.
	tree map[int]procInfo
}

// startProxy runs `mcpproxy --data-dir dataDir serve --listen 127.0.0.1:<free>
// <extra…>` and waits until it listens. cfg, when not "", is written to
// <dataDir>/mcp_config.json first.
func startProxy(t *testing.T, dataDir, cfg string, extra ...string) *proxy {
	t.Helper()
	if cfg != "" {
		if err := os.WriteFile(filepath.Join(dataDir, "mcp_config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	listen := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	if i := slices.Index(extra, "--listen"); i >= 0 && i+1 < len(extra) {
		listen = extra[i+1]
	} else {
		extra = append(extra, "--listen", listen)
	}
	args := append([]string{"--data-dir", dataDir, "serve"}, extra...)
	p := &proxy{t: t, dataDir: dataDir, addr: listen, stdout: &syncBuffer{}, stderr: &syncBuffer{},
		exited: make(chan struct{}), tree: map[int]procInfo{}}
	p.cmd = exec.Command(proxyBin, args...)
	p.cmd.Env = testEnv()
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.WaitDelay = 2 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.cleanup)
	p.waitLog(`msg="mcpproxy listening"`, 20*time.Second)
	return p
}

func (p *proxy) cleanup() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	for _, pr := range p.tree {
		if pr.alive() {
			_ = syscall.Kill(pr.PID, syscall.SIGKILL)
		}
	}
	if p.t.Failed() {
		p.t.Logf("mcpproxy stderr:\n%s", p.stderr.String())
	}
}

// waitLog waits until the proxy's stderr contains sub.
func (p *proxy) waitLog(sub string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.stderr.String(), sub) {
		select {
		case <-p.exited:
			p.t.Fatalf("mcpproxy exited (%v) before logging %q; stderr:\n%s", p.waitErr, sub, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("mcpproxy did not log %q within %s; stderr:\n%s", sub, timeout, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to the proxy (only to it, not to its process group).
func (p *proxy) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// waitExit waits for the proxy to exit and returns its exit code (-1 when
// killed by a signal).
func (p *proxy) waitExit(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("mcpproxy did not exit within %s; stderr:\n%s", timeout, p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// recordTree snapshots the proxy's descendants and remembers them.
func (p *proxy) recordTree() []procInfo {
	p.t.Helper()
	procs := descendants(p.cmd.Process.Pid)
	for _, pr := range procs {
		p.tree[pr.PID] = pr
	}
	return procs
}

// recordTreeAll returns every process recordTree has ever seen.
func (p *proxy) recordTreeAll() []procInfo {
	out := make([]procInfo, 0, len(p.tree))
	for _, pr := range p.tree {
		out = append(out, pr)
	}
	return out
}

// waitTree polls the proxy's descendants until ok accepts them.
func (p *proxy) waitTree(what string, timeout time.Duration, ok func([]procInfo) bool) []procInfo {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		procs := p.recordTree()
		if ok(procs) {
			return procs
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("process tree never had %s: %s", what, describe(procs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// connect opens an MCP session on the proxy's /mcp endpoint.
func (p *proxy) connect() *mcp.ClientSession {
	p.t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "main-test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + p.addr + "/mcp"}, nil)
	if err != nil {
		p.t.Fatalf("MCP initialize on %s/mcp: %v", p.addr, err)
	}
	p.t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func (p *proxy) mainLog() string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dataDir, "logs", "main.log"))
	if err != nil {
		p.t.Fatalf("main.log: %v", err)
	}
	return string(b)
}

// --- /proc ---

// procInfo identifies a process: a pid plus its start time, so that a
// reused pid is not mistaken for the original process.
type procInfo struct {
	PID, PPID int
	Start     uint64 // clock ticks after boot (field 22 of /proc/PID/stat)
	State     byte
	Comm      string
	Cmdline   string
}

func (p procInfo) String() string {
	return fmt.Sprintf("%d(ppid %d, %c) %q", p.PID, p.PPID, p.State, p.Cmdline)
}

func describe(procs []procInfo) string {
	s := make([]string, len(procs))
	for i, p := range procs {
		s[i] = p.String()
	}
	return "[" + strings.Join(s, "; ") + "]"
}

// readProc reads /proc/PID/stat and cmdline; ok is false when pid is gone.
func readProc(pid int) (procInfo, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procInfo{}, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 20 {
		return procInfo{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return procInfo{PID: pid, PPID: ppid, Start: start, State: f[0][0], Comm: s[open+1 : end],
		Cmdline: strings.TrimSpace(strings.ReplaceAll(string(cl), "\x00", " "))}, true
}

// allProcs reads every process in /proc.
func allProcs() []procInfo {
	ents, _ := os.ReadDir("/proc")
	var out []procInfo
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// descendants returns every live process below root (children,
// grandchildren, …), found by walking the ppid links of /proc/*/stat.
func descendants(root int) []procInfo {
	kids := map[int][]procInfo{}
	for _, p := range allProcs() {
		kids[p.PPID] = append(kids[p.PPID], p)
	}
	var out []procInfo
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range kids[pid] {
			if c.State == 'Z' || c.State == 'X' {
				continue
			}
			out = append(out, c)
			queue = append(queue, c.PID)
		}
	}
	return out
}

// alive reports whether the very process p (same pid and start time) still
// runs. A zombie counts as dead: it has exited and only waits to be reaped
// by whichever process inherited it.
func (p procInfo) alive() bool {
	now, ok := readProc(p.PID)
	return ok && now.Start == p.Start && now.State != 'Z' && now.State != 'X'
}

// assertAllGone fails t unless every process in procs has exited within timeout.
func assertAllGone(t *testing.T, procs []procInfo, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var left []procInfo
		for _, p := range procs {
			if p.alive() {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d process(es) of mcpproxy's tree still alive %s after it exited: %s", len(left), timeout, describe(left))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countCmd(procs []procInfo, pred func(procInfo) bool) int {
	n := 0
	for _, p := range procs {
		if pred(p) {
			n++
		}
	}
	return n
}

func cmdlineIs(s string) func(procInfo) bool {
	return func(p procInfo) bool { return p.Cmdline == s }
}

func requireLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("process-tree checks read /proc and rely on Pdeathsig (Linux)")
	}
}

// --- configs ---

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// configJSON renders a config with docker isolation off (stdio servers run
// on the host) and the given servers.
func configJSON(t *testing.T, servers ...map[string]any) string {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{
		"mcpServers":       servers,
		"docker_isolation": map[string]any{"enabled": false},
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func stdio(name, command string, args ...string) map[string]any {
	return map[string]any{"name": name, "command": command, "args": args}
}

// --- 1. first run ---

// TestServeWithoutConfig runs `serve` on an empty data dir: it creates a
// valid mcp_config.json (0600), serves the three built-in tools on /mcp and
// writes logs/main.log.
func TestServeWithoutConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startProxy(t, dir, "")

	cfgPath := filepath.Join(dir, "mcp_config.json")
	fi, err := os.Stat(cfgPath)
	if err != nil {
		t.Fatalf("first run did not create the config: %v", err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("mcp_config.json mode = %o, want 600", m)
	}
	out, errOut, code := runCLI(t, "config", "validate", cfgPath)
	if code != 0 || !strings.Contains(out, "valid") {
		t.Errorf("config validate on the created config: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	cs := p.connect()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	if want := []string{"call_tool", "retrieve_tools", "upstream_servers"}; !slices.Equal(names, want) {
		t.Errorf("tools on /mcp = %v, want %v", names, want)
	}
	if init := cs.InitializeResult(); init == nil || init.ServerInfo == nil || init.ServerInfo.Name != "mcpproxy" {
		t.Errorf("initialize result = %+v, want server mcpproxy", init)
	}

	log := p.mainLog()
	for _, want := range []string{`msg="created initial config"`, `msg="mcpproxy listening"`} {
		if !strings.Contains(log, want) {
			t.Errorf("main.log lacks %s:\n%s", want, log)
		}
	}

	p.signal(syscall.SIGTERM)
	if code := p.waitExit(10 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
}

// TestServeSameDataDirRefused: a second proxy on a data directory in use
// exits at once naming the first one's listen address and leaves it
// serving; once the first is killed (-9), the next start takes over and
// removes the runtime files the dead one left.
func TestServeSameDataDirRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := startProxy(t, dir, "")
	stale := filepath.Join(dir, "run", "io-ghost", "stdio.sock")
	if err := os.MkdirAll(filepath.Dir(stale), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	other := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	_, errOut, code := runCLI(t, "--data-dir", dir, "serve", "--listen", other)
	if code == 0 || !strings.Contains(errOut, "is in use by another mcpproxy (pid "+strconv.Itoa(first.cmd.Process.Pid)+")") ||
		!strings.Contains(errOut, "it listens on "+first.addr) {
		t.Fatalf("second serve on the same data dir: exit %d, stderr:\n%s", code, errOut)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Errorf("the refused proxy touched the running one's files: %v", err)
	}
	cs := first.connect()
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Errorf("the first proxy stopped answering: %v", err)
	}

	first.signal(syscall.SIGKILL)
	first.waitExit(10 * time.Second)
	startProxy(t, dir, "")
	if _, err := os.Stat(filepath.Dir(stale)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale runtime files of the killed proxy were kept: %v", err)
	}
}

// --- 2. shutdown ---

// shutdownServers are three stdio fixtures, one of them (forker) with a
// grandchild: `sh -c "sleep 300 & exec <fixture>"`.
func shutdownServers(t *testing.T, fixture string) string {
	return configJSON(t,
		stdio("one", fixture),
		stdio("two", fixture, "-stderr", "two is starting"),
		stdio("forker", "/bin/sh", "-c", "sleep 300 & exec "+shellQuote(fixture)),
	)
}

// isServerProc reports whether p belongs to one of the test's stdio servers
// (the fixture, a /bin/sh wrapper, or one of their sleeps) rather than to a
// short-lived helper of the proxy such as the docker probe.
func isServerProc(fixture string) func(procInfo) bool {
	return func(p procInfo) bool {
		return (fixture != "" && strings.HasPrefix(p.Cmdline, fixture)) ||
			strings.HasPrefix(p.Cmdline, "/bin/sh -c ") || strings.HasPrefix(p.Cmdline, "sleep 30")
	}
}

// onlyServers waits until nothing but the stdio servers runs below the
// proxy: the docker availability probe it starts at launch (a login shell
// running `docker info`) has finished. Signalling while the probe runs would
// test internal/docker's probe, not the stdio servers' lifecycle.
func onlyServers(fixture string, more func([]procInfo) bool) func([]procInfo) bool {
	return func(ps []procInfo) bool {
		return countCmd(ps, isServerProc(fixture)) == len(ps) && more(ps)
	}
}

// startWithTree starts the proxy on cfg, waits until its upstreams are
// ready and returns their processes (children and grandchildren).
func startWithTree(t *testing.T, cfg, fixture string, wantReady int) (*proxy, []procInfo) {
	p := startProxy(t, t.TempDir(), cfg)
	p.waitLog(fmt.Sprintf(`msg="all upstreams settled" ready=%d total=%d`, wantReady, wantReady), 20*time.Second)
	procs := p.waitTree("only the servers, with the grandchild `sleep 300`", 15*time.Second, onlyServers(fixture, func(ps []procInfo) bool {
		return countCmd(ps, cmdlineIs("sleep 300")) == 1
	}))
	return p, procs
}

// TestServeSignalStopsEveryProcess sends SIGTERM (or SIGINT) to a proxy with
// three stdio upstreams and an open client session: it exits 0 within a few
// seconds and no process of its tree (children or grandchildren) survives.
func TestServeSignalStopsEveryProcess(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	fixture := testutil.FixtureBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			p, procs := startWithTree(t, shutdownServers(t, fixture), fixture, 3)
			if n := countCmd(procs, func(pr procInfo) bool { return pr.PPID == p.cmd.Process.Pid }); n != 3 {
				t.Fatalf("want 3 children of mcpproxy, got %d: %s", n, describe(procs))
			}
			// A client holding its session (and standalone SSE stream)
			// open must not delay the exit.
			p.connect()

			start := time.Now()
			p.signal(sig)
			code := p.waitExit(10 * time.Second)
			took := time.Since(start)
			if code != 0 {
				t.Errorf("exit code = %d, want 0", code)
			}
			t.Logf("exit %s after %v", took, sig)
			// Every server exits on stdin EOF, so none may cost the 2s
			// grace period: not forker, whose `sleep 300` keeps the
			// server's stderr open, nor the client's open SSE stream.
			if took > 2*time.Second {
				t.Errorf("exit took %s after %v, want less than the 2s grace period", took, sig)
			}
			assertAllGone(t, procs, time.Second)
			if !strings.Contains(p.stderr.String(), `msg="shutdown complete"`) {
				t.Errorf("no orderly shutdown in the log:\n%s", p.stderr.String())
			}
		})
	}
}

// TestServeShutdownKillsTermIgnoringGrandchild: a server whose leader dies on
// SIGTERM but whose background child ignores it (and has let go of the
// server's stdio) must not leave that child behind: the group gets SIGKILL
// once the leader is gone.
func TestServeShutdownKillsTermIgnoringGrandchild(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	cfg := configJSON(t,
		// Never answers initialize; ignores stdin EOF; dies on SIGTERM, but
		// its background child ignores SIGTERM.
		stdio("stubborn-child", "/bin/sh", "-c", "(trap '' TERM; exec sleep 301 </dev/null >/dev/null 2>&1) & exec sleep 302"),
	)
	p := startProxy(t, t.TempDir(), cfg)
	procs := p.waitTree("only sleep 301 and sleep 302", 15*time.Second, onlyServers("", func(ps []procInfo) bool {
		return countCmd(ps, cmdlineIs("sleep 301")) == 1 && countCmd(ps, cmdlineIs("sleep 302")) == 1
	}))
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	assertAllGone(t, procs, time.Second)
}

// TestServeSecondSignalExitsAtOnce: while the first SIGTERM waits for a
// server that ignores stdin EOF and SIGTERM (its grace periods take ~4s), a
// second signal ends the proxy at once, and its process tree with it.
func TestServeSecondSignalExitsAtOnce(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	fixture := testutil.FixtureBinary(t)
	cfg := configJSON(t,
		stdio("one", fixture),
		// A real MCP server; once stdin closes the shell lingers in
		// `sleep 300` with SIGTERM ignored, so only SIGKILL ends it.
		stdio("stubborn", "/bin/sh", "-c", "trap '' TERM; "+shellQuote(fixture)+"; sleep 300"),
	)
	p := startProxy(t, t.TempDir(), cfg)
	p.waitLog(`msg="all upstreams settled" ready=2 total=2`, 20*time.Second)
	before := p.waitTree("only the servers", 15*time.Second, onlyServers(fixture, func(ps []procInfo) bool { return len(ps) >= 3 }))

	p.signal(syscall.SIGTERM)
	p.waitLog(`msg="signal received; stopping (send again to exit at once)"`, 5*time.Second)
	// The fixture saw EOF and exited; the shell now sits in `sleep 300`:
	// the proxy is inside the grace period.
	during := p.waitTree("the lingering `sleep 300`", 3*time.Second, func(ps []procInfo) bool {
		return countCmd(ps, cmdlineIs("sleep 300")) == 1
	})
	select {
	case <-p.exited:
		t.Fatal("mcpproxy exited before the grace period; the test server did not hold it up")
	default:
	}

	start := time.Now()
	p.signal(syscall.SIGTERM)
	code := p.waitExit(5 * time.Second)
	if took := time.Since(start); took > time.Second {
		t.Errorf("second signal: exit took %s, want well under the 2s grace period", took)
	}
	if code == 0 {
		t.Errorf("exit code after a second signal = 0, want non-zero (interrupted shutdown)")
	}
	if !strings.Contains(p.stderr.String(), `msg="second signal: exiting now"`) {
		t.Errorf("second signal not logged:\n%s", p.stderr.String())
	}
	assertAllGone(t, append(before, during...), 2*time.Second)
}

// TestCrashedServerLeavesNoGrandchild: when a server's process exits while
// a child of it still holds its stdout and stderr, the crash is noticed at
// once (not when the child lets go), reported with the exit status, and the
// child is killed; the restarted server works.
func TestCrashedServerLeavesNoGrandchild(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	fixture := testutil.FixtureBinary(t)
	cfg := configJSON(t,
		stdio("crasher", "/bin/sh", "-c", "sleep 300 & exec "+shellQuote(fixture)+" -crash-after 1s"),
	)
	p := startProxy(t, t.TempDir(), cfg)
	p.waitLog(`msg="upstream ready" server=crasher`, 20*time.Second)
	first := p.waitTree("the first `sleep 300`", 5*time.Second, func(ps []procInfo) bool {
		return countCmd(ps, cmdlineIs("sleep 300")) == 1
	})
	p.waitLog(`msg="upstream disconnected" server=crasher error="server \"crasher\" exited (code 3)`, 5*time.Second)
	var sleeps []procInfo
	for _, pr := range first {
		if pr.Cmdline == "sleep 300" {
			sleeps = append(sleeps, pr)
		}
	}
	assertAllGone(t, sleeps, 2*time.Second)
	// The restart after the backoff is ready again.
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.stderr.String(), `msg="upstream ready" server=crasher`) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("crasher was not restarted:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(10 * time.Second); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	assertAllGone(t, p.recordTreeAll(), time.Second)
}

// --- 3. kill -9 ---

// TestKilledProxyLeavesNoChild: SIGKILL gives the proxy no chance to clean
// up; Pdeathsig makes every stdio child die with it.
func TestKilledProxyLeavesNoChild(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	fixture := testutil.FixtureBinary(t)
	p, procs := startWithTree(t, shutdownServers(t, fixture), fixture, 3)
	var children []procInfo
	for _, pr := range procs {
		if pr.PPID == p.cmd.Process.Pid {
			children = append(children, pr)
		}
	}
	if len(children) != 3 {
		t.Fatalf("want 3 children of mcpproxy, got %s", describe(procs))
	}
	p.signal(syscall.SIGKILL)
	if code := p.waitExit(5 * time.Second); code != -1 {
		t.Errorf("exit code = %d, want -1 (killed)", code)
	}
	assertAllGone(t, children, 2*time.Second)
	// Known limit: a grandchild (forker's `sleep 300`) is not covered by
	// Pdeathsig, which only reaches direct children; cleanup kills it.
	for _, pr := range procs {
		if pr.PPID != p.cmd.Process.Pid && pr.alive() {
			t.Logf("grandchild survives SIGKILL of the proxy (no Pdeathsig for grandchildren): %s", pr)
		}
	}
}

// --- 4. config validate ---

const invalidConfig = `{
  // four problems, every one listed
  "mcpServers": [
    {"name": "good", "command": "/bin/true"},
    {"name": "nothing"},
    {"name": "good", "command": "/bin/true"},
    {"name": "greedy", "command": "/bin/true",
     "isolation": {"memory_limit": "lots"}}
  ],
  "docker_isolation": {
    "enabled": false,
    "network_mode": "not a network!"
  }
}
`

// wantProblems are the problems of invalidConfig: path, line and column.
var wantProblems = []struct {
	path      string
	line, col int
}{
	{"mcpServers[1].command", 5, 5},
	{"mcpServers[2].name", 6, 14},
	{"mcpServers[3].isolation.memory_limit", 8, 36},
	{"docker_isolation.network_mode", 12, 21},
}

type fileState struct {
	data  []byte
	mtime time.Time
	mode  os.FileMode
}

func statFile(t *testing.T, path string) fileState {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{b, fi.ModTime(), fi.Mode()}
}

func assertUnchanged(t *testing.T, path string, before fileState) {
	t.Helper()
	after := statFile(t, path)
	if !bytes.Equal(after.data, before.data) || !after.mtime.Equal(before.mtime) || after.mode != before.mode {
		t.Errorf("%s changed: mtime %v → %v, mode %v → %v, content:\n%s", path, before.mtime, after.mtime, before.mode, after.mode, after.data)
	}
}

func assertProblems(t *testing.T, out, path string) {
	t.Helper()
	for _, w := range wantProblems {
		re := regexp.MustCompile(`(?m)^.*` + regexp.QuoteMeta(fmt.Sprintf("%s:%d:%d: %s: ", path, w.line, w.col, w.path)) + `\S`)
		if !re.MatchString(out) {
			t.Errorf("output lacks %s at %d:%d:\n%s", w.path, w.line, w.col, out)
		}
	}
}

// TestConfigValidate: every problem of an invalid file is listed with its
// JSON path and line:col and the exit code is non-zero; a valid file is
// reported valid. The file is never touched.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(invalidConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(bad, old, old); err != nil {
		t.Fatal(err)
	}
	before := statFile(t, bad)
	out, errOut, code := runCLI(t, "config", "validate", bad)
	if code == 0 {
		t.Errorf("config validate on an invalid file exited 0; stdout %q", out)
	}
	assertProblems(t, errOut, bad)
	if n := strings.Count(strings.TrimSpace(errOut), "\n") + 1; n != len(wantProblems) {
		t.Errorf("want exactly %d lines (one per problem), got %d:\n%s", len(wantProblems), n, errOut)
	}
	assertUnchanged(t, bad, before)

	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{
  // comments are allowed; so is the object form
  "mcpServers": {"fs": {"command": "/bin/true", "env": {"K": "v"}}, "web": {"url": "https://example.com/mcp"}}
}`), 0o600); err != nil {
		t.Fatal(err)
	}
	before = statFile(t, good)
	out, errOut, code = runCLI(t, "config", "validate", good)
	if code != 0 || !strings.Contains(out, "valid") || !strings.Contains(out, "2 servers") {
		t.Errorf("config validate on a valid file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	assertUnchanged(t, good, before)

	// Without PATH it validates <data-dir>/mcp_config.json.
	if err := os.WriteFile(filepath.Join(dir, "mcp_config.json"), []byte(invalidConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCLI(t, "--data-dir", dir, "config", "validate")
	if code == 0 {
		t.Error("config validate (default path) on an invalid file exited 0")
	}
	assertProblems(t, errOut, filepath.Join(dir, "mcp_config.json"))
}

// TestConfigValidateUnknownKeys: a misspelt key that would leave isolation
// off is an error with "did you mean"; keys of other tools load with a
// warning that names them.
func TestConfigValidateUnknownKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.json")
	if err := os.WriteFile(typo, []byte("{\n  \"docker_isolaton\": {\"enabled\": true}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "config", "validate", typo)
	if code == 0 || !strings.Contains(errOut, typo+`:2:3: docker_isolaton: unknown key "docker_isolaton": did you mean "docker_isolation"?`) {
		t.Errorf("config validate on a misspelt key: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	foreign := filepath.Join(dir, "foreign.json")
	if err := os.WriteFile(foreign, []byte("{\n  \"enable_tray\": true,\n  \"mcpServers\": []\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "config", "validate", foreign)
	if code != 0 || !strings.Contains(out, "valid (0 servers, 1 warning)") ||
		strings.TrimSpace(errOut) != foreign+`:2:3: warning: enable_tray: unknown key "enable_tray" is ignored` {
		t.Errorf("config validate with an unknown key: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestServeInvalidConfig: serve refuses an invalid config, names every
// problem, and leaves the file (and the folder's other files) alone.
func TestServeInvalidConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "mcp_config.json")
	if err := os.WriteFile(cfgPath, []byte(invalidConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(cfgPath, old, old); err != nil {
		t.Fatal(err)
	}
	before := statFile(t, cfgPath)
	out, errOut, code := runCLI(t, "--data-dir", dir, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)))
	if code == 0 {
		t.Fatalf("serve with an invalid config exited 0; stdout %q stderr %q", out, errOut)
	}
	assertProblems(t, errOut, cfgPath)
	assertUnchanged(t, cfgPath, before)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if n := e.Name(); n != "mcp_config.json" && n != "logs" {
			t.Errorf("serve with an invalid config left %s in the data dir", n)
		}
	}
}

// --- 5, 6. CLI surface ---

// TestVersion: `mcpproxy version` prints "mcpproxy <version>".
func TestVersion(t *testing.T) {
	t.Parallel()
	out, errOut, code := runCLI(t, "version")
	if code != 0 || !regexp.MustCompile(`^mcpproxy \S+\n$`).MatchString(out) {
		t.Errorf("version: exit %d, stdout %q, stderr %q; want \"mcpproxy <version>\"", code, out, errOut)
	}
}

// TestBadLogLevel: an invalid --log-level is rejected, naming the flag,
// before anything runs (no data dir is created).
func TestBadLogLevel(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--log-level", "bogus"},
		{"--log-level=bogus", "serve"},
		{"--log-level", "bogus", "config", "validate"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		all := append([]string{"--data-dir", dir}, args...)
		out, errOut, code := runCLI(t, all...)
		if code == 0 {
			t.Errorf("%v: exit 0, stdout %q", args, out)
		}
		if !strings.Contains(errOut, "--log-level") || !strings.Contains(errOut, "bogus") {
			t.Errorf("%v: stderr does not name the flag and value: %q", args, errOut)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%v: the data dir was created although the flags were invalid", args)
		}
	}
}

// TestServeTrayIsANoOp: --tray is accepted for compatibility (the spec's
// debugging command passes --tray=false); with --tray the proxy says there
// is no tray icon and serves anyway.
func TestServeTrayIsANoOp(t *testing.T) {
	t.Parallel()
	p := startProxy(t, t.TempDir(), "", "--tray")
	if !strings.Contains(p.stderr.String(), "mcpproxy has no tray icon") {
		t.Errorf("no 'no tray icon' message:\n%s", p.stderr.String())
	}
	cs := p.connect()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cs.ListTools(ctx, nil); err != nil {
		t.Errorf("tools/list with --tray: %v", err)
	}
	if !strings.Contains(p.mainLog(), "mcpproxy has no tray icon") {
		t.Error("main.log lacks the tray message")
	}
}

// TestServeNonLoopbackWarning: binding 0.0.0.0 logs the loud warning.
func TestServeNonLoopbackWarning(t *testing.T) {
	t.Parallel()
	p := startProxy(t, t.TempDir(), "", "--listen", fmt.Sprintf("0.0.0.0:%d", testutil.FreePort(t)))
	const warn = "LISTENING ON A NON-LOOPBACK ADDRESS"
	if !regexp.MustCompile(`level=WARN msg="` + warn).MatchString(p.stderr.String()) {
		t.Errorf("no non-loopback warning on stderr:\n%s", p.stderr.String())
	}
	if !strings.Contains(p.mainLog(), warn) {
		t.Error("main.log lacks the non-loopback warning")
	}

	// The loopback default does not warn.
	q := startProxy(t, t.TempDir(), "")
	if strings.Contains(q.stderr.String(), warn) {
		t.Errorf("loopback listener warned:\n%s", q.stderr.String())
	}
}

// --- 7. secrets ---

// TestSecretsNeverLeak: a server's env secret reaches the server but never
// the proxy's log, its stderr/stdout, or any command line in its process
// tree — even when the server prints it to stderr and crashes, which puts
// its stderr into the proxy's error messages.
func TestSecretsNeverLeak(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	const secret = "sk-test-secret-123456"
	fixture := testutil.FixtureBinary(t)
	env := map[string]string{"API_KEY": secret}
	keeper := stdio("keeper", fixture)
	keeper["env"] = env
	leaker := stdio("leaker", "/bin/sh", "-c", `echo "leaking $API_KEY" >&2; exit 1`)
	leaker["env"] = env
	web := map[string]any{"name": "web", "url": "http://127.0.0.1:1/mcp", "headers": map[string]string{"Authorization": "Bearer " + secret}}
	p := startProxy(t, t.TempDir(), configJSON(t, keeper, leaker, web), "--log-level", "debug")
	p.waitLog(`msg="upstream ready" server=keeper`, 20*time.Second)
	p.waitLog(`leaking ***`, 10*time.Second) // the crash, redacted

	cs := p.connect()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "call_tool",
		Arguments: map[string]any{"name": "keeper:getenv", "args": map[string]any{"name": "API_KEY"}}})
	if err != nil {
		t.Fatalf("call_tool keeper:getenv: %v", err)
	}
	if got := resultText(res); got != secret {
		t.Fatalf("the server did not get its env (getenv API_KEY = %q)", got)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "upstream_servers", Arguments: map[string]any{"operation": "list"}}); err != nil {
		t.Fatalf("upstream_servers list: %v", err)
	}

	procs := p.recordTree()
	self, ok := readProc(p.cmd.Process.Pid)
	if !ok {
		t.Fatal("mcpproxy is gone")
	}
	for _, pr := range append(procs, self) {
		if strings.Contains(pr.Cmdline, secret) {
			t.Errorf("the secret is on the command line of %s", pr)
		}
	}

	p.signal(syscall.SIGTERM)
	p.waitExit(10 * time.Second)
	for what, text := range map[string]string{"main.log": p.mainLog(), "stderr": p.stderr.String(), "stdout": p.stdout.String()} {
		if strings.Contains(text, secret) {
			t.Errorf("the secret appears in %s:\n%s", what, text)
		}
	}
}

func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// --- 8. telemetry show ---

// TestTelemetryShow: the payload counts isolated stdio servers with the same
// decision spawn uses (0 while the global flag is off), reports docker
// availability, holds no configured value, and says telemetry is off.
func TestTelemetryShow(t *testing.T) {
	t.Parallel()
	servers := `[
    {"name": "alpha", "command": "uvx", "args": ["some-server"]},
    {"name": "beta", "command": "npx", "isolation": {"enabled": false}},
    {"name": "gamma", "url": "https://example.com/mcp"}
  ]`
	for _, tc := range []struct {
		name      string
		cfg       string
		isolation bool
		isolated  int
	}{
		{"no config", "", false, 0},
		{"isolation off", `{"mcpServers": ` + servers + `, "docker_isolation": {"enabled": false}}`, false, 0},
		{"isolation on", `{"mcpServers": ` + servers + `, "docker_isolation": {"enabled": true}}`, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.cfg != "" {
				if err := os.WriteFile(filepath.Join(dir, "mcp_config.json"), []byte(tc.cfg), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out, errOut, code := runCLI(t, "--data-dir", dir, "telemetry", "show")
			if code != 0 {
				t.Fatalf("telemetry show: exit %d, stderr %q", code, errOut)
			}
			var payload map[string]any
			if err := json.Unmarshal([]byte(out), &payload); err != nil {
				t.Fatalf("stdout is not the JSON payload: %v\n%s", err, out)
			}
			if _, ok := payload["server_docker_available_bool"].(bool); !ok {
				t.Errorf("server_docker_available_bool missing or not a bool: %s", out)
			}
			if got, ok := payload["server_docker_isolated_count"].(float64); !ok || int(got) != tc.isolated {
				t.Errorf("server_docker_isolated_count = %v, want %d", payload["server_docker_isolated_count"], tc.isolated)
			}
			if got := payload["docker_isolation_enabled"]; got != tc.isolation {
				t.Errorf("docker_isolation_enabled = %v, want %v", got, tc.isolation)
			}
			if tc.cfg != "" {
				for k, want := range map[string]float64{"server_count": 3, "server_stdio_count": 2, "server_http_count": 1} {
					if payload[k] != want {
						t.Errorf("%s = %v, want %v", k, payload[k], want)
					}
				}
				for _, v := range []string{"alpha", "uvx", "example.com"} {
					if strings.Contains(out, v) {
						t.Errorf("the payload contains the configured value %q:\n%s", v, out)
					}
				}
			}
			if !strings.Contains(errOut+out, "telemetry is disabled") {
				t.Errorf("telemetry show does not say telemetry is disabled; stderr %q", errOut)
			}
		})
	}
}

func TestServeProcs(t *testing.T) {
	if n, set := serveProcs(""); !set || n != 1 {
		t.Fatalf(`serveProcs(""): %d, %v; want 1, true`, n, set)
	}
	if _, set := serveProcs("4"); set {
		t.Fatal(`serveProcs("4"): the user's GOMAXPROCS must be kept`)
	}
}

// TestConfigValidateRefusesDangerousMounts: isolation.mounts of ~/.ssh or
// of / are errors naming the field (issue 10); a plain folder is fine.
func TestConfigValidateRefusesDangerousMounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mounts.json")
	// A plain folder, beside the config file (the config's own folder holds
	// every server's secrets: refused too).
	plain := filepath.Join(dir, "data")
	if err := os.Mkdir(plain, 0o700); err != nil {
		t.Fatal(err)
	}
	doc := `{
  "mcpServers": [
    {"name": "keys", "command": "npx", "isolation": {"mounts": ["~/.ssh"]}},
    {"name": "root", "command": "npx", "isolation": {"mounts": ["/:/host:ro"]}},
    {"name": "fine", "command": "npx", "isolation": {"mounts": ["` + plain + `:rw"]}}
  ]
}
`
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "config", "validate", cfg)
	if code == 0 {
		t.Fatalf("config validate accepted mounts of ~/.ssh and /: stdout %q", out)
	}
	for _, want := range []string{
		// (what ~/.ssh gives depends on the home: credentials, or root's home)
		cfg + `:3:65: mcpServers[0].isolation.mounts[0]: "~/.ssh" would give the container `,
		`; remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand` + "\n" + cfg + ":4:",
		cfg + `:4:65: mcpServers[1].isolation.mounts[0]: "/:/host:ro" would give the container the host's whole filesystem; remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "mcpServers[2]") {
		t.Errorf("the plain folder was refused:\n%s", errOut)
	}

	// A symlink into ~/.ssh is judged by what it points to (a home of the
	// test's own, so that the message is the same everywhere).
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "innocent")
	if err := os.Symlink(filepath.Join(home, ".ssh"), link); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(dir, "link.json")
	if err := os.WriteFile(linked, []byte(`{"mcpServers": [{"name": "l", "command": "npx", "isolation": {"mounts": ["`+link+`:/keys"]}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(proxyBin, "config", "validate", linked)
	cmd.Env = append(testEnv(), "HOME="+home)
	b, err := cmd.CombinedOutput()
	want := `mcpServers[0].isolation.mounts[0]: "` + link + `:/keys" would give the container credentials under the home directory (` + filepath.Join(home, ".ssh") + `) (` + link + ` resolves to ` + filepath.Join(home, ".ssh") + `)`
	if err == nil || !strings.Contains(string(b), want) {
		t.Errorf("a symlink into ~/.ssh: %v\n%s\nwant %s", err, b, want)
	}
}
