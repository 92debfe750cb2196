package docker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Instance is this mcpproxy process's identity on the docker engine (its
// LabelInstance value). It holds an exclusive lock on <lockDir>/<ID>.lock
// for as long as the process lives, which makes the ID unique among the
// user's processes. Whether a container is an orphan is NOT judged by these
// files (they are shared by every proxy of the user): Reap trusts only the
// data dir's lock.
type Instance struct {
	// ID is random (16 lowercase hex digits) and is the value of
	// LabelInstance on this instance's containers.
	ID string
	// LockPath is the lock file held.
	LockPath string

	mu   sync.Mutex
	file *os.File
}

// DefaultLockDir is where instance locks live: a per-user directory under
// the temporary directory.
func DefaultLockDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("mcpproxy-%d", os.Getuid()), "instances")
}

// lockSuffix ends every lock file name.
const lockSuffix = ".lock"

// acquirePrefix starts the temporary name a lock file has until it is
// locked.
const acquirePrefix = ".acquire-"

// AcquireInstance creates an Instance with a fresh random ID and locks its
// file in lockDir, creating lockDir with mode 0700 when needed. lockDir must
// be a real directory owned by the current user; its mode is tightened to
// 0700. The lock file (mode 0600) is locked before it appears under its
// final name, so no observer ever sees an unlocked lock file of a live
// instance.
func AcquireInstance(lockDir string) (*Instance, error) {
	if err := ensureLockDir(lockDir); err != nil {
		return nil, fmt.Errorf("acquire instance lock: %w", err)
	}
	for attempt := 0; attempt < 4; attempt++ {
		id, err := newInstanceID()
		if err != nil {
			return nil, fmt.Errorf("acquire instance lock: %w", err)
		}
		tmp, err := os.CreateTemp(lockDir, acquirePrefix+"*")
		if err != nil {
			return nil, fmt.Errorf("acquire instance lock: %w", err)
		}
		if err := lockFile(tmp); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return nil, fmt.Errorf("acquire instance lock: %w", err)
		}
		final := filepath.Join(lockDir, id+lockSuffix)
		// Link fails if the name exists, so a colliding ID never steals
		// another instance's file.
		err = os.Link(tmp.Name(), final)
		if err != nil && !errors.Is(err, os.ErrExist) {
			// No hard links here: rename instead, after checking the name
			// is free (IDs are 64 random bits; this only guards mistakes).
			if _, statErr := os.Lstat(final); errors.Is(statErr, os.ErrNotExist) {
				err = os.Rename(tmp.Name(), final)
			}
		}
		os.Remove(tmp.Name())
		if errors.Is(err, os.ErrExist) {
			tmp.Close()
			continue
		}
		if err != nil {
			tmp.Close()
			return nil, fmt.Errorf("acquire instance lock: %w", err)
		}
		return &Instance{ID: id, LockPath: final, file: tmp}, nil
	}
	return nil, errors.New("acquire instance lock: could not pick a unique ID")
}

// Release removes the lock file and drops the lock. The instance is dead
// from then on; Release is safe to call more than once.
func (i *Instance) Release() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.file == nil {
		return nil
	}
	rmErr := os.Remove(i.LockPath)
	if errors.Is(rmErr, os.ErrNotExist) {
		rmErr = nil
	}
	closeErr := i.file.Close()
	i.file = nil
	return errors.Join(rmErr, closeErr)
}

func newInstanceID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
