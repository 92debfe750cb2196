package isolation

import (
	"sort"
	"strings"
	"time"
)

// Plan is how one isolated server is run: the container settings and the
// command inside it. It holds environment variable names only; their values
// never enter a Plan or an argv.
type Plan struct {
	// Server is the configured server name.
	Server string
	// Runtime is the detected runtime key ("python", "npx", "binary", …).
	Runtime string
	// Image is the fully qualified image reference (see QualifyImage).
	Image string

	NetworkMode string // --network value
	MemoryLimit string // --memory value
	CPULimit    string // --cpus value
	// WorkingDir is the in-container working directory (-w); "" means the
	// image's default. The server's host working_dir is never used here.
	WorkingDir string

	// EnvNames are the server's environment variable names, sorted. They are
	// passed as `-e NAME`, so docker reads each value from its own
	// environment: the spawner must put the values in the docker CLI's
	// environment (a name missing there is not set in the container).
	EnvNames []string
	// ExtraArgs are the global extra_args followed by the per-server ones,
	// inserted verbatim before the image.
	ExtraArgs []string

	// Command and Args are what runs inside the container.
	Command string
	Args    []string
	// Setup names the tool installed inside the container before the command
	// runs ("uvx", "pipx"), or "" when the image is expected to provide it.
	Setup string

	// Timeout bounds the whole start: image check and pull, container start
	// and the MCP initialize handshake.
	Timeout time.Duration

	// The typed, backend-neutral settings of the runtime seam (design.md,
	// "The runtime seam"). Decide fills them; backends map them to their
	// own form (docker flags, a pod spec). NetworkMode, MemoryLimit,
	// CPULimit and ExtraArgs above are the configured strings they replace.

	// MemoryBytes is the hard memory limit; no swap is allowed beyond it.
	MemoryBytes int64
	// MilliCPUs is the CPU quota in thousandths of a CPU.
	MilliCPUs int64
	// PidsLimit caps the number of processes; 0 means unlimited (only when
	// the profile is relaxed).
	PidsLimit int64
	// NoFile is the open-files limit (soft = hard); 0 keeps the engine's.
	NoFile int64
	// User is "uid:gid"; "" runs as the image's user.
	User string
	// ReadOnlyRoot makes the root filesystem read-only.
	ReadOnlyRoot bool
	// CapDrop and CapAdd adjust the capability set ("ALL" dropped by the
	// hardened profile; additions only with AllowDangerous).
	CapDrop, CapAdd []string
	// NoNewPrivileges stops setuid binaries from gaining privileges.
	NoNewPrivileges bool
	// Init runs a reaping init as PID 1.
	Init bool
	// Home is HOME inside the container ("" leaves the image's).
	Home string
	// Network is "bridge", "none" or a user-defined network.
	Network string
	// Tmpfs are size-capped writable directories (/tmp, Home).
	Tmpfs []Tmpfs
	// Mounts are host paths and named volumes, each with its reason.
	Mounts []Mount
	// Hardened reports whether the hardened profile applied; Profile names
	// the profile in force.
	Hardened bool
	Profile  string
	// AllowDangerous is the hand-written per-server escape hatch.
	AllowDangerous bool
	// DockerArgs are extra_args (global, then the server's): a Docker-only
	// escape hatch inserted verbatim before the image. Other backends
	// refuse a plan that has any.
	DockerArgs []string
	// Notes explain each non-default choice, one line each ("hardened:
	// false (per server)", "mount /data read-only: path in args").
	Notes []string
}

// RunArgs returns the `docker run` argv that follows the docker binary:
//
//	run [--cidfile F] -i --rm --name N [--label k=v]… --memory M --cpus C
//	--network NET [-w DIR] [-e NAME]… <global extra_args> <server extra_args>
//	IMAGE COMMAND ARGS…
//
// Labels are written in sorted key order and env names in sorted order, so
// the argv is deterministic. cidfile "" omits --cidfile.
func (p *Plan) RunArgs(containerName, cidfile string, labels map[string]string) []string {
	return p.RunArgsShim(containerName, cidfile, labels, nil)
}

