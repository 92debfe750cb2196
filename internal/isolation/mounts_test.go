package isolation

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

// fakeHost is a host whose disk is a map: path → is a directory. Symlinks
// are in links (path → target).
func fakeHost(paths map[string]bool, links map[string]string) Host {
	resolve := func(p string) (string, error) {
		for link, target := range links {
			if p == link {
				return target, nil
			}
			if strings.HasPrefix(p, link+"/") {
				return target + p[len(link):], nil
			}
		}
		if _, ok := paths[p]; ok {
			return p, nil
		}
		return "", &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
	}
	return Host{
		Home: "/home/alice", DataDir: "/home/alice/.mcpproxy", DataDirID: "d1", HostID: "h1",
		Resolve: resolve,
		Stat: func(p string) (bool, error) {
			r, err := resolve(p)
			if err != nil {
				return false, err
			}
			isDir, ok := paths[r]
			if !ok {
				return false, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
			}
			return isDir, nil
		},
	}
}

var disk = map[string]bool{
	"/home/alice":                  true,
	"/home/alice/notes":            true,
	"/home/alice/notes/today.md":   false,
	"/home/alice/.ssh":             true,
	"/home/alice/.aws":             true,
	"/home/alice/.mcpproxy":        true,
	"/home/alice/projects/srv":     true,
	"/home/alice/projects/srv/app": true,
	"/data/in":                     true,
	"/data/out":                    true,
	"/srv/real":                    true,
	"/etc":                         true,
	"/etc/hosts":                   false,
	"/dev/null":                    false,
	"/":                            true,
}

var diskLinks = map[string]string{
	"/home/alice/sshlink": "/home/alice/.ssh",
	"/data/link":          "/srv/real",
}

