package testutil

import (
	"os/exec"
	"testing"
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
	var logs syncBuffer
	url := EverythingHTTP(t, &logs)

	res := Conformance(t, url)
	if res.Passed != 40 || res.Failed != 0 || len(res.Scenarios) != 30 {
		t.Errorf("conformance: %v; want 40 passed, 0 failed in 30 scenarios\n%s\nserver log:\n%s",
			res, res.Output, logs.String())
	}
}
