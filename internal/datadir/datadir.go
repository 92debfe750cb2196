// Package datadir is one process's exclusive claim on an mcpproxy data
// directory. Two proxies sharing a data directory would overwrite each
// other's configuration edits, sockets and logs, and each would take the
// other's containers for orphans; so the second one refuses to start and
// says where the first one listens.
//
// The claim is an flock on <dataDir>/mcpproxy.lock held for the life of
// the process: the kernel drops it when the process ends however it ends
// (kill -9 included), so a lock that can be taken proves that no live
// mcpproxy uses the directory, and whatever runtime files it holds are
// stale. The file holds the owner's pid and listen address, for the
// second proxy's message and for people.
package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrLocked reports that another open file holds a lock (TryLock).
var ErrLocked = errors.New("lock held")

// LockName is the lock file's name in the data directory.
const LockName = "mcpproxy.lock"

// Owner is what the lock file says about the process holding it.
type Owner struct {
	PID int `json:"pid"`
	// Listen is the address it serves on; "" until it is listening.
	Listen  string    `json:"listen,omitempty"`
	Started time.Time `json:"started"`
}

// InUseError is returned by Acquire when another process holds the lock.
type InUseError struct {
	// Dir is the data directory.
	Dir string
	// Owner is what the lock file says (zero if it could not be read).
	Owner Owner
}

// Error names the other process and its listen address.
func (e *InUseError) Error() string {
	who := "another mcpproxy"
	if e.Owner.PID > 0 {
		who = fmt.Sprintf("another mcpproxy (pid %d)", e.Owner.PID)
	}
	where := "it has not started listening yet"
	if e.Owner.Listen != "" {
		where = "it listens on " + e.Owner.Listen
	}
	return fmt.Sprintf("data directory %s is in use by %s; %s. Use that one, stop it, or start this one with another --data-dir",
		e.Dir, who, where)
}

// Lock is a held claim on a data directory.
type Lock struct {
	dir   string
	owner Owner

	mu   sync.Mutex
	file *os.File
}

// Acquire claims dataDir (which must exist) for this process. It returns
// an *InUseError when another process holds it.
func Acquire(dataDir string) (*Lock, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	path := filepath.Join(abs, LockName)
	var f *os.File
	for attempt := 0; ; attempt++ {
		f, err = openLockFile(path)
		if err != nil {
			return nil, fmt.Errorf("data dir lock: %w", err)
		}
		if err := TryLock(f); err != nil {
			f.Close()
			if errors.Is(err, ErrLocked) {
				return nil, &InUseError{Dir: abs, Owner: readOwner(path)}
			}
			return nil, fmt.Errorf("data dir lock %s: %w", path, err)
		}
		// The owner before us removes the file while still holding its
		// lock: if it did so between our open and our lock, we hold a lock
		// on a file nobody else will open. Start again on the new one.
		if sameFile(f, path) {
			break
		}
		f.Close()
		if attempt == 3 {
			return nil, fmt.Errorf("data dir lock %s: the lock file keeps being replaced", path)
		}
	}
	l := &Lock{dir: abs, file: f, owner: Owner{PID: os.Getpid(), Started: time.Now().UTC().Truncate(time.Second)}}
	if err := l.write(); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// Dir is the absolute data directory.
func (l *Lock) Dir() string { return l.dir }

// SetListen records the address this process listens on, for a second
// proxy's message.
func (l *Lock) SetListen(addr string) error {
	l.mu.Lock()
	l.owner.Listen = addr
	l.mu.Unlock()
	return l.write()
}

func (l *Lock) write() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return errors.New("data dir lock: released")
	}
	b, _ := json.Marshal(l.owner)
	b = append(b, '\n')
	if err := l.file.Truncate(0); err != nil {
		return fmt.Errorf("data dir lock: %w", err)
	}
	if _, err := l.file.WriteAt(b, 0); err != nil {
		return fmt.Errorf("data dir lock: %w", err)
	}
	return nil
}

// Release removes the lock file and drops the claim (in that order, so
// that Acquire's check sees either a held lock or no file). Safe to call
// more than once.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	rmErr := os.Remove(filepath.Join(l.dir, LockName))
	if errors.Is(rmErr, fs.ErrNotExist) {
		rmErr = nil
	}
	err := errors.Join(rmErr, l.file.Close())
	l.file = nil
	return err
}

// sameFile reports whether the open file f is still the file at path.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}

// Held reports whether some process holds the lock of dataDir, without
// taking it. A missing lock file means nobody does.
func Held(dataDir string) (bool, error) {
	f, err := os.OpenFile(filepath.Join(dataDir, LockName), os.O_RDONLY|noFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	switch err := TryLock(f); {
	case err == nil:
		return false, nil // closing f drops our probe
	case errors.Is(err, ErrLocked):
		return true, nil
	default:
		return false, err
	}
}

// ClearStale removes the entries of dir (a runtime directory inside the
// data directory: sockets, container ID files) left by processes that held
// the lock before, except those named in keep. Call it while holding the
// lock: nothing alive can be using them then.
func (l *Lock) ClearStale(dir string, keep ...string) (removed []string, err error) {
	rel, err := filepath.Rel(l.dir, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("clear stale runtime files: %s is not inside the data directory %s", dir, l.dir)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clear stale runtime files: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if contains(keep, e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("clear stale runtime files: %w", errors.Join(errs...))
	}
	return removed, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// readOwner reads the lock file of another process; zero when unreadable.
func readOwner(path string) Owner {
	var o Owner
	b, err := os.ReadFile(path)
	if err == nil {
		_ = json.Unmarshal(b, &o)
	}
	return o
}
