//go:build unix

package docker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mcpproxy/mcpproxy/internal/datadir"
)

// errLocked reports that another open file holds the lock.
var errLocked = datadir.ErrLocked

// lockFile takes an exclusive flock on f without waiting. The lock lasts until f is closed.
func lockFile(f *os.File) error {
	if err := datadir.TryLock(f); err != nil && !errors.Is(err, errLocked) {
		return fmt.Errorf("%s: %w", f.Name(), err)
	} else if err != nil {
		return err
	}
	return nil
}

// ensureLockDir creates dir (0700) and checks it is a real directory owned
// by us, tightening its mode to 0700.
func ensureLockDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is owned by uid %d, not %d", dir, st.Uid, os.Getuid())
	}
	// The parent must be ours (or root's, like /tmp): a directory someone
	// else controls could have ours swapped for one they prepared.
	parent, err := os.Lstat(filepath.Dir(dir))
	if err != nil {
		return err
	}
	if st, ok := parent.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() && st.Uid != 0 {
		return fmt.Errorf("%s is owned by uid %d, not by %d or root", filepath.Dir(dir), st.Uid, os.Getuid())
	}
	if fi.Mode().Perm() != 0o700 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}
