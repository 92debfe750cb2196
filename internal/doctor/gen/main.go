// Command gen rebuilds the embedded probe binaries from ../probebin:
//
//	go generate ./internal/doctor
//
// The build is reproducible (see internal/embedbin), so
// TestEmbeddedProbeMatchesSource can prove the committed bytes come from
// the committed source.
package main

import (
	"fmt"
	"os"

	"github.com/mcpproxy/mcpproxy/internal/embedbin"
)

func main() {
	if err := embedbin.Generate("./probebin", "probe"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
