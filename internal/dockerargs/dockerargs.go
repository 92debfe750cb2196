// Package dockerargs reads `docker run` arguments the way the docker CLI
// parses them and says which ones open a door from a container to the host:
// host namespaces, added capabilities, devices, weakened security profiles
// and bind mounts of sensitive host paths.
//
// It exists for the Docker-only escape hatch `extra_args` (and
// `network_mode`): the configuration refuses what this package finds unless
// a server's block says `allow_dangerous: true`. The package is pure; host
// paths are judged by name, with symlinks resolved only through the caller's
// HostPaths.Resolve.
//
// Every flag spelling the docker CLI (spf13/pflag) accepts counts:
// "--flag value", "--flag=value", "-v value", "-vvalue", "-v=value" and short
// flags combined in one argument ("-itv/:/h"). Unknown flags are allowed
// (Docker adds flags); to stay on the safe side no argument is ever skipped
// as "the value of an unknown flag", so a value that itself looks like a
// dangerous flag is reported too.
package dockerargs

import (
	"encoding/csv"
	"path"
	"runtime"
	"strconv"
	"strings"
)

// Finding is one dangerous argument.
type Finding struct {
	// Index is the position in the argument list where the flag starts.
	Index int
	// Arg is the flag as written, with its value when that is a separate
	// argument ("--cap-add ALL", "-v=/:/h").
	Arg string
	// Rule is the name of the Table row that matched ("--cap-add").
	Rule string
	// Why says what the argument gives the container, in a few words.
	Why string
}

// HostPaths is what judging a host path needs from the host.
type HostPaths struct {
	// Home is the user's home directory ("" when unknown).
	Home string
	// DataDir is mcpproxy's data directory ("" when unknown): its API key,
	// trust state and sockets. It, anything in it and its ancestors are
	// refused like a protected tree.
	DataDir string
	// Resolve, when set, resolves symlinks of an existing path (the result
	// is judged too, since Docker follows symlinks of a bind source). It is
	// typically filepath.EvalSymlinks.
	Resolve func(p string) (string, error)
	// FoldCase is true when the host's filesystem ignores case (macOS,
	// Windows: HostFoldsCase): "/Users/Alice/.SSH" is ~/.ssh there, so
	// paths are judged in lower case.
	FoldCase bool
	// Sockets are host sockets that hand out the user's credentials or
	// control of the host, such as the SSH agent's ($SSH_AUTH_SOCK) and the
	// engine's named by DOCKER_HOST: a bind of one, or of a folder holding
	// one, is refused (a read-only bind still lets the container connect).
	// OpenSSH's /tmp/ssh-* folders are refused whatever this holds.
	Sockets []string
	// Secrets are mcpproxy's own files that hold secrets outside DataDir:
	// its config file (every server's env and header values, the API key).
	// Each, and every folder holding one, is refused.
	Secrets []string
}

// WithTarget is p and, when resolve (nil: none) leads it elsewhere, where
// it leads: an entry of Sockets or Secrets names both, since a bind may
// name either and Docker binds what a symlink points to.
func WithTarget(p string, resolve func(string) (string, error)) []string {
	out := []string{p}
	if resolve != nil {
		if r, err := resolve(p); err == nil && r != p {
			out = append(out, r)
		}
	}
	return out
}

// HostFoldsCase is whether this host's filesystems usually ignore case
// (APFS and NTFS as installed): the FoldCase of HostPaths for this host.
const HostFoldsCase = runtime.GOOS == "darwin" || runtime.GOOS == "windows"

// Rule is one row of the dangerous-argument table.
type Rule struct {
	// Name is how the row is shown: the flag, with the value class it
	// covers ("--security-opt seccomp=…").
	Name string
	// Flags are the long flag names (without dashes) the row reads.
	Flags []string
	// Bool is true for boolean flags: their value is only ever attached
	// ("--privileged=false"); a following argument is not theirs.
	Bool bool
	// judge returns why the value is dangerous, or "". present is false
	// when no value was given (a value flag at the end of the list).
	judge func(value string, present bool, hp HostPaths) string
}

