package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"
)

// ConformanceTimeout bounds one run of the conformance suite.
const ConformanceTimeout = 3 * time.Minute

// ConformanceResult is what the conformance suite printed.
type ConformanceResult struct {
	// Passed and Failed are the checks counted on the final "Total:" line.
	Passed, Failed int
	// Scenarios maps each scenario to its {passed, failed} checks.
	Scenarios map[string][2]int
	// Output is everything the suite printed (stdout and stderr).
	Output string
}

// FailedScenarios lists, sorted, the scenarios with at least one failed check.
func (r ConformanceResult) FailedScenarios() []string {
	var names []string
	for name, c := range r.Scenarios {
		if c[1] > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Conformance runs the official MCP conformance suite (server side) against
// the Streamable-HTTP endpoint at url and returns its counts. extraArgs are
// appended to the command line (e.g. "--scenario", "ping"). The test fails if
// the suite cannot run or prints no total; failed checks are only reported in
// the result, for the caller to judge.
func Conformance(t testing.TB, url string, extraArgs ...string) ConformanceResult {
	t.Helper()
	node := RequireNode(t)
	suite := filepath.Join(NodePeers(t), "node_modules", ".bin", "conformance")

	ctx, cancel := context.WithTimeout(context.Background(), ConformanceTimeout)
	defer cancel()
	args := append([]string{suite, "server", "--url", url}, extraArgs...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = t.TempDir() // the suite may write result files into its working directory
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("conformance suite against %s: no result within %v\n%s", url, ConformanceTimeout, out.Bytes())
	}
	res, err := parseConformance(out.String())
	if err != nil {
		t.Fatalf("conformance suite against %s: %v (exit: %v)\n%s", url, err, runErr, out.Bytes())
	}
	return res
}

var (
	scenarioLine = regexp.MustCompile(`(?m)^[✓✗] (\S+): (\d+) passed, (\d+) failed`)
	totalLine    = regexp.MustCompile(`(?m)^Total: (\d+) passed, (\d+) failed`)
)

// parseConformance reads the suite's summary: one "✓ name: N passed, M failed"
// line per scenario and a final "Total: N passed, M failed".
func parseConformance(out string) (ConformanceResult, error) {
	res := ConformanceResult{Scenarios: map[string][2]int{}, Output: out}
	for _, m := range scenarioLine.FindAllStringSubmatch(out, -1) {
		p, _ := strconv.Atoi(m[2])
		f, _ := strconv.Atoi(m[3])
		res.Scenarios[m[1]] = [2]int{p, f}
	}
	all := totalLine.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		return res, errors.New("no \"Total: N passed, M failed\" line in the output")
	}
	last := all[len(all)-1]
	res.Passed, _ = strconv.Atoi(last[1])
	res.Failed, _ = strconv.Atoi(last[2])
	return res, nil
}

// String summarises the result on one line.
func (r ConformanceResult) String() string {
	return fmt.Sprintf("%d passed, %d failed in %d scenarios (failing: %v)",
		r.Passed, r.Failed, len(r.Scenarios), r.FailedScenarios())
}
