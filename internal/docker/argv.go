package docker

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/shim"
)

// In-container paths of the stdio shim (see internal/shim).
const (
	ShimPath     = "/.mcpproxy/shim"
	ShimIODir    = "/.mcpproxy/io"
	ShimSocket   = ShimIODir + "/stdio.sock"
	ShimTokenEnv = shim.TokenEnv
)

// Shim makes the container's entrypoint the stdio shim, which connects the
// server's stdin and stdout to a unix socket the proxy listens on instead of
// docker's attach stream (two fewer relays per message), and receives the
// server's environment over it.
type Shim struct {
	// Binary is the host path of the static shim, mounted read-only.
	Binary string
	// Socket is the host path of the proxy's socket. The socket file alone
	// is mounted (read-only; connecting still works): no host directory the
	// server could write into is.
	Socket string
}

// RunSpec is what a `docker run` needs besides the Plan.
type RunSpec struct {
	// Name is the unique container name (isolation.ContainerName).
	Name string
	// CIDFile is where docker writes the container ID; "" omits --cidfile.
	CIDFile string
	// Labels go on the container, in sorted key order.
	Labels map[string]string
	// Shim, when non-nil, makes the stdio shim the entrypoint.
	Shim *Shim
}

// ShimCompatible reports whether plan can run with shim s: the plan's
// extra_args must not set their own entrypoint, and the host paths must be
// expressible in a -v flag.
func ShimCompatible(p *isolation.Plan, s Shim) bool {
	for _, a := range p.DockerArgs {
		if a == "--entrypoint" || strings.HasPrefix(a, "--entrypoint=") {
			return false
		}
	}
	for _, path := range []string{s.Binary, s.Socket} {
		if path == "" || strings.ContainsAny(path, ":,") {
			return false
		}
	}
	return true
}

// RunArgs returns the `docker run` argv that follows the docker binary. Every
// typed field of the Plan maps to its flag, in this order:
//
//	run [--cidfile F] -i --name N [--label k=v]…
//	--memory M --memory-swap M --cpus C [--pids-limit P] [--ulimit nofile=N:N]
//	--network NET [--user U] [--read-only] [--cap-drop C]… [--cap-add C]…
//	[--security-opt no-new-privileges] [--init, without the shim] [--tmpfs PATH:size=…,mode=…]…
//	[--mount type=…,src=…,dst=…[,readonly]]… [-w DIR] [-e HOME=H]
//	[no shim: -e NAME…]
//	[shim: -v BIN:/.mcpproxy/shim:ro -v SOCK:/.mcpproxy/io/stdio.sock:ro
//	       -e MCPPROXY_SHIM_TOKEN --entrypoint /.mcpproxy/shim]
//	<extra_args, global then server> IMAGE [/.mcpproxy/io/stdio.sock] COMMAND ARGS…
//
// No --rm: the engine would remove a container that ended before it has
// handled the container's OOM event, which it then drops (an OOM kill
// reported as a plain SIGKILL); the Runtime removes every container itself
// once it has read how it ended (Stop, Kill, RemoveAll, the reaper).
//
// Env values never appear: with the shim they are sent over its socket
// (not even the names are in argv); without it each name is passed as
// `-e NAME` and docker reads the value from its own environment. Labels and env names are
// sorted, so the argv is deterministic. Zero values leave their flag out
// (a zero memory or CPU limit is unlimited). A tmpfs path that docker's
// --tmpfs syntax cannot express is an error.
func RunArgs(p *isolation.Plan, spec RunSpec) ([]string, error) {
	a := make([]string, 0, 32+2*len(spec.Labels)+2*len(p.EnvNames)+len(p.DockerArgs)+len(p.Args))
	a = append(a, "run")
	if spec.CIDFile != "" {
		a = append(a, "--cidfile", spec.CIDFile)
	}
	a = append(a, "-i", "--name", spec.Name)
	keys := make([]string, 0, len(spec.Labels))
	for k := range spec.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a = append(a, "--label", k+"="+spec.Labels[k])
	}
	if p.MemoryBytes > 0 {
		m := isolation.FormatMemory(p.MemoryBytes)
		// Swap equal to memory: no swap beyond the limit.
		a = append(a, "--memory", m, "--memory-swap", m)
	}
	if p.MilliCPUs > 0 {
		a = append(a, "--cpus", isolation.FormatCPUs(p.MilliCPUs))
	}
	if p.PidsLimit > 0 {
		a = append(a, "--pids-limit", strconv.FormatInt(p.PidsLimit, 10))
	}
	if p.NoFile > 0 {
		n := strconv.FormatInt(p.NoFile, 10)
		a = append(a, "--ulimit", "nofile="+n+":"+n)
	}
	if p.Network != "" {
		a = append(a, "--network", p.Network)
	}
	if p.User != "" {
		a = append(a, "--user", p.User)
	}
	if p.ReadOnlyRoot {
		a = append(a, "--read-only")
	}
	for _, c := range p.CapDrop {
		a = append(a, "--cap-drop", c)
	}
	for _, c := range p.CapAdd {
		a = append(a, "--cap-add", c)
	}
	if p.NoNewPrivileges {
		a = append(a, "--security-opt", "no-new-privileges")
	}
	if p.Init && spec.Shim == nil {
		// With the shim, the shim is the container's init (PID 1, reaping
		// orphans, non-dumpable): docker's would stand between.
		a = append(a, "--init")
	}
	for _, t := range p.Tmpfs {
		v, err := tmpfsValue(t, p.User)
		if err != nil {
			return nil, err
		}
		a = append(a, "--tmpfs", v)
	}
	for _, m := range p.Mounts {
		a = append(a, "--mount", mountValue(m))
	}
	if p.WorkingDir != "" {
		a = append(a, "-w", p.WorkingDir)
	}
	if p.Home != "" {
		a = append(a, "-e", "HOME="+p.Home)
	}
	if spec.Shim == nil {
		// Without the shim the values go through docker (visible in
		// `docker inspect`); with it, the shim receives them over its socket.
		for _, n := range p.EnvNames {
			a = append(a, "-e", n)
		}
	}
	if s := spec.Shim; s != nil {
		a = append(a, "-v", s.Binary+":"+ShimPath+":ro", "-v", s.Socket+":"+ShimSocket+":ro",
			"-e", ShimTokenEnv, "--entrypoint", ShimPath)
	}
	a = append(a, p.DockerArgs...)
	a = append(a, p.Image)
	if spec.Shim != nil {
		a = append(a, ShimSocket)
	}
	a = append(a, p.Command)
	return append(a, p.Args...), nil
}

