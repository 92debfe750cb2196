// Package process starts and supervises the host processes behind stdio
// servers: a server run on the host, or a container CLI (docker run) whose
// stdio carries one. Each process runs in a process group of its own, dies
// with the proxy where the OS allows it (Pdeathsig on Linux), and its stdout
// reports the end of the stream only once the exit is collected, so a reader
// that sees EOF can tell at once why.
package process

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"
)

// Process is a started process with stdio pipes.
type Process struct {
	// Stdin is the process's stdin.
	Stdin io.WriteCloser
	// Stdout is the process's stdout. It reports the end of the stream only
	// once Done is closed (or after exitSettle, when the process closed its
	// stdout but runs on).
	Stdout io.ReadCloser
	// Cmd is the started command.
	Cmd *exec.Cmd

	// done is closed once the process has exited, its group is killed and
	// its output is drained.
	done    chan struct{}
	waitErr error
	// stdout is Stdout; stderrR is the read end of the stderr pipe and
	// copied is closed when the copy from it has ended (already closed when
	// there is no copy).
	stdout  *exitAwareReader
	stderrR *os.File
	copied  chan struct{}
}

// outputDrain bounds how long, once a process has exited, Start's watcher
// waits for the rest of its stdout and stderr before closing them: a
// server's last response and last words are not lost, and a process outside
// the group that still holds the pipes cannot hide the exit.
const outputDrain = 500 * time.Millisecond

// exitSettle bounds how long Stdout holds back its end of stream waiting for
// the process's exit to be collected, when the process closed its stdout
// but runs on.
const exitSettle = time.Second

// Start starts cmd in its own process group with stdio pipes; stderr (may be
// nil) receives the process's stderr. The process is asked to die with the
// proxy (Pdeathsig on Linux) so that a crashed proxy leaves no orphan.
//
// When the process itself exits, whatever is left in its process group is
// killed: the server it belonged to is gone, and those children would keep
// its stdout and stderr open, hiding the exit. Done is closed once the exit
// is collected and the output drained, and before Stdout reports the end of
// the stream.
func Start(cmd *exec.Cmd, stderr io.Writer) (*Process, error) {
	Prepare(cmd)
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
		stdin.Close()
		closeAll(parentEnds)
		closeAll(childEnds)
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	closeAll(childEnds)
	p := &Process{Stdin: stdin, Cmd: cmd, done: make(chan struct{}), stderrR: errR, copied: copied}
	p.stdout = &exitAwareReader{f: outR, done: p.done, ended: make(chan struct{}), closed: make(chan struct{})}
	p.Stdout = p.stdout
	// Both goroutines end with the process: the copy at the end of the
	// stderr pipe (drain closes it at the latest), the watcher once the
	// exit is collected and the output drained; done says both are over.
	if errR != nil {
		go func() {
			defer close(copied)
			copyStderr(stderr, errR)
		}()
	}
	go func() {
		p.waitErr = cmd.Wait()
		// The leader is gone: nothing it spawned may linger.
		kill(cmd)
		p.drain(outputDrain)
		close(p.done)
	}()
	return p, nil
}

// stderrBuffer is the stderr copy's buffer. A process keeps it for as
// long as it runs, and a proxy runs one process per stdio server: io.Copy's
// own buffer would be 32 KiB each. Stderr is log lines; a longer write
// arrives in pieces, as it may from the pipe anyway.
const stderrBuffer = 4 << 10

// copyStderr copies src to dst until src ends, through a buffer of
// stderrBuffer bytes (io.Copy would use an os.File's WriteTo and its own
// buffer).
func copyStderr(dst io.Writer, src io.Reader) {
	_, _ = io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, stderrBuffer))
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

// Done is closed when the process has exited and its output is drained.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitError is the process's exit status (as exec.Cmd.Wait returns it) once
// Done is closed.
func (p *Process) ExitError() error { return p.waitErr }

// ExitCode is the process's exit code once Done is closed, or -1 when it is
// not known (still running, killed by a signal, not started).
func (p *Process) ExitCode() int {
	select {
	case <-p.done:
	default:
		return -1
	}
	if p.Cmd.ProcessState == nil {
		return -1
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Stop ends the process: close stdin, wait grace, terminate the process
// group (SIGTERM), wait grace, kill the group. It returns once the process
// has exited (or after a last 5 s wait for a process that outlives SIGKILL).
func (p *Process) Stop(grace time.Duration) {
	if p == nil {
		return
	}
	_ = p.Stdin.Close()
	if !p.waitFor(grace) {
		terminate(p.Cmd)
		if !p.waitFor(grace) {
			kill(p.Cmd)
			p.waitFor(5 * time.Second)
		}
	}
	// Whether the leader left on EOF or on SIGTERM, nothing it spawned may
	// linger, including a child that ignores SIGTERM. (The exit already
	// killed the group; this covers a leader that outlived SIGKILL's wait.)
	kill(p.Cmd)
	// Nobody reads a stopped process.
	_ = p.stdout.Close()
}

// Kill ends the process group at once (second signal, crash paths).
func (p *Process) Kill() {
	if p == nil {
		return
	}
	kill(p.Cmd)
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

// MergeEnv returns base with the variables in extra set (extra wins, the
// base's entries of the same name are dropped), extra's in sorted order.
func MergeEnv(base []string, extra map[string]string) []string {
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
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
