package docker

import (
	"context"
	"errors"
	"testing"
	"time"
)

const bundle = "/Applications/Docker.app/Contents/Resources/bin/docker"

func TestResolveOrder(t *testing.T) {
	tests := []struct {
		name      string
		goos      string
		fs        fakeFS
		pathDirs  []string
		env       env
		shell     *fakeShell
		want      Resolution
		wantShell bool // the login shell was asked
	}{
		{
			name:     "PATH hit",
			goos:     "linux",
			fs:       fakeFS{"/usr/local/bin/docker": execFile, "/usr/bin/docker": execFile},
			pathDirs: []string{"/usr/local/bin"},
			want:     Resolution{Path: "/usr/local/bin/docker", Source: SourcePath},
		},
		{
			name:     "darwin bundle only",
			goos:     "darwin",
			fs:       fakeFS{bundle: execFile},
			pathDirs: []string{"/usr/bin", "/bin"},
			env:      env{"HOME": "/Users/me"},
			want:     Resolution{Path: bundle, Source: SourceWellKnown},
		},
		{
			name: "darwin well-known order: bundle before homebrew",
			goos: "darwin",
			fs:   fakeFS{bundle: execFile, "/opt/homebrew/bin/docker": execFile},
			want: Resolution{Path: bundle, Source: SourceWellKnown},
		},
		{
			name: "darwin orbstack in home",
			goos: "darwin",
			fs:   fakeFS{"/Users/me/.orbstack/bin/docker": execFile},
			env:  env{"HOME": "/Users/me"},
			want: Resolution{Path: "/Users/me/.orbstack/bin/docker", Source: SourceWellKnown},
		},
		{
			name: "darwin rancher desktop in home",
			goos: "darwin",
			fs:   fakeFS{"/Users/me/.rd/bin/docker": execFile},
			env:  env{"HOME": "/Users/me"},
			want: Resolution{Path: "/Users/me/.rd/bin/docker", Source: SourceWellKnown},
		},
		{
			name: "linux snap",
			goos: "linux",
			fs:   fakeFS{"/snap/bin/docker": execFile},
			want: Resolution{Path: "/snap/bin/docker", Source: SourceWellKnown},
		},
		{
			name: "linux ~/bin",
			goos: "linux",
			fs:   fakeFS{"/home/me/bin/docker": execFile},
			env:  env{"HOME": "/home/me"},
			want: Resolution{Path: "/home/me/bin/docker", Source: SourceWellKnown},
		},
		{
			name:     "PATH returns a relative path: ignored",
			goos:     "linux",
			fs:       fakeFS{"./docker": execFile, "/usr/bin/docker": execFile},
			pathDirs: []string{"."},
			want:     Resolution{Path: "/usr/bin/docker", Source: SourceWellKnown},
		},
		{
			name:      "non-executable file is skipped",
			goos:      "linux",
			fs:        fakeFS{"/usr/bin/docker": plainFile, "/usr/local/bin/docker": execFile},
			want:      Resolution{Path: "/usr/local/bin/docker", Source: SourceWellKnown},
			wantShell: false,
		},
		{
			name:      "directory named docker is skipped",
			goos:      "linux",
			fs:        fakeFS{"/usr/bin/docker": dirMode},
			shell:     &fakeShell{err: errors.New("exit status 1")},
			want:      Resolution{},
			wantShell: true,
		},
		{
			name:      "login shell absolute path",
			goos:      "darwin",
			fs:        fakeFS{"/custom/bin/docker": execFile},
			env:       env{"SHELL": "/bin/zsh"},
			shell:     &fakeShell{out: "Welcome banner\n/custom/bin/docker\n"},
			want:      Resolution{Path: "/custom/bin/docker", Source: SourceLoginShell},
			wantShell: true,
		},
		{
			name:      "login shell absolute but not executable",
			goos:      "linux",
			fs:        fakeFS{"/custom/bin/docker": plainFile},
			shell:     &fakeShell{out: "/custom/bin/docker\n"},
			want:      Resolution{},
			wantShell: true,
		},
		{
			name:      "login shell function name is not absolute",
			goos:      "linux",
			shell:     &fakeShell{out: "docker\n"},
			want:      Resolution{Path: "docker", Source: SourceLoginShell},
			wantShell: true,
		},
		{
			name:      "login shell alias is not absolute",
			goos:      "darwin",
			shell:     &fakeShell{out: "alias docker='podman'\n"},
			want:      Resolution{Path: "docker", Source: SourceLoginShell},
			wantShell: true,
		},
		{
			name:      "nothing anywhere",
			goos:      "linux",
			shell:     &fakeShell{out: ""},
			want:      Resolution{},
			wantShell: true,
		},
		{
			name:      "windows has no login shell",
			goos:      "windows",
			shell:     &fakeShell{out: "/x/docker"},
			want:      Resolution{},
			wantShell: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := tt.shell
			if sh == nil {
				sh = &fakeShell{err: errors.New("not expected")}
			}
			e := tt.env
			if e == nil {
				e = env{}
			}
			r := &Resolver{GOOS: tt.goos, Getenv: e.Get, LookPath: tt.fs.LookPath(tt.pathDirs...), Stat: tt.fs.Stat, LoginShell: sh.Run}
			got := r.Resolve(context.Background())
			if got != tt.want {
				t.Fatalf("Resolve = %+v, want %+v", got, tt.want)
			}
			if (sh.calls > 0) != tt.wantShell {
				t.Fatalf("login shell calls = %d, want asked = %v", sh.calls, tt.wantShell)
			}
		})
	}
}

