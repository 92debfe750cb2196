package docker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Instance is this mcpproxy process's identity on the docker engine. It
// holds an exclusive lock on <lockDir>/<ID>.lock for as long as the process
// lives (the kernel drops the lock when the process dies, even by kill -9),
// so any other process can tell whether the instance that labelled a
// container is still alive.
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
// locked; stale ones are pruned by Reap.
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

// Liveness of an instance as seen through its lock file.
type liveness int

const (
	livenessUnknown liveness = iota // cannot tell (missing file, not ours, invalid ID)
	livenessAlive                   // someone holds the lock
	livenessDead                    // the file exists and nobody holds its lock
)

// InstanceAlive reports whether some process holds the lock of instance id
// in lockDir. A missing lock file, an invalid ID or an unreadable file count
// as not alive.
func InstanceAlive(lockDir, id string) bool {
	return instanceLiveness(lockDir, id) == livenessAlive
}

func instanceLiveness(lockDir, id string) liveness {
	if !ValidInstanceID(id) {
		return livenessUnknown
	}
	f, err := openLock(filepath.Join(lockDir, id+lockSuffix))
	if err != nil {
		return livenessUnknown
	}
	defer f.Close()
	switch err := lockFile(f); {
	case err == nil:
		return livenessDead // closing f releases our probe lock
	case errors.Is(err, errLocked):
		return livenessAlive
	default:
		return livenessUnknown
	}
}

// removeDeadLock deletes the lock file of a dead instance. The file is
// locked while it is removed so that a concurrent observer sees it either
// locked (alive: it keeps its hands off) or gone.
func removeDeadLock(path string) bool {
	f, err := openLock(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if lockFile(f) != nil {
		return false
	}
	return os.Remove(path) == nil
}

// ValidInstanceID reports whether id has the form AcquireInstance makes.
// Label values are untrusted: anything else is never used as a file name.
func ValidInstanceID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func newInstanceID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// lockFiles lists the instance IDs with a lock file in lockDir and the
// stale temporary files older than grace.
func lockFiles(lockDir string, grace time.Duration) (ids, staleTmp []string) {
	entries, err := os.ReadDir(lockDir)
	if err != nil {
		return nil, nil
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, lockSuffix) && ValidInstanceID(strings.TrimSuffix(name, lockSuffix)):
			ids = append(ids, strings.TrimSuffix(name, lockSuffix))
		case strings.HasPrefix(name, acquirePrefix):
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > grace {
				staleTmp = append(staleTmp, filepath.Join(lockDir, name))
			}
		}
	}
	return ids, staleTmp
}
