package docker

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Spawn modes.
const (
	// ModeDirect execs the docker binary itself; no shell is involved.
	ModeDirect = "direct"
	// ModeLoginShell runs docker through `$SHELL -l -c`, so that daemon
	// settings exported only by the user's shell rc files apply.
	ModeLoginShell = "login-shell"
)

// The -c scripts of the login-shell wrap. The docker path and every argument
// follow the script as positional parameters ($0 and "$@"), so nothing is
// ever spliced into shell source: no quoting bugs, and no argument (or
// secret) appears in the script. With an absolute docker path the script also
// puts docker's own directory first on PATH after the rc files ran, so that
// credential helpers next to it (docker-credential-desktop) resolve, and then
// replaces the shell with docker so signals reach docker directly. Without
// one, `docker` is looked up by the login shell, where a function or alias
// of that name also works.
const (
	scriptResolved = `PATH="${0%/*}:$PATH"; export PATH; exec "$0" "$@"`
	scriptBare     = `docker "$@"`
)

// Environ is what the spawn decision needs to know about mcpproxy's own
// environment. Nil functions and empty strings mean the real OS's.
type Environ struct {
	// GOOS is the platform; "" means runtime.GOOS.
	GOOS string
	// Getenv reads mcpproxy's environment; nil means os.Getenv.
	Getenv func(string) string
	// Stat verifies the docker binary; nil means os.Stat.
	Stat func(string) (fs.FileInfo, error)
	// LoginShellLoaded is true when the login shell's environment has been
	// merged into ours (HydrateFromLoginShell's Loaded), which happens once,
	// the first time a configuration needs docker.
	LoginShellLoaded bool
}

// DaemonEnvGuaranteed reports whether docker started directly sees the same
// daemon as from the user's shell: DOCKER_HOST or DOCKER_CONTEXT is exported
// to mcpproxy, or the login-shell environment has been loaded.
func (e Environ) DaemonEnvGuaranteed() bool {
	return e.LoginShellLoaded || e.getenv("DOCKER_HOST") != "" || e.getenv("DOCKER_CONTEXT") != ""
}

// Spawn is how to start one docker invocation.
type Spawn struct {
	// Argv is the full argv; Argv[0] is the program to exec.
	Argv []string
	// Mode is ModeDirect or ModeLoginShell.
	Mode string
	// PathPrepend is the directory put first on the child's PATH (docker's
	// own directory, for its credential helpers), or "" when docker did not
	// resolve to an absolute path. ChildEnv applies it.
	PathPrepend string
}

// PlanSpawn decides how to run docker with args (the argv after the binary).
//
// Docker is exec'd directly when res.Path is a verified absolute executable
// and the daemon environment is guaranteed without the login shell (see
// Environ.DaemonEnvGuaranteed). Otherwise it runs as
//
//	$SHELL -l -c SCRIPT <docker path> args…
//
// with the verified absolute path, or `docker` looked up by the login shell
// when there is none ($SHELL defaults to /bin/sh). On Windows there is no
// login shell and docker is always exec'd directly.
func PlanSpawn(res Resolution, args []string, env Environ) Spawn {
	goos := env.goos()
	verified := isExecutable(env.Stat, res.Path, goos)
	sp := Spawn{}
	if isAbs(goos, res.Path) {
		sp.PathPrepend = dirOf(goos, res.Path)
	}
	if goos == "windows" || (verified && env.DaemonEnvGuaranteed()) {
		bin := res.Path
		if !verified {
			bin = "docker"
		}
		sp.Mode = ModeDirect
		sp.Argv = append([]string{bin}, args...)
		return sp
	}
	sp.Mode = ModeLoginShell
	if verified {
		sp.Argv = append([]string{loginShell(env.Getenv), "-l", "-c", scriptResolved, res.Path}, args...)
	} else {
		sp.Argv = append([]string{loginShell(env.Getenv), "-l", "-c", scriptBare, "docker"}, args...)
	}
	return sp
}

// ChildEnv returns base with the directory of res.Path first on PATH
// (removing its other occurrences), so that docker's sibling tools such as
// credential helpers resolve. base is not modified. When res.Path is not
// absolute, ChildEnv returns a copy of base unchanged.
func ChildEnv(base []string, res Resolution) []string {
	out := append([]string(nil), base...)
	if !res.Absolute() {
		return out
	}
	dir := filepath.Dir(res.Path)
	isPath := func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		if runtime.GOOS == "windows" {
			return strings.EqualFold(k, "PATH")
		}
		return k == "PATH"
	}
	last := -1
	for i, kv := range out {
		if isPath(kv) {
			last = i
		}
	}
	if last < 0 {
		return append(out, "PATH="+dir)
	}
	key, val, _ := strings.Cut(out[last], "=")
	out[last] = key + "=" + prependPath(dir, val)
	// Drop earlier PATH entries: exec would use the last one anyway, and a
	// single entry avoids any doubt about which one applies.
	kept := out[:0]
	for i, kv := range out {
		if i == last || !isPath(kv) {
			kept = append(kept, kv)
		}
	}
	return kept
}

// prependPath puts dir first in the list, removing its other occurrences.
func prependPath(dir, list string) string {
	parts := []string{dir}
	if list != "" {
		for _, p := range filepath.SplitList(list) {
			if filepath.Clean(p) != filepath.Clean(dir) || p == "" {
				parts = append(parts, p)
			}
		}
	}
	return strings.Join(parts, string(os.PathListSeparator))
}

func dirOf(goos, p string) string {
	sep := "/"
	if goos == "windows" {
		sep = `\`
	}
	i := strings.LastIndexAny(p, sep+"/")
	if i <= 0 {
		return sep
	}
	return p[:i]
}

func (e Environ) goos() string {
	if e.GOOS != "" {
		return e.GOOS
	}
	return runtime.GOOS
}

func (e Environ) getenv(k string) string {
	if e.Getenv != nil {
		return e.Getenv(k)
	}
	return os.Getenv(k)
}
