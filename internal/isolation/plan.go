package isolation

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Plan is how one isolated server is run: the container settings and the
// command inside it, as typed, backend-neutral data (design.md, "The runtime
// seam"). Decide fills every field from the global block, the server's block
// and the security profile; a backend maps them to its own form (docker
// flags, a pod spec) and never reads the configuration. A Plan holds
// environment variable names only; their values never enter a Plan or an
// argv.
type Plan struct {
	// Server is the configured server name.
	Server string
	// Runtime is the detected runtime key ("python", "npx", "binary", …).
	Runtime string
	// Image is the fully qualified image reference (see QualifyImage).
	Image string
	// WorkingDir is the in-container working directory; "" means the
	// image's default. The server's host working_dir is never used here.
	WorkingDir string

	// EnvNames are the server's environment variable names, sorted. Their
	// values reach the backend separately (StartOptions.Env), which
	// delivers them by the strongest SecretDelivery it can.
	EnvNames []string
	// Env are settings the plan itself gives the server (a package
	// runner's cache settings; never secrets), each also in EnvNames. The
	// server's own env, which wins, and these reach the backend together in
	// StartOptions.Env.
	Env map[string]string

	// Command and Args are what runs inside the container.
	Command string
	Args    []string
	// Setup names the tool installed inside the container before the command
	// runs ("uvx", "pipx"), or "" when the image is expected to provide it.
	Setup string

	// Timeout bounds the whole start: image check and pull, container start
	// and the MCP initialize handshake.
	Timeout time.Duration

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
	// Network is "bridge", "none" or a user-defined network (docker's
	// network_mode values: also "host", "default", "container:<id>").
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

// FormatMemory writes bytes in docker's size syntax, exactly: the largest
// of g, m and k that divides it, else plain bytes (536870912 → "512m",
// 1610612736 → "1536m", 1000 → "1000").
func FormatMemory(bytes int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if bytes != 0 && bytes%u.size == 0 {
			return strconv.FormatInt(bytes/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(bytes, 10)
}

// FormatCPUs writes thousandths of a CPU as a decimal number of CPUs
// (1000 → "1", 500 → "0.5", 2250 → "2.25").
func FormatCPUs(milli int64) string {
	s := strconv.FormatInt(milli/1000, 10)
	if frac := milli % 1000; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%03d", frac), "0")
	}
	return s
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
