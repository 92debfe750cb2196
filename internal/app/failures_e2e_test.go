package app

// Failures say why (issue 10, item 3): when a server ends or closes its
// stdio before initialize, or its image cannot be had, the calling client,
// last_error in the list view and the main log carry one line with the exit
// code and the last lines of the server's stderr (secrets redacted), or the
// image, the registry, the cause and the fix.

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// fsServerJS is the reference filesystem server's entry point in
// testutil.NodeImage.
const fsServerJS = "/peers/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"

// clientError calls server:tool through /mcp's call_tool and returns the
// error text the client gets; the call must fail.
func clientError(t testing.TB, cs *mcp.ClientSession, server, tool string) string {
	t.Helper()
	res := callTool(t, cs, "call_tool", map[string]any{"name": server + ":" + tool})
	if !res.IsError {
		t.Fatalf("call_tool %s:%s succeeded: %s", server, tool, resultText(res))
	}
	return resultText(res)
}

// perServerError connects to /mcp/{server} and returns the error of the
// handshake, which must fail.
func perServerError(t testing.TB, h *harness, server string) string {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.url("/mcp/" + server)}, nil)
	if err == nil {
		cs.Close()
		t.Fatalf("connect /mcp/%s succeeded", server)
	}
	return err.Error()
}

// failsWith checks the three places a failure is told: the client's error,
// last_error in the list view and the main log.
func failsWith(t *testing.T, h *harness, server, tool string, want ...string) {
	t.Helper()
	cs := h.connect("/mcp", nil)
	got := clientError(t, cs, server, tool)
	for _, w := range want {
		mustContain(t, got, w)
	}
	t.Logf("client: %s", got)
	v, _ := findServer(listServers(t, cs), server)
	for _, w := range want {
		mustContain(t, v.LastError, w)
	}
	log := mainLog(t, h)
	for _, w := range want {
		mustContain(t, log, strings.ReplaceAll(w, `"`, `\"`))
	}
}

// The reference filesystem server, isolated, given a folder that does not
// exist: the client sees the exit code and the server's own words, not
// "connection reset by peer".
func TestFailureExitBeforeInitializeNamesStderr(t *testing.T) {
	t.Parallel()
	image := testutil.NodeImage(t)
	missing := "/nonexistent-" + randomHex(t, 6)
	h := startIsolated(t, isoConfig(t, nil, isoServer("fs", image, nil, "node", fsServerJS, missing)))
	want := []string{
		`server "fs" exited (code 1) before initialize: `,
		"Error: None of the specified directories are accessible",
	}
	failsWith(t, h, "fs", "list_allowed_directories", want...)
	got := perServerError(t, h, "fs")
	for _, w := range want {
		mustContain(t, got, w)
	}
	for _, bad := range []string{"connection reset", "stdio.sock", "EOF"} {
		if strings.Contains(got, bad) {
			t.Fatalf("the error names the transport (%q), not the server's reason: %s", bad, got)
		}
	}
}

// A server that reads the initialize request and exits, printing its
// token: the client gets the code and the line, the token masked.
func TestFailureExitDuringInitializeRedactsSecrets(t *testing.T) {
	t.Parallel()
	image := testutil.NodeImage(t)
	secret := "tok-" + randomHex(t, 10)
	script := `process.stdin.once("data", () => { console.error("auth failed for token " + process.env.SERVICE_TOKEN); process.exit(4); })`
	s := isoServer("auth", image, nil, "node", "-e", script)
	s["env"] = map[string]string{"SERVICE_TOKEN": secret}
	h := startIsolated(t, isoConfig(t, nil, s))
	failsWith(t, h, "auth", "anything", `server "auth" exited (code 4) before initialize: auth failed for token ***`)
	cs := h.connect("/mcp", nil)
	v, _ := findServer(listServers(t, cs), "auth")
	if strings.Contains(v.LastError, secret) || strings.Contains(mainLog(t, h), secret) || strings.Contains(clientError(t, cs, "auth", "x"), secret) {
		t.Fatal("the secret reached last_error, the main log or the client")
	}
}

// A host server that closes its stdout but keeps running: after a bounded
// wait the client is told so (and the server is stopped).
func TestFailureClosedStdio(t *testing.T) {
	t.Parallel()
	h := startApp(t, hostConfig(t, stdioServer("quiet", "/bin/sh", "-c", `exec 1>&-; echo "closing stdout" >&2; exec sleep 120`)))
	failsWith(t, h, "quiet", "x", `server "quiet" closed its stdio before initialize: it was still running and has been stopped; closing stdout`)
}

// A missing image whose registry cannot be reached (a port of 127.0.0.1
// nobody listens on): one line naming the image, the registry, the cause
// and the fix.
func TestFailureMissingImageNoRegistry(t *testing.T) {
	t.Parallel()
	testutil.RequireDocker(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	registry := ln.Addr().String()
	ln.Close() // nobody listens there now: connection refused
	image := "mcpproxy-test/absent-" + randomHex(t, 4) + ":1"
	h := startIsolated(t, isoConfig(t, map[string]any{"registry": registry}, isoServer("ghost", image, nil, "/mcpfixture")))
	st := h.waitState("ghost", upstream.StateError, 60*time.Second)
	t.Logf("last_error: %s", st.Error)
	failsWith(t, h, "ghost", "x",
		"image "+registry+"/"+image+" is not present locally and could not be pulled from "+registry+": the registry refused the connection (",
		" — build or load it (docker load / docker build), or set isolation.image / default_images to an image you have")
}