// Table is every dangerous `docker run` argument, one row per door. A flag
// may appear in several rows (one per dangerous value class).
var Table = []Rule{
	{Name: "--privileged", Flags: []string{"privileged"}, Bool: true, judge: func(v string, present bool, _ HostPaths) string {
		if present {
			if b, err := strconv.ParseBool(v); err == nil && !b {
				return ""
			}
		}
		return "every capability and every host device"
	}},
	{Name: "--cap-add", Flags: []string{"cap-add"}, judge: always("Linux capabilities beyond Docker's default set")},
	{Name: "--device", Flags: []string{"device"}, judge: always("a host device")},
	{Name: "--device-cgroup-rule", Flags: []string{"device-cgroup-rule"}, judge: always("access to host devices")},
	{Name: "--gpus", Flags: []string{"gpus"}, judge: always("host GPU devices")},
	{Name: "--volumes-from", Flags: []string{"volumes-from"}, judge: always("the mounts of another container")},
	{Name: "--pid=host|container:…", Flags: []string{"pid"}, judge: hostOrContainer("process")},
	{Name: "--ipc=host|container:…", Flags: []string{"ipc"}, judge: hostOrContainer("IPC")},
	{Name: "--network=host|container:…", Flags: []string{"network", "net"}, judge: networkJudge},
	{Name: "--uts=host", Flags: []string{"uts"}, judge: hostOnly("UTS (hostname)")},
	{Name: "--userns=host", Flags: []string{"userns"}, judge: hostOnly("user")},
	{Name: "--cgroupns=host", Flags: []string{"cgroupns"}, judge: hostOnly("cgroup")},
	{Name: "--security-opt seccomp=…", Flags: []string{"security-opt"}, judge: secOpt("seccomp", func(v string) string {
		if v == "unconfined" {
			return "no seccomp filter: every system call"
		}
		return "a seccomp profile other than Docker's default"
	})},
	{Name: "--security-opt apparmor=…", Flags: []string{"security-opt"}, judge: secOpt("apparmor", func(v string) string {
		if v == "docker-default" {
			return ""
		}
		return "an AppArmor profile other than Docker's default"
	})},
	{Name: "--security-opt label=disable", Flags: []string{"security-opt"}, judge: secOpt("label", func(v string) string {
		if v == "disable" {
			return "no SELinux confinement"
		}
		return ""
	})},
	{Name: "--security-opt systempaths=unconfined", Flags: []string{"security-opt"}, judge: secOpt("systempaths", func(v string) string {
		if v == "unconfined" {
			return "unmasked /proc and /sys paths"
		}
		return ""
	})},
	{Name: "-v/--volume HOST:…", Flags: []string{"volume"}, judge: volumeJudge},
	{Name: "--mount src=HOST,…", Flags: []string{"mount"}, judge: mountJudge},
	{Name: "--env-file HOST", Flags: []string{"env-file"}, judge: envFileJudge},
	{Name: "--cidfile", Flags: []string{"cidfile"}, judge: always("a file the docker CLI writes on the host (in place of mcpproxy's own container-ID file)")},
}

// shortFlags maps docker run's one-letter flags to their long names; bool
// ones take no value.
var shortFlags = map[byte]struct {
	long string
	bool bool
}{
	'a': {"attach", false}, 'c': {"cpu-shares", false}, 'd': {"detach", true},
	'e': {"env", false}, 'h': {"hostname", false}, 'i': {"interactive", true},
	'l': {"label", false}, 'm': {"memory", false}, 'p': {"publish", false},
	'P': {"publish-all", true}, 't': {"tty", true}, 'u': {"user", false},
	'v': {"volume", false}, 'w': {"workdir", false},
}

// rulesByFlag indexes Table by long flag name.
var rulesByFlag = func() map[string][]*Rule {
	m := map[string][]*Rule{}
	for i := range Table {
		for _, f := range Table[i].Flags {
			m[f] = append(m[f], &Table[i])
		}
	}
	return m
}()

