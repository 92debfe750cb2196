package testutil

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
)

func TestInCI(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want bool
	}{{"true", true}, {"1", true}, {"false", false}, {"", false}, {"yes", false}} {
		t.Setenv("CI", tc.env)
		if got := InCI(); got != tc.want {
			t.Errorf("CI=%q: InCI() = %v, want %v", tc.env, got, tc.want)
		}
	}
}

func TestSharedDir(t *testing.T) {
	t.Run("override", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv(SharedEnv, dir)
		if got, ok := SharedDir(); got != dir || !ok {
			t.Errorf("SharedDir() = %q, %v; want %q, true", got, ok, dir)
		}
		t.Setenv(SharedEnv, filepath.Join(dir, "missing"))
		if _, ok := SharedDir(); ok {
			t.Error("SharedDir() reports a missing override as present")
		}
	})
	t.Run("beside the repository", func(t *testing.T) {
		t.Setenv(SharedEnv, "")
		root, err := ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		got, ok := SharedDir()
		if want := filepath.Join(filepath.Dir(root), "shared"); got != want {
			t.Errorf("SharedDir() = %q, want %q", got, want)
		}
		if ok != isDir(got) {
			t.Errorf("SharedDir() ok = %v, but isDir = %v", ok, isDir(got))
		}
	})
}

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("FreePort() = %d, which cannot be bound: %v", port, err)
	}
	l.Close()
}

func TestParseConformance(t *testing.T) {
	out, err := os.ReadFile(filepath.Join("testdata", "conformance-output.txt"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parseConformance(string(out))
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed != 7 || res.Failed != 2 {
		t.Errorf("totals = %d passed, %d failed; want 7, 2", res.Passed, res.Failed)
	}
	want := map[string][2]int{
		"server-initialize":            {1, 0},
		"tools-call-with-progress":     {0, 1},
		"elicitation-sep1034-defaults": {5, 0},
		"dns-rebinding-protection":     {1, 1},
	}
	if !reflect.DeepEqual(res.Scenarios, want) {
		t.Errorf("scenarios = %v, want %v", res.Scenarios, want)
	}
	if got := res.FailedScenarios(); !reflect.DeepEqual(got, []string{"dns-rebinding-protection", "tools-call-with-progress"}) {
		t.Errorf("FailedScenarios() = %v", got)
	}
	if _, err := parseConformance("Error: connect ECONNREFUSED\n"); err == nil {
		t.Error("output without a Total line parsed without error")
	}
}

func TestParseLdd(t *testing.T) {
	out := "\tlinux-vdso.so.1 (0x00007ffd4f3f2000)\n" +
		"\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f86978ec000)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f869733e000)\n" +
		"\t/lib64/ld-linux-x86-64.so.2 (0x00007f8697904000)\n"
	got, err := parseLdd(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/lib/x86_64-linux-gnu/libdl.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseLdd = %v, want %v", got, want)
	}
	if _, err := parseLdd("\tlibfoo.so.1 => not found\n"); err == nil {
		t.Error("a missing library parsed without error")
	}
	if got, err := parseLdd("\tstatically linked\n"); err != nil || len(got) != 0 {
		t.Errorf("static binary: %v, %v", got, err)
	}
}

func TestRootfsTar(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "bin"), []byte("#!"), 0o700); err != nil {
		t.Fatal(err)
	}
	mods := filepath.Join(src, "mods")
	if err := os.MkdirAll(filepath.Join(mods, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mods, "pkg", "index.js"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../pkg/index.js", filepath.Join(mods, "link")); err != nil {
		t.Fatal(err)
	}
	tree := rootfs{}
	tree.dir("/tmp", 0o1777)
	tree.file("/usr/bin/tool", filepath.Join(src, "bin"), 0o755)
	tree.tree("/peers/node_modules", mods)
	var buf bytes.Buffer
	if err := tree.writeTar(&buf); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[hdr.Name] = fmt.Sprintf("%c %o %s", hdr.Typeflag, hdr.Mode, hdr.Linkname)
	}
	want := map[string]string{
		"tmp/":                            "5 1777 ",
		"usr/":                            "5 755 ",
		"usr/bin/":                        "5 755 ",
		"usr/bin/tool":                    "0 755 ",
		"peers/":                          "5 755 ",
		"peers/node_modules/":             "5 755 ",
		"peers/node_modules/pkg/":         "5 755 ",
		"peers/node_modules/pkg/index.js": "0 644 ",
		"peers/node_modules/link":         "2 777 ../pkg/index.js",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tar entries:\n got %v\nwant %v", got, want)
	}
}

// TestCachedDirBuildsOnce proves the lock: concurrent callers of one artifact
// see a single build, and a later call finds it without building.
func TestCachedDirBuildsOnce(t *testing.T) {
	t.Setenv(CacheEnv, t.TempDir())
	var builds atomic.Int32
	build := func(dir string) error {
		builds.Add(1)
		return os.WriteFile(filepath.Join(dir, "out"), []byte("x"), 0o644)
	}
	var wg sync.WaitGroup
	dirs := make([]string, 8)
	for i := range dirs {
		wg.Go(func() {
			dir, err := cachedDir("thing", "k1", build)
			if err != nil {
				t.Error(err)
			}
			dirs[i] = dir
		})
	}
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Errorf("%d builds, want 1", n)
	}
	for _, d := range dirs {
		if d != dirs[0] {
			t.Errorf("callers got different dirs: %v", dirs)
		}
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "out")); err != nil {
		t.Error(err)
	}
	if _, err := cachedDir("thing", "k2", build); err != nil || builds.Load() != 2 {
		t.Errorf("a new key did not rebuild: %v, %d builds", err, builds.Load())
	}
	failing := func(string) error { return fmt.Errorf("boom") }
	if _, err := cachedDir("broken", "k", failing); err == nil {
		t.Error("a failed build reported success")
	}
	if isDir(filepath.Join(CacheDir(), "broken-k")) {
		t.Error("a failed build left its directory in place")
	}
}
