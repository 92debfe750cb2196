package isolation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// This file is the seam between the upstream side ("run this server
// isolated") and a container backend ("run a container for this plan"). The
// Docker CLI (internal/docker) is the first Runtime; Kubernetes
// (internal/kube) is the second. Everything here is data or an interface: the
// package stays free of effects.
//
// Agreed shape (see design/design.md, "The runtime seam"): the upstream side
// calls Decide, then Runtime.EnsureImage and Runtime.Start, and attaches the
// returned Container's stdio to an MCP client. Backends never look at the
// configuration; the Plan carries every setting they need, already merged
// (global, per server, the hardened profile).

// Labels on every container (or pod) mcpproxy starts. Together they say
// "this is mcpproxy's, started by that instance of that data dir on that
// host, for that server"; reapers and shutdown sweeps act only on containers
// carrying them, and only by ID.
const (
	// LabelManaged is "true" on every mcpproxy container.
	LabelManaged = "com.mcpproxy.managed"
	// LabelInstance is the ID of the mcpproxy instance that started it.
	LabelInstance = "com.mcpproxy.instance"
	// LabelServer is the configured server name, verbatim.
	LabelServer = "com.mcpproxy.server"
	// LabelHost identifies the machine the instance ran on (a hash, not a
	// hostname), so that a shared engine's containers of other hosts are
	// never judged from here.
	LabelHost = "com.mcpproxy.host"
	// LabelDataDir identifies the instance's data directory (a hash of its
	// absolute path): only the owner of that data dir may reap them.
	LabelDataDir = "com.mcpproxy.datadir"
)

// MountType says what a Mount's Source is.
type MountType string

// Mount types.
const (
	// MountBind mounts a host path (Docker only; Kubernetes refuses it).
	MountBind MountType = "bind"
	// MountVolume mounts a named volume the backend creates if missing
	// (Docker: a labelled named volume; Kubernetes: a PVC).
	MountVolume MountType = "volume"
)

// Mount is one filesystem the container sees besides its root.
type Mount struct {
	Type MountType
	// Source is the host path (bind, symlinks already resolved) or the
	// volume name (volume).
	Source string
	// Target is the absolute path inside the container.
	Target   string
	ReadOnly bool
	// Reason says why it is there, for the list view and the debug log:
	// "args[1]", "working_dir", "isolation.mounts[0]", "package cache (npm)".
	Reason string
	// Cache names the package cache a volume holds ("npm", "uv", "pip",
	// "go"); "" for any other mount. A backend labels the volume with it.
	Cache string
}

// Tmpfs is a size-capped, memory-backed writable directory.
type Tmpfs struct {
	// Path is the absolute path inside the container.
	Path string
	// SizeBytes caps it; it is never 0 in a Plan.
	SizeBytes int64
	// Mode is its permission bits (0o1777 for /tmp, 0o700 for a home).
	Mode uint32
	// Owned makes it owned by the Plan's User (a home directory).
	Owned bool
	// Exec allows running programs from it (package runners unpack
	// binaries into the home). It is always nosuid and nodev.
	Exec bool
}

// SecretDelivery says how environment values reach the server.
type SecretDelivery string

// Secret deliveries, from the strongest to the weakest guarantee.
const (
	// SecretsShim: the stdio shim receives the values over its
	// authenticated channel and exports them before it execs the server.
	// They appear in no argv, no log and not in `docker inspect`.
	SecretsShim SecretDelivery = "shim"
	// SecretsOrchestrator: the backend stores them in its secret store and
	// references them (a Kubernetes Secret with secretKeyRef); never in the
	// pod spec.
	SecretsOrchestrator SecretDelivery = "orchestrator"
	// SecretsEnv: passed by name (`-e NAME`), values through the docker
	// CLI's own environment: out of argv and logs, but visible in `docker
	// inspect`. Only where the shim cannot be used; the list view says so.
	SecretsEnv SecretDelivery = "env"
)

// Exit says how a container ended.
type Exit struct {
	// Code is the exit code; -1 when unknown.
	Code int
	// OOMKilled is true when the kernel killed it at its memory limit.
	OOMKilled bool
	// Evicted is true when the orchestrator ended it from outside (an
	// eviction, a preemption, a taint): Reason says by whom and why.
	Evicted bool
	// PidsLimitHits is how many times its PID limit refused the server a
	// process (fork, clone, thread), as far as the backend can tell; 0
	// when never or unknown. Reason then says so (see PidsLimitHit).
	PidsLimitHits int64
	// Reason is one line for people and for the client whose call failed,
	// e.g. `container mcpproxy-x-1a2b was OOM-killed: the server exceeded
	// its memory limit (512 MiB)`.
	Reason string
}

