// Package embedbin builds the static Linux helpers mcpproxy embeds and
// bind-mounts into containers (the stdio shim, the doctor's probe). The
// build is reproducible (-trimpath, no build ID, no cgo), so a test can
// prove the committed bytes are what the committed source builds to and
// nothing unreviewed runs in a container.
package embedbin

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Arches are the container architectures a helper is embedded for.
var Arches = []string{"amd64", "arm64"}

// File is the committed file of helper prefix for arch, under bin/.
func File(prefix, arch string) string {
	return filepath.Join("bin", prefix+"-linux-"+arch)
}

// Build compiles the package pkg ("./shimbin") for linux/arch into out.
func Build(pkg, arch, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", abs, pkg)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=")
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s for linux/%s: %v\n%s", pkg, arch, err, msg.Bytes())
	}
	return nil
}

// Generate rebuilds bin/<prefix>-linux-<arch> from pkg for every arch and
// records the Go version in bin/GOVERSION (what `go generate` runs).
func Generate(pkg, prefix string) error {
	for _, arch := range Arches {
		if err := Build(pkg, arch, File(prefix, arch)); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join("bin", "GOVERSION"), []byte(runtime.Version()+"\n"), 0o644)
}

// Verify builds pkg for every arch into dir and compares each with
// embedded(arch). skip is not "" when the committed binaries were built by
// another Go version (a fresh build cannot match them then); err names the
// arch that differs and the command that regenerates it.
func Verify(pkg, prefix, dir, regenerate string, embedded func(arch string) ([]byte, error)) (skip string, err error) {
	want, err := os.ReadFile(filepath.Join("bin", "GOVERSION"))
	if err != nil {
		return "", err
	}
	if v := strings.TrimSpace(string(want)); v != runtime.Version() {
		return fmt.Sprintf("the embedded %s binaries were built with %s, this is %s: run `%s` to compare", prefix, v, runtime.Version(), regenerate), nil
	}
	for _, arch := range Arches {
		out := filepath.Join(dir, prefix+"-"+arch)
		if err := Build(pkg, arch, out); err != nil {
			return "", err
		}
		built, err := os.ReadFile(out)
		if err != nil {
			return "", err
		}
		emb, err := embedded(arch)
		if err != nil {
			return "", err
		}
		if !bytes.Equal(built, emb) {
			return "", fmt.Errorf("%s differs from a fresh build of %s: run `%s`", File(prefix, arch), pkg, regenerate)
		}
	}
	return "", nil
}
