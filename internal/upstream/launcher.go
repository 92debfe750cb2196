package upstream

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"sync"
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
	// Stdin and Stdout are the server's stdio. Stdout reports the end of
	// the stream only once Done is closed (or after exitSettle, when the
	// process closed stdout but runs on), so a reader that sees EOF can
	// tell at once whether the process exited and why.
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
	// done is closed once the process has exited, its group is killed and
	// its output is drained (see StartProcess).
	done    chan struct{}
	waitErr error
	// stdout is Stdout; stderrR is the read end of the stderr pipe and
	// copied is closed when the copy from it has ended (already closed when
	// there is no copy).
	stdout  *exitAwareReader
	stderrR *os.File
	copied  chan struct{}
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
	// Stdio is how messages reach the server: "socket" (the shim) or
	// "attach" (docker's attach stream).
	Stdio     string `json:"stdio,omitempty"`
	SpawnMode string `json:"spawn_mode,omitempty"`
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

// outputDrain bounds how long, once a process has exited, mcpproxy waits
// for the rest of its stdout and stderr before closing them: a server's last
// response and last words are not lost, and a process outside the group
// that still holds the pipes cannot hide the exit.
const outputDrain = 500 * time.Millisecond

// exitSettle bounds how long Stdout holds back its end of stream waiting for
// the process's exit to be collected, when the process closed its stdout
// but runs on.
const exitSettle = time.Second

// StartProcess starts cmd in its own process group with stdio pipes. The
// process is asked to die with the proxy (Pdeathsig) so that a crashed proxy
// leaves no orphan behind.
//
// When the process itself exits, whatever is left in its process group is
// killed: the server it belonged to is gone, and those children would keep
// its stdout and stderr open, hiding the exit. Done is closed once the exit
// is collected and the output drained, and before Stdout reports the end of
// the stream, so a reader that sees EOF can tell at once why.
func StartProcess(cmd *exec.Cmd, stderr io.Writer) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setProcAttrs(cmd.SysProcAttr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// Our own pipes rather than StdoutPipe and exec's stderr copy: Wait
	// would close StdoutPipe while it may still hold the server's last
	// response, and would not return before every holder of the stderr
	// pipe (the server's own children included) had closed it.
	var parentEnds, childEnds []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		stdin.Close()
		return nil, err
	}
	cmd.Stdout = outW
	parentEnds, childEnds = append(parentEnds, outR), append(childEnds, outW)
	var errR *os.File
	copied := make(chan struct{})
	switch f := stderr.(type) {
	case nil:
		close(copied)
	case *os.File:
		cmd.Stderr = f
		close(copied)
	default:
		r, pw, err := os.Pipe()
		if err != nil {
			stdin.Close()
			closeAll(parentEnds)
			closeAll(childEnds)
			return nil, err
		}
		cmd.Stderr = pw
		errR = r
		parentEnds, childEnds = append(parentEnds, r), append(childEnds, pw)
	}
	if err := cmd.Start(); err != nil {
		closeAll(parentEnds)
		closeAll(childEnds)
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	closeAll(childEnds)
	if errR != nil {
		go func() {
			defer close(copied)
			_, _ = io.Copy(stderr, errR)
		}()
	}
	p := &Process{Stdin: stdin, Cmd: cmd, done: make(chan struct{}), stderrR: errR, copied: copied}
	p.stdout = &exitAwareReader{f: outR, done: p.done, ended: make(chan struct{}), closed: make(chan struct{})}
	p.Stdout = p.stdout
	go func() {
		p.waitErr = cmd.Wait()
		// The leader is gone: nothing it spawned may linger.
		signalGroup(cmd, syscall.SIGKILL)
		p.drain(outputDrain)
		close(p.done)
	}()
	return p, nil
}

// drain waits up to d for stdout to be read to its end and for the stderr
// copy to finish; then it closes what is still open.
func (p *Process) drain(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for _, ch := range []<-chan struct{}{p.copied, p.stdout.ended} {
		select {
		case <-ch:
		case <-t.C:
			// Someone outside the process group still holds the pipes.
			if p.stderrR != nil {
				_ = p.stderrR.Close()
			}
			_ = p.stdout.f.Close()
			<-p.copied
			return
		}
	}
	if p.stderrR != nil {
		_ = p.stderrR.Close()
	}
}

// exitAwareReader is a process's stdout. Its end of stream (or any read
// error) is reported only once the process's exit is collected (Done), so
// that a reader never sees a bare EOF before it can learn the exit status
// and the server's last stderr lines.
type exitAwareReader struct {
	f         *os.File
	done      <-chan struct{}
	endOnce   sync.Once
	ended     chan struct{} // closed at the first read error (EOF included)
	closeOnce sync.Once
	closed    chan struct{} // closed by Close
}

func (e *exitAwareReader) Read(b []byte) (int, error) {
	n, err := e.f.Read(b)
	if err != nil {
		e.endOnce.Do(func() { close(e.ended) })
		t := time.NewTimer(exitSettle)
		defer t.Stop()
		select {
		case <-e.done:
		case <-e.closed:
		case <-t.C:
		}
	}
	return n, err
}

func (e *exitAwareReader) Close() error {
	e.closeOnce.Do(func() { close(e.closed) })
	return e.f.Close()
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
	}
	// Whether the leader left on EOF or on SIGTERM, nothing it spawned may
	// linger, including a child that ignores SIGTERM. (The exit already
	// killed the group; this covers a leader that outlived SIGKILL's wait.)
	signalGroup(p.Cmd, syscall.SIGKILL)
	if p.stdout != nil {
		// Nobody reads a stopped server (the session, if any, is closed).
		_ = p.stdout.Close()
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

// UseConn makes conn the server's stdio (the container's shim connected to
// it); the docker CLI's own stdio is kept only to end it on Stop.
func (p *Process) UseConn(conn io.ReadWriteCloser) {
	cliIn, cliOut := p.Stdin, p.Stdout
	go func() { _, _ = io.Copy(io.Discard, cliOut) }()
	p.Stdin = &bothCloser{WriteCloser: conn, also: cliIn}
	p.Stdout = conn
}

type bothCloser struct {
	io.WriteCloser
	also io.Closer
}

func (b *bothCloser) Close() error {
	err := b.WriteCloser.Close()
	_ = b.also.Close()
	return err
}
