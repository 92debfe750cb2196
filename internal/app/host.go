package app

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// MachineHost gathers what isolation plans need to know of this machine:
// the user's home, the data dir (absolute, symlinks resolved) with its
// label value, the machine's label value, and the two host path lookups.
func MachineHost(dataDir string) isolation.Host {
	home, _ := os.UserHomeDir()
	if r, err := filepath.EvalSymlinks(home); err == nil {
		home = r
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	return isolation.Host{
		Home:      home,
		DataDir:   abs,
		DataDirID: isolation.DataDirID(abs),
		HostID:    isolation.HostID(machineID()),
		Stat: func(p string) (bool, error) {
			fi, err := os.Stat(p)
			if err != nil {
				return false, err
			}
			return fi.IsDir(), nil
		},
		Resolve: filepath.EvalSymlinks,
	}
}

// machineID identifies this machine: systemd's machine ID where there is
// one, else the host name.
func machineID() string {
	for _, f := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(f); err == nil {
			if id := strings.TrimSpace(string(b)); id != "" {
				return id
			}
		}
	}
	name, _ := os.Hostname()
	return name
}