// Check returns the dangerous arguments in args (docker run flags, as
// extra_args holds them), in order.
func Check(args []string, hp HostPaths) []Finding {
	var out []Finding
	for i, a := range args {
		for _, f := range flagsIn(args, i) {
			for _, r := range rulesByFlag[f.name] {
				if why := r.judge(f.value, f.present, hp); why != "" {
					out = append(out, Finding{Index: i, Arg: f.written(a), Rule: r.Name, Why: why})
				}
			}
		}
	}
	return out
}

// Mounts reports whether args (docker run flags, as extra_args holds them)
// mount anything: -v/--volume or --mount, read as docker's flag parser reads
// them (combined short flags such as -itv included).
func Mounts(args []string) bool {
	for i := range args {
		for _, f := range flagsIn(args, i) {
			if f.name == "volume" || f.name == "mount" {
				return true
			}
		}
	}
	return false
}

// CheckNetworkMode says why a network_mode value gives the container the
// host ("" when it does not): "host" shares the host's network stack, and
// "container:<id>" joins another container's namespaces.
func CheckNetworkMode(mode string) string {
	return networkJudge(mode, true, HostPaths{})
}

// flag is one flag occurrence in an argument.
type flag struct {
	name    string // long name
	value   string
	present bool // a value was given (attached or next argument)
	next    bool // the value is the next argument
}

// written is how the flag appears in the arguments, for messages.
func (f flag) written(arg string) string {
	if f.next {
		return arg + " " + f.value
	}
	return arg
}

// flagsIn parses args[i] as docker's flag parser would and returns the flags
// it holds: one for a long flag, one per letter of combined short flags. A
// value-taking flag without an attached value takes args[i+1].
func flagsIn(args []string, i int) []flag {
	a := args[i]
	nextArg := func() (string, bool) {
		if i+1 < len(args) {
			return args[i+1], true
		}
		return "", false
	}
	switch {
	case strings.HasPrefix(a, "--") && len(a) > 2:
		name, val, hasEq := strings.Cut(a[2:], "=")
		f := flag{name: name, value: val, present: hasEq}
		if !hasEq && !isBoolFlag(name) {
			f.value, f.present = nextArg()
			f.next = f.present
		}
		return []flag{f}
	case strings.HasPrefix(a, "-") && len(a) > 1 && a != "--":
		var out []flag
		letters := a[1:]
		for j := 0; j < len(letters); j++ {
			s, ok := shortFlags[letters[j]]
			if !ok {
				return out // docker stops here with "unknown shorthand flag"
			}
			rest := letters[j+1:]
			if s.bool {
				if strings.HasPrefix(rest, "=") {
					return append(out, flag{name: s.long, value: rest[1:], present: true})
				}
				out = append(out, flag{name: s.long})
				continue
			}
			f := flag{name: s.long}
			switch {
			case strings.HasPrefix(rest, "="):
				f.value, f.present = rest[1:], true
			case rest != "":
				f.value, f.present = rest, true
			default:
				f.value, f.present = nextArg()
				f.next = f.present
			}
			return append(out, f)
		}
		return out
	}
	return nil
}

// boolFlags are docker run's boolean long flags: a following argument is
// never their value.
var boolFlags = map[string]bool{
	"privileged": true, "read-only": true, "init": true, "rm": true, "interactive": true, "tty": true,
	"detach": true, "publish-all": true, "oom-kill-disable": true, "sig-proxy": true, "no-healthcheck": true,
	"disable-content-trust": true, "help": true,
}

// isBoolFlag reports whether a long flag is boolean.
func isBoolFlag(name string) bool {
	return boolFlags[name]
}

func always(why string) func(string, bool, HostPaths) string {
	return func(string, bool, HostPaths) string { return why }
}

func hostOnly(ns string) func(string, bool, HostPaths) string {
	return func(v string, _ bool, _ HostPaths) string {
		if strings.EqualFold(strings.TrimSpace(v), "host") {
			return "the host's " + ns + " namespace"
		}
		return ""
	}
}

