package shim

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/embedbin"
)

// The committed binaries must be exactly what the committed source builds
// to (the build is reproducible), so nothing unreviewed runs in containers.
func TestEmbeddedShimMatchesSource(t *testing.T) {
	skip, err := embedbin.Verify("./shimbin", "shim", t.TempDir(), "go generate ./internal/shim", Binary)
	if err != nil {
		t.Fatal(err)
	}
	if skip != "" {
		t.Skip(skip)
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
