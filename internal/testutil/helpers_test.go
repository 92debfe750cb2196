package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Protocol versions the fixtures are tested with: the one mcpproxy pins
// upstream, and the Go SDK client's default (the stateless 2026-07-28).
const (
	protoPinned = "2025-11-25"
	protoLatest = ""
)

var protocols = []struct{ name, version string }{{"pinned", protoPinned}, {"latest", protoLatest}}

// connect starts cmd as a stdio MCP server and returns a client session that
// is closed when the test ends.
func connect(t *testing.T, cmd *exec.Cmd, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	return connectProto(t, cmd, opts, protoPinned)
}

// connectProto is connect with a protocol version ("" for the SDK's default).
func connectProto(t *testing.T, cmd *exec.Cmd, opts *mcp.ClientOptions, proto string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "testutil-test", Version: "1"}, opts)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second},
		&mcp.ClientSessionOptions{ProtocolVersion: proto})
	if err != nil {
		t.Fatalf("connect %v: %v", cmd.Args, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// call calls a tool and returns its text and whether it is an error result;
// a protocol error fails the test.
func call(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := callErr(cs, tool, args)
	if err != nil {
		t.Fatalf("call %s(%v): %v", tool, args, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError
}

func callErr(cs *mcp.ClientSession, tool string, args map[string]any) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if args == nil {
		args = map[string]any{}
	}
	return cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
}

// dockerRun returns a `docker run -i --rm` command for a uniquely named
// container that the test removes when it ends, should it still exist.
func dockerRun(t *testing.T, docker string, args ...string) *exec.Cmd {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "mcpproxy-testutil-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { _ = exec.Command(docker, "rm", "-f", name).Run() })
	argv := append([]string{"run", "-i", "--rm", "--name", name}, args...)
	return exec.Command(docker, argv...)
}
