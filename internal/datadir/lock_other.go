//go:build !unix

package datadir

import (
	"os"
)

const noFollow = 0

func openLockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

// TryLock cannot lock on this platform: every process may use a data
// directory (the check exists where flock does).
func TryLock(*os.File) error { return nil }
