// Package shim embeds the static stdio shim that isolated containers run as
// their entrypoint (see shimbin), and installs it on disk for bind-mounting.
package shim

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

//go:generate go run ./gen

//go:embed bin/shim-linux-amd64 bin/shim-linux-arm64
var files embed.FS

// TokenEnv is the environment variable that carries the one-time handshake
// token into the container (its value never appears in argv).
const TokenEnv = "MCPPROXY_SHIM_TOKEN"

// Binary returns the shim for linux/arch ("amd64", "arm64").
func Binary(arch string) ([]byte, error) {
	b, err := files.ReadFile("bin/shim-linux-" + arch)
	if err != nil {
		return nil, fmt.Errorf("no stdio shim for linux/%s", arch)
	}
	return b, nil
}

// Install writes the shim for the host's architecture into dir (once per
// content: the file name carries its hash) and returns its path.
func Install(dir string) (string, error) {
	b, err := Binary(runtime.GOARCH)
	if err != nil {
		return "", err
	}
	return InstallExecutable(dir, "shim", b)
}

// InstallExecutable writes the program b into dir as <prefix>-<hash of b>
// (mode 0755, atomically; once per content) and returns its path: the
// embedded helpers mcpproxy bind-mounts into containers (the shim, the
// doctor's probe) are installed this way.
func InstallExecutable(dir, prefix string, b []byte) (string, error) {
	sum := sha256.Sum256(b)
	path := filepath.Join(dir, prefix+"-"+hex.EncodeToString(sum[:6]))
	if st, err := os.Stat(path); err == nil && st.Size() == int64(len(b)) {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "."+prefix+"-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}