func TestMounts(t *testing.T) {
	h := fakeHost(disk, diskLinks)
	tests := []struct {
		name       string
		server     config.Server
		mounts     []Mount
		args       []string
		workingDir string
		notes      []string
		err        string
	}{
		{"a folder in args", config.Server{Command: "node", Args: []string{"/srv/fs.js", "/data/in"}},
			[]Mount{{MountBind, "/data/in", "/data/in", true, "args[1]", ""}}, []string{"/srv/fs.js", "/data/in"}, "", nil, ""},
		{"~ expanded and rewritten; a file", config.Server{Command: "npx", Args: []string{"-y", "pkg", "~/notes/today.md"}},
			[]Mount{{MountBind, "/home/alice/notes/today.md", "/home/alice/notes/today.md", true, "args[2]", ""}},
			[]string{"-y", "pkg", "/home/alice/notes/today.md"}, "",
			[]string{`args[2] "~/notes/today.md" is "/home/alice/notes/today.md" in the container`}, ""},
		{"--flag=/path", config.Server{Command: "x", Args: []string{"--root=/data/in", "--url=https://example.com/a"}},
			[]Mount{{MountBind, "/data/in", "/data/in", true, "args[0]", ""}}, []string{"--root=/data/in", "--url=https://example.com/a"}, "", nil, ""},
		{"missing paths are not mounted", config.Server{Command: "x", Args: []string{"/nope", "~/nope"}},
			nil, []string{"/nope", "~/nope"}, "", nil, ""},
		{"symlink: the target is bound at the written path", config.Server{Command: "x", Args: []string{"/data/link"}},
			[]Mount{{MountBind, "/srv/real", "/data/link", true, "args[0]", ""}}, []string{"/data/link"}, "", nil, ""},
		{"dangerous args are skipped with a note", config.Server{Command: "x", Args: []string{"/home/alice/.ssh", "/home/alice/sshlink", "~", "/", "/etc/hosts", "/dev/null", "/home/alice/.mcpproxy"}},
			nil, []string{"/home/alice/.ssh", "/home/alice/sshlink", "~", "/", "/etc/hosts", "/dev/null", "/home/alice/.mcpproxy"}, "",
			[]string{
				"not mounted: /home/alice/.ssh (args[0]) would give the container credentials under the home directory (/home/alice/.ssh); if the server needs it, list it in isolation.mounts with \"allow_dangerous\": true",
				"not mounted: /home/alice/sshlink (args[1]) would give the container credentials under the home directory (/home/alice/.ssh) (/home/alice/sshlink resolves to /home/alice/.ssh); if the server needs it, list it in isolation.mounts with \"allow_dangerous\": true",
				"not mounted: /home/alice (args[2]) would give the container a home directory (/home/alice); if the server needs it, list it in isolation.mounts with \"allow_dangerous\": true",
				"not mounted: / (args[3]) would give the container the host's whole filesystem; if the server needs it, list it in isolation.mounts with \"allow_dangerous\": true",
				"not mounted: /etc/hosts (args[4]) would give the container host configuration (/etc); if the server needs it, list it in isolation.mounts with \"allow_dangerous\": true",
				"not mounted: /home/alice/.mcpproxy (args[6]) would give the container mcpproxy's data directory (/home/alice/.mcpproxy): its API key, trust state and sockets; if the server needs it, list it in isolation.mounts with \"allow_dangerous\": true",
			}, ""},
		{"working_dir mounted and used", config.Server{Command: "python", Args: []string{"server.py"}, WorkingDir: "/home/alice/projects/srv"},
			[]Mount{{MountBind, "/home/alice/projects/srv", "/home/alice/projects/srv", true, "working_dir", ""}}, []string{"server.py"}, "/home/alice/projects/srv",
			[]string{"working directory /home/alice/projects/srv: the server's working_dir"}, ""},
		{"isolation.working_dir wins", config.Server{Command: "python", WorkingDir: "/data/in", Isolation: &config.ServerIsolation{WorkingDir: "/app"}},
			[]Mount{{MountBind, "/data/in", "/data/in", true, "working_dir", ""}}, nil, "/app", nil, ""},
		{"a working_dir of the home is not mounted", config.Server{Command: "x", WorkingDir: "~"},
			nil, nil, "", []string{"not mounted: /home/alice (working_dir) would give the container a home directory (/home/alice); if the server needs it, list it in isolation.mounts with \"allow_dangerous\": true"}, ""},
		{"a path inside an earlier mount is not mounted twice; a parent replaces a child", config.Server{Command: "x", Args: []string{"/home/alice/projects/srv/app", "/home/alice/projects/srv", "/home/alice/projects/srv/app"}},
			[]Mount{{MountBind, "/home/alice/projects/srv", "/home/alice/projects/srv", true, "args[1]", ""}}, []string{"/home/alice/projects/srv/app", "/home/alice/projects/srv", "/home/alice/projects/srv/app"}, "", nil, ""},
		{"explicit mounts", config.Server{Command: "x", Args: []string{"~/notes"}, Isolation: &config.ServerIsolation{Mounts: []string{"~/notes:rw", "/data/in", "/data/link:/in/container:ro"}}},
			[]Mount{
				{MountBind, "/home/alice/notes", "/home/alice/notes", false, "isolation.mounts[0]", ""},
				{MountBind, "/data/in", "/data/in", true, "isolation.mounts[1]", ""},
				{MountBind, "/srv/real", "/in/container", true, "isolation.mounts[2]", ""},
			}, []string{"/home/alice/notes"}, "", []string{`args[0] "~/notes" is "/home/alice/notes" in the container`}, ""},
		{"explicit ~/.ssh refused", config.Server{Command: "x", Isolation: &config.ServerIsolation{Mounts: []string{"/data/in", "~/.ssh"}}},
			nil, nil, "", nil, `isolation.mounts[1] "~/.ssh": refused: it would give the container credentials under the home directory (/home/alice/.ssh); remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand`},
		{"explicit symlink into ~/.ssh refused", config.Server{Command: "x", Isolation: &config.ServerIsolation{Mounts: []string{"~/sshlink:/keys"}}},
			nil, nil, "", nil, `isolation.mounts[0] "~/sshlink:/keys": refused: it would give the container credentials under the home directory (/home/alice/.ssh) (/home/alice/sshlink resolves to /home/alice/.ssh)`},
		{"explicit / refused", config.Server{Command: "x", Isolation: &config.ServerIsolation{Mounts: []string{"/:/host"}}},
			nil, nil, "", nil, `isolation.mounts[0] "/:/host": refused: it would give the container the host's whole filesystem`},
		{"explicit missing path", config.Server{Command: "x", Isolation: &config.ServerIsolation{Mounts: []string{"/data/gone:rw"}}},
			nil, nil, "", nil, `isolation.mounts[0] "/data/gone:rw": /data/gone does not exist on this host; create it or remove the entry`},
		{"allow_dangerous", config.Server{Command: "x", Args: []string{"~/.aws"}, Isolation: &config.ServerIsolation{AllowDangerous: true, Mounts: []string{"~/.ssh"}}},
			[]Mount{
				{MountBind, "/home/alice/.ssh", "/home/alice/.ssh", true, "isolation.mounts[0]", ""},
				{MountBind, "/home/alice/.aws", "/home/alice/.aws", true, "args[0]", ""},
			}, []string{"/home/alice/.aws"}, "", []string{
				"allow_dangerous: true (per server): this server's extra_args, network_mode and mounts may give the container host access",
				"mount /home/alice/.ssh: allowed by allow_dangerous: it gives the container credentials under the home directory (/home/alice/.ssh)",
				"mount /home/alice/.aws (args[0]): allowed by allow_dangerous: it gives the container credentials under the home directory (/home/alice/.aws)",
				`args[0] "~/.aws" is "/home/alice/.aws" in the container`,
			}, ""},
		{"uvx setup script: the server's args are rewritten", config.Server{Command: "uvx", Args: []string{"tool", "~/notes"}},
			[]Mount{{MountBind, "/home/alice/notes", "/home/alice/notes", true, "args[1]", ""}},
			[]string{"-c", uvxSetupScript, "uvx", "tool", "/home/alice/notes"}, "", []string{`args[1] "~/notes" is "/home/alice/notes" in the container`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.server
			s.Name = "srv"
			g := globalOn()
			g.CacheVolumes = false
			d := h.Decide(g, &s, "")
			if !d.Isolated || d.Plan == nil {
				t.Fatalf("not isolated: %s", d.Reason)
			}
			if tt.err != "" {
				var me *MountError
				if !errors.As(d.Err, &me) || !strings.Contains(d.Err.Error(), tt.err) {
					t.Fatalf("Err = %v, want a *MountError with %q", d.Err, tt.err)
				}
				return
			}
			if d.Err != nil {
				t.Fatal(d.Err)
			}
			p := d.Plan
			if !reflect.DeepEqual(p.Mounts, tt.mounts) {
				t.Errorf("mounts:\n got %+v\nwant %+v", p.Mounts, tt.mounts)
			}
			if !reflect.DeepEqual(p.Args, tt.args) {
				t.Errorf("args %q, want %q", p.Args, tt.args)
			}
			if p.WorkingDir != tt.workingDir {
				t.Errorf("working dir %q, want %q", p.WorkingDir, tt.workingDir)
			}
			if !reflect.DeepEqual(p.Notes, tt.notes) {
				t.Errorf("notes:\n got %q\nwant %q", p.Notes, tt.notes)
			}
		})
	}
}

