// Package machine describes the machine mcpproxy runs on, as isolation
// plans need it: the user's home, the data directory (absolute, symlinks
// resolved) and the label values that name it and this machine, and the
// two host path lookups Decide uses. It is the one place that reads these
// from the operating system, so that the isolation policy stays pure.
package machine

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// Host gathers what isolation plans need to know of this machine for the
// data directory dataDir and the config file configPath ("" when none
// matters: it is then only protected when inside dataDir).
func Host(dataDir, configPath string) isolation.Host {
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
		HostID:    isolation.HostID(ID()),
		Stat: func(p string) (bool, error) {
			fi, err := os.Stat(p)
			if err != nil {
				return false, err
			}
			return fi.IsDir(), nil
		},
		Resolve:    filepath.EvalSymlinks,
		Sockets:    config.AgentSockets(),
		ConfigPath: absPath(configPath),
	}
}

// absPath is p absolute, "" for "".
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// ID identifies this machine: systemd's machine ID where there is one,
// else the host name.
func ID() string {
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