func hostOrContainer(ns string) func(string, bool, HostPaths) string {
	return func(v string, present bool, hp HostPaths) string {
		if why := hostOnly(ns)(v, present, hp); why != "" {
			return why
		}
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "container:") {
			return "another container's " + ns + " namespace"
		}
		return ""
	}
}

func networkJudge(v string, _ bool, _ HostPaths) string {
	v = strings.ToLower(strings.TrimSpace(v))
	switch {
	case v == "host":
		return "the host's network stack (every host port and loopback service)"
	case strings.HasPrefix(v, "container:"):
		return "another container's network namespace"
	}
	return ""
}

// secOpt judges a --security-opt value of the given kind ("seccomp",
// "apparmor", …), written "kind=value" or (older form) "kind:value".
func secOpt(kind string, judge func(value string) string) func(string, bool, HostPaths) string {
	return func(v string, _ bool, _ HostPaths) string {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			k, val, ok = strings.Cut(v, ":")
		}
		if !ok || !strings.EqualFold(strings.TrimSpace(k), kind) {
			return ""
		}
		return judge(strings.ToLower(strings.TrimSpace(val)))
	}
}

// envFileJudge judges "--env-file PATH": the docker CLI reads the file on
// the host, as mcpproxy's user, and hands its lines to the container as its
// environment, so the file is as readable by the server as a bind mount of
// it. A relative PATH is read from mcpproxy's working directory, wherever
// that is.
func envFileJudge(v string, _ bool, hp HostPaths) string {
	p := strings.TrimSpace(v)
	if !strings.HasPrefix(p, "/") {
		return "the contents of the host file " + strconv.Quote(p) + " names relative to mcpproxy's working directory, as its environment; write an absolute path"
	}
	if why := hostPath(p, hp); why != "" {
		return "the contents of a host file as its environment: " + why
	}
	return ""
}

// volumeJudge judges "-v SRC:DST[:OPTS]": SRC is a host path when absolute
// (otherwise a named volume; "-v /data" alone is an anonymous volume).
func volumeJudge(v string, _ bool, hp HostPaths) string {
	src, _, ok := strings.Cut(v, ":")
	if !ok {
		return ""
	}
	return hostPath(src, hp)
}

// mountJudge judges "--mount type=bind,source=SRC,target=DST,…". Every
// absolute source counts whatever the type (docker defaults the type to
// volume, and a local volume can bind a host path through
// volume-opt=device=SRC).
func mountJudge(v string, _ bool, hp HostPaths) string {
	r := csv.NewReader(strings.NewReader(v))
	r.LazyQuotes = true
	fields, err := r.Read()
	if err != nil {
		fields = strings.Split(v, ",")
	}
	for _, f := range fields {
		k, val, _ := strings.Cut(f, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "source", "src":
			if why := hostPath(val, hp); why != "" {
				return why
			}
		case "volume-opt":
			if ok, dev, _ := strings.Cut(val, "="); strings.EqualFold(ok, "device") {
				if why := hostPath(dev, hp); why != "" {
					return why
				}
			}
		}
	}
	return ""
}

// Protected host trees: a bind of the tree, of anything inside it, or of
// any of its ancestors is dangerous.
var protectedTrees = []struct{ path, what string }{
	{"/etc", "host configuration (/etc)"},
	{"/proc", "host kernel and process state (/proc)"},
	{"/sys", "host kernel state (/sys)"},
	{"/dev", "host devices (/dev)"},
	{"/boot", "the host's boot files (/boot)"},
	{"/root", "root's home directory"},
	{"/run", "host runtime sockets (/run)"},
	{"/var/run", "host runtime sockets (/var/run)"},
	{"/var/lib/docker", "Docker's own storage"},
	{"/tmp/.X11-unix", "the X server's sockets"},
	// macOS: /etc and /var are symlinks into /private, which Docker
	// Desktop shares by default.
	{"/private/etc", "host configuration (/private/etc)"},
	{"/private/var/run", "host runtime sockets (/private/var/run)"},
}

