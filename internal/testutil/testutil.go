// Package testutil provides the fixtures mcpproxy's tests share: the
// conformance reference server (built from the Go module proxy), the fixture
// MCP server in ./mcpfixture, the Node reference servers unpacked from
// ../shared/peers, the conformance suite runner, and local Docker images that
// hold each of them.
//
// Everything built is cached across test processes in [CacheDir], keyed by a
// hash of its inputs, and built under a file lock so that test packages run in
// parallel by `go test ./...` never race. Images are tagged mcpproxy-test/…,
// built only when missing and never removed: they are cache too.
//
// Helpers that need something the machine lacks (a Docker engine, node,
// ../shared) skip the test, or fail it when [InCI] is true.
package testutil

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// SharedEnv names the variable that overrides where ../shared is.
const SharedEnv = "MCPPROXY_SHARED"

// InCI reports whether the tests run in CI (the CI variable is true), where a
// missing prerequisite is a failure rather than a reason to skip.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// skipOrFatal skips t, or fails it in CI.
func skipOrFatal(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// ModuleRoot returns the directory holding mcpproxy's go.mod, found by walking
// up from the working directory (a test's working directory is its package).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// SharedDir locates the shared folder that sits beside the repository
// (../shared relative to the module root), or $MCPPROXY_SHARED when set. The
// boolean is false when no such directory exists.
func SharedDir() (string, bool) {
	if dir := os.Getenv(SharedEnv); dir != "" {
		return dir, isDir(dir)
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", false
	}
	dir := filepath.Join(filepath.Dir(root), "shared")
	return dir, isDir(dir)
}

// RequireShared returns the shared folder, or skips the test (fails it in CI)
// saying which test needs it and how to provide it.
func RequireShared(t testing.TB) string {
	t.Helper()
	return requireShared(t, t.Name())
}

func requireShared(t testing.TB, step string) string {
	t.Helper()
	dir, ok := SharedDir()
	if !ok {
		skipOrFatal(t, "%s needs the shared folder (../shared beside the repository, with peers/): "+
			"not found at %q; set %s to its location", step, dir, SharedEnv)
	}
	return dir
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// fatalIf fails t with what when err is not nil.
func fatalIf(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
