package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// This file explains why a stdio server ended: the exit code, the engine's
// reason (an OOM kill) and the last lines the server wrote to stderr —
// bounded and with secrets redacted — in one error that the calling client,
// last_error in the list view and the main log all carry:
//
//	server "fs" exited (code 1) before initialize: Error: None of the specified directories are accessible

// Bounds of what a server's stderr contributes to a message.
const (
	// ringLines is how many stderr lines are kept per server.
	ringLines = 20
	// tailLines is how many of them (the last meaningful ones) a message
	// quotes.
	tailLines = 4
	// tailLineMax cuts each quoted line (bytes, at a rune boundary).
	tailLineMax = 240
	// partialMax bounds an unfinished line (a server writing without
	// newlines) kept between writes.
	partialMax = 4 << 10
)

// endWait is how long a failed handshake or a closed connection waits for
// the server to end, so that the error can say why it ended rather than
// "connection reset" (with the stdio shim the socket closes a moment before
// the engine reports the exit).
const endWait = 3 * time.Second

// ExitError says why a stdio server ended, in one line.
type ExitError struct {
	// Server is the configured name.
	Server string
	// When places the end in the start-up ("before initialize", "while
	// listing tools"); "" once the server was ready.
	When string
	// Exit is how it ended (Code -1 when unknown).
	Exit isolation.Exit
	// Closed is true when the server closed its stdio without exiting
	// (within endWait).
	Closed bool
	// Stderr is the tail of its stderr: the last meaningful lines, joined
	// by " | ", secrets redacted.
	Stderr string
}

func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server %q ", e.Server)
	if e.Closed {
		b.WriteString("closed its stdio")
	} else {
		b.WriteString("exited")
		if e.Exit.Code >= 0 {
			fmt.Fprintf(&b, " (code %d)", e.Exit.Code)
		}
	}
	if e.When != "" {
		b.WriteString(" " + e.When)
	}
	var details []string
	if e.Closed {
		details = append(details, "it was still running and has been stopped")
	}
	// The engine's reason when it says more than the code does: an OOM
	// kill, an eviction, a PID limit hit, a signal, an unknown code,
	// docker's own codes (125-127).
	code, r := e.Exit.Code, e.Exit.Reason
	if r != "" && !e.Closed && (e.Exit.OOMKilled || e.Exit.Evicted || e.Exit.PidsLimitHits > 0 || code < 0 || code >= 125 && !strings.HasPrefix(r, "process exited")) {
		details = append(details, r)
	}
	if e.Stderr != "" {
		details = append(details, e.Stderr)
	} else if !e.Closed {
		details = append(details, "nothing on stderr")
	}
	b.WriteString(": " + strings.Join(details, "; "))
	return b.String()
}

// ended waits (up to endWait) for run to end and returns why it did as an
// *ExitError; when it is still running then, err (the transport's error) is
// returned with the stderr tail, or, for a closed stream, an *ExitError
// with Closed set.
func (u *Upstream) ended(run *Launched, when string, err error) error {
	t := time.NewTimer(endWait)
	defer t.Stop()
	select {
	case <-run.Done():
	case <-t.C:
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || isConnectionClosed(err) {
			return &ExitError{Server: u.name, When: when, Exit: isolation.Exit{Code: -1}, Closed: true, Stderr: u.m.stderrTail(u.name)}
		}
		if tail := u.m.stderrTail(u.name); tail != "" {
			return fmt.Errorf("server %q: %w; stderr: %s", u.name, err, tail)
		}
		return err
	}
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return &ExitError{Server: u.name, When: when, Exit: run.Exit(dctx), Stderr: u.m.stderrTail(u.name)}
}

