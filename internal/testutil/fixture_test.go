package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestFixtureTools drives every tool of the fixture server on the host, with
// the protocol mcpproxy pins upstream and with the SDK's default.
func TestFixtureTools(t *testing.T) {
	bin := FixtureBinary(t)
	for _, proto := range protocols {
		t.Run("proto="+proto.name, func(t *testing.T) { testFixtureTools(t, bin, proto.version) })
	}
}

func testFixtureTools(t *testing.T, bin, proto string) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "FIXTURE_SECRET=s3cret")
	var progress []float64
	var mu sync.Mutex
	cs := connectProto(t, cmd, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, req.Params.Progress)
			mu.Unlock()
		},
	}, proto)

	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if got, want := strings.Join(names, ","), "alloc,crash,dial,echo,environ,getenv,list_pids,read_file,slow,whoami"; got != want {
		t.Errorf("tools = %s, want %s", got, want)
	}

	t.Run("echo", func(t *testing.T) {
		if got, isErr := call(t, cs, "echo", map[string]any{"text": "héllo"}); got != "héllo" || isErr {
			t.Errorf("echo = %q, %v", got, isErr)
		}
	})
	t.Run("list_pids", func(t *testing.T) {
		got, _ := call(t, cs, "list_pids", nil)
		var procs []FixtureProcess
		if err := json.Unmarshal([]byte(got), &procs); err != nil {
			t.Fatalf("%v: %s", err, got)
		}
		found := false
		for _, p := range procs {
			if p.PID == cmd.Process.Pid && strings.HasPrefix(p.Cmdline, bin) {
				found = true
			}
		}
		if !found {
			t.Errorf("the fixture's own pid %d is not among %d processes", cmd.Process.Pid, len(procs))
		}
	})
	t.Run("read_file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "canary")
		if err := os.WriteFile(path, []byte("canary-42"), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, isErr := call(t, cs, "read_file", map[string]any{"path": path}); got != "canary-42" || isErr {
			t.Errorf("read_file = %q, %v", got, isErr)
		}
		got, isErr := call(t, cs, "read_file", map[string]any{"path": path + ".missing"})
		if !isErr || !strings.Contains(got, "no such file") {
			t.Errorf("read_file of a missing file = %q, isError %v", got, isErr)
		}
	})
	t.Run("dial", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if got, isErr := call(t, cs, "dial", map[string]any{"addr": l.Addr().String()}); got != "ok" || isErr {
			t.Errorf("dial open port = %q, %v", got, isErr)
		}
		closed := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		got, isErr := call(t, cs, "dial", map[string]any{"addr": closed, "timeout_ms": 500})
		if !isErr || !strings.Contains(got, "refused") {
			t.Errorf("dial closed port = %q, isError %v", got, isErr)
		}
	})
	t.Run("alloc", func(t *testing.T) {
		call(t, cs, "alloc", map[string]any{"mb": 4})
		if got, isErr := call(t, cs, "alloc", map[string]any{"mb": 4}); got != "allocated 4 MiB, holding 8 MiB" || isErr {
			t.Errorf("alloc = %q, %v", got, isErr)
		}
	})
	t.Run("env", func(t *testing.T) {
		if got, _ := call(t, cs, "getenv", map[string]any{"name": "FIXTURE_SECRET"}); got != "s3cret" {
			t.Errorf("getenv = %q", got)
		}
		if got, _ := call(t, cs, "getenv", map[string]any{"name": "FIXTURE_UNSET"}); got != "" {
			t.Errorf("getenv of an unset name = %q", got)
		}
		got, _ := call(t, cs, "environ", nil)
		var names []string
		if err := json.Unmarshal([]byte(got), &names); err != nil {
			t.Fatalf("%v: %s", err, got)
		}
		if !slices.Contains(names, "FIXTURE_SECRET") || strings.Contains(got, "s3cret") {
			t.Errorf("environ = %s: want the name without its value", got)
		}
	})
	t.Run("whoami", func(t *testing.T) {
		got, _ := call(t, cs, "whoami", nil)
		var id FixtureIdentity
		if err := json.Unmarshal([]byte(got), &id); err != nil {
			t.Fatalf("%v: %s", err, got)
		}
		host, _ := os.Hostname()
		if id.PID != cmd.Process.Pid || id.UID != os.Getuid() || id.GID != os.Getgid() || id.Hostname != host {
			t.Errorf("whoami = %s", got)
		}
	})
	t.Run("slow", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		params := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"ms": 100}}
		params.SetProgressToken("tok-1")
		res, err := cs.CallTool(ctx, params)
		if err != nil || res.IsError {
			t.Fatalf("slow: %v %v", res, err)
		}
		// Notifications are handled asynchronously: the last may trail the result.
		got := ""
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			got = fmt.Sprint(progress)
			mu.Unlock()
			if got == "[1 2 3 4]" {
				break
			}
		}
		if got != "[1 2 3 4]" {
			t.Errorf("progress notifications = %v, want [1 2 3 4]", got)
		}
	})
	t.Run("crash", func(t *testing.T) {
		if _, err := callErr(cs, "crash", nil); err == nil {
			t.Fatal("crash answered")
		}
		cs.Close()
		if code := cmd.ProcessState.ExitCode(); code != FixtureCrashCode {
			t.Errorf("exit code after crash = %d, want %d", code, FixtureCrashCode)
		}
	})
}

