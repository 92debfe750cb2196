package main

import (
	"bytes"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// initBudget bounds the heap one of mcpproxy's own packages may allocate
// while it is initialised, before main: every command pays it, and serve
// pays it before its first upstream starts. Patterns compiled at package
// level cost internal/config ~200 KB, and a Kubernetes scheme built at
// init internal/kube ~100 KB, before they became lazy.
const initBudget = 16 << 10

var initLine = regexp.MustCompile(`(?m)^init (\S+) @[0-9.]+ ms, [0-9.]+ ms clock, (\d+) bytes, (\d+) allocs$`)

// TestInitBudget: the binary's own packages stay within initBudget at
// init (GODEBUG=inittrace=1 counts bytes and allocations, not time).
func TestInitBudget(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(proxyBin, "version")
	cmd.Env = append(testEnv(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mcpproxy version: %v\n%s", err, stderr.String())
	}
	own := 0
	for _, m := range initLine.FindAllStringSubmatch(stderr.String(), -1) {
		pkg := m[1]
		if !strings.HasPrefix(pkg, "github.com/mcpproxy/mcpproxy/") {
			continue
		}
		own++
		n, _ := strconv.Atoi(m[2])
		if n > initBudget {
			t.Errorf("%s allocates %d bytes (%s allocations) at init, over the %d-byte budget: make it lazy", pkg, n, m[3], initBudget)
		}
	}
	if own == 0 {
		t.Fatalf("no init line of mcpproxy's packages in:\n%s", stderr.String())
	}
}
