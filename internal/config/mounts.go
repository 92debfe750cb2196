package config

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/dockerargs"
)

// MountSpec is one entry of a server's isolation.mounts, parsed.
type MountSpec struct {
	// Source is the host path: absolute and cleaned, "~" expanded.
	Source string
	// Target is the absolute path inside the container; the host path
	// itself when the entry names none.
	Target string
	// ReadOnly is true unless the entry ends in ":rw".
	ReadOnly bool
}

// mountForm is how an isolation.mounts entry is written, for messages.
const mountForm = `HOST[:CONTAINER][:ro|rw], such as "~/notes:rw", "/data/in" or "/host/x:/in/container:ro"`

// ParseMount reads an isolation.mounts entry: HOST, HOST:MODE,
// HOST:CONTAINER or HOST:CONTAINER:MODE, where HOST is an absolute host path
// or starts with "~/" (home is the user's home directory), CONTAINER is an
// absolute path inside the container (default: HOST) and MODE is "ro" (the
// default) or "rw". Paths holding ':' cannot be written.
//
// Whether the host path may be mounted at all (a home, credentials, /etc, a
// docker socket, …) is judged separately (dockerargs.CheckHostPath).
func ParseMount(entry, home string) (MountSpec, error) {
	if strings.TrimSpace(entry) == "" {
		return MountSpec{}, errors.New("empty; the form is " + mountForm)
	}
	if strings.ContainsAny(entry, "\x00\n\r") {
		return MountSpec{}, errors.New("must not contain NUL, CR or LF")
	}
	parts := strings.Split(entry, ":")
	spec := MountSpec{ReadOnly: true}
	mode := ""
	switch len(parts) {
	case 1:
	case 2:
		if parts[1] == "ro" || parts[1] == "rw" {
			mode = parts[1]
		} else {
			spec.Target = parts[1]
		}
	case 3:
		spec.Target, mode = parts[1], parts[2]
		if mode != "ro" && mode != "rw" {
			return MountSpec{}, fmt.Errorf(`the mode must be "ro" or "rw", not %q; the form is %s`, mode, mountForm)
		}
	default:
		return MountSpec{}, errors.New("too many ':' (a path holding ':' cannot be mounted); the form is " + mountForm)
	}
	spec.ReadOnly = mode != "rw"
	src, err := ExpandHome(parts[0], home)
	if err != nil {
		return MountSpec{}, err
	}
	spec.Source = src
	if spec.Target == "" {
		spec.Target = src
	}
	if !strings.HasPrefix(spec.Target, "/") {
		return MountSpec{}, fmt.Errorf("the container path %q must be absolute; the form is %s", spec.Target, mountForm)
	}
	spec.Target = path.Clean(spec.Target)
	if why := reservedTarget(spec.Target); why != "" {
		return MountSpec{}, fmt.Errorf("cannot mount over %s inside the container: %s", spec.Target, why)
	}
	return spec, nil
}

// ExpandHome makes p, a host path written in the configuration, absolute
// and clean: "~" and "~/x" are taken from home; any other p must be
// absolute.
func ExpandHome(p, home string) (string, error) {
	switch {
	case p == "~" || strings.HasPrefix(p, "~/"):
		if home == "" || !strings.HasPrefix(home, "/") {
			return "", fmt.Errorf("%q cannot be expanded: the home directory is not known", p)
		}
		return path.Join(home, p[1:]), nil
	case strings.HasPrefix(p, "~"):
		return "", fmt.Errorf(`%q: only "~/…" (your own home) is expanded; write the absolute path`, p)
	case !strings.HasPrefix(p, "/"):
		return "", fmt.Errorf(`the host path %q must be absolute or start with "~/"`, p)
	}
	return path.Clean(p), nil
}

// reservedTarget says why a container path may not be a mount target: the
// root, the kernel's filesystems and mcpproxy's own directory in the
// container (the stdio shim).
func reservedTarget(p string) string {
	switch {
	case p == "/":
		return "it is the container's root"
	case within(p, "/proc"), within(p, "/sys"), within(p, "/dev"):
		return "the kernel's filesystems are the container's own"
	case within(p, "/.mcpproxy"):
		return "mcpproxy's stdio shim lives there"
	}
	return ""
}

func within(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// mounts checks a server's isolation.mounts: each entry's syntax, targets
// mounted twice, and (through report, which honours allow_dangerous) host
// paths that must not reach a container. A host path that does not exist
// here is a warning (the server fails to start until it does).
func (v *validator) mounts(ip string, iso *ServerIsolation, report func(path, msg string)) {
	home := v.hostPaths.Home
	targets := map[string]int{}
	for i, m := range iso.Mounts {
		mp := fmt.Sprintf("%s.mounts[%d]", ip, i)
		spec, err := ParseMount(m, home)
		if err != nil {
			v.add(mp, err.Error())
			continue
		}
		if j, dup := targets[spec.Target]; dup {
			v.add(mp, fmt.Sprintf("%s is mounted already by %s.mounts[%d]; mount each container path once", spec.Target, ip, j))
			continue
		}
		targets[spec.Target] = i
		if why := dockerargs.CheckHostPath(spec.Source, v.hostPaths); why != "" {
			report(mp, fmt.Sprintf("%q would give the container %s", m, why))
			continue
		}
		if v.hostPaths.Resolve != nil {
			if _, err := v.hostPaths.Resolve(spec.Source); errors.Is(err, os.ErrNotExist) {
				v.warn(mp, fmt.Sprintf("%s does not exist on this host; the server will not start until it does", spec.Source))
			}
		}
	}
}
