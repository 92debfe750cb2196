package docker

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Sources of a Resolution.
const (
	SourcePath       = "path"        // found by a PATH lookup
	SourceWellKnown  = "well-known"  // found at a well-known install location
	SourceLoginShell = "login-shell" // reported by `$SHELL -l -c 'command -v docker'`
)

// Timing of resolution.
const (
	// LoginShellTimeout bounds the `command -v docker` login-shell lookup.
	LoginShellTimeout = 5 * time.Second
	// NegativeCacheTTL is how long a failed resolution is remembered before
	// the login shell is asked again.
	NegativeCacheTTL = 60 * time.Second
)

// Resolution is where the docker CLI is.
type Resolution struct {
	// Path is the docker binary: an absolute path to a verified executable,
	// or "docker" when the login shell knows docker only as a function,
	// alias or builtin, or "" when docker was not found.
	Path string
	// Source says how Path was found: SourcePath, SourceWellKnown,
	// SourceLoginShell, or "" when it was not.
	Source string
}

// Absolute reports whether r names an absolute path, i.e. docker can be
// exec'd without any shell's help.
func (r Resolution) Absolute() bool { return r.Path != "" && filepath.IsAbs(r.Path) }

// Resolver finds the docker CLI. Every field is optional: a nil function or
// empty string means the real operating system's, so the zero value works.
// A Resolver caches a success for its lifetime and a failure for
// NegativeCacheTTL; it is safe for concurrent use and must not be copied
// after first use.
type Resolver struct {
	// GOOS selects the well-known locations; "" means runtime.GOOS.
	GOOS string
	// Getenv reads the environment ($SHELL, $HOME); nil means os.Getenv.
	Getenv func(string) string
	// LookPath searches PATH; nil means exec.LookPath.
	LookPath func(string) (string, error)
	// Stat inspects candidate files; nil means os.Stat.
	Stat func(string) (fs.FileInfo, error)
	// Home is the user's home directory for the ~/… locations; "" means
	// $HOME (or %USERPROFILE% on Windows).
	Home string
	// LoginShell runs script in a login shell and returns its stdout; nil
	// means RunLoginShell.
	LoginShell func(ctx context.Context, shell, script string) (string, error)
	// Now is the clock for the negative cache; nil means time.Now.
	Now func() time.Time

	shell singleflight.Group // the login-shell lookup in flight

	mu       sync.Mutex
	found    *Resolution // cached success (absolute path)
	failed   Resolution  // last failure (Path "" or non-absolute)
	failedAt time.Time
	hasFail  bool
}

// NewResolver returns a Resolver of the real operating system.
func NewResolver() *Resolver { return &Resolver{} }

// Resolve finds docker: a PATH lookup, then the well-known locations of the
// platform, then `$SHELL -l -c 'command -v docker'` (not on Windows; at most
// LoginShellTimeout). A result must be an absolute, regular, executable file
// to count; a login-shell answer that is not a path (a function or alias)
// yields Path "docker" with SourceLoginShell.
//
// A success is cached for the Resolver's life. After a failure the login
// shell is not asked again for NegativeCacheTTL, but the cheap PATH and
// well-known checks still run on every call, so a Docker install or a late
// Docker Desktop start is noticed at once. Concurrent callers share one
// login shell, and no lock is held while it runs: Cached never waits.
func (r *Resolver) Resolve(ctx context.Context) Resolution {
	r.mu.Lock()
	if r.found != nil {
		defer r.mu.Unlock()
		return *r.found
	}
	if r.hasFail && r.now().Sub(r.failedAt) < NegativeCacheTTL {
		failed := r.failed
		r.mu.Unlock()
		if res, ok := r.resolveCheap(); ok {
			return r.store(res)
		}
		return failed
	}
	r.mu.Unlock()
	if res, ok := r.resolveCheap(); ok {
		return r.store(res)
	}
	ch := r.shell.DoChan("resolve", func() (any, error) {
		// Not bound to the first caller's context: the others share it.
		return r.resolveLoginShell(context.WithoutCancel(ctx)), nil
	})
	select {
	case v := <-ch:
		return r.store(v.Val.(Resolution))
	case <-ctx.Done():
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.failed
	}
}

// store records res as the latest answer and returns the answer in force.
func (r *Resolver) store(res Resolution) Resolution {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.found != nil {
		return *r.found
	}
	if res.Absolute() {
		r.found = &res
		return res
	}
	r.failed, r.failedAt, r.hasFail = res, r.now(), true
	return res
}

// Cached returns the last answer of Resolve without running anything:
// ok is false while no resolution has finished yet.
func (r *Resolver) Cached() (res Resolution, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.found != nil {
		return *r.found, true
	}
	return r.failed, r.hasFail
}

