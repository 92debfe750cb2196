package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// CacheEnv names the variable that overrides [CacheDir].
const CacheEnv = "MCPPROXY_TEST_CACHE"

// CacheDir is where built fixtures live between test runs:
// $MCPPROXY_TEST_CACHE, or mcpproxy-testcache in the system temp directory.
func CacheDir() string {
	if dir := os.Getenv(CacheEnv); dir != "" {
		return dir
	}
	return filepath.Join(os.TempDir(), "mcpproxy-testcache")
}

// withLock runs fn while holding the exclusive file lock <cache>/locks/name.lock,
// which serialises builds of one artifact across test processes.
func withLock(name string, fn func() error) error {
	dir := filepath.Join(CacheDir(), "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(filepath.Join(dir, name+".lock"))
	if err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer unlock()
	return fn()
}

// cachedDir returns <cache>/name-key, calling build to fill it when it does
// not exist yet. build writes into a temporary directory that is renamed into
// place only when it succeeds, so a crashed build never looks finished.
func cachedDir(name, key string, build func(dir string) error) (string, error) {
	final := filepath.Join(CacheDir(), name+"-"+key)
	if isDir(final) {
		return final, nil
	}
	err := withLock(name, func() error {
		if isDir(final) {
			return nil
		}
		tmp, err := os.MkdirTemp(CacheDir(), name+"-tmp-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp) // no-op after a successful rename
		if err := build(tmp); err != nil {
			return err
		}
		if err := os.Chmod(tmp, 0o755); err != nil {
			return err
		}
		return os.Rename(tmp, final)
	})
	if err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	return final, nil
}

// once memoises a value per name for the life of the test process, so each
// fixture is hashed, checked and built at most once per process.
type once struct {
	mu sync.Mutex
	m  map[string]*onceEntry
}

type onceEntry struct {
	sync.Once
	val string
	err error
}

var memo once

func (o *once) do(name string, fn func() (string, error)) (string, error) {
	o.mu.Lock()
	if o.m == nil {
		o.m = map[string]*onceEntry{}
	}
	e := o.m[name]
	if e == nil {
		e = &onceEntry{}
		o.m[name] = e
	}
	o.mu.Unlock()
	e.Do(func() { e.val, e.err = fn() })
	return e.val, e.err
}

// hasher builds a content key from labelled parts.
type hasher struct{ h hash.Hash }

func newHasher() *hasher { return &hasher{sha256.New()} }

// str adds a labelled string.
func (h *hasher) str(label, s string) {
	fmt.Fprintf(h.h, "%s=%d:%s\n", label, len(s), s)
}

// file adds a labelled file's content.
func (h *hasher) file(label, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h.h, "%s=file\n", label)
	_, err = io.Copy(h.h, f)
	fmt.Fprintln(h.h)
	return err
}

// key is the first 16 hex digits of the hash: plenty to tell inputs apart.
func (h *hasher) key() string { return hex.EncodeToString(h.h.Sum(nil))[:16] }
