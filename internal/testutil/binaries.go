package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// EverythingModule is the conformance reference server, pinned to the SDK
// version mcpproxy builds on.
const EverythingModule = "github.com/modelcontextprotocol/go-sdk/conformance/everything-server@v1.8.0"

// fixturePackage is the fixture server's package, relative to the module root.
const fixturePackage = "./internal/testutil/mcpfixture"

// EverythingServer returns the path of a static (CGO_ENABLED=0) build of the
// conformance reference server, installed with `go install` from the module
// proxy into the cache. It speaks stdio, or Streamable HTTP with -http ADDR.
func EverythingServer(t testing.TB) string {
	t.Helper()
	path, err := memo.do("everything-server/host", func() (string, error) {
		return buildEverything(runtime.GOOS, runtime.GOARCH)
	})
	fatalIf(t, err, "EverythingServer")
	return path
}

// FixtureBinary returns the path of a static build of the fixture MCP server
// (./internal/testutil/mcpfixture), rebuilt only when its sources, go.mod or
// go.sum change.
func FixtureBinary(t testing.TB) string {
	t.Helper()
	path, err := memo.do("mcpfixture/host", func() (string, error) {
		return buildFixture(runtime.GOOS, runtime.GOARCH)
	})
	fatalIf(t, err, "FixtureBinary")
	return path
}

// goVersion returns the version of the go command on PATH (which `go test`
// puts there), so that a toolchain change rebuilds the fixtures.
func goVersion() (string, error) {
	return memo.do("go-version", func() (string, error) {
		out, err := exec.Command("go", "env", "GOVERSION").Output()
		if err != nil {
			return "", fmt.Errorf("go env GOVERSION: %w", err)
		}
		return strings.TrimSpace(string(out)), nil
	})
}

// goKey starts a key with what the go toolchain contributes to a binary.
func goKey(what, goos, goarch string) (*hasher, error) {
	v, err := goVersion()
	if err != nil {
		return nil, err
	}
	h := newHasher()
	h.str("what", what)
	h.str("go", v)
	h.str("goos", goos)
	h.str("goarch", goarch)
	h.str("cgo", "0")
	return h, nil
}

func buildEverything(goos, goarch string) (string, error) {
	if goos != runtime.GOOS || goarch != runtime.GOARCH {
		// go install refuses to cross-compile into GOBIN.
		return "", fmt.Errorf("everything-server for %s/%s: can only build for the host (%s/%s)",
			goos, goarch, runtime.GOOS, runtime.GOARCH)
	}
	h, err := goKey(EverythingModule, goos, goarch)
	if err != nil {
		return "", err
	}
	dir, err := cachedDir("everything-server", h.key(), func(dir string) error {
		return runGo("", []string{"GOBIN=" + dir, "GOOS=" + goos, "GOARCH=" + goarch},
			"install", "-trimpath", EverythingModule)
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "everything-server"), nil
}

func buildFixture(goos, goarch string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	h, err := goKey("mcpfixture", goos, goarch)
	if err != nil {
		return "", err
	}
	inputs := []string{"go.mod", "go.sum"}
	src := filepath.Join(root, filepath.FromSlash(fixturePackage))
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	for _, e := range entries { // ReadDir sorts by name
		if !e.IsDir() {
			inputs = append(inputs, filepath.Join(fixturePackage, e.Name()))
		}
	}
	for _, in := range inputs {
		if err := h.file(filepath.ToSlash(in), filepath.Join(root, in)); err != nil {
			return "", err
		}
	}
	dir, err := cachedDir("mcpfixture", h.key(), func(dir string) error {
		return runGo(root, []string{"GOOS=" + goos, "GOARCH=" + goarch},
			"build", "-trimpath", "-o", filepath.Join(dir, "mcpfixture"), fixturePackage)
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "mcpfixture"), nil
}

// runGo runs the go command with CGO disabled (static binaries) and env added.
func runGo(dir string, env []string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out.Bytes())
	}
	return nil
}
