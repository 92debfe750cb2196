package app

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/docker"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// No request waits for the docker CLI to be resolved: with a resolver whose
// login shell takes 5 s (docker is nowhere else), the servers list, the
// MCP list and a call to a host server are answered while it runs; the
// isolated server then fails closed once resolution has failed.
func TestRequestsDoNotWaitForDockerResolution(t *testing.T) {
	entered := make(chan struct{})
	var calls atomic.Int32
	res := &docker.Resolver{
		GOOS:     "linux",
		Home:     t.TempDir(),
		LookPath: func(string) (string, error) { return "", errors.New("not in PATH") },
		Stat:     func(string) (fs.FileInfo, error) { return nil, fs.ErrNotExist },
		LoginShell: func(ctx context.Context, shell, script string) (string, error) {
			if calls.Add(1) == 1 {
				close(entered)
			}
			select {
			case <-time.After(5 * time.Second):
			case <-ctx.Done():
			}
			return "", errors.New("docker: command not found")
		},
	}
	host := stdioServer("host", testutil.FixtureBinary(t))
	host["isolation"] = map[string]any{"enabled": false}
	cfg := isoConfig(t, nil, host, stdioServer("boxed", "/usr/bin/python3", "-m", "srv"))
	h := startAppWith(t, cfg, func(o *Options) { o.DockerResolver = res })

	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("docker resolution never started")
	}
	begin := time.Now()
	status, body := h.api(http.MethodGet, "/api/v1/servers", "")
	if status != http.StatusOK {
		t.Fatalf("GET /api/v1/servers: %d %s", status, body)
	}
	var l ServerList
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.DockerStatus.Error, "being resolved") || l.DockerStatus.Available {
		t.Fatalf("docker_status while resolving: %+v", l.DockerStatus)
	}
	h.waitState("host", upstream.StateReady, 30*time.Second)
	cs := h.connect("/mcp", nil)
	listServers(t, cs)
	if res := callTool(t, cs, "call_tool", map[string]any{"name": "host:echo", "args": map[string]any{"text": "hi"}}); res.IsError || resultText(res) != "hi" {
		t.Fatalf("call through the host server: %s", resultText(res))
	}
	if el := time.Since(begin); el > 3*time.Second {
		t.Fatalf("requests took %s while resolution was running", el)
	}
	if _, still := res.Cached(); still {
		t.Fatal("resolution had already finished: the test proves nothing")
	}
	st := h.waitState("boxed", upstream.StateError, 30*time.Second)
	mustContain(t, st.Error, "Docker is unavailable")
	if calls.Load() != 1 {
		t.Fatalf("the login shell ran %d times, want once", calls.Load())
	}
}
