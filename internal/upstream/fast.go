package upstream

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/fastpath"
)

// The upstream's side of the fast path (package fastpath): its stdio
// transport is wrapped so the connection also carries raw calls, and it
// tells the fast path where server-to-client messages go.

var (
	_ fastpath.Upstream = (*Upstream)(nil)
	_ fastpath.Flights  = (*Upstream)(nil)
)

// FastConn implements fastpath.Upstream: the live raw connection, or nil
// (HTTP upstream, fast path off, not connected).
func (u *Upstream) FastConn() *fastpath.Conn {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.raw
}

// BeginCall implements fastpath.Upstream: a flight for a call of session ss
// served under ctx, with the progress token rewritten.
func (u *Upstream) BeginCall(ctx context.Context, ss *mcp.ServerSession, meta mcp.Meta) (mcp.Meta, func()) {
	f, end := u.BeginFlight(ctx, ss)
	return u.RewriteProgressToken(f, meta), end
}

// ByProgressToken implements fastpath.Flights.
func (u *Upstream) ByProgressToken(tok string) (context.Context, any, bool) {
	u.flightMu.Lock()
	defer u.flightMu.Unlock()
	f := u.tokens[tok]
	if f == nil {
		return nil, nil, false
	}
	return f.Ctx, f.orig, true
}

// Target implements fastpath.Flights.
func (u *Upstream) Target(want fastpath.Want) (context.Context, bool) {
	accept := map[fastpath.Want]func(*mcp.ServerSession) bool{
		fastpath.WantSampling:    acceptsSampling,
		fastpath.WantElicitation: acceptsElicitation,
		fastpath.WantRoots:       acceptsRoots,
	}[want]
	f := u.target(accept)
	if f == nil {
		return nil, false
	}
	return f.Ctx, true
}

// fastWrap wraps a stdio transport for the fast path when it is on.
func (u *Upstream) fastWrap(t mcp.Transport) mcp.Transport {
	if !u.m.opts.FastPath.Enabled() {
		return t
	}
	return &fastpath.Transport{Inner: t, Flights: u, Garbage: u.garbageLine}
}

// fastAttachLocked makes t's raw connection usable (u.mu held).
func (u *Upstream) fastAttachLocked(t mcp.Transport) {
	if ft, ok := t.(*fastpath.Transport); ok {
		u.raw = ft.Conn()
	}
}

// fastDetach forgets the raw connection when the session ends.
func (u *Upstream) fastDetach() {
	u.mu.Lock()
	u.raw = nil
	u.mu.Unlock()
}

// garbageLine reports a non-JSON line the server wrote to stdout: the
// first ten, then every thousandth, so a flood cannot fill the log.
func (u *Upstream) garbageLine(line []byte, count int) {
	if count <= 10 || count%1000 == 0 {
		u.m.log.Warn("upstream wrote a line that is not JSON-RPC to stdout; skipped (servers must log to stderr)",
			"server", u.name, "skipped_so_far", count, "line", string(line))
	}
}