// The host never changes whether a server is isolated, only its mounts;
// without a host nothing is mounted automatically.
func TestHostDoesNotChangeTheDecision(t *testing.T) {
	h := fakeHost(disk, diskLinks)
	for _, s := range []config.Server{
		{Name: "a", Command: "node", Args: []string{"/data/in"}},
		{Name: "b", Command: "docker", Args: []string{"run", "/data/in"}},
		{Name: "c", URL: "http://127.0.0.1:1/mcp"},
		{Name: "d", Command: "x", Isolation: &config.ServerIsolation{Enabled: ptr(false)}},
	} {
		for _, g := range []config.DockerIsolation{globalOn(), globalOff()} {
			with, without := h.Decide(g, &s, ""), Decide(g, &s, "")
			if with.Isolated != without.Isolated || with.Reason != without.Reason || with.IgnoredOptIn != without.IgnoredOptIn {
				t.Errorf("%s: with a host %+v, without %+v", s.Name, with, without)
			}
			if without.Plan != nil && len(without.Plan.Mounts) != 0 {
				t.Errorf("%s: mounts without a host: %+v", s.Name, without.Plan.Mounts)
			}
		}
	}
}

// The kubernetes backend mounts nothing of the host, and says so for each
// host path of the args and working_dir (paths the host does not have are
// the image's business).
func TestNoHostMountsOnKubernetes(t *testing.T) {
	h := fakeHost(disk, diskLinks)
	g := globalOn()
	g.Backend = config.BackendKubernetes
	d := h.Decide(g, &config.Server{Name: "k", Command: "node", Args: []string{"/data/in", "--root=/opt/in-image-only"}, WorkingDir: "/data/out"}, "")
	if d.Err != nil || len(d.Plan.Mounts) != 0 || d.Plan.WorkingDir != "" {
		t.Fatalf("kubernetes plan: err %v, mounts %+v, working dir %q", d.Err, d.Plan.Mounts, d.Plan.WorkingDir)
	}
	var notes []string
	for _, n := range d.Plan.Notes {
		if strings.HasPrefix(n, NoteNotMounted) {
			notes = append(notes, n)
		}
	}
	if len(notes) != 2 || !strings.HasPrefix(notes[0], NoteNotMounted+"/data/in (args[0]): the kubernetes backend mounts no host path") ||
		!strings.HasPrefix(notes[1], NoteNotMounted+"/data/out (working_dir)") {
		t.Errorf("notes = %q", notes)
	}
}

