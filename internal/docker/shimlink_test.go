package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/shim"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// A real container whose entrypoint is the shim talks MCP over the socket,
// and a peer without the token is refused.
func TestShimLinkCarriesMCP(t *testing.T) {
	dockerPath := testutil.RequireDocker(t)
	image := testutil.FixtureImage(t)
	run := t.TempDir()
	bin, err := shim.Install(filepath.Join(run, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	link, err := newShimLink(run, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer link.close()

	// An impostor without the token is dropped; the real shim still gets in.
	imp, err := net.Dial("unix", filepath.Join(link.dir, "stdio.sock"))
	if err != nil {
		t.Fatal(err)
	}
	imp.Write([]byte("not-the-token\n"))

	plan := &isolation.Plan{Image: image, Network: "none", MemoryBytes: 64 << 20, MilliCPUs: 1000, Command: "/mcpfixture"}
	name := fmt.Sprintf("mcpproxy-shimtest-%d", time.Now().UnixNano())
	args, err := RunArgs(plan, RunSpec{Name: name, Labels: map[string]string{"com.mcpproxy.test": "shimlink"}, Shim: &Shim{Binary: bin, Socket: link.socket()}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dockerPath, args...)
	cmd.Env = append(os.Environ(), ShimTokenEnv+"="+link.token)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		exec.Command(dockerPath, "rm", "-f", name).Run()
		<-exited
	}()
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	const secret = "s3cret value\nwith a newline and = sign"
	conn, repConn, err := link.accept(actx, exited, map[string]string{"SECRET_X": secret, "EMPTY": ""})
	if err != nil {
		t.Fatalf("accept: %v; docker stderr: %s", err, stderr.String())
	}
	// The shim runs as init, so it opened its report connection too.
	if repConn == nil {
		t.Fatal("no report connection from the shim running as init")
	}
	reports := newShimReports(repConn, nil)
	defer reports.close()
	if _, err := imp.Read(make([]byte, 1)); err == nil {
		t.Fatal("impostor connection was kept open")
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.IOTransport{Reader: conn, Writer: conn}, nil)
	if err != nil {
		t.Fatalf("initialize over the shim: %v; docker stderr: %s", err, stderr.String())
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "list_pids", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	text := res.Content[0].(*mcp.TextContent).Text
	// The shim stayed PID 1 (the container's init), the server runs as its
	// child, and the token is gone from the server's env.
	if !strings.Contains(text, `{"pid":1,"cmdline":"/.mcpproxy/shim `) || !strings.Contains(text, `"cmdline":"/mcpfixture"`) {
		t.Fatalf("list_pids: %s", text)
	}
	res, _ = cs.CallTool(ctx, &mcp.CallToolParams{Name: "getenv", Arguments: map[string]any{"name": ShimTokenEnv}})
	if got := res.Content[0].(*mcp.TextContent).Text; got != "" {
		t.Fatalf("token still in the server's environment: %q", got)
	}
	// The environment arrived over the socket: the value is the server's,
	// and docker knows neither the value nor the name.
	res, _ = cs.CallTool(ctx, &mcp.CallToolParams{Name: "getenv", Arguments: map[string]any{"name": "SECRET_X"}})
	if got := res.Content[0].(*mcp.TextContent).Text; got != secret {
		t.Fatalf("SECRET_X in the server = %q, want %q", got, secret)
	}
	inspect, err := exec.Command(dockerPath, "inspect", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(inspect), "s3cret") || strings.Contains(string(inspect), "SECRET_X") {
		t.Fatalf("the secret is in docker inspect:\n%s", inspect)
	}
	for _, a := range args {
		if strings.Contains(a, "SECRET_X") {
			t.Fatalf("the variable's name is in argv: %q", args)
		}
	}
	// Closing our end ends the server and so the container.
	cs.Close()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("container did not exit after the proxy closed the socket")
	}
	// Its last words on the report connection: the PID limit (unset
	// here) never refused a process.
	if n := reports.Final(actx); n != 0 {
		t.Fatalf("PID-limit hits reported at the end: %d, want 0", n)
	}
}

// The shim needs a daemon that sees this host's sockets.
func TestShimUsable(t *testing.T) {
	for _, tc := range []struct {
		goos string
		env  map[string]string
		ok   bool
		why  string
	}{
		{"linux", nil, true, ""},
		{"linux", map[string]string{"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, true, ""},
		{"linux", map[string]string{"DOCKER_HOST": "tcp://10.0.0.5:2376"}, false, "DOCKER_HOST is not a local unix socket"},
		{"linux", map[string]string{"MCPPROXY_DOCKER_ATTACH": "1"}, false, "MCPPROXY_DOCKER_ATTACH=1"},
		{"darwin", nil, false, "the docker daemon runs in a VM on darwin"},
	} {
		t.Setenv("DOCKER_HOST", tc.env["DOCKER_HOST"])
		t.Setenv("MCPPROXY_DOCKER_ATTACH", tc.env["MCPPROXY_DOCKER_ATTACH"])
		ok, why := ShimUsable(tc.goos)
		if ok != tc.ok || why != tc.why {
			t.Errorf("%s %v: %v %q, want %v %q", tc.goos, tc.env, ok, why, tc.ok, tc.why)
		}
	}
}

// The shim's report lines are untrusted: only "pids N" (N at most 18
// digits) and "pids -" are read.
func TestParsePidsReport(t *testing.T) {
	for _, tc := range []struct {
		line string
		n    int64
		ok   bool
	}{
		{"pids 0\n", 0, true},
		{"pids 46\n", 46, true},
		{"pids -\n", -1, true},
		{"pids 999999999999999999\n", 999999999999999999, true},
		{"pids 9999999999999999999\n", 0, false},
		{"pids -3\n", 0, false},
		{"pids 3", 0, false},
		{"pids \n", 0, false},
		{"pids 3 \n", 0, false},
		{"pids 0x10\n", 0, false},
		{"pids +3\n", 0, false},
		{"max 3\n", 0, false},
		{"PIDS 3\n", 0, false},
	} {
		n, ok := parsePidsReport(tc.line)
		if n != tc.n || ok != tc.ok {
			t.Errorf("parsePidsReport(%q) = %d, %v; want %d, %v", tc.line, n, ok, tc.n, tc.ok)
		}
	}
}

// A report connection that sends garbage or a line without end is read no
// further: the count stays the highest read before.
func TestShimReportsIgnoreGarbage(t *testing.T) {
	ours, shim := unixPair(t)
	var seen []int64
	r := newShimReports(ours, func(n int64) { seen = append(seen, n) })
	shim.Write([]byte("pids 2\npids 1\npids 7; rm -rf /\npids 9\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n := r.Final(ctx); n != 2 || ctx.Err() != nil {
		t.Fatalf("final %d (%v), want 2 at once: garbage ends the reading", n, ctx.Err())
	}
	if len(seen) != 1 || seen[0] != 2 {
		t.Fatalf("hits seen %v, want [2]", seen)
	}
	// A shim that ends without a count: unknown.
	ours, shim = unixPair(t)
	r = newShimReports(ours, nil)
	shim.Close()
	if n := r.Final(ctx); n != -1 {
		t.Fatalf("no report: %d, want -1", n)
	}
}

// unixPair is a connected pair of unix sockets.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s, c
}

// A report connection accepted after the container was cleaned up
// (RemoveAll at shutdown while Start was accepting) is closed, not kept.
func TestReportsAfterCleanupClosed(t *testing.T) {
	ours, shim := unixPair(t)
	c := &container{}
	c.cleanup()
	c.setReports(newShimReports(ours, nil))
	_ = shim.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := shim.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the shim's end read %v, want EOF: the proxy kept the connection", err)
	}
	if c.reports != nil {
		t.Fatal("a cleaned-up container holds a report connection")
	}
}
