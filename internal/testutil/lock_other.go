//go:build !unix

package testutil

import (
	"errors"
	"runtime"
)

// lockFile is not implemented off unix: the fixtures' builds need flock.
func lockFile(string) (func(), error) {
	return nil, errors.New("testutil: file locks are not supported on " + runtime.GOOS)
}
