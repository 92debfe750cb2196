package docker

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestPlanSpawn(t *testing.T) {
	args := []string{"run", "-i", "--rm", "-e", "API_KEY", "img"}
	tests := []struct {
		name string
		res  Resolution
		env  Environ
		want Spawn
	}{
		{
			name: "darwin bundle-only, login env loaded: direct",
			res:  Resolution{Path: bundle, Source: SourceWellKnown},
			env:  Environ{GOOS: "darwin", Getenv: env{}.Get, Stat: fakeFS{bundle: execFile}.Stat, LoginShellLoaded: true},
			want: Spawn{Mode: ModeDirect, Argv: append([]string{bundle}, args...), PathPrepend: "/Applications/Docker.app/Contents/Resources/bin"},
		},
		{
			name: "darwin bundle-only, hydration failed: login shell with the bundle path",
			res:  Resolution{Path: bundle, Source: SourceWellKnown},
			env:  Environ{GOOS: "darwin", Getenv: env{"SHELL": "/bin/zsh"}.Get, Stat: fakeFS{bundle: execFile}.Stat},
			want: Spawn{Mode: ModeLoginShell, Argv: append([]string{"/bin/zsh", "-l", "-c", scriptResolved, bundle}, args...), PathPrepend: "/Applications/Docker.app/Contents/Resources/bin"},
		},
		{
			name: "linux PATH hit with DOCKER_HOST: direct",
			res:  Resolution{Path: "/usr/bin/docker", Source: SourcePath},
			env:  Environ{GOOS: "linux", Getenv: env{"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}.Get, Stat: fakeFS{"/usr/bin/docker": execFile}.Stat},
			want: Spawn{Mode: ModeDirect, Argv: append([]string{"/usr/bin/docker"}, args...), PathPrepend: "/usr/bin"},
		},
		{
			name: "linux PATH hit with DOCKER_CONTEXT: direct",
			res:  Resolution{Path: "/usr/bin/docker", Source: SourcePath},
			env:  Environ{GOOS: "linux", Getenv: env{"DOCKER_CONTEXT": "rootless"}.Get, Stat: fakeFS{"/usr/bin/docker": execFile}.Stat},
			want: Spawn{Mode: ModeDirect, Argv: append([]string{"/usr/bin/docker"}, args...), PathPrepend: "/usr/bin"},
		},
		{
			name: "linux PATH hit, DOCKER_HOST unset: login shell (rc may set it)",
			res:  Resolution{Path: "/usr/bin/docker", Source: SourcePath},
			env:  Environ{GOOS: "linux", Getenv: env{"SHELL": "/bin/bash"}.Get, Stat: fakeFS{"/usr/bin/docker": execFile}.Stat},
			want: Spawn{Mode: ModeLoginShell, Argv: append([]string{"/bin/bash", "-l", "-c", scriptResolved, "/usr/bin/docker"}, args...), PathPrepend: "/usr/bin"},
		},
		{
			name: "linux LoginShellLoaded: direct",
			res:  Resolution{Path: "/usr/bin/docker", Source: SourcePath},
			env:  Environ{GOOS: "linux", Getenv: env{}.Get, Stat: fakeFS{"/usr/bin/docker": execFile}.Stat, LoginShellLoaded: true},
			want: Spawn{Mode: ModeDirect, Argv: append([]string{"/usr/bin/docker"}, args...), PathPrepend: "/usr/bin"},
		},
		{
			name: "non-absolute login-shell result: bare docker in the login shell",
			res:  Resolution{Path: "docker", Source: SourceLoginShell},
			env:  Environ{GOOS: "linux", Getenv: env{"SHELL": "/bin/zsh", "DOCKER_HOST": "tcp://127.0.0.1:2375"}.Get, Stat: fakeFS{}.Stat, LoginShellLoaded: true},
			want: Spawn{Mode: ModeLoginShell, Argv: append([]string{"/bin/zsh", "-l", "-c", scriptBare, "docker"}, args...)},
		},
		{
			name: "resolved file no longer executable: bare docker in the login shell",
			res:  Resolution{Path: "/usr/bin/docker", Source: SourcePath},
			env:  Environ{GOOS: "linux", Getenv: env{"DOCKER_HOST": "unix:///x.sock"}.Get, Stat: fakeFS{"/usr/bin/docker": plainFile}.Stat},
			want: Spawn{Mode: ModeLoginShell, Argv: append([]string{"/bin/sh", "-l", "-c", scriptBare, "docker"}, args...), PathPrepend: "/usr/bin"},
		},
		{
			name: "resolved file vanished: bare docker in the login shell",
			res:  Resolution{Path: "/usr/bin/docker", Source: SourcePath},
			env:  Environ{GOOS: "darwin", Getenv: env{}.Get, Stat: fakeFS{}.Stat, LoginShellLoaded: true},
			want: Spawn{Mode: ModeLoginShell, Argv: append([]string{"/bin/sh", "-l", "-c", scriptBare, "docker"}, args...), PathPrepend: "/usr/bin"},
		},
		{
			name: "unresolved: bare docker in the login shell, SHELL default /bin/sh",
			res:  Resolution{},
			env:  Environ{GOOS: "linux", Getenv: env{}.Get, Stat: fakeFS{}.Stat},
			want: Spawn{Mode: ModeLoginShell, Argv: append([]string{"/bin/sh", "-l", "-c", scriptBare, "docker"}, args...)},
		},
		{
			name: "windows: always direct",
			res:  Resolution{},
			env:  Environ{GOOS: "windows", Getenv: env{}.Get, Stat: fakeFS{}.Stat},
			want: Spawn{Mode: ModeDirect, Argv: append([]string{"docker"}, args...)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanSpawn(tt.res, args, tt.env)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("PlanSpawn\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDaemonEnvGuaranteed(t *testing.T) {
	tests := []struct {
		e    Environ
		want bool
	}{
		{Environ{Getenv: env{}.Get}, false},
		{Environ{Getenv: env{"DOCKER_HOST": "unix:///x"}.Get}, true},
		{Environ{Getenv: env{"DOCKER_CONTEXT": "c"}.Get}, true},
		{Environ{Getenv: env{"DOCKER_CONFIG": "/x"}.Get}, false},
		{Environ{Getenv: env{}.Get, LoginShellLoaded: true}, true},
	}
	for i, tt := range tests {
		if got := tt.e.DaemonEnvGuaranteed(); got != tt.want {
			t.Errorf("%d: DaemonEnvGuaranteed = %v, want %v", i, got, tt.want)
		}
	}
}

// TestLoginShellWrapRunsUnderSh executes both login-shell argvs with the
// host's /bin/sh and a recording fake docker: every argument arrives
// verbatim (none is interpreted by the shell), and docker's directory is
// first on PATH even when a login rc rewrote PATH.
func TestLoginShellWrapRunsUnderSh(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX sh")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bundle bin") // a space, as in real app bundles
	work := filepath.Join(dir, "work")
	for _, d := range []string{bin, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fake := "#!/bin/sh\nprintf 'PATH0=%s\\n' \"${PATH%%:*}\"\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n"
	docker := filepath.Join(bin, "docker")
	if err := os.WriteFile(docker, []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	hostile := []string{"run", "-e", "API_KEY", `'; touch canary #`, `$(touch canary2)`, "`touch canary3`", `"x" y`, ""}

	// A fake HOME whose .profile resets PATH, as rc files do.
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".profile"), []byte("PATH=/usr/bin:/bin; export PATH\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	childEnv := []string{"HOME=" + home, "PATH=/usr/bin:/bin", "ENV="}

	t.Run("resolved path", func(t *testing.T) {
		sp := PlanSpawn(Resolution{Path: docker, Source: SourceWellKnown}, hostile, Environ{GOOS: runtime.GOOS, Getenv: env{"SHELL": "/bin/sh"}.Get})
		if sp.Mode != ModeLoginShell {
			t.Fatalf("mode = %s", sp.Mode)
		}
		out := runArgv(t, sp.Argv, work, childEnv)
		want := "PATH0=" + bin + "\n"
		for _, a := range hostile {
			want += "[" + a + "]\n"
		}
		if out != want {
			t.Fatalf("output\n got %q\nwant %q", out, want)
		}
	})
	t.Run("bare docker", func(t *testing.T) {
		sp := PlanSpawn(Resolution{}, hostile, Environ{GOOS: runtime.GOOS, Getenv: env{"SHELL": "/bin/sh"}.Get})
		// The login shell finds docker on its own PATH.
		if err := os.WriteFile(filepath.Join(home, ".profile"), []byte("PATH='"+bin+"':/usr/bin:/bin; export PATH\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := runArgv(t, sp.Argv, work, childEnv)
		want := "PATH0=" + bin + "\n"
		for _, a := range hostile {
			want += "[" + a + "]\n"
		}
		if out != want {
			t.Fatalf("output\n got %q\nwant %q", out, want)
		}
	})
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Fatalf("an argument was executed by the shell: %v", entries)
	}
}

func runArgv(t *testing.T, argv []string, dir string, env []string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run %q: %v\nstderr: %s", argv, err, stderr.String())
	}
	return stdout.String()
}

func TestChildEnv(t *testing.T) {
	res := Resolution{Path: "/Applications/Docker.app/Contents/Resources/bin/docker", Source: SourceWellKnown}
	d := "/Applications/Docker.app/Contents/Resources/bin"
	tests := []struct {
		name string
		base []string
		res  Resolution
		want []string
	}{
		{"prepend", []string{"HOME=/h", "PATH=/usr/bin:/bin"}, res, []string{"HOME=/h", "PATH=" + d + ":/usr/bin:/bin"}},
		{"dedup", []string{"PATH=/usr/bin:" + d + ":/bin:" + d}, res, []string{"PATH=" + d + ":/usr/bin:/bin"}},
		{"already first", []string{"PATH=" + d + ":/usr/bin"}, res, []string{"PATH=" + d + ":/usr/bin"}},
		{"no PATH", []string{"HOME=/h"}, res, []string{"HOME=/h", "PATH=" + d}},
		{"empty PATH", []string{"PATH="}, res, []string{"PATH=" + d}},
		{"two PATH entries: last wins, one kept", []string{"PATH=/a", "X=1", "PATH=/b"}, res, []string{"X=1", "PATH=" + d + ":/b"}},
		{"not absolute: unchanged", []string{"PATH=/usr/bin"}, Resolution{Path: "docker", Source: SourceLoginShell}, []string{"PATH=/usr/bin"}},
		{"unresolved: unchanged", []string{"PATH=/usr/bin"}, Resolution{}, []string{"PATH=/usr/bin"}},
		{"PATHX is not PATH", []string{"PATHX=/x"}, res, []string{"PATHX=/x", "PATH=" + d}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := append([]string(nil), tt.base...)
			got := ChildEnv(base, tt.res)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ChildEnv = %q, want %q", got, tt.want)
			}
			if !reflect.DeepEqual(base, tt.base) {
				t.Fatalf("base modified: %q", base)
			}
		})
	}
	// PlanSpawn and ChildEnv agree on the directory.
	sp := PlanSpawn(res, nil, Environ{GOOS: "darwin", Getenv: env{}.Get, Stat: fakeFS{res.Path: execFile}.Stat, LoginShellLoaded: true})
	if sp.PathPrepend != d || !strings.HasPrefix(ChildEnv(nil, res)[0], "PATH="+sp.PathPrepend) {
		t.Fatalf("PathPrepend %q disagrees with ChildEnv", sp.PathPrepend)
	}
}
