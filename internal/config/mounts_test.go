package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/dockerargs"
)

func TestParseMount(t *testing.T) {
	const home = "/home/alice"
	tests := []struct {
		in      string
		want    MountSpec
		wantErr string
	}{
		{"/data/in", MountSpec{Source: "/data/in", Target: "/data/in", ReadOnly: true}, ""},
		{"~/notes:rw", MountSpec{Source: "/home/alice/notes", Target: "/home/alice/notes"}, ""},
		{"~/notes:ro", MountSpec{Source: "/home/alice/notes", Target: "/home/alice/notes", ReadOnly: true}, ""},
		{"/host/x:/in/container:ro", MountSpec{Source: "/host/x", Target: "/in/container", ReadOnly: true}, ""},
		{"/host/x:/in/container:rw", MountSpec{Source: "/host/x", Target: "/in/container"}, ""},
		{"/host/x:/in/container", MountSpec{Source: "/host/x", Target: "/in/container", ReadOnly: true}, ""},
		{"/host/./x/../y/", MountSpec{Source: "/host/y", Target: "/host/y", ReadOnly: true}, ""},
		{"~", MountSpec{Source: "/home/alice", Target: "/home/alice", ReadOnly: true}, ""},
		{"", MountSpec{}, "empty"},
		{"notes", MountSpec{}, `must be absolute or start with "~/"`},
		{"~bob/x", MountSpec{}, `only "~/…" (your own home) is expanded`},
		{"/x:rx", MountSpec{}, `the container path "rx" must be absolute`},
		{"/x:/y:rx", MountSpec{}, `the mode must be "ro" or "rw", not "rx"`},
		{"/a:b:/c:ro", MountSpec{}, "too many ':'"},
		{"/x:/", MountSpec{}, "cannot mount over / inside the container"},
		{"/x:/proc/self", MountSpec{}, "kernel's filesystems"},
		{"/x:/.mcpproxy/io", MountSpec{}, "stdio shim"},
		{"/x\n", MountSpec{}, "must not contain NUL, CR or LF"},
	}
	for _, tt := range tests {
		got, err := ParseMount(tt.in, home)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseMount(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("ParseMount(%q): %v", tt.in, err)
		case got != tt.want:
			t.Errorf("ParseMount(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if _, err := ParseMount("~/notes", ""); err == nil || !strings.Contains(err.Error(), "home directory is not known") {
		t.Errorf("~ without a home: %v", err)
	}
}

// fakeHost is a host with a home, a data dir and a symlink into ~/.ssh.
var fakeHost = dockerargs.HostPaths{
	Home:    "/home/alice",
	DataDir: "/home/alice/.mcpproxy",
	Resolve: func(p string) (string, error) {
		switch p {
		case "/srv/keys":
			return "/home/alice/.ssh", nil
		case "/srv/missing":
			return "", &os.PathError{Op: "lstat", Path: p, Err: os.ErrNotExist}
		}
		return p, nil
	},
}

// isolation.mounts problems are config errors naming the field; a mount of
// a sensitive path passes only with allow_dangerous (as a warning).
func TestMountsValidation(t *testing.T) {
	srv := func(mounts string) string {
		return `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"mounts": ` + mounts + `}}]}`
	}
	const fix = `; remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand`
	tests := []struct {
		name, in string
		problems []string
		warnings []string
	}{
		{"fine", srv(`["~/notes:rw", "/data/in", "/host/x:/in/container:ro"]`), nil, nil},
		{"ssh", srv(`["~/.ssh"]`), []string{
			`1:72: mcpServers[0].isolation.mounts[0]: "~/.ssh" would give the container credentials under the home directory (/home/alice/.ssh)` + fix}, nil},
		{"root", srv(`["/:/host"]`), []string{
			`1:72: mcpServers[0].isolation.mounts[0]: "/:/host" would give the container the host's whole filesystem` + fix}, nil},
		{"home itself and its parent", srv(`["~", "/home:/h"]`), []string{
			`1:72: mcpServers[0].isolation.mounts[0]: "~" would give the container a home directory (/home/alice)` + fix,
			`1:77: mcpServers[0].isolation.mounts[1]: "/home:/h" would give the container a directory holding a home directory (/home/alice)` + fix}, nil},
		{"symlink into ~/.ssh", srv(`["/srv/keys:/keys"]`), []string{
			`1:72: mcpServers[0].isolation.mounts[0]: "/srv/keys:/keys" would give the container credentials under the home directory (/home/alice/.ssh) (/srv/keys resolves to /home/alice/.ssh)` + fix}, nil},
		{"data dir", srv(`["~/.mcpproxy/logs"]`), []string{
			`1:72: mcpServers[0].isolation.mounts[0]: "~/.mcpproxy/logs" would give the container mcpproxy's data directory (/home/alice/.mcpproxy): its API key, trust state and sockets` + fix}, nil},
		{"docker socket", srv(`["/var/run/docker.sock:/var/run/docker.sock:rw"]`), []string{
			`1:72: mcpServers[0].isolation.mounts[0]: "/var/run/docker.sock:/var/run/docker.sock:rw" would give the container a container engine's socket (/var/run/docker.sock): control of the host` + fix}, nil},
		{"etc", srv(`["/etc"]`), []string{
			`1:72: mcpServers[0].isolation.mounts[0]: "/etc" would give the container host configuration (/etc)` + fix}, nil},
		{"syntax", srv(`["notes", "/a:/b:x"]`), []string{
			`1:72: mcpServers[0].isolation.mounts[0]: the host path "notes" must be absolute or start with "~/"`,
			`1:81: mcpServers[0].isolation.mounts[1]: the mode must be "ro" or "rw", not "x"; the form is HOST[:CONTAINER][:ro|rw], such as "~/notes:rw", "/data/in" or "/host/x:/in/container:ro"`}, nil},
		{"one target twice", srv(`["/a:/in", "/b:/in:rw"]`), []string{
			`1:82: mcpServers[0].isolation.mounts[1]: /in is mounted already by mcpServers[0].isolation.mounts[0]; mount each container path once`}, nil},
		{"missing host path", srv(`["/srv/missing"]`), nil, []string{
			`1:72: mcpServers[0].isolation.mounts[0]: /srv/missing does not exist on this host; the server will not start until it does`}},
		{"allow_dangerous", `{"mcpServers": [{"name": "a", "command": "x", "isolation": {"allow_dangerous": true, "mounts": ["~/.aws"]}}]}`, nil, []string{
			`1:97: mcpServers[0].isolation.mounts[0]: allowed by "allow_dangerous": true: "~/.aws" would give the container credentials under the home directory (/home/alice/.aws)`}},
		{"kubernetes", `{"docker_isolation": {"backend": "kubernetes"}, "mcpServers": [{"name": "a", "command": "x", "isolation": {"mounts": ["/data"]}}]}`, []string{
			`1:118: mcpServers[0].isolation.mounts: host paths do not exist on cluster nodes; remove them, or set docker_isolation.backend to "docker"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseOn([]byte(tt.in), fakeHost)
			if err == nil && tt.problems != nil {
				t.Fatalf("no problems, want %s", strings.Join(tt.problems, "\n    "))
			}
			if err != nil && !reflect.DeepEqual(problemLines(t, err), tt.problems) {
				got := problemLines(t, err)
				t.Fatalf("problems:\n got %s\nwant %s", strings.Join(got, "\n    "), strings.Join(tt.problems, "\n    "))
			}
			if err != nil {
				return
			}
			var warnings []string
			for _, w := range c.Warnings {
				warnings = append(warnings, w.String())
			}
			if !reflect.DeepEqual(warnings, tt.warnings) {
				t.Fatalf("warnings:\n got %s\nwant %s", strings.Join(warnings, "\n    "), strings.Join(tt.warnings, "\n    "))
			}
		})
	}
}

// cache_volumes defaults to true and can be turned off.
func TestCacheVolumesKey(t *testing.T) {
	c, err := Parse([]byte(`{}`))
	if err != nil || !c.DockerIsolation.CacheVolumes {
		t.Fatalf("default cache_volumes: %v, %v", c.DockerIsolation.CacheVolumes, err)
	}
	c, err = Parse([]byte(`{"docker_isolation": {"cache_volumes": false}}`))
	if err != nil || c.DockerIsolation.CacheVolumes {
		t.Fatalf("cache_volumes false: %v, %v", c.DockerIsolation.CacheVolumes, err)
	}
}
