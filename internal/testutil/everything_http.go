package testutil

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"testing"
	"time"
)

// EverythingHTTP runs the conformance reference server on its own stateful
// Streamable-HTTP endpoint for the rest of the test and returns its URL
// once it accepts connections. The server's output goes to logs (nil
// discards it).
func EverythingHTTP(t testing.TB, logs io.Writer) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	cmd := exec.Command(EverythingServer(t), "-http", addr, "-stateless=false")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	WaitListening(t, addr)
	return "http://" + addr + "/"
}

// WaitListening waits until something accepts connections at addr.
func WaitListening(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
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
