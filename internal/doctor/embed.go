package doctor

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
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
	sum := sha256.Sum256(b)
	path := filepath.Join(dir, "probe-"+hex.EncodeToString(sum[:6]))
	if st, err := os.Stat(path); err == nil && st.Size() == int64(len(b)) {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".probe-*")
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
	return path, os.Rename(tmp.Name(), path)
}