// tmpfsValue is the --tmpfs value of t: PATH:size=N,mode=M, with the
// owner's uid and gid when t is Owned and user is numeric "uid:gid". Docker
// adds its defaults (nosuid, nodev, noexec) to these options.
func tmpfsValue(t isolation.Tmpfs, user string) (string, error) {
	if !strings.HasPrefix(t.Path, "/") || strings.ContainsAny(t.Path, ":,\n") {
		return "", fmt.Errorf("docker: tmpfs path %q cannot be expressed in --tmpfs (absolute, without ':' or ',')", t.Path)
	}
	if t.SizeBytes <= 0 {
		return "", fmt.Errorf("docker: tmpfs %s has no size", t.Path)
	}
	v := t.Path + ":size=" + strconv.FormatInt(t.SizeBytes, 10) + ",mode=" + strconv.FormatUint(uint64(t.Mode), 8)
	if t.Exec {
		v += ",exec"
	}
	if t.Owned {
		if uid, gid, ok := numericUser(user); ok {
			v += ",uid=" + uid + ",gid=" + gid
		}
	}
	return v, nil
}

// numericUser splits "uid:gid" when both are numbers.
func numericUser(user string) (uid, gid string, ok bool) {
	uid, gid, ok = strings.Cut(user, ":")
	if !ok {
		return "", "", false
	}
	if _, err := strconv.ParseUint(uid, 10, 32); err != nil {
		return "", "", false
	}
	if _, err := strconv.ParseUint(gid, 10, 32); err != nil {
		return "", "", false
	}
	return uid, gid, true
}

// mountValue is the --mount value of m. --mount is a CSV record, so each
// field is written by encoding/csv: a path holding ',' or '"' is quoted,
// never split.
func mountValue(m isolation.Mount) string {
	fields := []string{"type=" + string(m.Type), "src=" + m.Source, "dst=" + m.Target}
	if m.ReadOnly {
		fields = append(fields, "readonly")
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(fields)
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}
