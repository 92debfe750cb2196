package isolation

import (
	"fmt"
	"path"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/dockerargs"
)

// Which host paths reach a container, and why (issue 10, item 1):
//
//   - isolation.mounts: each entry (config.ParseMount) is bound at its
//     target, read-only unless it ends in ":rw". A path that does not exist,
//     or that the denylist refuses (dockerargs.CheckHostPath: /, a home
//     itself, credential folders, /etc, /proc, /sys, /dev, /var/run, docker
//     sockets, the data dir, and their ancestors; symlinks resolved), refuses
//     the plan with a *MountError naming the field, unless the server has
//     allow_dangerous (then a note says so).
//   - automatically: every absolute (or "~/…") path in args — alone or as
//     the value of "--flag=/path" — and the server's working_dir that exists
//     on the host is bound read-only at the same path. A "~/…" argument is
//     rewritten to the absolute path the container sees. A path the
//     denylist refuses is skipped with a note (NoteNotMounted) unless the
//     server has allow_dangerous; /dev, /proc and /sys paths are the
//     container's own and never candidates.
//   - working_dir, once mounted, is also the container's working directory
//     unless isolation.working_dir says otherwise.
//
// With the kubernetes backend nothing of the host is mounted (its pods run
// elsewhere; config validation refuses isolation.mounts there).

// NoteNotMounted starts the note of a host path of the server's args or
// working_dir that was not mounted because the denylist refuses it; the
// launcher logs such notes as warnings.
const NoteNotMounted = "not mounted: "

// MountError refuses a plan: an isolation.mounts entry that cannot be
// mounted.
type MountError struct {
	// Field is the entry's path in the server's block
	// ("isolation.mounts[0]").
	Field string
	// Entry is the entry as written.
	Entry string
	// Why says what is wrong and what to do.
	Why string
}

func (e *MountError) Error() string { return fmt.Sprintf("%s %q: %s", e.Field, e.Entry, e.Why) }

// Reasons of automatic mounts (Mount.Reason); explicit ones say
// "isolation.mounts[i]".
const (
	ReasonArg        = "args[%d]"
	ReasonWorkingDir = "working_dir"
)

// addMounts adds the binds of s to p (see above).
func (h Host) addMounts(p *Plan, global config.DockerIsolation, s *config.Server) error {
	if global.Backend == config.BackendKubernetes {
		h.kubeHostPaths(p, s)
		return nil
	}
	si := s.Isolation
	if si == nil {
		si = &config.ServerIsolation{}
	}
	hp := dockerargs.HostPaths{Home: h.Home, DataDir: h.DataDir, Resolve: h.Resolve, FoldCase: dockerargs.HostFoldsCase, Sockets: h.Sockets}
	if h.ConfigPath != "" {
		hp.Secrets = dockerargs.WithTarget(h.ConfigPath, h.Resolve)
	}
	for i, entry := range si.Mounts {
		if err := h.explicitMount(p, hp, si.AllowDangerous, fmt.Sprintf("isolation.mounts[%d]", i), entry); err != nil {
			return err
		}
	}
	if h.Stat == nil {
		return nil
	}
	// The container's args may start with a setup script's (uvx on the
	// python image): the server's own args are the last len(s.Args).
	offset := len(p.Args) - len(s.Args)
	for i, a := range s.Args {
		prefix, raw, ok := hostPathIn(a)
		if !ok {
			continue
		}
		abs, mounted := h.autoMount(p, hp, si.AllowDangerous, fmt.Sprintf(ReasonArg, i), raw)
		if mounted && abs != raw && offset >= 0 {
			p.Args[offset+i] = prefix + abs
			p.Notes = append(p.Notes, fmt.Sprintf("args[%d] %q is %q in the container", i, a, prefix+abs))
		}
	}
	if wd := s.WorkingDir; wd != "" {
		abs, mounted := h.autoMount(p, hp, si.AllowDangerous, ReasonWorkingDir, wd)
		if mounted && si.WorkingDir == "" {
			if isDir, err := h.Stat(abs); err == nil && isDir {
				p.WorkingDir = abs
				p.Notes = append(p.Notes, "working directory "+abs+": the server's working_dir")
			}
		}
	}
	return nil
}

// explicitMount adds one isolation.mounts entry, or says why it cannot be.
func (h Host) explicitMount(p *Plan, hp dockerargs.HostPaths, allow bool, field, entry string) error {
	spec, err := config.ParseMount(entry, h.Home)
	if err != nil {
		return &MountError{Field: field, Entry: entry, Why: err.Error()}
	}
	if why := dockerargs.CheckHostPath(spec.Source, hp); why != "" {
		if !allow {
			return &MountError{Field: field, Entry: entry, Why: "refused: it would give the container " + why +
				`; remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand`}
		}
		p.Notes = append(p.Notes, fmt.Sprintf("mount %s: allowed by allow_dangerous: it gives the container %s", spec.Source, why))
	}
	if h.Stat != nil {
		if _, err := h.Stat(spec.Source); err != nil {
			return &MountError{Field: field, Entry: entry, Why: spec.Source + " does not exist on this host; create it or remove the entry"}
		}
	}
	p.Mounts = append(p.Mounts, Mount{Type: MountBind, Source: h.resolve(spec.Source), Target: spec.Target, ReadOnly: spec.ReadOnly, Reason: field})
	return nil
}