func (r *Resolver) resolveCheap() (Resolution, bool) {
	lookPath := r.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	name := "docker"
	if r.goos() == "windows" {
		name = "docker.exe"
	}
	if p, err := lookPath(name); err == nil && isExecutable(r.stat, p, r.goos()) {
		return Resolution{Path: p, Source: SourcePath}, true
	}
	for _, p := range WellKnownPaths(r.goos(), r.home()) {
		if isExecutable(r.stat, p, r.goos()) {
			return Resolution{Path: p, Source: SourceWellKnown}, true
		}
	}
	return Resolution{}, false
}

func (r *Resolver) resolveLoginShell(ctx context.Context) Resolution {
	if r.goos() == "windows" {
		return Resolution{}
	}
	run := r.LoginShell
	if run == nil {
		run = RunLoginShell
	}
	ctx, cancel := context.WithTimeout(ctx, LoginShellTimeout)
	defer cancel()
	out, err := run(ctx, loginShell(r.getenv), "command -v docker")
	if err != nil {
		return Resolution{}
	}
	// rc files may print banners first; command -v prints its answer last.
	line := lastLine(out)
	switch {
	case line == "":
		return Resolution{}
	case strings.HasPrefix(line, "/"):
		if isExecutable(r.stat, line, r.goos()) {
			return Resolution{Path: line, Source: SourceLoginShell}
		}
		return Resolution{}
	default: // a function, alias ("alias docker=…") or builtin
		return Resolution{Path: "docker", Source: SourceLoginShell}
	}
}

// WellKnownPaths lists where docker is installed when it is not on PATH, in
// the order they are tried. home "" leaves out the ~/… locations.
func WellKnownPaths(goos, home string) []string {
	var abs, rel []string
	switch goos {
	case "darwin":
		abs = []string{
			"/Applications/Docker.app/Contents/Resources/bin/docker",
			"/usr/local/bin/docker",
			"/opt/homebrew/bin/docker",
		}
		rel = []string{".docker/bin/docker", ".orbstack/bin/docker", ".rd/bin/docker"}
	case "windows":
		abs = []string{`C:\Program Files\Docker\Docker\resources\bin\docker.exe`}
	default:
		abs = []string{"/usr/bin/docker", "/usr/local/bin/docker", "/snap/bin/docker"}
		rel = []string{".docker/bin/docker", "bin/docker"}
	}
	if home != "" {
		for _, p := range rel {
			abs = append(abs, filepath.Join(home, p))
		}
	}
	return abs
}

// RunLoginShell runs `shell -l -c script` with the current environment and
// returns its stdout. Stdin is empty and stderr is discarded; a child that
// leaves its output open past ctx is abandoned after a short grace.
func RunLoginShell(ctx context.Context, shell, script string) (string, error) {
	cmd := command(ctx, shell, "-l", "-c", script)
	cmd.Stdin = nil
	cmd.Stderr = io.Discard
	cmd.WaitDelay = 500 * time.Millisecond
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return string(out), ctx.Err()
		}
		return string(out), err
	}
	return string(out), nil
}

// loginShell is $SHELL, or /bin/sh when unset.
func loginShell(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if s := getenv("SHELL"); s != "" {
		return s
	}
	return "/bin/sh"
}

// isExecutable reports whether path is an absolute regular file with an
// execute bit (any regular file on Windows). Symlinks are followed.
func isExecutable(stat func(string) (fs.FileInfo, error), path, goos string) bool {
	if !isAbs(goos, path) {
		return false
	}
	if stat == nil {
		stat = os.Stat
	}
	fi, err := stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	return goos == "windows" || fi.Mode().Perm()&0o111 != 0
}

// isAbs reports whether p is absolute on goos (not the host's rules, so
// the decisions of other platforms are testable anywhere).
func isAbs(goos, p string) bool {
	if goos == "windows" {
		return filepath.IsAbs(p) || len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/')
	}
	return strings.HasPrefix(p, "/")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func (r *Resolver) goos() string {
	if r.GOOS != "" {
		return r.GOOS
	}
	return runtime.GOOS
}

func (r *Resolver) getenv(k string) string {
	if r.Getenv != nil {
		return r.Getenv(k)
	}
	return os.Getenv(k)
}

func (r *Resolver) stat(p string) (fs.FileInfo, error) {
	if r.Stat != nil {
		return r.Stat(p)
	}
	return os.Stat(p)
}

func (r *Resolver) home() string {
	if r.Home != "" {
		return r.Home
	}
	if r.goos() == "windows" {
		return r.getenv("USERPROFILE")
	}
	return r.getenv("HOME")
}

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// errNotAbsolute is reported when docker did not resolve to an absolute path.
var errNotAbsolute = errors.New("docker CLI not resolved to an absolute path")
