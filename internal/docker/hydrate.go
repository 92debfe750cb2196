package docker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// DaemonEnvKeys are the variables that select and authenticate the docker
// daemon. HydrateFromLoginShell copies them from the login shell when unset.
var DaemonEnvKeys = []string{"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"}

// HydrateTimeout bounds the login-shell capture.
const HydrateTimeout = 5 * time.Second

const (
	envBegin = "__MCPPROXY_ENV_BEGIN__"
	envEnd   = "__MCPPROXY_ENV_END__"
	// envScript brackets env's output with markers so rc-file banners
	// printed before or after it are ignored.
	envScript = "printf '%s\\n' " + envBegin + "; env; printf '%s\\n' " + envEnd
)

// HydrateOptions are the effects HydrateFromLoginShell uses; nil functions
// and empty strings mean the real OS's.
type HydrateOptions struct {
	// GOOS is the platform; "" means runtime.GOOS. Windows (no login
	// shell) never hydrates.
	GOOS string
	// Getenv and Setenv read and write mcpproxy's environment; nil means
	// os.Getenv and os.Setenv.
	Getenv func(string) string
	Setenv func(key, value string) error
	// LoginShell runs a script in the login shell; nil means RunLoginShell.
	LoginShell func(ctx context.Context, shell, script string) (string, error)
	// Log receives one line naming what changed (never values); nil means
	// no logging.
	Log *slog.Logger
}

// Hydration reports what HydrateFromLoginShell did.
type Hydration struct {
	// Ran is true when the login shell was run.
	Ran bool
	// Loaded is true when mcpproxy's environment now carries the login
	// shell's daemon settings: they were merged, or nothing was missing.
	// Pass it as Environ.LoginShellLoaded.
	Loaded bool
	// Set names the variables that were set (values are never reported).
	Set []string
	// PathMerged is true when PATH was changed.
	PathMerged bool
}

// HydrateFromLoginShell makes an mcpproxy started without the user's shell
// (launchd, a systemd unit, an app launcher: minimal PATH, no shell rc) see
// the docker environment the user's terminal has. mcpproxy calls it once,
// in the background, the first time a configuration needs docker.
//
// When PATH looks minimal (only the system directories) or a DaemonEnvKeys
// variable is unset, it runs `$SHELL -l -c env` once (at most
// HydrateTimeout), sets each unset DaemonEnvKeys variable that the login
// shell has, and merges PATH: login entries first when ours was minimal,
// otherwise ours first with the login shell's missing entries appended. No
// variable that is already set is changed, and no value is logged. On macOS
// and Linux alike; on Windows (no login shell) it does nothing and reports
// Loaded false.
func HydrateFromLoginShell(ctx context.Context, o HydrateOptions) (Hydration, error) {
	goos := o.GOOS
	if goos == "" {
		goos = runtime.GOOS
	}
	if goos == "windows" {
		return Hydration{}, nil
	}
	getenv, setenv := o.Getenv, o.Setenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if setenv == nil {
		setenv = os.Setenv
	}
	run := o.LoginShell
	if run == nil {
		run = RunLoginShell
	}

	curPath := getenv("PATH")
	minimal := minimalPath(curPath)
	missing := false
	for _, k := range DaemonEnvKeys {
		if getenv(k) == "" {
			missing = true
		}
	}
	if !minimal && !missing {
		return Hydration{Loaded: true}, nil
	}

	ctx, cancel := context.WithTimeout(ctx, HydrateTimeout)
	defer cancel()
	out, err := run(ctx, loginShell(getenv), envScript)
	h := Hydration{Ran: true}
	if err != nil {
		return h, fmt.Errorf("hydrate environment from login shell: %w", err)
	}
	login, ok := parseEnv(out)
	if !ok {
		return h, fmt.Errorf("hydrate environment from login shell: no env output between markers")
	}
	for _, k := range DaemonEnvKeys {
		if getenv(k) != "" || login[k] == "" {
			continue
		}
		if err := setenv(k, login[k]); err != nil {
			return h, fmt.Errorf("hydrate environment from login shell: set %s: %w", k, err)
		}
		h.Set = append(h.Set, k)
	}
	if lp := login["PATH"]; lp != "" {
		var merged string
		if minimal {
			merged = mergePathLists(lp, curPath)
		} else {
			merged = mergePathLists(curPath, lp)
		}
		if merged != curPath {
			if err := setenv("PATH", merged); err != nil {
				return h, fmt.Errorf("hydrate environment from login shell: set PATH: %w", err)
			}
			h.PathMerged = true
		}
	}
	h.Loaded = true
	if o.Log != nil {
		o.Log.Info("docker isolation: environment loaded from login shell",
			"set", h.Set, "path_merged", h.PathMerged, "path_was_minimal", minimal)
	}
	return h, nil
}

// minimalPath reports whether PATH holds only the system directories (what
// launchd and a bare service manager give).
func minimalPath(p string) bool {
	system := map[string]bool{"/usr/bin": true, "/bin": true, "/usr/sbin": true, "/sbin": true}
	for _, e := range filepath.SplitList(p) {
		if e != "" && !system[filepath.Clean(e)] {
			return false
		}
	}
	return true
}

// mergePathLists returns first followed by the entries of second not in it.
func mergePathLists(first, second string) string {
	seen := map[string]bool{}
	var out []string
	for _, list := range []string{first, second} {
		for _, e := range filepath.SplitList(list) {
			if e == "" || seen[e] {
				continue
			}
			seen[e] = true
			out = append(out, e)
		}
	}
	return strings.Join(out, string(os.PathListSeparator))
}

// parseEnv reads `env` output between the markers. Lines that do not start
// a NAME=value pair continue a multi-line value and are ignored (no key we
// use spans lines).
func parseEnv(out string) (map[string]string, bool) {
	lines := strings.Split(out, "\n")
	start, end := -1, -1
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if l == envBegin && start < 0 {
			start = i
		} else if l == envEnd && start >= 0 {
			end = i
		}
	}
	if start < 0 || end < 0 {
		return nil, false
	}
	env := map[string]string{}
	for _, l := range lines[start+1 : end] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || !validEnvName(k) {
			continue
		}
		env[k] = v
	}
	return env, true
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