// homeSecrets are directories and files under a home that hold credentials.
// The container engines of a desktop (Colima, Rancher Desktop, OrbStack,
// Lima) keep their sockets under the home too.
var homeSecrets = []string{
	".ssh", ".aws", ".gnupg", ".docker", ".kube", ".config", ".mcpproxy", ".netrc", ".git-credentials", ".npmrc", ".pypirc",
	".azure", ".vault-token", ".terraform.d", ".password-store", ".local/share/keyrings", ".cache/git",
	".cargo/credentials", ".cargo/credentials.toml", ".gem/credentials", ".m2/settings.xml", ".gradle/gradle.properties",
	".pgpass", ".s3cfg", ".boto",
	".colima", ".rd", ".orbstack", ".lima",
}

// CheckHostPath says why making host path p visible in a container (a bind
// mount of it) is dangerous, or "" when it is not: the table of protected
// trees (/, /etc, /proc, /sys, /dev, /run, /var/run, …, and their
// ancestors), container engine sockets, home directories and their
// ancestors, credential folders under a home (.ssh, .aws, .gnupg, .docker,
// .kube, .config, …) and hp.DataDir. Symlinks are resolved through
// hp.Resolve and the target is judged too. p must be absolute; a relative p
// is not a host path and is never dangerous.
func CheckHostPath(p string, hp HostPaths) string { return hostPath(p, hp) }

// hostPath says why binding host path p into a container is dangerous, or
// "" (a relative p is a volume name, not a host path).
func hostPath(p string, hp HostPaths) string {
	p = strings.TrimSpace(p)
	if strings.HasPrefix(p, ".") {
		// Not a volume name (those start with a letter or digit): the
		// docker CLI binds it as a host path relative to its own working
		// directory — mcpproxy's, which may be the home directory or a
		// folder a few ".." under /.
		return "the host folder " + strconv.Quote(p) + " names relative to mcpproxy's working directory, wherever mcpproxy was started (the home directory, or / with enough \"..\"); write an absolute path"
	}
	if !strings.HasPrefix(p, "/") {
		return ""
	}
	clean := path.Clean(p)
	if why := judgePath(clean, hp); why != "" {
		return why
	}
	if hp.Resolve != nil {
		if r, err := hp.Resolve(clean); err == nil && r != clean && strings.HasPrefix(r, "/") {
			if why := judgePath(path.Clean(r), hp); why != "" {
				return why + " (" + clean + " resolves to " + r + ")"
			}
		}
	}
	return ""
}

func judgePath(p string, hp HostPaths) string {
	fold := func(s string) string { return s }
	if hp.FoldCase {
		fold = strings.ToLower
		p, hp.Home, hp.DataDir = fold(p), fold(hp.Home), fold(hp.DataDir)
	}
	if p == "/" {
		return "the host's whole filesystem"
	}
	if isDockerSocket(path.Base(p)) {
		return "a container engine's socket (" + p + "): control of the host"
	}
	if s := touching(p, hp.Secrets, fold); s != "" {
		return "mcpproxy's config file (" + s + "): every server's secrets and the API key"
	}
	if s := touching(p, hp.Sockets, fold); s != "" {
		if isDockerSocket(path.Base(s)) {
			return "a container engine's socket (" + s + "): control of the host"
		}
		return "a socket that hands out the user's credentials or control of the host (" + s + ")"
	}
	for _, prefix := range []string{"/tmp/ssh-", "/private/tmp/ssh-", "/private/tmp/com.apple.launchd."} {
		if dir, _, _ := strings.Cut(strings.TrimPrefix(p, prefix), "/"); strings.HasPrefix(p, prefix) && dir != "" {
			return "an SSH agent's socket folder (" + prefix + dir + "): signing with the user's keys"
		}
	}
	dataDir := ""
	if d := hp.DataDir; strings.HasPrefix(d, "/") && path.Clean(d) != "/" {
		dataDir = path.Clean(d)
	}
	if dataDir != "" && within(p, dataDir) {
		return "mcpproxy's data directory (" + dataDir + "): its API key, trust state and sockets"
	}
	for _, t := range protectedTrees {
		if within(p, t.path) {
			return t.what
		}
		if within(t.path, p) {
			return "a directory holding " + t.what
		}
	}
	var homes []string
	if hp.Home != "" && strings.HasPrefix(hp.Home, "/") && path.Clean(hp.Home) != "/" {
		homes = append(homes, path.Clean(hp.Home))
	}
	// Every /home/<user> (and macOS's /Users/<user>) is someone's home.
	for _, root := range []string{"/home/", "/Users/"} {
		root = fold(root)
		if rest, ok := strings.CutPrefix(p, root); ok {
			user, _, _ := strings.Cut(rest, "/")
			homes = append(homes, root+user)
		}
	}
	for _, h := range homes {
		switch {
		case p == h:
			return "a home directory (" + h + ")"
		case within(h, p):
			return "a directory holding a home directory (" + h + ")"
		}
		for _, s := range homeSecrets {
			if within(p, path.Join(h, s)) {
				return "credentials under the home directory (" + path.Join(h, s) + ")"
			}
		}
	}
	if dataDir != "" && within(dataDir, p) {
		return "a directory holding mcpproxy's data directory (" + dataDir + ")"
	}
	if p == "/home" || p == fold("/Users") {
		return "the users' home directories"
	}
	if p == "/tmp" {
		return "the host's /tmp (agent and X sockets of other programs)"
	}
	return ""
}

