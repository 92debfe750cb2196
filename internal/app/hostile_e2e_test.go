package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/probe"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// hostileCall calls a tool of the hostile server and decodes its JSON text
// into v (when v is not nil). A tool error fails the test.
func hostileCall(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any, v any) string {
	t.Helper()
	res := callTool(t, cs, tool, args)
	if res.IsError {
		t.Fatalf("%s: tool error: %s", tool, resultText(res))
	}
	text := resultText(res)
	if v != nil {
		if err := json.Unmarshal([]byte(text), v); err != nil {
			t.Fatalf("%s: %v: %q", tool, err, text)
		}
	}
	return text
}

func hostileAttempt(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) probe.Attempt {
	t.Helper()
	var a probe.Attempt
	hostileCall(t, cs, tool, args, &a)
	return a
}

// TestHostileServer runs the hostile fixture through the proxy twice: with
// the default (hardened) profile and with hardened: false. Each door it
// tries is closed by the profile, and the relaxed run shows which of them
// open again without it — so the test proves the profile closes them.
func TestHostileServer(t *testing.T) {
	t.Parallel()
	image := testutil.HostileImage(t)
	secret := "hostile-secret-" + randomHex(t, 12)
	canary := filepath.Join(t.TempDir(), "canary.txt")
	if err := os.WriteFile(canary, []byte("canary "+randomHex(t, 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	limits := map[string]any{"memory_limit": "96m", "cpu_limit": "0.5"}
	box := isoServer("box", image, limits, "/hostile")
	box["env"] = map[string]string{"HOSTILE_SECRET": secret}
	relaxed := map[string]any{"hardened": false}
	for k, v := range limits {
		relaxed[k] = v
	}
	open := isoServer("open", image, relaxed, "/hostile")
	open["env"] = map[string]string{"HOSTILE_SECRET": secret}
	good := isoServer("good", testutil.FixtureImage(t), nil, "/mcpfixture")
	h := startIsolated(t, isoConfig(t, nil, box, open, good))
	agg := h.connect("/mcp", nil)
	for _, name := range []string{"box", "open", "good"} {
		readyInContainer(t, agg, name, 90*time.Second)
	}
	boxCS, openCS := h.connect("/mcp/box", nil), h.connect("/mcp/open", nil)

	t.Run("identity", func(t *testing.T) {
		var b, o struct {
			Identity probe.Identity
			Limits   probe.Limits
		}
		hostileCall(t, boxCS, "identity", nil, &b)
		hostileCall(t, openCS, "identity", nil, &o)
		if id := b.Identity; id.UID == 0 || id.EUID == 0 || id.CapEff != probe.NoCaps || id.CapBnd != probe.NoCaps || id.NoNewPrivs != 1 || id.Seccomp != 2 {
			t.Errorf("hardened identity = %+v, want non-root, no capabilities, no_new_privs, seccomp filter", id)
		}
		if l := b.Limits; l.PidsMax != 256 || l.MemoryBytes != 96<<20 || l.MemorySwapBytes != 96<<20 || l.NoFileHard != isolation.NoFileLimit {
			t.Errorf("hardened limits = %+v", l)
		}
		if id := o.Identity; id.UID != 0 || id.CapEff == probe.NoCaps || id.NoNewPrivs != 0 || id.Seccomp != 2 {
			t.Errorf("relaxed identity = %+v, want root with Docker's default capabilities (seccomp still on)", id)
		}
		if o.Limits.PidsMax != -1 {
			t.Errorf("relaxed PID limit = %d, want none", o.Limits.PidsMax)
		}
	})

	t.Run("doors", func(t *testing.T) {
		// door → open under the relaxed profile (Docker's defaults)?
		doors := []struct {
			tool        string
			openWithout bool
		}{
			{"raw_socket", true}, {"mknod", true}, {"chown", true},
			{"mount", false}, {"proc_sys_write", false}, {"setuid", false},
		}
		for _, d := range doors {
			if a := hostileAttempt(t, boxCS, d.tool, nil); a.Allowed {
				t.Errorf("%s allowed in the hardened box: %+v", d.tool, a)
			}
			if a := hostileAttempt(t, openCS, d.tool, nil); a.Allowed != d.openWithout {
				t.Errorf("%s without hardening: allowed=%v, want %v (%+v)", d.tool, a.Allowed, d.openWithout, a)
			}
		}
		// PID 1 (the shim, the container's init) cannot be ptraced: it is
		// not dumpable and the server has no CAP_SYS_PTRACE.
		if a := hostileAttempt(t, boxCS, "ptrace", map[string]any{"pid": 1}); a.Allowed {
			t.Errorf("the hardened box ptraced PID 1: %+v", a)
		}
		// The setuid helper: hardened, it keeps the server's uid; relaxed,
		// the server is root already.
		if a := hostileAttempt(t, boxCS, "setuid", nil); !strings.Contains(a.Detail, "euid 65534") && !strings.Contains(a.Detail, "euid "+strconv.Itoa(os.Getuid())) {
			t.Errorf("setuid helper in the box: %+v", a)
		}
		for _, dir := range []string{"/", "/etc", "/usr", "/.mcpproxy/io"} {
			var w probe.WriteResult
			hostileCall(t, boxCS, "write", map[string]any{"dir": dir}, &w)
			if w.Error == "" {
				t.Errorf("write into %s succeeded in the hardened box", dir)
			}
		}
		for _, dir := range []string{"/", "/etc", "/usr"} {
			var w probe.WriteResult
			hostileCall(t, openCS, "write", map[string]any{"dir": dir}, &w)
			if w.Error != "" {
				t.Errorf("write into %s without hardening: %+v, want it to work (the door the profile closes)", dir, w)
			}
		}
		var writable []string
		hostileCall(t, boxCS, "writable_paths", nil, &writable)
		for _, w := range writable {
			if w != "/tmp" && w != isolation.HardenedHome && w != "/dev/shm" {
				t.Errorf("the hardened box can write into %s (writable: %v)", w, writable)
			}
		}
		// /tmp is size-capped (a quarter of the memory limit: tmpfs pages
		// count against it): 200 MiB do not fit, and the server survives.
		var big probe.WriteResult
		hostileCall(t, boxCS, "write", map[string]any{"dir": "/tmp", "bytes": 200 << 20}, &big)
		if big.Error == "" || big.Wrote > 24<<20 {
			t.Errorf("200 MiB into /tmp = %+v, want stopped at the cap", big)
		}
		// Nothing written through the socket's mount point reached the host.
		entries, _ := filepath.Glob(filepath.Join(h.dataDir, "run", "io-*", "*"))
		for _, e := range entries {
			if filepath.Base(e) != "stdio.sock" {
				t.Errorf("a file appeared in the host's run dir: %s", e)
			}
		}
	})

	t.Run("host canary", func(t *testing.T) {
		for _, cs := range []*mcp.ClientSession{boxCS, openCS} {
			if res := callTool(t, cs, "read_file", map[string]any{"path": canary}); !res.IsError {
				t.Errorf("the container read the host canary: %q", resultText(res))
			}
		}
	})

	t.Run("secret", func(t *testing.T) {
		if got := hostileCall(t, boxCS, "getenv", map[string]any{"name": "HOSTILE_SECRET"}, nil); got != secret {
			t.Fatalf("getenv inside = %q", got)
		}
		l := listServers(t, agg)
		for _, name := range []string{"box", "open"} {
			v, _ := findServer(l, name)
			if v.Isolation.Secrets != isolation.SecretsShim {
				t.Errorf("%s: secrets delivered by %q, want shim", name, v.Isolation.Secrets)
			}
			if out := dockerOut(t, "inspect", v.Isolation.ContainerID); strings.Contains(out, secret) {
				t.Errorf("%s: the secret is in docker inspect", name)
			}
		}
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(secret)) {
				t.Errorf("the secret is in %s", p)
			}
		}
		logs, _ := filepath.Glob(filepath.Join(h.dataDir, "logs", "*"))
		for _, p := range logs {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(secret)) {
				t.Errorf("the secret is in %s", p)
			}
		}
	})

	t.Run("network", func(t *testing.T) {
		// A service on the host's loopback is out of reach (the container
		// has its own network namespace) under either profile.
		lo, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer lo.Close()
		go acceptAll(lo)
		for _, cs := range []*mcp.ClientSession{boxCS, openCS} {
			if a := hostileAttempt(t, cs, "dial", map[string]any{"addr": lo.Addr().String(), "timeout_ms": 1000}); a.Allowed {
				t.Errorf("the container reached the host's loopback: %+v", a)
			}
		}
		// Under network_mode bridge the bridge gateway (the host) is
		// reachable: the profile does not restrict egress (README, threat
		// model); network_mode none does.
		gw := hostileCall(t, boxCS, "gateway", nil, nil)
		if net.ParseIP(gw) == nil {
			t.Fatalf("gateway %q", gw)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
		if err != nil {
			t.Skipf("cannot listen on the bridge gateway %s: %v", gw, err)
		}
		defer ln.Close()
		go acceptAll(ln)
		if a := hostileAttempt(t, boxCS, "dial", map[string]any{"addr": ln.Addr().String(), "timeout_ms": 2000}); !a.Allowed {
			t.Logf("the bridge gateway listener was not reachable: %+v", a)
		}
	})

	t.Run("fork bomb", func(t *testing.T) {
		peaked := make(chan string, 1)
		bombCS := h.connect("/mcp/box", &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			select {
			case peaked <- r.Params.Message:
			default:
			}
		}})
		var bomb probe.ForkResult
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := bombCS.CallTool(ctx, &mcp.CallToolParams{Name: "fork_bomb", Meta: mcp.Meta{"progressToken": "bomb"}, Arguments: map[string]any{"hold_ms": 90000}})
			if err != nil || res.IsError {
				t.Errorf("fork_bomb: %v %v", err, res)
				return
			}
			_ = json.Unmarshal([]byte(resultText(res)), &bomb)
		}()
		select {
		case msg := <-peaked:
			t.Logf("fork bomb: %s", msg)
		case <-time.After(time.Minute):
			t.Fatal("the fork bomb never peaked")
		}
		// While the box is full, the proxy and the other servers answer.
		if got := resultText(callTool(t, h.connect("/mcp/good", nil), "echo", map[string]any{"text": "alive"})); got != "alive" {
			t.Errorf("another server during the fork bomb: %q", got)
		}
		if res := callTool(t, agg, "retrieve_tools", map[string]any{"query": "echo"}); res.IsError {
			t.Errorf("the proxy during the fork bomb: %s", resultText(res))
		}
		hostileCall(t, boxCS, "fork_release", nil, nil)
		wg.Wait()
		if bomb.Error == "" || bomb.PidsMax != 256 || bomb.PidsCurrent != 256 || bomb.Started >= 256 {
			t.Errorf("fork bomb in the box = %+v, want refused at the PID limit of 256", bomb)
		}
		// Without the profile there is no PID limit.
		var free probe.ForkResult
		hostileCall(t, openCS, "fork_bomb", map[string]any{"max": 300, "hold_ms": 1}, &free)
		if free.Error != "" || free.Started != 300 {
			t.Errorf("fork bomb without hardening = %+v, want 300 processes, past the hardened limit of 256", free)
		}
	})

	t.Run("cpu spin", func(t *testing.T) {
		var spin probe.SpinResult
		hostileCall(t, boxCS, "cpu_spin", map[string]any{"ms": 2000, "threads": 2}, &spin)
		if spin.CgroupNS <= 0 || spin.WallNS <= 0 {
			t.Fatalf("spin = %+v", spin)
		}
		ratio := float64(spin.CgroupNS) / float64(spin.WallNS)
		t.Logf("2 threads spinning under cpu_limit 0.5: %.2f CPUs (cgroup counters), throttled %d periods", ratio, spin.Throttled)
		if ratio > 0.5*1.2 {
			t.Errorf("the container used %.2f CPUs, over its 0.5 quota", ratio)
		}
	})

	t.Run("memory bomb", func(t *testing.T) {
		// Through /mcp/box: the client learns the container was OOM-killed.
		res, err := callToolErr(boxCS, "alloc", map[string]any{"mb": 300})
		why := errText(res, err)
		if !strings.Contains(why, "OOM") {
			t.Errorf("/mcp/box: the memory bomb's caller got %q, want the OOM kill named", why)
		}
		v := waitServer(t, agg, "box", 90*time.Second, "restarted after the OOM kill", func(v ServerView) bool {
			return v.State == upstream.StateReady && v.LastExit != nil && v.LastExit.OOMKilled
		})
		t.Logf("list view after the OOM kill: %+v", v.LastExit)
		// Through /mcp call_tool as well.
		res, err = callToolErr(agg, "call_tool", map[string]any{"name": "box:alloc", "args": map[string]any{"mb": 300}})
		if why := errText(res, err); !strings.Contains(why, "OOM") {
			t.Errorf("call_tool box:alloc got %q, want the OOM kill named", why)
		}
		readyInContainer(t, agg, "box", 90*time.Second)
	})
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func callToolErr(cs *mcp.ClientSession, name string, args any) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
}

