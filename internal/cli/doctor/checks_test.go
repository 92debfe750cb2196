package doctor

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/docker"
)

// noDocker is a resolver of a machine without docker anywhere.
func noDocker() *docker.Resolver {
	return &docker.Resolver{
		GOOS:       "linux",
		LookPath:   func(string) (string, error) { return "", errors.New("not found") },
		Stat:       func(string) (fs.FileInfo, error) { return nil, fs.ErrNotExist },
		Home:       "/home/nobody",
		LoginShell: func(context.Context, string, string) (string, error) { return "", errors.New("no such command") },
	}
}

func writeConfig(t *testing.T, body string) Env {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "mcp_config.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Env{DataDir: dir, ConfigPath: p, Resolver: noDocker()}
}

// Without docker anywhere, the docker line fails when a server needs it
// (with the fix: install it, or turn isolation off) and only warns when
// none does; the checks that need the daemon are not run.
func TestDockerMissing(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		want         Status
		fix          string
	}{
		{"isolation on", `{"docker_isolation": {"enabled": true}, "mcpServers": [{"name": "a", "command": "npx"}]}`, Fail, "docker_isolation.enabled: false"},
		{"isolation off", `{"docker_isolation": {"enabled": false}, "mcpServers": [{"name": "a", "command": "npx"}]}`, Warn, "nothing needs it now"},
		{"a docker command", `{"docker_isolation": {"enabled": false}, "mcpServers": [{"name": "a", "command": "docker", "args": ["run", "x"]}]}`, Fail, "install Docker"},
		{"only http servers", `{"docker_isolation": {"enabled": true}, "mcpServers": [{"name": "a", "url": "http://127.0.0.1:1/mcp"}]}`, Warn, "nothing needs it now"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := writeConfig(t, tc.config)
			res := Run(context.Background(), e)
			var bin *Result
			for i := range res {
				if res[i].Check == "docker binary" {
					bin = &res[i]
				}
				if res[i].Check == "docker daemon" || strings.HasPrefix(res[i].Check, "image") {
					t.Errorf("a daemon check ran without docker: %+v", res[i])
				}
			}
			if bin == nil || bin.Status != tc.want || !strings.Contains(bin.Fix, tc.fix) || !strings.Contains(bin.Detail, "/usr/bin/docker") {
				t.Fatalf("docker binary: %+v, want %s with %q", bin, tc.want, tc.fix)
			}
		})
	}
}

// The config line: valid, a warning per unknown key, or every problem.
func TestConfigCheck(t *testing.T) {
	e := writeConfig(t, `{"mcpServers": [], "theme": "dark"}`)
	_, res := checkConfig(e)
	if len(res) != 2 || res[0].Status != OK || res[1].Status != Warn || !strings.Contains(res[1].Detail, "theme") {
		t.Fatalf("%+v", res)
	}
	e = writeConfig(t, `{"mcpServers": [{"name": "a"}], "docker_isolaton": {}}`)
	_, res = checkConfig(e)
	if len(res) != 1 || res[0].Status != Fail || !strings.Contains(res[0].Detail, "2 problems") || !strings.Contains(res[0].Detail, `did you mean "docker_isolation"`) {
		t.Fatalf("%+v", res)
	}
	_, res = checkConfig(Env{ConfigPath: filepath.Join(t.TempDir(), "none.json")})
	if len(res) != 1 || res[0].Status != OK || !strings.Contains(res[0].Detail, "does not exist yet") {
		t.Fatalf("%+v", res)
	}
}

// The data dir must be yours and private.
func TestDataDirCheck(t *testing.T) {
	e := writeConfig(t, `{}`)
	if r := checkDataDir(e); r.Status != OK || !strings.Contains(r.Detail, "no mcpproxy holds it") {
		t.Fatalf("%+v", r)
	}
	if err := os.Chmod(e.ConfigPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := checkDataDir(e); r.Status != Fail || !strings.Contains(r.Detail, "0644") || !strings.Contains(r.Fix, "chmod 600") {
		t.Fatalf("%+v", r)
	}
}