// TestFixtureFlags covers the flags that shape the fixture's lifecycle.
func TestFixtureFlags(t *testing.T) {
	bin := FixtureBinary(t)

	t.Run("stderr", func(t *testing.T) {
		cmd := exec.Command(bin, "-stderr", "hello from fixture")
		var stderr syncBuffer
		cmd.Stderr = &stderr
		cs := connect(t, cmd, nil)
		cs.Close()
		if got := stderr.String(); got != "hello from fixture\n" {
			t.Errorf("stderr = %q", got)
		}
	})
	t.Run("name", func(t *testing.T) {
		cs := connect(t, exec.Command(bin, "-name", "fixture-a"), nil)
		if got := cs.InitializeResult().ServerInfo.Name; got != "fixture-a" {
			t.Errorf("server name = %q", got)
		}
	})
	t.Run("tools-changed-after", func(t *testing.T) {
		changed := make(chan struct{}, 1)
		cs := connect(t, exec.Command(bin, "-tools-changed-after", "100ms"), &mcp.ClientOptions{
			ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
				select {
				case changed <- struct{}{}:
				default:
				}
			},
		})
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatal("no tools/list_changed")
		}
		if got, isErr := call(t, cs, "late", nil); got != "late" || isErr {
			t.Errorf("late = %q, %v", got, isErr)
		}
	})
	t.Run("crash-after", func(t *testing.T) {
		cmd := exec.Command(bin, "-crash-after", "100ms")
		cs := connect(t, cmd, nil)
		waitExit(t, cs, cmd)
	})
	for _, proto := range protocols {
		t.Run("exit-after-init/proto="+proto.name, func(t *testing.T) {
			cmd := exec.Command(bin, "-exit-after-init")
			cs := connectProto(t, cmd, nil, proto.version)
			waitExit(t, cs, cmd)
		})
	}
	t.Run("hang", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		client := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
		cmd := exec.Command(bin, "-hang")
		_, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
		if err == nil {
			t.Fatal("a hanging server completed initialize")
		}
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
}

// waitExit waits for the fixture to end the session on its own and checks
// that it exited with code 3.
func waitExit(t *testing.T, cs *mcp.ClientSession, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cs.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the fixture did not exit")
	}
	cs.Close() // reaps the process
	if code := cmd.ProcessState.ExitCode(); code != FixtureCrashCode {
		t.Errorf("exit code = %d, want %d", code, FixtureCrashCode)
	}
}

type syncBuffer = SyncBuffer
