package testutil

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/probe"
)

// rpcProc talks JSON-RPC to a hostile server over its stdio.
type rpcProc struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Reader
	id  int
}

func startHostile(t *testing.T, argv ...string) *rpcProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	var stderr SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		_ = cmd.Wait()
		cancel()
		if t.Failed() {
			t.Logf("hostile stderr:\n%s", stderr.String())
		}
	})
	p := &rpcProc{t: t, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	p.request("initialize", map[string]any{"protocolVersion": "2025-11-25"})
	return p
}

// request sends a request and returns its result, skipping notifications.
func (p *rpcProc) request(method string, params any) json.RawMessage {
	p.t.Helper()
	p.id++
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": p.id, "method": method, "params": params})
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("%s: %v", method, err)
	}
	for {
		line, err := p.out.ReadBytes('\n')
		if err != nil {
			p.t.Fatalf("%s: reading the answer: %v", method, err)
		}
		var m struct {
			ID     *int            `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if json.Unmarshal(line, &m) != nil || m.ID == nil || *m.ID != p.id {
			continue
		}
		if m.Error != nil {
			p.t.Fatalf("%s: error %s", method, m.Error)
		}
		return m.Result
	}
}

// tool calls a tool and decodes its text into v (when v is not nil).
func (p *rpcProc) tool(name string, args map[string]any, v any) string {
	p.t.Helper()
	var res struct {
		Content []struct{ Text string }
		IsError bool
	}
	if err := json.Unmarshal(p.request("tools/call", map[string]any{"name": name, "arguments": args}), &res); err != nil || len(res.Content) == 0 {
		p.t.Fatalf("%s: bad result: %v", name, err)
	}
	text := res.Content[0].Text
	if res.IsError {
		p.t.Fatalf("%s: tool error: %s", name, text)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(text), v); err != nil {
			p.t.Fatalf("%s: decoding %q: %v", name, text, err)
		}
	}
	return text
}

func (p *rpcProc) attempt(name string, args map[string]any) probe.Attempt {
	var a probe.Attempt
	p.tool(name, args, &a)
	return a
}

// TestHostileFixture checks the fixture's reports against containers whose
// settings are known: Docker's defaults, and the hardening flags written by
// hand. The proxy's own suite (internal/app) then runs it through mcpproxy.
func TestHostileFixture(t *testing.T) {
	t.Parallel()
	image := HostileImage(t)
	docker := RequireDocker(t)
	run := func(flags ...string) []string {
		return append(append([]string{docker, "run", "--rm", "-i", "--network", "none", "--label", "mcpproxy-test=hostile"}, flags...), image, "/hostile")
	}

	t.Run("docker defaults", func(t *testing.T) {
		t.Parallel()
		p := startHostile(t, run()...)
		var who struct {
			Identity probe.Identity
			Limits   probe.Limits
		}
		p.tool("identity", nil, &who)
		if who.Identity.UID != 0 || who.Identity.CapEff == probe.NoCaps || who.Identity.NoNewPrivs != 0 || who.Identity.Seccomp != 2 {
			t.Errorf("identity under Docker's defaults = %+v", who.Identity)
		}
		for _, door := range []string{"raw_socket", "mknod", "chown"} {
			if a := p.attempt(door, nil); !a.Allowed {
				t.Errorf("%s refused under Docker's defaults: %+v", door, a)
			}
		}
		for _, door := range []string{"mount", "proc_sys_write"} {
			if a := p.attempt(door, nil); a.Allowed {
				t.Errorf("%s allowed under Docker's defaults: %+v", door, a)
			}
		}
		var w probe.WriteResult
		if p.tool("write", map[string]any{"dir": "/etc"}, &w); w.Error != "" {
			t.Errorf("write /etc refused under Docker's defaults: %+v", w)
		}
	})

	t.Run("hardened by hand", func(t *testing.T) {
		t.Parallel()
		p := startHostile(t, run("--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only",
			"--tmpfs", "/tmp:size=8m", "--user", "65534:65534", "--pids-limit", "64", "--memory", "64m", "--memory-swap", "64m", "--init")...)
		var who struct {
			Identity probe.Identity
			Limits   probe.Limits
		}
		p.tool("identity", nil, &who)
		id, l := who.Identity, who.Limits
		if id.UID != 65534 || id.CapEff != probe.NoCaps || id.CapBnd != probe.NoCaps || id.NoNewPrivs != 1 || id.Seccomp != 2 {
			t.Errorf("identity = %+v", id)
		}
		if l.PidsMax != 64 || l.MemoryBytes != 64<<20 || l.MemorySwapBytes != 64<<20 {
			t.Errorf("limits = %+v", l)
		}
		for _, door := range []string{"raw_socket", "mknod", "chown", "mount", "proc_sys_write", "setuid"} {
			if a := p.attempt(door, nil); a.Allowed {
				t.Errorf("%s allowed when hardened: %+v", door, a)
			}
		}
		for _, dir := range []string{"/", "/etc", "/usr"} {
			var w probe.WriteResult
			if p.tool("write", map[string]any{"dir": dir}, &w); w.Error == "" || !strings.Contains(w.Error, "read-only file system") {
				t.Errorf("write %s = %+v, want read-only file system", dir, w)
			}
		}
		var w probe.WriteResult
		p.tool("write", map[string]any{"dir": "/tmp", "bytes": 32 << 20}, &w)
		if w.Wrote >= 32<<20 || !strings.Contains(w.Error, "no space left on device") {
			t.Errorf("32 MiB into an 8 MiB /tmp = %+v, want stopped by no space", w)
		}
		var writable []string
		p.tool("writable_paths", nil, &writable)
		if strings.Join(writable, ",") != "/tmp,/dev/shm" {
			t.Errorf("writable paths = %v, want [/tmp /dev/shm]", writable)
		}
		var bomb probe.ForkResult
		p.tool("fork_bomb", map[string]any{"hold_ms": 1}, &bomb)
		if bomb.Error == "" || bomb.Started < 32 || bomb.Started >= 64 || bomb.PidsCurrent != 64 {
			t.Errorf("fork bomb = %+v, want refused at the limit of 64", bomb)
		}
		t.Logf("fork bomb: %+v", bomb)
		if got := p.tool("echo", map[string]any{"text": "alive"}, nil); got != "alive" {
			t.Errorf("after the bomb: %q", got)
		}
	})

	t.Run("setuid gains root without no-new-privileges", func(t *testing.T) {
		t.Parallel()
		p := startHostile(t, run("--user", "65534:65534")...)
		if a := p.attempt("setuid", nil); !a.Allowed || !strings.Contains(a.Detail, "euid 0") {
			t.Errorf("setuid helper without no-new-privileges = %+v, want euid 0", a)
		}
	})
}

// TestHostileHelperName: run under the helper's name, the binary only
// reports the identity it runs with.
func TestHostileHelperName(t *testing.T) {
	bin := HostileBinary(t)
	link := t.TempDir() + "/suid-helper"
	if err := exec.Command("cp", bin, link).Run(); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command(link).Output()
	var r probe.HelperReport
	if err != nil || json.Unmarshal(b, &r) != nil || r.CapEff == "" {
		t.Fatalf("helper: %v %q", err, b)
	}
	if want := fmt.Sprint(os.Geteuid()); fmt.Sprint(r.EUID) != want {
		t.Errorf("helper euid %d, want %s", r.EUID, want)
	}
}
