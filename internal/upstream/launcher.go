package upstream

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

// Launcher starts the process behind a stdio server. It is the one
// replaceable step between "a server is configured" and "bytes flow over
// stdio": the host launcher execs the command directly, the docker launcher
// wraps it in a container.
type Launcher interface {
	Launch(ctx context.Context, s *config.Server, stderr io.Writer) (*Process, error)
}

// Process is a started stdio server.
type Process struct {
	// Stdin and Stdout are the server's stdio.
	Stdin  io.WriteCloser
	Stdout io.ReadCloser
	// Cmd is the host process (the server itself, or the docker CLI).
	Cmd *exec.Cmd
	// InitTimeout, if non-zero, overrides the manager's initialize timeout
	// (isolated servers are bounded by docker_isolation.timeout as a whole).
	InitTimeout time.Duration
	// Deadline, if non-zero, is the absolute time by which the whole start
	// (including MCP initialize) must have finished.
	Deadline time.Time
	// Isolation describes the container, if any; nil on the host.
	Isolation *IsolationInfo
	// Cleanup, if set, runs after the process has been stopped (for example
	// to remove its container by ID).
	Cleanup func(ctx context.Context) error
	// Describe, if set, explains why the process exited (for example
	// "OOM-killed: memory limit 64m"). It is called after exit.
	Describe func(ctx context.Context) string
	// done is closed when Cmd.Wait returns.
	done    chan struct{}
	waitErr error
}

// IsolationInfo is what the proxy knows about a server's container.
type IsolationInfo struct {
	Isolated      bool   `json:"isolated"`
	Reason        string `json:"reason"`
	Image         string `json:"image,omitempty"`
	ContainerName string `json:"container_name,omitempty"`
	ContainerID   string `json:"container_id,omitempty"`
	NetworkMode   string `json:"network_mode,omitempty"`
	MemoryLimit   string `json:"memory_limit,omitempty"`
	CPULimit      string `json:"cpu_limit,omitempty"`
	Runtime       string `json:"runtime,omitempty"`
	Phase         string `json:"phase,omitempty"` // e.g. "pulling image", "starting container"
	SpawnMode     string `json:"spawn_mode,omitempty"`
}

// HostLauncher runs stdio servers directly on the host.
type HostLauncher struct{}

// Launch implements Launcher.
func (HostLauncher) Launch(ctx context.Context, s *config.Server, stderr io.Writer) (*Process, error) {
	cmd := exec.Command(s.Command, s.Args...)
	cmd.Env = MergeEnv(os.Environ(), s.Env)
	cmd.Dir = s.WorkingDir
	return StartProcess(cmd, stderr)
}

// MergeEnv returns base with the variables in extra set (extra wins), in a
// deterministic order.
func MergeEnv(base []string, extra map[string]string) []string {
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		name := kv
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				name = kv[:i]
				break
			}
		}
		if _, over := extra[name]; over {
			continue
		}
		out = append(out, kv)
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+extra[k])
	}
	return out
}

// StartProcess starts cmd in its own process group with stdio pipes. The
// process is asked to die with the proxy (Pdeathsig) so that a crashed proxy
// leaves no orphan behind.
func StartProcess(cmd *exec.Cmd, stderr io.Writer) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setProcAttrs(cmd.SysProcAttr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if stderr != nil {
		cmd.Stderr = stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{Stdin: stdin, Stdout: stdout, Cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitError is the process's exit status once Done is closed.
func (p *Process) ExitError() error { return p.waitErr }

// Stop ends the process: close stdin, wait grace, SIGTERM the process group,
// wait grace, SIGKILL the group. Then Cleanup runs.
func (p *Process) Stop(ctx context.Context, grace time.Duration) {
	if p == nil {
		return
	}
	_ = p.Stdin.Close()
	if !p.waitFor(grace) {
		signalGroup(p.Cmd, syscall.SIGTERM)
		if !p.waitFor(grace) {
			signalGroup(p.Cmd, syscall.SIGKILL)
			p.waitFor(5 * time.Second)
		}
	} else {
		// The leader exited; make sure nothing it spawned lingers.
		signalGroup(p.Cmd, syscall.SIGKILL)
	}
	if p.Cleanup != nil {
		_ = p.Cleanup(ctx)
	}
}

// Kill ends the process group at once (second signal, crash paths).
func (p *Process) Kill() {
	if p == nil {
		return
	}
	signalGroup(p.Cmd, syscall.SIGKILL)
}

func (p *Process) waitFor(d time.Duration) bool {
	if d <= 0 {
		d = time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	pid := cmd.Process.Pid
	if err := syscall.Kill(-pid, sig); err != nil {
		_ = cmd.Process.Signal(sig)
	}
}

func setProcAttrsCmd(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setProcAttrs(cmd.SysProcAttr)
}
