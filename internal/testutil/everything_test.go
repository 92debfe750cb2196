package testutil

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"
)

// TestEverythingServer talks to the reference server over stdio.
func TestEverythingServer(t *testing.T) {
	cs := connect(t, exec.Command(EverythingServer(t)), nil)
	if got := cs.InitializeResult().ServerInfo.Name; got != "mcp-conformance-test-server" {
		t.Errorf("server name = %q", got)
	}
	if got, isErr := call(t, cs, "test_simple_text", nil); got == "" || isErr {
		t.Errorf("test_simple_text = %q, isError %v", got, isErr)
	}
}

// TestConformanceEverythingServer is the baseline every proxy test compares
// with: the suite against the reference server served directly over stateful
// Streamable HTTP passes 40 checks and fails none.
func TestConformanceEverythingServer(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	cmd := exec.Command(EverythingServer(t), "-http", addr, "-stateless=false")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitListening(t, addr)

	res := Conformance(t, "http://"+addr+"/")
	if res.Passed != 40 || res.Failed != 0 || len(res.Scenarios) != 30 {
		t.Errorf("conformance: %v; want 40 passed, 0 failed in 30 scenarios\n%s\nserver log:\n%s",
			res, res.Output, logs.String())
	}
}

// waitListening waits until something accepts connections at addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens at %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