// In-container paths of the stdio shim (see internal/shim).
const (
	ShimPath     = "/.mcpproxy/shim"
	ShimIODir    = "/.mcpproxy/io"
	ShimSocket   = ShimIODir + "/stdio.sock"
	ShimTokenEnv = "MCPPROXY_SHIM_TOKEN"
)

// Shim makes the container's entrypoint the stdio shim, which connects the
// server's stdin and stdout to a unix socket the proxy listens on instead of
// docker's attach stream (two fewer relays per message).
type Shim struct {
	// Binary is the host path of the static shim, mounted read-only.
	Binary string
	// IODir is the host directory holding the proxy's socket.
	IODir string
}

// ShimCompatible reports whether a plan can run with the shim: its
// extra_args must not set their own entrypoint, and the host paths must be
// expressible in a -v flag.
func (p *Plan) ShimCompatible(s Shim) bool {
	for _, a := range p.ExtraArgs {
		if a == "--entrypoint" || strings.HasPrefix(a, "--entrypoint=") {
			return false
		}
	}
	for _, path := range []string{s.Binary, s.IODir} {
		if path == "" || strings.ContainsAny(path, ":,") {
			return false
		}
	}
	return true
}

// RunArgsShim is RunArgs with the stdio shim when shim is non-nil: the
// binary and socket directory are mounted, the token variable is passed by
// name, the entrypoint is the shim, and the socket path precedes the command:
//
//	… -v BIN:/.mcpproxy/shim:ro -v DIR:/.mcpproxy/io -e MCPPROXY_SHIM_TOKEN
//	--entrypoint /.mcpproxy/shim <extra_args> IMAGE /.mcpproxy/io/stdio.sock COMMAND ARGS…
func (p *Plan) RunArgsShim(containerName, cidfile string, labels map[string]string, shim *Shim) []string {
	a := make([]string, 0, 16+2*len(labels)+2*len(p.EnvNames)+len(p.ExtraArgs)+len(p.Args))
	a = append(a, "run")
	if cidfile != "" {
		a = append(a, "--cidfile", cidfile)
	}
	a = append(a, "-i", "--rm", "--name", containerName)
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a = append(a, "--label", k+"="+labels[k])
	}
	a = append(a, "--memory", p.MemoryLimit, "--cpus", p.CPULimit, "--network", p.NetworkMode)
	if p.WorkingDir != "" {
		a = append(a, "-w", p.WorkingDir)
	}
	for _, n := range p.EnvNames {
		a = append(a, "-e", n)
	}
	if shim != nil {
		a = append(a, "-v", shim.Binary+":"+ShimPath+":ro", "-v", shim.IODir+":"+ShimIODir,
			"-e", ShimTokenEnv, "--entrypoint", ShimPath)
	}
	a = append(a, p.ExtraArgs...)
	a = append(a, p.Image)
	if shim != nil {
		a = append(a, ShimSocket)
	}
	a = append(a, p.Command)
	return append(a, p.Args...)
}

// maxNameLen caps the sanitized server part of a container name.
const maxNameLen = 63

// ContainerName returns "mcpproxy-<server>-<shortID>" with both parts
// sanitized to docker's name alphabet [a-zA-Z0-9_.-]: other characters become
// '-', runs of '-' collapse, leading and trailing '-' and '.' are trimmed, and
// the server part is cut to 63 characters. An empty server part becomes
// "server"; an empty shortID is omitted. The name is for people (docker ps);
// mcpproxy finds its containers by label and acts on them by ID.
func ContainerName(server string, shortID string) string {
	name := "mcpproxy-" + sanitizeName(server, "server")
	if id := sanitizeName(shortID, ""); id != "" {
		name += "-" + id
	}
	return name
}

func sanitizeName(s, empty string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		ok := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
		if !ok || r == '-' {
			if !dash {
				b.WriteByte('-')
			}
			dash = true
			continue
		}
		dash = false
		b.WriteRune(r)
	}
	out := strings.Trim(b.String(), "-.")
	if len(out) > maxNameLen {
		out = strings.TrimRight(out[:maxNameLen], "-.")
	}
	if out == "" {
		return empty
	}
	return out
}
