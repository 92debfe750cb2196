package upstream

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/docker"
)

// Servers of one image starting together share one `docker image inspect`;
// a check after they are done runs a call of its own (nothing is cached).
func TestImageChecksShareOneDockerCall(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	bin := filepath.Join(dir, "docker")
	script := "#!/bin/sh\necho \"$*\" >> " + calls + "\nsleep 0.3\necho sha256:0123\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env := docker.Environ{Getenv: func(k string) string {
		if k == "DOCKER_HOST" {
			return "unix:///nonexistent/docker.sock"
		}
		return ""
	}}
	cli := docker.NewCLI(docker.Resolution{Path: bin, Source: docker.SourcePath}, env, nil)
	l := &IsolatingLauncher{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	count := func() int {
		b, _ := os.ReadFile(calls)
		return strings.Count(string(b), "image inspect")
	}

	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := l.imageExists(ctx, cli, "example/img:1"); !ok || err != nil {
				t.Errorf("imageExists = %v, %v; want true, nil", ok, err)
			}
		}()
	}
	wg.Wait()
	if n := count(); n != 1 {
		t.Fatalf("10 concurrent checks ran %d docker calls, want 1", n)
	}
	if ok, err := l.imageExists(ctx, cli, "example/img:1"); !ok || err != nil {
		t.Fatalf("imageExists = %v, %v", ok, err)
	}
	if n := count(); n != 2 {
		t.Fatalf("a later check ran %d docker calls in all, want 2 (no caching)", n)
	}
	// A waiter whose own context ends stops waiting; the shared call goes on.
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := l.imageExists(short, cli, "example/img:2"); err == nil {
		t.Fatal("a check whose context ended reported no error")
	}
}
