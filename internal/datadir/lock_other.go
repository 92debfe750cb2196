//go:build !unix

package datadir

import (
	"errors"
	"os"
)

var errLocked = errors.New("lock held")

const noFollow = 0

func openLockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

// tryLock cannot lock on this platform: every process may use a data
// directory (the check exists where flock does).
func tryLock(*os.File) error { return nil }