func TestHostPathIn(t *testing.T) {
	tests := []struct {
		arg, prefix, path string
		ok                bool
	}{
		{"/data", "", "/data", true},
		{"~/x", "", "~/x", true},
		{"~", "", "~", true},
		{"--root=/data", "--root=", "/data", true},
		{"DB=~/db.sqlite", "DB=", "~/db.sqlite", true},
		{"-y", "", "", false},
		{"https://example.com/x", "", "", false},
		{"--url=https://example.com/x", "", "", false},
		{"//network/share", "", "", false},
		{"relative/dir", "", "", false},
		{"a/b=/c", "", "", false},
	}
	for _, tt := range tests {
		prefix, p, ok := hostPathIn(tt.arg)
		if prefix != tt.prefix || p != tt.path || ok != tt.ok {
			t.Errorf("hostPathIn(%q) = %q, %q, %v; want %q, %q, %v", tt.arg, prefix, p, ok, tt.prefix, tt.path, tt.ok)
		}
	}
}

// A config file kept outside the data dir (--config) holds every server's
// env and header values and the API key: it, and every folder holding it,
// is never mounted — automatically or by isolation.mounts (measured: a
// server whose args named the config's folder read another server's token
// and the API key from it, running as the file owner's uid, which the
// hardened profile uses for a non-root proxy).
func TestConfigFileNeverMounted(t *testing.T) {
	d2 := map[string]bool{"/srv/mcp": true, "/srv/mcp/config.json": false, "/srv": true, "/data/in": true}
	for k, v := range disk {
		d2[k] = v
	}
	h := fakeHost(d2, diskLinks)
	h.ConfigPath = "/srv/mcp/config.json"
	g := globalOn()
	g.CacheVolumes = false
	s := config.Server{Name: "srv", Command: "x", Args: []string{"/srv/mcp", "/srv/mcp/config.json", "/srv", "/data/in"}}
	d := h.Decide(g, &s, "")
	if d.Err != nil || d.Plan == nil {
		t.Fatalf("decide: %v", d.Err)
	}
	for _, m := range d.Plan.Mounts {
		if m.Source != "/data/in" {
			t.Errorf("mounted %s (%s)", m.Source, m.Reason)
		}
	}
	if n := strings.Count(strings.Join(d.Plan.Notes, "\n"), "config file"); n != 3 {
		t.Errorf("notes name the config file %d times, want 3:\n%s", n, strings.Join(d.Plan.Notes, "\n"))
	}
	s = config.Server{Name: "srv", Command: "x", Isolation: &config.ServerIsolation{Mounts: []string{"/srv/mcp:rw"}}}
	if d := h.Decide(g, &s, ""); d.Err == nil || !strings.Contains(d.Err.Error(), "config file") {
		t.Errorf("isolation.mounts of the config's folder: %v, want refused", d.Err)
	}
}
