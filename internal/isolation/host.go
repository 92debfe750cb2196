package isolation

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

// Host is what a Plan needs to know about the machine mcpproxy runs on:
// facts the app gathers once, and the two lookups that touch the disk,
// injected as functions so that the policy stays pure and table-tested.
//
// The zero Host knows nothing: its Decide is the package's Decide, which
// mounts no host path automatically. Whether a server is isolated never
// depends on the Host; only the Plan's mounts (and the names of its cache
// volumes) do.
type Host struct {
	// Home is the user's home directory ("" when unknown): "~/" is
	// expanded from it, and it is never mounted itself.
	Home string
	// DataDir is mcpproxy's data directory, absolute with symlinks
	// resolved: it, and every directory holding it, is never mounted.
	DataDir string
	// DataDirID and HostID are the values of LabelDataDir and LabelHost
	// (see DataDirID, HostID): they name and label the cache volumes.
	DataDirID, HostID string
	// Stat reports whether a host path exists and is a directory
	// (symlinks followed). nil: nothing is known about host paths, and no
	// path of a server's args or working_dir is mounted automatically.
	Stat func(path string) (isDir bool, err error)
	// Resolve resolves the symlinks of an existing path (typically
	// filepath.EvalSymlinks). A mount's source is its result: docker binds
	// what a symlink points to, and the denylist judges that too.
	Resolve func(path string) (string, error)
	// Sockets are host sockets that hand out the user's credentials or
	// control of the host (the SSH agent's, the engine's of DOCKER_HOST):
	// never mounted, nor any folder holding one.
	Sockets []string
	// ConfigPath is mcpproxy's config file, absolute ("" when unknown): it
	// holds every server's secrets and the API key, so it and every folder
	// holding it are never mounted (it may live outside DataDir).
	ConfigPath string
}

// Decide is the package's Decide on this host: the same decision, whose
// Plan also mounts the host paths of the server's args, working_dir and
// isolation.mounts (mounts.go) and its package cache (cache.go).
func (h Host) Decide(global config.DockerIsolation, s *config.Server, dockerPath string) Decision {
	d := decide(global, s, dockerPath)
	if d.Isolated {
		d.Plan, d.Err = newPlan(h, global, s)
	}
	return d
}

// DataDirID is the LabelDataDir value of a data directory: a hash of its
// absolute path, so labels do not reveal paths.
func DataDirID(absPath string) string { return shortHash("datadir\x00" + absPath) }

// HostID is the LabelHost value of a machine: a hash of its identity (the
// machine ID, or the host name where there is none).
func HostID(machineID string) string { return shortHash("host\x00" + machineID) }

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}
