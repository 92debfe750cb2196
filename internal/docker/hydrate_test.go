package docker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func loginEnvOutput(lines ...string) string {
	return "Last login: banner noise\nPATH=/not/this\n" + envBegin + "\n" + strings.Join(lines, "\n") + "\n" + envEnd + "\nbye\n"
}

func TestHydrateWindowsIsNoop(t *testing.T) {
	sh := &fakeShell{out: loginEnvOutput("DOCKER_HOST=unix:///x")}
	e := env{"PATH": `C:\Windows`}
	h, err := HydrateFromLoginShell(context.Background(), HydrateOptions{GOOS: "windows", Getenv: e.Get, Setenv: e.Set, LoginShell: sh.Run})
	if err != nil || h.Loaded || h.Ran || sh.calls != 0 || e["DOCKER_HOST"] != "" {
		t.Fatalf("windows hydration = %+v, %v, calls %d, env %v", h, err, sh.calls, e)
	}
}

// On Linux a rootless daemon's DOCKER_HOST often lives only in the shell rc:
// it is loaded once at start, after which docker can be exec'd directly.
func TestHydrateLinuxLoadsRcDockerHost(t *testing.T) {
	sh := &fakeShell{out: loginEnvOutput("DOCKER_HOST=unix:///run/user/1000/docker.sock", "PATH=/home/me/bin:/usr/bin:/bin")}
	e := env{"PATH": "/usr/local/bin:/usr/bin:/bin"}
	h, err := HydrateFromLoginShell(context.Background(), HydrateOptions{GOOS: "linux", Getenv: e.Get, Setenv: e.Set, LoginShell: sh.Run})
	if err != nil || !h.Loaded || !h.Ran || sh.calls != 1 || e["DOCKER_HOST"] != "unix:///run/user/1000/docker.sock" {
		t.Fatalf("linux hydration = %+v, %v, calls %d, env %v", h, err, sh.calls, e)
	}
	if e["PATH"] != "/usr/local/bin:/usr/bin:/bin:/home/me/bin" {
		t.Fatalf("PATH = %q: ours first, the login shell's extra entries after", e["PATH"])
	}
}

func TestHydrateMinimalPath(t *testing.T) {
	sh := &fakeShell{out: loginEnvOutput(
		"PATH=/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin",
		"DOCKER_HOST=unix:///Users/me/.colima/docker.sock",
		"DOCKER_CONFIG=/Users/me/.docker-alt",
		"MULTI=line one",
		"line two is not a variable",
		"SECRET_TOKEN=hunter2",
		"DOCKER_CONTEXT=",
	)}
	e := env{"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "DOCKER_CONFIG": "/keep/mine", "SHELL": "/bin/zsh"}
	var logBuf bytes.Buffer
	h, err := HydrateFromLoginShell(context.Background(), HydrateOptions{
		GOOS: "darwin", Getenv: e.Get, Setenv: e.Set, LoginShell: sh.Run,
		Log: slog.New(slog.NewTextHandler(&logBuf, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !h.Ran || !h.Loaded || !h.PathMerged || !reflect.DeepEqual(h.Set, []string{"DOCKER_HOST"}) {
		t.Fatalf("hydration = %+v", h)
	}
	if sh.shell != "/bin/zsh" || sh.script != envScript {
		t.Fatalf("ran %q %q", sh.shell, sh.script)
	}
	if sh.deadline <= 0 || sh.deadline > HydrateTimeout {
		t.Fatalf("deadline %v", sh.deadline)
	}
	// Minimal PATH: login entries first, then ours not already present.
	if want := "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"; e["PATH"] != want {
		t.Fatalf("PATH = %q, want %q", e["PATH"], want)
	}
	if e["DOCKER_HOST"] != "unix:///Users/me/.colima/docker.sock" {
		t.Fatalf("DOCKER_HOST = %q", e["DOCKER_HOST"])
	}
	if e["DOCKER_CONFIG"] != "/keep/mine" {
		t.Fatalf("set-if-unset violated: DOCKER_CONFIG = %q", e["DOCKER_CONFIG"])
	}
	if _, ok := e["SECRET_TOKEN"]; ok {
		t.Fatal("only the docker keys and PATH may be copied")
	}
	if _, ok := e["DOCKER_CONTEXT"]; ok {
		t.Fatal("empty login values must not be set")
	}
	logged := logBuf.String()
	if !strings.Contains(logged, "DOCKER_HOST") {
		t.Fatalf("log should name what was set: %s", logged)
	}
	for _, v := range []string{"colima", "homebrew", "hunter2", "/keep/mine"} {
		if strings.Contains(logged, v) {
			t.Fatalf("log leaks a value (%q): %s", v, logged)
		}
	}
}

func TestHydrateFullPathKeepsOurOrder(t *testing.T) {
	sh := &fakeShell{out: loginEnvOutput("PATH=/opt/homebrew/bin:/usr/bin", "DOCKER_CONTEXT=desktop-linux")}
	e := env{"PATH": "/my/bin:/usr/bin:/bin"}
	h, err := HydrateFromLoginShell(context.Background(), HydrateOptions{GOOS: "darwin", Getenv: e.Get, Setenv: e.Set, LoginShell: sh.Run})
	if err != nil {
		t.Fatal(err)
	}
	if want := "/my/bin:/usr/bin:/bin:/opt/homebrew/bin"; e["PATH"] != want {
		t.Fatalf("PATH = %q, want %q", e["PATH"], want)
	}
	if !h.Loaded || e["DOCKER_CONTEXT"] != "desktop-linux" {
		t.Fatalf("hydration %+v env %v", h, e)
	}
}

func TestHydrateNothingMissingSkipsShell(t *testing.T) {
	e := env{"PATH": "/opt/homebrew/bin:/usr/bin"}
	for _, k := range DaemonEnvKeys {
		e[k] = "set"
	}
	sh := &fakeShell{}
	h, err := HydrateFromLoginShell(context.Background(), HydrateOptions{GOOS: "darwin", Getenv: e.Get, Setenv: e.Set, LoginShell: sh.Run})
	if err != nil || !h.Loaded || h.Ran || sh.calls != 0 {
		t.Fatalf("hydration = %+v, %v, calls %d", h, err, sh.calls)
	}
}

func TestHydrateShellFailure(t *testing.T) {
	for _, sh := range []*fakeShell{
		{err: errors.New("context deadline exceeded")},
		{out: "no markers at all\n"},
	} {
		e := env{"PATH": "/usr/bin:/bin"}
		h, err := HydrateFromLoginShell(context.Background(), HydrateOptions{GOOS: "darwin", Getenv: e.Get, Setenv: e.Set, LoginShell: sh.Run})
		if err == nil || h.Loaded || !h.Ran {
			t.Fatalf("hydration = %+v, %v; want an error and Loaded false", h, err)
		}
		if e["PATH"] != "/usr/bin:/bin" {
			t.Fatalf("PATH changed on failure: %q", e["PATH"])
		}
	}
}

func TestMinimalPath(t *testing.T) {
	for p, want := range map[string]bool{
		"":                              true,
		"/usr/bin:/bin:/usr/sbin:/sbin": true,
		"/usr/bin:/bin/":                true,
		"/usr/bin:/opt/homebrew/bin":    false,
	} {
		if got := minimalPath(p); got != want {
			t.Errorf("minimalPath(%q) = %v", p, got)
		}
	}
}
