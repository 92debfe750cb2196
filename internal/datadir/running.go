package datadir

import "path/filepath"

// Running reports whether a process holds dataDir's lock and, if so, what
// its lock file says (its pid and, once it listens, its address): how a
// command finds the proxy it should talk to.
func Running(dataDir string) (Owner, bool, error) {
	held, err := Held(dataDir)
	if err != nil || !held {
		return Owner{}, false, err
	}
	return readOwner(filepath.Join(dataDir, LockName)), true, nil
}
