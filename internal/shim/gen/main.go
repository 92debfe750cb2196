// Command gen rebuilds the embedded shim binaries from ../shimbin:
//
//	go generate ./internal/shim
//
// The build is reproducible (see internal/embedbin), so
// TestEmbeddedShimMatchesSource can prove the committed bytes come from the
// committed source.
package main

import (
	"fmt"
	"os"

	"github.com/mcpproxy/mcpproxy/internal/embedbin"
)

func main() {
	if err := embedbin.Generate("./shimbin", "shim"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
