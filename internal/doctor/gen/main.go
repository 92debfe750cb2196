// Command gen rebuilds the embedded probe binaries from ../probebin:
//
//	go generate ./internal/doctor
//
// The build is reproducible (-trimpath, no build ID), so
// TestEmbeddedProbeMatchesSource can prove the committed bytes come from
// the committed source.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

func main() {
	for _, arch := range []string{"amd64", "arm64"} {
		out, err := filepath.Abs(filepath.Join("bin", "probe-linux-"+arch))
		if err == nil {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, "./probebin")
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=")
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			err = cmd.Run()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := os.WriteFile(filepath.Join("bin", "GOVERSION"), []byte(runtime.Version()+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