// PidsLimitHit is the words a reason gets when the server hit its PID
// limit (limit processes; 0: unknown) hits times: "after hitting its PID
// limit (256 processes; pids_limit): 3 new processes were refused".
func PidsLimitHit(limit, hits int64) string {
	l := "its PID limit"
	if limit > 0 {
		l += fmt.Sprintf(" (%d processes; pids_limit)", limit)
	} else {
		l += " (pids_limit)"
	}
	return fmt.Sprintf("after hitting %s: %d new %s refused", l, hits, plural(hits, "process was", "processes were"))
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ExitedError is a Start that failed because the container ended before its
// stdio was connected (the command was not found, the server exited at
// once). The server's stderr went to StartOptions.Stderr meanwhile.
type ExitedError struct {
	// Name is the container's name.
	Name string
	// Exit is how it ended.
	Exit Exit
}

func (e *ExitedError) Error() string {
	if e.Exit.Reason != "" {
		return e.Exit.Reason + " before its server's stdio was connected"
	}
	return "container " + e.Name + " exited before its server's stdio was connected"
}

// Facts say how a started container is wired, for the list view: which
// guarantees hold for this server.
type Facts struct {
	// Stdio is how messages travel: "socket" (the shim) or "attach"
	// (the engine's attach stream).
	Stdio string
	// Secrets is how env values were delivered.
	Secrets SecretDelivery
	// SpawnMode is how the backend's CLI was run ("direct",
	// "login-shell"), when it has one.
	SpawnMode string
	// Notes say what the backend enforces differently from the Plan, or
	// not at all, one line each ("network none: enforced only if the
	// cluster's network plugin enforces NetworkPolicy").
	Notes []string
}

// StartOptions are the per-start inputs that are not part of the Plan.
type StartOptions struct {
	// Name is the unique container name (see ContainerName).
	Name string
	// Labels go on the container (see the Label constants).
	Labels map[string]string
	// Env are the server's variables with their values. A backend delivers
	// them by the strongest SecretDelivery it can and reports which in
	// Facts; values never enter an argv, a log line or an error.
	Env map[string]string
	// Stderr receives the server's stderr.
	Stderr io.Writer
	// Phase, when set, is told each step of the start ("starting
	// container", "connecting stdio").
	Phase func(phase string)
}

// Container is a started container whose stdio is connected.
type Container interface {
	// ID is the backend's ID (container ID, pod UID).
	ID() string
	// Name is StartOptions.Name.
	Name() string
	// Stdin and Stdout are the server's stdio.
	Stdin() io.WriteCloser
	Stdout() io.ReadCloser
	// Done is closed once the container has ended and its output is
	// drained.
	Done() <-chan struct{}
	// Exit says how it ended; call after Done. It may wait (bounded by
	// ctx) for the backend to learn the reason (an OOM event).
	Exit(ctx context.Context) Exit
	// Stop ends it: stdin closed, grace, then stopped and removed by ID.
	// Safe to call more than once.
	Stop(ctx context.Context, grace time.Duration) error
	// Kill removes it at once (second signal, crash paths).
	Kill()
	// Facts say how it is wired.
	Facts() Facts
}

// Managed is one container carrying LabelManaged, as a backend lists it.
type Managed struct {
	ID, Name, Image string
	// State is the backend's state word ("running", "exited", "Pending").
	State string
	// Labels are the container's mcpproxy labels (the Label constants).
	Labels map[string]string
}

// BackendStatus is a backend's availability as last probed.
type BackendStatus struct {
	Available bool
	// Path is the CLI or API endpoint used; Source how it was found.
	Path, Source string
	Version      string
	CheckedAt    time.Time
	// Error says why it is not available.
	Error string
}

// EventKind names a container event a backend reports.
type EventKind string

// Container events.
const (
	EventStart EventKind = "start"
	EventDie   EventKind = "die"
	EventOOM   EventKind = "oom"
	// EventFailed is a failure before the server ran (image missing,
	// unschedulable, evicted); Reason says which.
	EventFailed EventKind = "failed"
)

// Event is a lifecycle event of one of this instance's containers.
type Event struct {
	Kind        EventKind
	ContainerID string
	Server      string
	ExitCode    int
	Reason      string
	At          time.Time
}

// Runtime runs Plans as containers. Implementations are safe for concurrent
// use and act only on containers they can prove are mcpproxy's (labels) and
// only by ID.
type Runtime interface {
	// Name identifies the backend: "docker" or "kubernetes".
	Name() string
	// Probe reports whether the backend can run containers (cached by the
	// backend; refresh forces a new check).
	Probe(ctx context.Context, refresh bool) BackendStatus
	// EnsureImage makes image available to the backend, pulling it when
	// missing; progress (may be nil) receives one line per step. A failure
	// names the image and the fix in one line.
	EnsureImage(ctx context.Context, image string, progress func(line string)) error
	// Start runs plan and returns once the container exists and its stdio
	// is connected, or fails (removing whatever it created). ctx bounds the
	// start (the Plan's Timeout).
	Start(ctx context.Context, plan *Plan, opts StartOptions) (Container, error)
	// ListManaged lists every container carrying LabelManaged=true, of
	// every instance.
	ListManaged(ctx context.Context) ([]Managed, error)
	// Remove force-removes the container with that ID; a container that is
	// already gone is not an error.
	Remove(ctx context.Context, id string) error
	// Events streams lifecycle events of this instance's containers until
	// ctx ends.
	Events(ctx context.Context) (<-chan Event, error)
}

// Volume is a named volume carrying LabelManaged (a package cache, see
// cache.go), as a backend lists it.
type Volume struct {
	Name string
	// Labels are its mcpproxy labels (managed, server, host, data dir,
	// cache, owner).
	Labels map[string]string
}

// ErrVolumeInUse is RemoveVolume's error for a volume a container still
// uses.
var ErrVolumeInUse = errors.New("the volume is in use by a container")

// Volumes is implemented by backends that keep named volumes beyond the
// life of a container (the package caches): Start creates them, labelled;
// these list and remove them. Separate from Runtime so that a backend
// without volumes (kubernetes, for now) need not pretend.
type Volumes interface {
	// ListVolumes lists every volume carrying LabelManaged=true, of every
	// data dir and host.
	ListVolumes(ctx context.Context) ([]Volume, error)
	// RemoveVolume removes the volume by name; one that is gone already is
	// not an error, one still in use is ErrVolumeInUse.
	RemoveVolume(ctx context.Context, name string) error
}
