package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The hostile server: an MCP server whose tools each try one door out of
// its container (see ./hostile and internal/probe).

// hostilePackage is the hostile server's package; hostileDeps are the other
// packages of this module it is built from (their sources are part of the
// cache key).
const hostilePackage = "./internal/testutil/hostile"

var hostileDeps = []string{"./internal/probe"}

// HostileHelper is the path of the setuid-root helper in HostileImage.
const HostileHelper = "/suid-helper"

// HostileBinary returns the path of a static build of the hostile server,
// rebuilt only when its sources (or internal/probe's), go.mod or go.sum
// change.
func HostileBinary(t testing.TB) string {
	t.Helper()
	path, err := memo.do("hostile/host", func() (string, error) {
		return buildHostile(runtime.GOOS, runtime.GOARCH)
	})
	fatalIf(t, err, "HostileBinary")
	return path
}

// HostileImage returns the tag of a local FROM-scratch image with the
// hostile server at /hostile, a setuid-root copy of it at /suid-helper
// (which then only reports the identity it runs with), and empty /tmp
// (1777), /etc, /usr and /home directories to try writing into. It has no
// entrypoint: run `/hostile`.
func HostileImage(t testing.TB) string {
	t.Helper()
	docker := requireImageHost(t)
	tag, err := memo.do("image/hostile", func() (string, error) {
		bin, err := buildHostile("linux", runtime.GOARCH)
		if err != nil {
			return "", err
		}
		h := newHasher()
		h.str("layout", imageLayout+"-hostile-1")
		if err := h.file("/hostile", bin); err != nil {
			return "", err
		}
		tree := rootfs{}
		tree.dir("/tmp", 0o1777)
		for _, d := range []string{"/etc", "/usr", "/home"} {
			tree.dir(d, 0o755)
		}
		tree.file("/hostile", bin, 0o755)
		tree.file(HostileHelper, bin, 0o4755)
		return ensureImage(docker, "hostile", h.key(), tree, nil)
	})
	fatalIf(t, err, "hostile image")
	return tag
}

func buildHostile(goos, goarch string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	h, err := goKey("hostile", goos, goarch)
	if err != nil {
		return "", err
	}
	inputs := []string{"go.mod", "go.sum"}
	for _, pkg := range append([]string{hostilePackage}, hostileDeps...) {
		entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(pkg)))
		if err != nil {
			return "", err
		}
		for _, e := range entries { // ReadDir sorts by name
			if !e.IsDir() && !strings.HasSuffix(e.Name(), "_test.go") {
				inputs = append(inputs, filepath.Join(pkg, e.Name()))
			}
		}
	}
	for _, in := range inputs {
		if err := h.file(filepath.ToSlash(in), filepath.Join(root, in)); err != nil {
			return "", err
		}
	}
	dir, err := cachedDir("hostile", h.key(), func(dir string) error {
		return runGo(root, []string{"GOOS=" + goos, "GOARCH=" + goarch},
			"build", "-trimpath", "-o", filepath.Join(dir, "hostile"), hostilePackage)
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "hostile"), nil
}

// ProxyBinary returns the path of a build of mcpproxy itself
// (./cmd/mcpproxy), for tests that run the proxy as a process of its own
// (its memory, signals, exit). It is rebuilt when any non-test Go source of
// the module, go.mod or go.sum changes.
func ProxyBinary(t testing.TB) string {
	t.Helper()
	path, err := memo.do("mcpproxy/host", func() (string, error) {
		root, err := ModuleRoot()
		if err != nil {
			return "", err
		}
		h, err := goKey("mcpproxy", runtime.GOOS, runtime.GOARCH)
		if err != nil {
			return "", err
		}
		var inputs []string
		err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bench" || name == "design") {
					return filepath.SkipDir
				}
				return nil
			}
			// Go sources and everything they may embed (the UI, the shim).
			if !strings.HasSuffix(name, "_test.go") && !strings.HasSuffix(name, ".md") {
				inputs = append(inputs, p)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		for _, in := range inputs { // WalkDir walks in lexical order
			rel, _ := filepath.Rel(root, in)
			if err := h.file(filepath.ToSlash(rel), in); err != nil {
				return "", err
			}
		}
		dir, err := cachedDir("mcpproxy", h.key(), func(dir string) error {
			return runGo(root, nil, "build", "-o", filepath.Join(dir, "mcpproxy"), "./cmd/mcpproxy")
		})
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, "mcpproxy"), nil
	})
	fatalIf(t, err, "ProxyBinary")
	return path
}
