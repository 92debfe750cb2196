// Package fastpath is mcpproxy's tools/call fast path, both halves of it.
//
// Upstream half (Transport, Conn): the connection under a stdio upstream's
// SDK client session is a Conn, by default over this package's own stdio
// reader (stdio.go), which decodes each incoming message once, on its reader
// goroutine. Through it a call is sent with raw params (Conn.Call, CallTool)
// and the upstream's result bytes come back, never decoded into typed
// content; responses to those requests are taken off the stream before the
// SDK sees them, and so are the server-to-client messages (progress,
// logging, sampling, elicitation, roots) whose target is a fast-path call
// (route.go), which go to that call's Sink. Everything else (initialize,
// lists, ping, list_changed, messages for SDK-path calls) flows through the
// SDK ClientSession unchanged.
//
// Downstream half (Endpoint): a POST carrying one tools/call for a live
// session is answered from the upstream's raw connection, without the SDK's
// server; the response turns from JSON into SSE when the upstream sends a
// message during the call (http.go).
//
// What the fast path needs of an upstream is two small interfaces: Upstream
// (its raw connection, and how to begin a call) and Flights (where a
// server-to-client message goes).
//
// Environment: MCPPROXY_FASTPATH=0 (or false/off) turns the fast path off
// (the FromEnv setting; servers then use the plain SDK transport and
// every call takes the SDK path), for comparison. MCPPROXY_FASTPATH_READER=sdk
// keeps the fast path but reads the upstream through the SDK's own
// IOTransport connection instead of this package's reader, for comparison.
package fastpath