// autoMount binds host path raw (from args or working_dir) read-only at the
// same path when it exists, is not inside a mount already and the denylist
// allows it. It returns the absolute path and whether the container sees
// it.
func (h Host) autoMount(p *Plan, hp dockerargs.HostPaths, allow bool, reason, raw string) (string, bool) {
	abs, ok := h.existingHostPath(raw)
	if !ok {
		return abs, false
	}
	for _, m := range p.Mounts {
		if m.Type == MountBind && within(abs, m.Target) {
			return abs, true // seen through an earlier mount
		}
	}
	if why := dockerargs.CheckHostPath(abs, hp); why != "" {
		if !allow {
			p.Notes = append(p.Notes, fmt.Sprintf("%s%s (%s) would give the container %s; if the server needs it, list it in isolation.mounts with \"allow_dangerous\": true", NoteNotMounted, abs, reason, why))
			return abs, false
		}
		p.Notes = append(p.Notes, fmt.Sprintf("mount %s (%s): allowed by allow_dangerous: it gives the container %s", abs, reason, why))
	}
	// A path holding earlier automatic mounts replaces them.
	kept := p.Mounts[:0]
	for _, m := range p.Mounts {
		if m.Type == MountBind && isAutoReason(m.Reason) && within(m.Target, abs) {
			continue
		}
		kept = append(kept, m)
	}
	p.Mounts = append(kept, Mount{Type: MountBind, Source: h.resolve(abs), Target: abs, ReadOnly: true, Reason: reason})
	return abs, true
}

// existingHostPath is raw (from args or working_dir) made absolute, and
// whether it is a path of this host, not one the container owns: what a
// Docker container gets bound and a pod goes without. h.Stat must be set.
func (h Host) existingHostPath(raw string) (string, bool) {
	abs, err := config.ExpandHome(raw, h.Home)
	if err != nil || ownedByContainer(abs) {
		return abs, false
	}
	if _, err := h.Stat(abs); err != nil {
		return abs, false // not on this host
	}
	return abs, true
}

func (h Host) resolve(p string) string {
	if h.Resolve == nil {
		return p
	}
	if r, err := h.Resolve(p); err == nil && strings.HasPrefix(r, "/") {
		return r
	}
	return p
}

// kubeHostPaths notes, for the kubernetes backend, the host paths of the
// server's args and working_dir that the Docker backend would have mounted:
// a pod gets none (explicit isolation.mounts are a config error), and the
// server would otherwise meet a missing path with no word why.
func (h Host) kubeHostPaths(p *Plan, s *config.Server) {
	if h.Stat == nil {
		return
	}
	note := func(reason, raw string) {
		abs, ok := h.existingHostPath(raw)
		if !ok {
			return
		}
		p.Notes = append(p.Notes, fmt.Sprintf("%s%s (%s): the kubernetes backend mounts no host path (host paths do not exist on cluster nodes); put the files in the image or a named volume (a PersistentVolumeClaim)", NoteNotMounted, abs, reason))
	}
	for i, a := range s.Args {
		if _, raw, ok := hostPathIn(a); ok {
			note(fmt.Sprintf(ReasonArg, i), raw)
		}
	}
	if s.WorkingDir != "" {
		note(ReasonWorkingDir, s.WorkingDir)
	}
}

// hostPathIn finds a host path in a server argument: the argument itself
// when it is absolute or starts with "~/", or the value of "NAME=VALUE"
// (such as --root=/data) when that is. prefix is what precedes the path.
func hostPathIn(arg string) (prefix, p string, ok bool) {
	if looksLikeHostPath(arg) {
		return "", arg, true
	}
	if name, val, found := strings.Cut(arg, "="); found && name != "" && !strings.ContainsAny(name, "/ ") && looksLikeHostPath(val) {
		return name + "=", val, true
	}
	return "", "", false
}

func looksLikeHostPath(s string) bool {
	return (strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//")) || s == "~" || strings.HasPrefix(s, "~/")
}

// ownedByContainer reports whether p is inside a filesystem every
// container has of its own (/dev, /proc, /sys): never mounted from the host.
func ownedByContainer(p string) bool {
	return within(p, "/dev") || within(p, "/proc") || within(p, "/sys")
}

func isAutoReason(r string) bool { return r == ReasonWorkingDir || strings.HasPrefix(r, "args[") }

func within(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
