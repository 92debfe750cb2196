//go:build !unix

package docker

import (
	"errors"
	"fmt"
	"os"
)

var errLocked = errors.New("lock held")

func lockFile(f *os.File) error {
	return fmt.Errorf("instance locks: %w on this platform", errors.ErrUnsupported)
}

func ensureLockDir(dir string) error { return os.MkdirAll(dir, 0o700) }
