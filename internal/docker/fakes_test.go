package docker

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"time"
)

// fakeFS is a file system of stat results: path → mode. Missing paths do
// not exist.
type fakeFS map[string]fs.FileMode

const (
	execFile  fs.FileMode = 0o755
	plainFile fs.FileMode = 0o644
	dirMode               = fs.ModeDir | 0o755
)

func (f fakeFS) Stat(p string) (fs.FileInfo, error) {
	m, ok := f[p]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	return fakeInfo{name: p, mode: m}, nil
}

// LookPath finds the first of dirs/name that exists (any mode: like the
// real one it only checks the exec bit, which we then re-verify).
func (f fakeFS) LookPath(dirs ...string) func(string) (string, error) {
	return func(name string) (string, error) {
		for _, d := range dirs {
			p := d + "/" + name
			if m, ok := f[p]; ok && m.IsRegular() && m.Perm()&0o111 != 0 {
				return p, nil
			}
			if d == "." {
				if _, ok := f[p]; ok {
					return p, nil
				}
			}
		}
		return "", errors.New("executable file not found in $PATH")
	}
}

type fakeInfo struct {
	name string
	mode fs.FileMode
}

func (i fakeInfo) Name() string       { return i.name }
func (i fakeInfo) Size() int64        { return 1 }
func (i fakeInfo) Mode() fs.FileMode  { return i.mode }
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fakeInfo) Sys() any           { return nil }

// env is a fake environment.
type env map[string]string

func (e env) Get(k string) string { return e[k] }

func (e env) Set(k, v string) error {
	e[k] = v
	return nil
}

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeShell is a fake LoginShell recording its calls.
type fakeShell struct {
	mu       sync.Mutex
	out      string
	err      error
	calls    int
	shell    string
	script   string
	deadline time.Duration
}

func (l *fakeShell) Run(ctx context.Context, shell, script string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	l.shell, l.script = shell, script
	if d, ok := ctx.Deadline(); ok {
		l.deadline = time.Until(d)
	}
	return l.out, l.err
}
