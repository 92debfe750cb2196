package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// podContainer is a started server pod whose stdio is attached: the
// Kubernetes isolation.Container.
type podContainer struct {
	r       *Runtime
	c       *connection
	pod     *corev1.Pod // as created
	name    string      // StartOptions.Name
	secrets bool
	notes   []string // Objects.Notes

	stdinR  *io.PipeReader
	stdinW  *io.PipeWriter
	stdoutR *io.PipeReader
	stdoutW *io.PipeWriter

	// cancel ends the attach stream; done is closed when it has ended.
	cancel    context.CancelFunc
	streamCtx context.Context
	done      chan struct{}
	streamErr error

	stopOnce sync.Once
	stopErr  error

	mu       sync.Mutex
	stopping bool            // Stop or Kill was called
	exit     *isolation.Exit // known once read
}

var _ isolation.Container = (*podContainer)(nil)

func newPodContainer(r *Runtime, c *connection, pod *corev1.Pod, name string, secrets bool, notes []string) *podContainer {
	p := &podContainer{r: r, c: c, pod: pod, name: name, secrets: secrets, notes: notes, done: make(chan struct{})}
	p.stdinR, p.stdinW = io.Pipe()
	p.stdoutR, p.stdoutW = io.Pipe()
	// The stream lives as long as the server, not as long as the start.
	p.streamCtx, p.cancel = context.WithCancel(context.Background())
	return p
}

// stream runs the attach stream until the server's stdout ends (it exited,
// or the connection broke). Done is closed before the stdout pipe reports
// its end, so a reader that sees EOF finds Done closed.
//
// A server that ended before the attach began (it failed at once) leaves an
// empty stream: then its output is in the container's log, whose last lines
// go to stderr before Done.
func (p *podContainer) stream(exec remotecommand.Executor, opts remotecommand.StreamOptions, stderr io.Writer) {
	var written atomic.Int64
	opts.Stdout = &countingWriter{w: opts.Stdout, n: &written}
	if stderr != nil {
		opts.Stderr = &countingWriter{w: stderr, n: &written}
	}
	err := exec.StreamWithContext(p.streamCtx, opts)
	p.streamErr = err
	if written.Load() == 0 && stderr != nil && !p.isStopping() {
		ctx, cancel := context.WithTimeout(context.Background(), logTailTimeout)
		p.r.copyLogTail(ctx, p.c, p.pod.Name, stderr)
		cancel()
	}
	close(p.done)
	_ = p.stdoutW.Close()
	_ = p.stdinR.CloseWithError(io.ErrClosedPipe)
}

// countingWriter adds the bytes written through it to n (which several
// writers may share).
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func (p *podContainer) streamError() error {
	<-p.done
	if p.streamErr == nil {
		return errors.New("the attach stream ended")
	}
	return p.streamErr
}

// ID is the pod's UID.
func (p *podContainer) ID() string { return string(p.pod.UID) }

// Name is StartOptions.Name (the pod's name is derived from it).
func (p *podContainer) Name() string { return p.name }

// PodName is the pod's name in its namespace.
func (p *podContainer) PodName() string { return p.pod.Name }

func (p *podContainer) Stdin() io.WriteCloser { return p.stdinW }
func (p *podContainer) Stdout() io.ReadCloser { return p.stdoutR }
func (p *podContainer) Done() <-chan struct{} { return p.done }

// Facts implements isolation.Container.
func (p *podContainer) Facts() isolation.Facts {
	f := isolation.Facts{Stdio: "attach", Notes: append([]string(nil), p.notes...)}
	if p.secrets {
		f.Secrets = isolation.SecretsOrchestrator
	}
	return f
}

// Exit implements isolation.Container: how the server's container ended, as
// its pod's status says once the kubelet has reported it (bounded by ctx).
func (p *podContainer) Exit(ctx context.Context) isolation.Exit {
	p.mu.Lock()
	if p.exit != nil {
		e := *p.exit
		p.mu.Unlock()
		return e
	}
	p.mu.Unlock()
	var e isolation.Exit
	// disrupted is why the cluster was terminating the pod (an eviction),
	// when its last state seen said so: the pod may be gone before its
	// container's end was reported.
	disrupted := ""
	err := watchPod(ctx, p.c, p.pod, func(pod *corev1.Pod) (bool, error) {
		if why, ok := disruption(pod); ok {
			disrupted = why
		}
		st := readPod(pod)
		if st.Ended {
			e = st.Exit
			return true, nil
		}
		return false, nil
	})
	switch {
	case err == nil:
	case errors.Is(err, errPodGone):
		e = isolation.Exit{Code: -1, Reason: fmt.Sprintf("pod %s was deleted", p.pod.Name)}
		switch {
		case p.isStopping():
			e.Reason = fmt.Sprintf("pod %s was stopped by mcpproxy", p.pod.Name)
		case disrupted != "":
			e.Evicted, e.Reason = true, fmt.Sprintf("pod %s was %s", p.pod.Name, disrupted)
		}
	default:
		e = isolation.Exit{Code: -1, Reason: fmt.Sprintf("pod %s: the attach stream ended (%v) and the pod's status says no more yet", p.pod.Name, p.streamErrorText())}
		return e // not final: a later call may learn more
	}
	p.mu.Lock()
	p.exit = &e
	p.mu.Unlock()
	return e
}

func (p *podContainer) streamErrorText() string {
	select {
	case <-p.done:
		if p.streamErr != nil {
			return p.streamErr.Error()
		}
		return "end of output"
	default:
		return "still attached"
	}
}

func (p *podContainer) isStopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopping
}

// Stop implements isolation.Container: stdin is closed (the server sees
// EOF), grace for it to exit, then the pod is deleted by UID (SIGTERM, and
// SIGKILL after the rest of grace) and Stop waits until it is gone, bounded
// by ctx. Safe to call more than once.
func (p *podContainer) Stop(ctx context.Context, grace time.Duration) error {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		p.stopping = true
		p.mu.Unlock()
		_ = p.stdinW.Close()
		t := time.NewTimer(max(grace, time.Millisecond))
		select {
		case <-p.done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		secs := int64(0)
		select {
		case <-p.done:
		default:
			secs = max(1, int64(math.Ceil(grace.Seconds())))
		}
		p.stopErr = p.r.deletePod(ctx, p.c, p.pod.Name, p.pod.UID, secs)
		if p.stopErr == nil {
			err := watchPod(ctx, p.c, p.pod, func(*corev1.Pod) (bool, error) { return false, nil })
			if !errors.Is(err, errPodGone) {
				p.stopErr = fmt.Errorf("pod %s: deleted, but still there: %w", p.pod.Name, err)
			}
		}
		p.endStream()
	})
	return p.stopErr
}

// Kill implements isolation.Container: the pod is deleted at once (no
// grace) and the stream ended; it does not wait for the pod to go.
func (p *podContainer) Kill() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := p.r.deletePod(ctx, p.c, p.pod.Name, p.pod.UID, 0); err != nil {
		p.r.log.Warn("kubernetes backend: kill", "pod", p.pod.Name, "error", err)
	}
	p.endStream()
}

// endStream ends the attach stream and unblocks its copies.
func (p *podContainer) endStream() {
	p.cancel()
	_ = p.stdinW.Close()
	_ = p.stdoutR.Close()
	<-p.done
}