// errText is what a client sees of a failed call: the error, or the
// error result's text.
func errText(res *mcp.CallToolResult, err error) string {
	if err != nil {
		return err.Error()
	}
	if res != nil && res.IsError {
		return resultText(res)
	}
	return "(the call succeeded)"
}

// A server that forks until its PID limit refuses, then exits non-zero:
// the client whose call failed is told it hit the PID limit and which
// setting controls it, and so are the list view's last_exit and the log
// line of its error state (last_error). A server that exits with the same
// code without reaching the limit is told nothing about a PID limit.
func TestHostilePidsLimitReported(t *testing.T) {
	t.Parallel()
	image := testutil.HostileImage(t)
	bomb := isoServer("bomb", image, map[string]any{"pids_limit": 64}, "/hostile")
	plain := isoServer("plain", image, map[string]any{"pids_limit": 64}, "/hostile")
	h := startIsolated(t, isoConfig(t, nil, bomb, plain))
	agg := h.connect("/mcp", nil)
	first := readyInContainer(t, agg, "bomb", 90*time.Second)
	readyInContainer(t, agg, "plain", 90*time.Second)

	res, err := callToolErr(h.connect("/mcp/bomb", nil), "fork_exit", map[string]any{"code": 2})
	why := errText(res, err)
	t.Logf("the client of fork_exit got: %s", why)
	mustContain(t, why, `server "bomb" ended during the call: server "bomb" exited (code 2): container `+first.Isolation.ContainerName+` exited with code 2 after hitting its PID limit (64 processes; pids_limit): `)
	mustContain(t, why, "fork_exit: ") // the server's own last words stay

	v := waitServer(t, agg, "bomb", 60*time.Second, "last_exit after the PID limit", func(v ServerView) bool {
		return v.LastExit != nil && v.LastExit.Container == first.Isolation.ContainerName
	})
	if v.LastExit.PidsLimitHits <= 0 {
		t.Errorf("last_exit = %+v, want the PID-limit hits counted", v.LastExit)
	}
	mustContain(t, v.LastExit.Reason, "after hitting its PID limit (64 processes; pids_limit)")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		logs := h.logs.String()
		line := lineWith(logs, "upstream disconnected", "server=bomb")
		warn := lineWith(logs, "hit its PID limit", "server=bomb")
		if line != "" && warn != "" {
			mustContain(t, line, "after hitting its PID limit (64 processes; pids_limit)")
			mustContain(t, warn, "pids_limit=64")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"upstream disconnected\" line or PID-limit warning for bomb in the log:\n%s", logs)
		}
	}

	// Control: the same exit code without reaching the limit.
	res, err = callToolErr(h.connect("/mcp/plain", nil), "exit", map[string]any{"code": 2})
	why = errText(res, err)
	t.Logf("the client of exit got: %s", why)
	mustContain(t, why, `server "plain" ended during the call: server "plain" exited (code 2)`)
	if strings.Contains(why, "PID limit") || strings.Contains(why, "pids_limit") {
		t.Fatalf("a server that never reached its PID limit is reported as hitting it: %s", why)
	}
	pv := waitServer(t, agg, "plain", 60*time.Second, "last_exit after exit 2", func(v ServerView) bool {
		return v.LastExit != nil && strings.Contains(v.LastExit.Reason, "exited with code 2")
	})
	if pv.LastExit.PidsLimitHits != 0 || strings.Contains(pv.LastExit.Reason, "PID limit") {
		t.Fatalf("plain's last_exit names a PID limit: %+v", pv.LastExit)
	}
}
