package upstream

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The package keeps one job per file and no file over 400 lines (it was
// 3.1k lines doing four jobs; the parts it shed live in process, fastpath
// and docker). A file that grows past the bound is split along a seam.
func TestNoFileOver400Lines(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte("\n")); n > 400 {
			t.Errorf("%s has %d lines: split it along a seam (at most 400)", f, n)
		}
	}
}
