package upstream

import (
	"context"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/fastpath"
)

// Log levels. An upstream session is shared by every downstream client, so
// its level is the most verbose any of them asked for — through /mcp/{server}
// for that server, or through /mcp for all — and each downstream session
// filters to its own level. One client's logging/setLevel therefore never
// hides messages from another. The level is sent again after a reconnect.

// logLevelTimeout bounds the logging/setLevel sent when a session starts.
const logLevelTimeout = 5 * time.Second

// moreVerbose reports whether a asks for more than b ("" asks for nothing).
func moreVerbose(a, b mcp.LoggingLevel) bool {
	return a != "" && (b == "" || fastpath.LogLevelRank(a) < fastpath.LogLevelRank(b))
}

// logLevelForLocked is the level the session of upstream name should have
// (m.mu held).
func (m *Manager) logLevelForLocked(name string) mcp.LoggingLevel {
	l := m.logAll
	if s := m.logServer[name]; moreVerbose(s, l) {
		l = s
	}
	return l
}

// RaiseLogLevel makes server's upstream send log messages at level or above
// (a no-op when it already does). It returns the upstream's error, if the
// upstream was asked and refused.
func (m *Manager) RaiseLogLevel(ctx context.Context, server string, level mcp.LoggingLevel) error {
	m.mu.Lock()
	if moreVerbose(level, m.logServer[server]) {
		m.logServer[server] = level
	}
	u := m.ups[server]
	m.mu.Unlock()
	if u == nil {
		return nil
	}
	return u.syncLogLevel(ctx)
}

// RaiseLogLevelAll does RaiseLogLevel for every upstream, now and later.
func (m *Manager) RaiseLogLevelAll(ctx context.Context, level mcp.LoggingLevel) {
	m.mu.Lock()
	if moreVerbose(level, m.logAll) {
		m.logAll = level
	}
	ups := m.allLocked()
	m.mu.Unlock()
	// Concurrently, each bounded: one slow upstream does not hold up the
	// client's logging/setLevel.
	eachConcurrently(ups, func(u *Upstream) {
		uctx, cancel := context.WithTimeout(ctx, logLevelTimeout)
		defer cancel()
		if err := u.syncLogLevel(uctx); err != nil {
			m.log.Debug("upstream refused logging/setLevel", "server", u.name, "error", err)
		}
	})
}

// syncLogLevel sends the level the manager wants for u to its live session,
// unless that session already has it. Sends are serialised, so the last
// one sent is always the current level.
func (u *Upstream) syncLogLevel(ctx context.Context) error {
	u.logMu.Lock()
	defer u.logMu.Unlock()
	u.mu.Lock()
	cs := u.session
	u.mu.Unlock()
	if cs == nil {
		return nil // sent when it connects
	}
	u.m.mu.Lock()
	level := u.m.logLevelForLocked(u.name)
	u.m.mu.Unlock()
	if level == "" || (cs == u.logSession && level == u.logSent) {
		return nil
	}
	if ir := cs.InitializeResult(); ir == nil || ir.Capabilities == nil || ir.Capabilities.Logging == nil {
		return nil // the server does not log
	}
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: level}); err != nil {
		return err
	}
	u.logSession, u.logSent = cs, level
	return nil
}
