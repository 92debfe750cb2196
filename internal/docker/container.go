package docker

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/process"
)

// container is a `docker run -i` started by Runtime.Start: the
// isolation.Container of the Docker backend. It stays on the engine after
// its server ends, until Stop, Kill or RemoveAll removes it.
type container struct {
	rt      *Runtime
	name    string
	cidfile string
	memory  int64 // the plan's limit, named in an OOM reason
	pids    int64 // the plan's PID limit, named when the server hit it
	server  string
	link    *shimLink
	proc    *process.Process // the docker CLI
	facts   isolation.Facts

	stdin  io.WriteCloser
	stdout io.ReadCloser
	done   <-chan struct{}

	mu       sync.Mutex
	id       string
	reports  *shimReports // the shim's report connection; nil without one
	cleaned  bool         // cleanup ran: a report connection is closed at once
	stopOnce sync.Once
	stopErr  error
}

var _ isolation.Container = (*container)(nil)

func (c *container) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

func (c *container) setID(id string) {
	c.mu.Lock()
	c.id = id
	c.mu.Unlock()
}

// setReports makes r the container's report connection, unless cleanup
// (RemoveAll at shutdown, while Start was accepting) already ran: then r is
// closed.
func (c *container) setReports(r *shimReports) {
	c.mu.Lock()
	cleaned := c.cleaned
	if !cleaned {
		c.reports = r
	}
	c.mu.Unlock()
	if cleaned {
		r.close()
	}
}

func (c *container) Name() string           { return c.name }
func (c *container) Stdin() io.WriteCloser  { return c.stdin }
func (c *container) Stdout() io.ReadCloser  { return c.stdout }
func (c *container) Done() <-chan struct{}  { return c.done }
func (c *container) Facts() isolation.Facts { return c.facts }

// useConn makes conn the server's stdio (the shim connected to it). The
// docker CLI's own stdout carries nothing then; it is drained until the CLI
// exits, and Done waits for that drain too.
func (c *container) useConn(conn *net.UnixConn) {
	cliIn, cliOut := c.stdin, c.stdout
	c.stdin = &bothCloser{WriteCloser: conn, also: cliIn}
	c.stdout = conn
	done := make(chan struct{})
	procDone := c.proc.Done()
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, cliOut)
		<-procDone
	}()
	c.done = done
}

// bothCloser closes the socket and the docker CLI's stdin together.
type bothCloser struct {
	io.WriteCloser
	also io.Closer
}

func (b *bothCloser) Close() error {
	err := b.WriteCloser.Close()
	_ = b.also.Close()
	return err
}

// Exit implements isolation.Container: docker run's exit code (the
// container's), and an OOM kill when the engine reported one (waited for
// briefly: the event can trail the exit).
func (c *container) Exit(ctx context.Context) isolation.Exit {
	select {
	case <-c.Done():
	case <-ctx.Done():
		return isolation.Exit{Code: -1}
	}
	code := c.proc.ExitCode()
	id := c.ID()
	oom := code == 137 && id != "" && c.rt.awaitOOM(ctx, id)
	hits := int64(-1)
	c.mu.Lock()
	reports := c.reports
	c.mu.Unlock()
	if reports != nil {
		// The shim's last count precedes its exit, so it is there by
		// now; the bound is for a shim that was killed.
		fctx, cancel := context.WithTimeout(ctx, finalReportWait)
		hits = reports.Final(fctx)
		cancel()
	}
	return exitOf(c.name, code, oom, c.memory, c.pids, hits)
}

// finalReportWait bounds the wait for the shim's last report once the
// container has ended.
const finalReportWait = 2 * time.Second

// pidsHit logs the PID-limit hits the shim reported as the server ended.
func (c *container) pidsHit(hits int64) {
	c.rt.log().Warn("docker isolation: the server hit its PID limit", "server", c.server, "container", c.name,
		"pids_limit", c.pids, "refused", hits)
}

// Stop implements isolation.Container: stdin closed, grace, SIGTERM to the
// docker CLI (docker forwards it to the container), grace, SIGKILL; then the
// container is removed by ID (by its exact, unique name while the ID is not
// known) and its files are deleted.
func (c *container) Stop(ctx context.Context, grace time.Duration) error {
	c.stopOnce.Do(func() {
		c.proc.Stop(grace)
		c.stopErr = c.remove(ctx)
		// The CLI has exited: its output's drain (useConn) ends now.
		select {
		case <-c.done:
		case <-ctx.Done():
		}
	})
	return c.stopErr
}

// killRemoveTimeout bounds Kill's removal (a second signal must not hang
// on a daemon that does not answer).
const killRemoveTimeout = 5 * time.Second

// Kill implements isolation.Container: the docker CLI is killed and the
// container removed at once (bounded by killRemoveTimeout). A removal that
// did not finish in time stays the runtime's to do: the container is still
// tracked, so RemoveAll and Close remove it (and the next start's reaper,
// if the proxy ends first).
func (c *container) Kill() {
	c.proc.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), killRemoveTimeout)
	defer cancel()
	if err := c.remove(ctx); err != nil {
		c.rt.log().Warn("docker isolation: kill: container not removed", "container", c.name, "error", err)
	}
}

// remove force-removes the container and deletes its files.
func (c *container) remove(ctx context.Context) error {
	ref := c.ID()
	if ref == "" {
		// docker run never reported an ID (it failed, or was stopped
		// first): the exact, unique name we gave the container is the only
		// handle, and removing a name that does not exist is a no-op.
		ref = c.name
	}
	err := c.rt.Remove(ctx, ref)
	if err == nil {
		c.rt.untrack(c)
	}
	c.cleanup()
	return err
}

// cleanup deletes the cidfile and the shim's socket directory.
func (c *container) cleanup() {
	_ = os.Remove(c.cidfile)
	if c.link != nil {
		c.link.close()
	}
	c.mu.Lock()
	c.cleaned = true
	reports := c.reports
	c.mu.Unlock()
	if reports != nil {
		reports.close()
	}
}

// abort ends a start that failed after docker run began.
func (c *container) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.Stop(ctx, 0)
}
