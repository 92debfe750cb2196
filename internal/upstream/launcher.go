package upstream

import (
	"context"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/process"
)

// Launcher starts the process behind a stdio server. It is the one
// replaceable step between "a server is configured" and "bytes flow over
// stdio": the host launcher execs the command directly, the isolating
// launcher asks a container backend to run it.
type Launcher interface {
	// Launch starts s; stderr receives the server's stderr. On failure the
	// returned Launched (when non-nil) still carries what is known about
	// the start (its Isolation), for the list view.
	Launch(ctx context.Context, s *config.Server, stderr io.Writer) (*Launched, error)
}

// Stdio is a started stdio server: a host process or a container.
type Stdio interface {
	// Stdin and Stdout are the server's stdio. Stdout reports the end of
	// the stream only once Done is closed, so that a reader seeing EOF can
	// tell at once why the server ended.
	Stdin() io.WriteCloser
	Stdout() io.ReadCloser
	// Done is closed once the server has ended and its output is drained.
	Done() <-chan struct{}
	// Stop ends it: stdin closed, grace, terminated, and (a container)
	// removed. Safe to call more than once.
	Stop(ctx context.Context, grace time.Duration) error
	// Kill ends it at once (second signal).
	Kill()
	// Exit says, once Done is closed, how it ended: the exit code (-1 when
	// unknown, e.g. killed by a signal) and a reason ("exit status 1",
	// "container … was OOM-killed: …"). It may wait, bounded by ctx.
	Exit(ctx context.Context) isolation.Exit
}

// Launched is a started stdio server and what the upstream must know of it.
type Launched struct {
	Stdio
	// InitTimeout, if non-zero, overrides the manager's initialize timeout
	// (isolated servers are bounded by docker_isolation.timeout as a whole).
	InitTimeout time.Duration
	// Deadline, if non-zero, is the absolute time by which the whole start
	// (including MCP initialize) must have finished.
	Deadline time.Time
	// Isolation describes the container, if any; for a host server, why it
	// is not isolated. The upstream keeps a copy of its own (Clone).
	Isolation *IsolationInfo
}

// IsolationInfo is what the proxy knows about a server's isolation, for the
// list view: the policy's decision and plan, and the container's facts.
type IsolationInfo struct {
	Isolated      bool   `json:"isolated"`
	Reason        string `json:"reason"`
	Image         string `json:"image,omitempty"`
	ContainerName string `json:"container_name,omitempty"`
	ContainerID   string `json:"container_id,omitempty"`
	NetworkMode   string `json:"network_mode,omitempty"`
	// MemoryLimit and CPULimit are the plan's limits in docker's syntax
	// ("512m", "0.5").
	MemoryLimit string `json:"memory_limit,omitempty"`
	CPULimit    string `json:"cpu_limit,omitempty"`
	Runtime     string `json:"runtime,omitempty"`
	Phase       string `json:"phase,omitempty"` // e.g. "pulling image", "starting container"
	// Stdio is how messages reach the server: "socket" (the shim) or
	// "attach" (the engine's attach stream).
	Stdio     string `json:"stdio,omitempty"`
	SpawnMode string `json:"spawn_mode,omitempty"`
	// Secrets is how env values reach the server ("env", "shim", …).
	Secrets isolation.SecretDelivery `json:"secrets,omitempty"`
	// Profile is the security profile in force ("hardened", "relaxed");
	// User, PidsLimit and ReadOnlyRoot are what it set.
	Profile      string `json:"profile,omitempty"`
	User         string `json:"user,omitempty"`
	PidsLimit    int64  `json:"pids_limit,omitempty"`
	ReadOnlyRoot bool   `json:"read_only_root,omitempty"`
	// AllowDangerous is the hand-written escape hatch of the server.
	AllowDangerous bool `json:"allow_dangerous,omitempty"`
	// Mounts are the host paths and volumes the container sees, each with
	// why it is there.
	Mounts []MountView `json:"mounts,omitempty"`
	// Notes explain non-default choices of the plan and what the backend
	// enforces differently.
	Notes []string `json:"notes,omitempty"`
}

// Clone returns a deep copy of info (nil for nil): the upstream hands out
// copies, never its own.
func (info *IsolationInfo) Clone() *IsolationInfo {
	if info == nil {
		return nil
	}
	c := *info
	c.Mounts = append([]MountView(nil), info.Mounts...)
	c.Notes = append([]string(nil), info.Notes...)
	return &c
}

// MountView is one mount of a container, for the list view.
type MountView struct {
	// Type is "bind" (a host path) or "volume" (a named volume).
	Type string `json:"type"`
	// Source is the host path (symlinks resolved) or the volume's name.
	Source string `json:"source"`
	// Target is the path inside the container.
	Target string `json:"target"`
	// Mode is "ro" or "rw".
	Mode string `json:"mode"`
	// Reason says why: "args[1]", "working_dir", "isolation.mounts[0]",
	// "package cache (npm)".
	Reason string `json:"reason"`
}

// DescribeDecision is the list view of decision d before any container
// runs: the decision, and the plan's image and limits when isolated.
func DescribeDecision(d isolation.Decision) *IsolationInfo {
	info := &IsolationInfo{Isolated: d.Isolated, Reason: d.Reason}
	if p := d.Plan; p != nil {
		info.Image = p.Image
		info.NetworkMode = p.Network
		info.MemoryLimit = isolation.FormatMemory(p.MemoryBytes)
		info.CPULimit = isolation.FormatCPUs(p.MilliCPUs)
		info.Runtime = p.Runtime
		info.Profile, info.User, info.PidsLimit, info.ReadOnlyRoot = p.Profile, p.User, p.PidsLimit, p.ReadOnlyRoot
		info.AllowDangerous = p.AllowDangerous
		for _, m := range p.Mounts {
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			info.Mounts = append(info.Mounts, MountView{Type: string(m.Type), Source: m.Source, Target: m.Target, Mode: mode, Reason: m.Reason})
		}
		info.Notes = append([]string(nil), p.Notes...)
	}
	return info
}

// HostLauncher runs stdio servers directly on the host.
type HostLauncher struct{}

// Launch implements Launcher.
func (HostLauncher) Launch(ctx context.Context, s *config.Server, stderr io.Writer) (*Launched, error) {
	cmd := exec.Command(s.Command, s.Args...)
	cmd.Env = process.MergeEnv(os.Environ(), s.Env)
	cmd.Dir = s.WorkingDir
	p, err := process.Start(cmd, stderr)
	if err != nil {
		return nil, err
	}
	return &Launched{Stdio: hostStdio{p}}, nil
}

// hostStdio is a host process as a Stdio.
type hostStdio struct{ p *process.Process }

func (h hostStdio) Stdin() io.WriteCloser { return h.p.Stdin }
func (h hostStdio) Stdout() io.ReadCloser { return h.p.Stdout }
func (h hostStdio) Done() <-chan struct{} { return h.p.Done() }
func (h hostStdio) Kill()                 { h.p.Kill() }

func (h hostStdio) Stop(_ context.Context, grace time.Duration) error {
	h.p.Stop(grace)
	return nil
}

func (h hostStdio) Exit(context.Context) isolation.Exit {
	select {
	case <-h.p.Done():
	default:
		return isolation.Exit{Code: -1}
	}
	e := isolation.Exit{Code: h.p.ExitCode(), Reason: "process exited"}
	if err := h.p.ExitError(); err != nil {
		e.Reason = "process exited: " + err.Error()
	}
	return e
}