func TestResolveLoginShellInvocation(t *testing.T) {
	sh := &fakeShell{out: "/x/docker"}
	r := &Resolver{GOOS: "darwin", Getenv: env{"SHELL": "/bin/zsh"}.Get, LookPath: fakeFS{}.LookPath(), Stat: fakeFS{"/x/docker": execFile}.Stat, LoginShell: sh.Run}
	r.Resolve(context.Background())
	if sh.shell != "/bin/zsh" || sh.script != "command -v docker" {
		t.Fatalf("login shell = %q %q", sh.shell, sh.script)
	}
	if sh.deadline <= 0 || sh.deadline > LoginShellTimeout {
		t.Fatalf("login shell deadline = %v, want within %v", sh.deadline, LoginShellTimeout)
	}

	// $SHELL unset: /bin/sh.
	sh = &fakeShell{}
	r = &Resolver{GOOS: "linux", Getenv: env{}.Get, LookPath: fakeFS{}.LookPath(), Stat: fakeFS{}.Stat, LoginShell: sh.Run}
	r.Resolve(context.Background())
	if sh.shell != "/bin/sh" {
		t.Fatalf("default shell = %q", sh.shell)
	}
}

func TestResolveCachesSuccessForever(t *testing.T) {
	fs := fakeFS{"/usr/bin/docker": execFile}
	lookups := 0
	look := fs.LookPath("/usr/bin")
	r := &Resolver{GOOS: "linux", Getenv: env{}.Get, Stat: fs.Stat, LookPath: func(n string) (string, error) {
		lookups++
		return look(n)
	}}
	first := r.Resolve(context.Background())
	delete(fs, "/usr/bin/docker") // even if it disappears, the process keeps its answer
	for i := 0; i < 3; i++ {
		if got := r.Resolve(context.Background()); got != first {
			t.Fatalf("Resolve changed: %+v → %+v", first, got)
		}
	}
	if lookups != 1 {
		t.Fatalf("PATH lookups = %d, want 1", lookups)
	}
}

func TestResolveNegativeCache(t *testing.T) {
	fs := fakeFS{}
	clk := newClock()
	sh := &fakeShell{err: errors.New("exit status 1")}
	r := &Resolver{GOOS: "darwin", Getenv: env{"HOME": "/Users/me"}.Get, LookPath: fs.LookPath("/usr/bin"), Stat: fs.Stat, LoginShell: sh.Run, Now: clk.Now}

	if got := r.Resolve(context.Background()); got.Path != "" {
		t.Fatalf("Resolve = %+v, want unresolved", got)
	}
	clk.Advance(59 * time.Second)
	r.Resolve(context.Background())
	if sh.calls != 1 {
		t.Fatalf("login shell asked %d times within the negative TTL, want 1", sh.calls)
	}

	// A cheap check still upgrades a cached failure at once (Docker Desktop
	// installed meanwhile).
	fs[bundle] = execFile
	if got := r.Resolve(context.Background()); got.Path != bundle {
		t.Fatalf("Resolve after install = %+v", got)
	}
	delete(fs, bundle)

	// After the TTL the login shell is asked again.
	r2 := &Resolver{GOOS: "linux", Getenv: env{}.Get, LookPath: fs.LookPath(), Stat: fs.Stat, LoginShell: sh.Run, Now: clk.Now}
	sh.calls = 0
	r2.Resolve(context.Background())
	clk.Advance(61 * time.Second)
	fs["/opt/d/docker"] = execFile
	sh.err, sh.out = nil, "/opt/d/docker\n"
	if got := r2.Resolve(context.Background()); got.Path != "/opt/d/docker" || got.Source != SourceLoginShell {
		t.Fatalf("Resolve after TTL = %+v", got)
	}
	if sh.calls != 2 {
		t.Fatalf("login shell calls = %d, want 2", sh.calls)
	}
}

func TestResolveNonAbsoluteIsNegativelyCached(t *testing.T) {
	clk := newClock()
	sh := &fakeShell{out: "docker"}
	r := &Resolver{GOOS: "linux", Getenv: env{}.Get, LookPath: fakeFS{}.LookPath(), Stat: fakeFS{}.Stat, LoginShell: sh.Run, Now: clk.Now}
	r.Resolve(context.Background())
	r.Resolve(context.Background())
	if sh.calls != 1 {
		t.Fatalf("calls = %d", sh.calls)
	}
	clk.Advance(NegativeCacheTTL + time.Second)
	r.Resolve(context.Background())
	if sh.calls != 2 {
		t.Fatalf("a non-absolute answer must be retried after the TTL; calls = %d", sh.calls)
	}
}

func TestResolveRealOS(t *testing.T) {
	// The zero value works against the real OS.
	var r Resolver
	res := r.Resolve(context.Background())
	if res.Path != "" && !res.Absolute() && res.Path != "docker" {
		t.Fatalf("Resolve = %+v", res)
	}
}
