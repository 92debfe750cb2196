package shim

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The committed binaries must be exactly what the committed source builds
// to (the build is reproducible), so nothing unreviewed runs in containers.
func TestEmbeddedShimMatchesSource(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("bin", "GOVERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(want)) != runtime.Version() {
		t.Skipf("embedded shims were built with %s, this is %s: run `go generate ./internal/shim` to compare", strings.TrimSpace(string(want)), runtime.Version())
	}
	for _, arch := range []string{"amd64", "arm64"} {
		out := filepath.Join(t.TempDir(), "shim")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, "./shimbin")
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", arch, err, b)
		}
		built, _ := os.ReadFile(out)
		embedded, err := Binary(arch)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(built, embedded) {
			t.Fatalf("bin/shim-linux-%s differs from a fresh build of ./shimbin: run `go generate ./internal/shim`", arch)
		}
	}
}

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	p1, err := Install(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p1)
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("installed shim: %v %v", st, err)
	}
	p2, err := Install(dir)
	if err != nil || p2 != p1 {
		t.Fatalf("second install: %q %v, want %q", p2, err, p1)
	}
	b, _ := os.ReadFile(p1)
	emb, _ := Binary(runtime.GOARCH)
	if !bytes.Equal(b, emb) {
		t.Fatal("installed bytes differ from the embedded shim")
	}
	if _, err := Binary("mips"); err == nil {
		t.Fatal("want an error for an architecture without a shim")
	}
}

// Without a socket the shim fails loudly instead of running the server with
// the wrong stdio.
func TestShimFailsWithoutSocket(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux shim")
	}
	p, err := Install(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(p, filepath.Join(t.TempDir(), "missing.sock"), "/bin/true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "mcpproxy shim: connect") {
		t.Fatalf("err %v, output %q", err, out)
	}
}
