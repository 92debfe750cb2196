package doctor

import (
	"embed"
	"fmt"

	"github.com/mcpproxy/mcpproxy/internal/shim"
)

//go:generate go run ./gen

//go:embed bin/probe-linux-amd64 bin/probe-linux-arm64
var files embed.FS

// ProbeBinary returns the probe for linux/arch ("amd64", "arm64").
func ProbeBinary(arch string) ([]byte, error) {
	b, err := files.ReadFile("bin/probe-linux-" + arch)
	if err != nil {
		return nil, fmt.Errorf("no isolation probe for linux/%s", arch)
	}
	return b, nil
}

// InstallProbe writes the probe for arch into dir (once per content: the
// name carries its hash) and returns its path, for bind-mounting.
func InstallProbe(dir, arch string) (string, error) {
	b, err := ProbeBinary(arch)
	if err != nil {
		return "", err
	}
	return shim.InstallExecutable(dir, "probe", b)
}
