package machine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// The data dir is made absolute with its symlinks resolved before it is
// named: two spellings of one folder are one data dir.
func TestHostNamesTheDataDirOnce(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	resolved, err := filepath.EvalSymlinks(real)
	if err != nil {
		t.Fatal(err)
	}
	a, b := Host(real, ""), Host(link, "")
	if a.DataDir != resolved || b.DataDir != resolved || a.DataDirID != b.DataDirID || a.DataDirID != isolation.DataDirID(resolved) {
		t.Fatalf("data dir %q (%s) and %q (%s), want %q", a.DataDir, a.DataDirID, b.DataDir, b.DataDirID, resolved)
	}
	if a.HostID == "" || a.HostID != isolation.HostID(ID()) {
		t.Fatalf("host ID %q", a.HostID)
	}
	if dir, err := a.Stat(real); err != nil || !dir {
		t.Fatalf("Stat(%s) = %v, %v", real, dir, err)
	}
	if got, err := a.Resolve(link); err != nil || got != resolved {
		t.Fatalf("Resolve(%s) = %q, %v", link, got, err)
	}
}