// isConnectionClosed recognises the messages of a stream the other side
// closed (the SDK does not always keep io.EOF in the chain).
func isConnectionClosed(err error) bool {
	s := err.Error()
	for _, m := range []string{"EOF", "connection closed", "connection reset", "broken pipe", "file already closed", "closed pipe"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// launchFailed explains a launch that failed because the container ended
// before its stdio was connected; other errors are returned as they are.
func (u *Upstream) launchFailed(err error) error {
	var ex *isolation.ExitedError
	if errors.As(err, &ex) {
		return &ExitError{Server: u.name, When: "before initialize", Exit: ex.Exit, Stderr: u.m.stderrTail(u.name)}
	}
	return err
}

// stderrTail returns the last meaningful lines server wrote to stderr, for
// a message: see tailOf. Secrets are redacted.
// stderrFor opens the stderr sink of server name: its log file (when the
// manager has ServerLog) behind a ring of its last lines.
func (m *Manager) stderrFor(name string) *ringBuffer {
	rb := &ringBuffer{max: ringLines}
	if m.opts.ServerLog != nil {
		if w, err := m.opts.ServerLog(name); err == nil {
			rb.w = w
		} else {
			m.log.Warn("cannot open server log", "server", name, "error", err)
		}
	}
	m.mu.Lock()
	m.stderrs[name] = rb
	m.mu.Unlock()
	return rb
}

func (m *Manager) stderrTail(name string) string {
	m.mu.Lock()
	rb := m.stderrs[name]
	m.mu.Unlock()
	if rb == nil {
		return ""
	}
	tail := tailOf(rb.lines())
	if m.opts.Redact != nil {
		tail = m.opts.Redact(tail)
	}
	return tail
}

// noise are stderr lines that say nothing on their own: stack frames and
// continuation lines (indented), a caret under a source line, Node's
// version trailer.
var noise = regexp.MustCompile(`^(\s|\^+\s*$|Node\.js v[0-9])`)

// tailOf picks, from the last lines of a server's stderr, the last
// tailLines that are not blank or noise, each cut to tailLineMax bytes,
// joined by " | ".
func tailOf(lines []string) string {
	var keep []string
	for i := len(lines) - 1; i >= 0 && len(keep) < tailLines; i-- {
		l := strings.TrimRight(lines[i], " \t\r")
		if strings.TrimSpace(l) == "" || noise.MatchString(l) {
			continue
		}
		keep = append(keep, cut(l, tailLineMax))
	}
	for i, j := 0, len(keep)-1; i < j; i, j = i+1, j-1 {
		keep[i], keep[j] = keep[j], keep[i]
	}
	return strings.Join(keep, " | ")
}

// cut shortens s to at most n bytes at a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && (s[i]&0xC0) == 0x80 {
		i--
	}
	return s[:i] + "…"
}

// ringBuffer keeps the last lines a server wrote to stderr (and passes
// everything on to its log file).
type ringBuffer struct {
	mu    sync.Mutex
	ring  []string
	part  string
	max   int
	w     io.WriteCloser
	wmu   sync.Mutex
	wdone bool
}

func (r *ringBuffer) Write(p []byte) (int, error) {
	r.mu.Lock()
	s := r.part + string(p)
	parts := strings.Split(s, "\n")
	r.part = parts[len(parts)-1]
	if len(r.part) > partialMax {
		r.part = r.part[len(r.part)-partialMax:]
	}
	for _, l := range parts[:len(parts)-1] {
		if len(l) > partialMax {
			l = l[:partialMax]
		}
		r.ring = append(r.ring, l)
	}
	if len(r.ring) > r.max {
		r.ring = append(r.ring[:0:0], r.ring[len(r.ring)-r.max:]...)
	}
	r.mu.Unlock()
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.w != nil && !r.wdone {
		_, _ = r.w.Write(p)
	}
	return len(p), nil
}

// Close closes the log file; the lines stay readable.
func (r *ringBuffer) Close() error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.w == nil || r.wdone {
		return nil
	}
	r.wdone = true
	return r.w.Close()
}

// lines returns the kept lines, the unfinished one last.
func (r *ringBuffer) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.ring...)
	if r.part != "" {
		out = append(out, r.part)
	}
	return out
}
