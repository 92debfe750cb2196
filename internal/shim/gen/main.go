// Command gen rebuilds the embedded shim binaries from ../shimbin:
//
//	go generate ./internal/shim
//
// The build is reproducible (-trimpath, no build ID), so
// TestEmbeddedShimMatchesSource can prove the committed bytes come from the
// committed source.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

func main() {
	for _, arch := range Arches {
		out := filepath.Join("bin", "shim-linux-"+arch)
		if err := Build(arch, out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := os.WriteFile(filepath.Join("bin", "GOVERSION"), []byte(runtime.Version()+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Arches are the container architectures a shim is embedded for.
var Arches = []string{"amd64", "arm64"}

// Build compiles ./shimbin for linux/arch into out.
func Build(arch, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", abs, "./shimbin")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}
