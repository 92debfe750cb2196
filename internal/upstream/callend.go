package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A call in flight when its server's session ends fails with "connection
// closed" — the transport's words, not the reason. The reason (an OOM
// kill, a PID limit, an exit code and the server's last stderr lines, a
// protocol violation) is known a moment later, once the run loop has
// asked the process or container how it ended. ExplainFailure waits for
// it (bounded) so that the client whose call failed gets it.

// sessionEnd records why one session ended.
type sessionEnd struct {
	done   chan struct{}
	reason error
	at     time.Time
}

func (se *sessionEnd) finish(reason error) {
	if reason == nil {
		reason = errors.New("connection closed")
	}
	se.reason, se.at = reason, time.Now()
	close(se.done)
}

// beginSession starts the end record of a session that is becoming ready.
func (u *Upstream) beginSession() *sessionEnd {
	se := &sessionEnd{done: make(chan struct{})}
	u.mu.Lock()
	u.end = se
	u.mu.Unlock()
	return se
}

// explainWait bounds how long a failed call waits for its server's end
// reason (the engine reports an OOM kill within a second or two).
const explainWait = 15 * time.Second

// ExplainFailure turns err, the failure of a call to this server, into
// one that says why the server went away, when it did: "server "x" ended
// during the call: its container was OOM-killed …". Other errors (a tool
// error, a cancelled call) are returned unchanged.
func (u *Upstream) ExplainFailure(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil || !connectionLost(err) {
		return err
	}
	u.mu.Lock()
	cur := u.end
	u.mu.Unlock()
	// The run loop finishes the dying session's record before it starts
	// another one (after a backoff and a new start), so the current record
	// is the one of the session the call was on.
	if cur == nil {
		return err
	}
	t := time.NewTimer(explainWait)
	defer t.Stop()
	select {
	case <-cur.done:
		return callEnded(u.name, cur.reason)
	case <-ctx.Done():
		return err
	case <-t.C:
		return err
	}
}

// connectionLost recognises a call that failed because the connection to
// the server ended.
func connectionLost(err error) bool {
	return errors.Is(err, mcp.ErrConnectionClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnectionClosed(err)
}

// CallEndedError is a call that failed because its server ended; Reason
// says how it ended.
type CallEndedError struct {
	Server string
	Reason error
}

func (e *CallEndedError) Error() string {
	return fmt.Sprintf("server %q ended during the call: %v", e.Server, e.Reason)
}

func (e *CallEndedError) Unwrap() error { return e.Reason }

func callEnded(server string, reason error) error {
	return &CallEndedError{Server: server, Reason: reason}
}