// touching is the first absolute path of list (folded, cleaned) that p is,
// is inside, or holds; "" when none.
func touching(p string, list []string, fold func(string) string) string {
	for _, s := range list {
		if s = fold(s); strings.HasPrefix(s, "/") {
			if s = path.Clean(s); within(p, s) || within(s, p) {
				return s
			}
		}
	}
	return ""
}

// within reports whether p is dir or inside it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// isDockerSocket reports whether a file name is a container engine's API
// socket: docker.sock and any *.sock whose name mentions docker, podman or
// containerd.
func isDockerSocket(name string) bool {
	n := strings.ToLower(name)
	if !strings.HasSuffix(n, ".sock") {
		return false
	}
	return strings.Contains(n, "docker") || strings.Contains(n, "podman") || strings.Contains(n, "containerd")
}

// weakening are the flags that undo part of mcpproxy's hardened profile
// without giving the container the host: allowed, and shown in the plan.
var weakening = map[string]func(value string, present bool) string{
	"user":        func(v string, _ bool) string { return "runs as " + strconv.Quote(v) + " instead of the profile's user" },
	"read-only":   falseFlag("makes the root filesystem writable"),
	"init":        falseFlag("removes the reaping init"),
	"pids-limit":  func(v string, _ bool) string { return "sets the PID limit to " + v },
	"ulimit":      func(v string, _ bool) string { return "sets the rlimit " + v },
	"memory-swap": func(v string, _ bool) string { return "sets memory+swap to " + v },
	"security-opt": func(v string, _ bool) string {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			k, val, _ = strings.Cut(v, ":")
		}
		if strings.TrimSpace(k) != "no-new-privileges" || val == "" {
			return ""
		}
		if b, err := strconv.ParseBool(val); err == nil && b {
			return ""
		}
		return "lets setuid binaries gain privileges again"
	},
}

func falseFlag(why string) func(string, bool) string {
	return func(v string, present bool) string {
		if !present {
			return ""
		}
		if b, err := strconv.ParseBool(v); err == nil && b {
			return ""
		}
		return why
	}
}

// Weakening returns the arguments that override part of the hardened
// profile (user, read-only root, init, PID and other limits,
// no-new-privileges) without being dangerous: the plan notes each one.
func Weakening(args []string) []Finding {
	var out []Finding
	for i, a := range args {
		for _, f := range flagsIn(args, i) {
			judge := weakening[f.name]
			if judge == nil {
				continue
			}
			if why := judge(f.value, f.present); why != "" {
				out = append(out, Finding{Index: i, Arg: f.written(a), Rule: "--" + f.name, Why: why})
			}
		}
	}
	return out
}
