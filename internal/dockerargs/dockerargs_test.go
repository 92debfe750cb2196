package dockerargs

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var testHost = HostPaths{
	Home: "/home/alice",
	Resolve: func(p string) (string, error) {
		switch p {
		case "/srv/rootlink":
			return "/", nil
		case "/srv/sock":
			return "/var/run/docker.sock", nil
		}
		return "", errors.New("no such file")
	},
}

// dangerousCases are, for each row of Table, spellings that must be refused.
// TestEveryRowHasCases checks that no row is left without one.
var dangerousCases = []struct {
	rule string
	args []string
	arg  string // Finding.Arg
}{
	{"--privileged", []string{"--privileged"}, "--privileged"},
	{"--privileged", []string{"--privileged=true"}, "--privileged=true"},
	{"--privileged", []string{"--privileged=1"}, "--privileged=1"},
	{"--privileged", []string{"--privileged=yes"}, "--privileged=yes"}, // docker rejects it; refused anyway
	{"--privileged", []string{"--rm", "--privileged", "false"}, "--privileged"},
	{"--cap-add", []string{"--cap-add", "ALL"}, "--cap-add ALL"},
	{"--cap-add", []string{"--cap-add=ALL"}, "--cap-add=ALL"},
	{"--cap-add", []string{"--cap-add=SYS_ADMIN"}, "--cap-add=SYS_ADMIN"},
	{"--cap-add", []string{"--cap-add"}, "--cap-add"},
	{"--device", []string{"--device", "/dev/sda"}, "--device /dev/sda"},
	{"--device", []string{"--device=/dev/fuse"}, "--device=/dev/fuse"},
	{"--device-cgroup-rule", []string{"--device-cgroup-rule=c 1:3 mr"}, "--device-cgroup-rule=c 1:3 mr"},
	{"--gpus", []string{"--gpus", "all"}, "--gpus all"},
	{"--volumes-from", []string{"--volumes-from", "other"}, "--volumes-from other"},
	{"--volumes-from", []string{"--volumes-from=other:ro"}, "--volumes-from=other:ro"},
	{"--pid=host|container:…", []string{"--pid=host"}, "--pid=host"},
	{"--pid=host|container:…", []string{"--pid", "host"}, "--pid host"},
	{"--pid=host|container:…", []string{"--pid=container:abc"}, "--pid=container:abc"},
	{"--ipc=host|container:…", []string{"--ipc=host"}, "--ipc=host"},
	{"--ipc=host|container:…", []string{"--ipc", "container:db"}, "--ipc container:db"},
	{"--network=host|container:…", []string{"--network=host"}, "--network=host"},
	{"--network=host|container:…", []string{"--network", "host"}, "--network host"},
	{"--network=host|container:…", []string{"--net", "host"}, "--net host"},
	{"--network=host|container:…", []string{"--net=HOST"}, "--net=HOST"},
	{"--network=host|container:…", []string{"--network=container:1a2b"}, "--network=container:1a2b"},
	{"--uts=host", []string{"--uts=host"}, "--uts=host"},
	{"--uts=host", []string{"--uts", "host"}, "--uts host"},
	{"--userns=host", []string{"--userns=host"}, "--userns=host"},
	{"--cgroupns=host", []string{"--cgroupns", "host"}, "--cgroupns host"},
	{"--security-opt seccomp=…", []string{"--security-opt", "seccomp=unconfined"}, "--security-opt seccomp=unconfined"},
	{"--security-opt seccomp=…", []string{"--security-opt=seccomp:unconfined"}, "--security-opt=seccomp:unconfined"},
	{"--security-opt seccomp=…", []string{"--security-opt=seccomp=/etc/permissive.json"}, "--security-opt=seccomp=/etc/permissive.json"},
	{"--security-opt apparmor=…", []string{"--security-opt", "apparmor=unconfined"}, "--security-opt apparmor=unconfined"},
	{"--security-opt apparmor=…", []string{"--security-opt=apparmor:unconfined"}, "--security-opt=apparmor:unconfined"},
	{"--security-opt label=disable", []string{"--security-opt", "label=disable"}, "--security-opt label=disable"},
	{"--security-opt label=disable", []string{"--security-opt=label:disable"}, "--security-opt=label:disable"},
	{"--security-opt systempaths=unconfined", []string{"--security-opt", "systempaths=unconfined"}, "--security-opt systempaths=unconfined"},
	{"-v/--volume HOST:…", []string{"-v/:/h"}, "-v/:/h"},
	{"-v/--volume HOST:…", []string{"-v=/:/h"}, "-v=/:/h"},
	{"-v/--volume HOST:…", []string{"-v", "/:/h"}, "-v /:/h"},
	{"-v/--volume HOST:…", []string{"--volume", "/etc:/x:ro"}, "--volume /etc:/x:ro"},
	{"-v/--volume HOST:…", []string{"--volume=/etc/shadow:/s"}, "--volume=/etc/shadow:/s"},
	{"-v/--volume HOST:…", []string{"-itv/:/h"}, "-itv/:/h"},
	{"-v/--volume HOST:…", []string{"-iv", "/proc:/p"}, "-iv /proc:/p"},
	{"-v/--volume HOST:…", []string{"-v", "/sys/fs/cgroup:/c"}, "-v /sys/fs/cgroup:/c"},
	{"-v/--volume HOST:…", []string{"-v", "/dev:/dev"}, "-v /dev:/dev"},
	{"-v/--volume HOST:…", []string{"-v", "/var/run/docker.sock:/var/run/docker.sock"}, "-v /var/run/docker.sock:/var/run/docker.sock"},
	{"-v/--volume HOST:…", []string{"-v", "/run/docker.sock:/d.sock"}, "-v /run/docker.sock:/d.sock"},
	{"-v/--volume HOST:…", []string{"-v", "/opt/x/rootless-docker.sock:/d.sock"}, "-v /opt/x/rootless-docker.sock:/d.sock"},
	{"-v/--volume HOST:…", []string{"-v", "/var:/v"}, "-v /var:/v"}, // holds /var/run and /var/lib/docker
	{"-v/--volume HOST:…", []string{"-v", "/home/alice:/h"}, "-v /home/alice:/h"},
	{"-v/--volume HOST:…", []string{"-v", "/home/alice/:/h"}, "-v /home/alice/:/h"},
	{"-v/--volume HOST:…", []string{"-v", "/home:/h"}, "-v /home:/h"},
	{"-v/--volume HOST:…", []string{"-v", "/home/bob:/h"}, "-v /home/bob:/h"},
	{"-v/--volume HOST:…", []string{"-v", "/home/alice/.ssh:/k:ro"}, "-v /home/alice/.ssh:/k:ro"},
	{"-v/--volume HOST:…", []string{"-v", "/home/bob/.aws/credentials:/c"}, "-v /home/bob/.aws/credentials:/c"},
	{"-v/--volume HOST:…", []string{"-v", "/home/alice/.mcpproxy:/d"}, "-v /home/alice/.mcpproxy:/d"},
	{"-v/--volume HOST:…", []string{"-v", "/etc/../:/h"}, "-v /etc/../:/h"},
	{"-v/--volume HOST:…", []string{"-v", "//:/h"}, "-v //:/h"},
	{"-v/--volume HOST:…", []string{"-v", "/srv/rootlink:/h"}, "-v /srv/rootlink:/h"},
	{"-v/--volume HOST:…", []string{"-v", "/srv/sock:/d.sock"}, "-v /srv/sock:/d.sock"},
	{"-v/--volume HOST:…", []string{"-v", "/tmp:/tmp"}, "-v /tmp:/tmp"},
	{"-v/--volume HOST:…", []string{"-v", "/root:/r"}, "-v /root:/r"},
	{"--mount src=HOST,…", []string{"--mount", "type=bind,src=/,dst=/h"}, "--mount type=bind,src=/,dst=/h"},
	{"--mount src=HOST,…", []string{"--mount=type=bind,source=/etc,target=/e,readonly"}, "--mount=type=bind,source=/etc,target=/e,readonly"},
	{"--mount src=HOST,…", []string{"--mount", "source=/,target=/h"}, "--mount source=/,target=/h"},
	{"--mount src=HOST,…", []string{"--mount", "target=/h,SRC=/var/run/docker.sock"}, "--mount target=/h,SRC=/var/run/docker.sock"},
	{"--mount src=HOST,…", []string{"--mount", `"type=bind","src=/"`, "x"}, `--mount "type=bind","src=/"`},
	{"--mount src=HOST,…", []string{"--mount", "type=volume,dst=/h,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/"}, "--mount type=volume,dst=/h,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/"},
	// The docker CLI makes a bind source that starts with "." absolute
	// against its own working directory (mcpproxy's: often the home
	// directory, or a folder a few levels under /): "-v ..:/h" from
	// /tmp/x/y binds /. Measured with docker 28.2: "-v .hid:/h" binds
	// $PWD/.hid, "--mount type=bind,src=..,dst=/h" binds the parent.
	{"-v/--volume HOST:…", []string{"-v", "..:/h"}, "-v ..:/h"},
	{"-v/--volume HOST:…", []string{"-v", "../../../..:/h"}, "-v ../../../..:/h"},
	{"-v/--volume HOST:…", []string{"-v=.:/h"}, "-v=.:/h"},
	{"-v/--volume HOST:…", []string{"--volume", "./.ssh:/k:ro"}, "--volume ./.ssh:/k:ro"},
	{"-v/--volume HOST:…", []string{"-v", ".hid:/h"}, "-v .hid:/h"},
	{"--mount src=HOST,…", []string{"--mount", "type=bind,src=..,dst=/h"}, "--mount type=bind,src=..,dst=/h"},
	{"--mount src=HOST,…", []string{"--mount=type=bind,source=./,target=/h"}, "--mount=type=bind,source=./,target=/h"},
	// --env-file is read by the docker CLI on the host, as mcpproxy's
	// user, and its lines become the container's environment: a host file
	// the server reads (measured: a 0600 file's KEY=VALUE reached getenv).
	{"--env-file HOST", []string{"--env-file", "/proc/self/environ"}, "--env-file /proc/self/environ"},
	{"--env-file HOST", []string{"--env-file=/home/alice/.aws/env"}, "--env-file=/home/alice/.aws/env"},
	{"--env-file HOST", []string{"--env-file", "../../secrets.env"}, "--env-file ../../secrets.env"},
	{"--env-file HOST", []string{"--env-file", "secrets.env"}, "--env-file secrets.env"},
	{"--env-file HOST", []string{"--env-file", "/srv/rootlink"}, "--env-file /srv/rootlink"},
	// --cidfile makes the docker CLI write a file on the host (and it
	// takes the place of mcpproxy's own container-ID file: measured, the
	// start then timed out and every restart failed on the file left).
	{"--cidfile", []string{"--cidfile", "/home/alice/.bashrc.d/x"}, "--cidfile /home/alice/.bashrc.d/x"},
	{"--cidfile", []string{"--cidfile=/tmp/x.cid"}, "--cidfile=/tmp/x.cid"},
}

func TestDangerous(t *testing.T) {
	for _, tc := range dangerousCases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got := Check(tc.args, testHost)
			if len(got) != 1 {
				t.Fatalf("Check(%q) = %+v, want one finding of rule %q", tc.args, got, tc.rule)
			}
			f := got[0]
			if f.Rule != tc.rule || f.Arg != tc.arg || f.Why == "" {
				t.Errorf("Check(%q) = %+v, want rule %q arg %q", tc.args, f, tc.rule, tc.arg)
			}
		})
	}
}

func TestEveryRowHasCases(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range dangerousCases {
		covered[tc.rule] = true
	}
	for _, r := range Table {
		if !covered[r.Name] {
			t.Errorf("table row %q has no test case", r.Name)
		}
	}
}

func TestSafe(t *testing.T) {
	safe := [][]string{
		{"--cap-drop=ALL"},
		{"--cap-drop", "NET_RAW"},
		{"--privileged=false"},
		{"--privileged=0"},
		{"--network=none"},
		{"--network", "bridge"},
		{"--net=mynet"},
		{"--pid=private"},
		{"--ipc=shareable"},
		{"--ipc", "private"},
		{"--security-opt", "no-new-privileges"},
		{"--security-opt=apparmor=docker-default"},
		{"--security-opt", "label=type:svirt_apache_t"},
		{"-v", "/home/alice/projects:/data:ro"},
		{"-v", "/home/alice/projects/site:/site"},
		{"-v", "/srv/data:/data"},
		{"-v", "/tmp/work:/w"},
		{"-v", "cache:/root/.cache"},
		{"-v", "/data"}, // anonymous volume at /data
		{"--volume=myvol:/x"},
		{"--mount", "type=volume,src=npm-cache,dst=/root/.npm"},
		{"--mount", "type=tmpfs,dst=/scratch,tmpfs-size=64m"},
		{"--mount", "type=bind,src=/srv/data,dst=/data,readonly"},
		{"--tmpfs", "/run:size=64m"},
		{"-e", "FOO=/"},
		{"--env=HOST=1"},
		{"--read-only", "--init", "-i", "-t", "-it"},
		{"--user", "1000:1000"},
		{"--some-future-flag", "value", "--another=x"},
		{"--label", "com.example=host"},
		{"-w", "/app"},
		{"--hostname", "host"},
		{"-h", "host"},
		{"--add-host", "db:127.0.0.1"},
		{"--env-file", "/srv/mcp/server.env"},
		{"-v", "npm.cache:/c"}, // a volume name: letters first
	}
	for _, args := range safe {
		if got := Check(args, testHost); len(got) != 0 {
			t.Errorf("Check(%q) = %+v, want nothing", args, got)
		}
	}
}

// TestConservative pins the cases where, to stay safe, Check reports an
// argument docker would have read as a value or a word.
func TestConservative(t *testing.T) {
	for _, args := range [][]string{
		{"-e", "--privileged"},
		{"--unknown-value-flag", "--cap-add=ALL"},
		{"--", "--privileged"},
	} {
		if got := Check(args, testHost); len(got) != 1 || got[0].Index != 1 {
			t.Errorf("Check(%q) = %+v, want the second argument reported", args, got)
		}
	}
}

func TestFindingIndexes(t *testing.T) {
	args := []string{"--rm", "--cap-add", "NET_ADMIN", "-v", "/srv:/srv", "--privileged", "-v/:/h"}
	var got []int
	for _, f := range Check(args, testHost) {
		got = append(got, f.Index)
	}
	if want := []int{1, 5, 6}; !reflect.DeepEqual(got, want) {
		t.Errorf("indexes = %v, want %v", got, want)
	}
}

func TestCheckNetworkMode(t *testing.T) {
	for mode, bad := range map[string]bool{
		"host": true, "Host": true, "container:abc": true, "container:my-db": true,
		"bridge": false, "none": false, "default": false, "mynet": false, "hostnet": false,
	} {
		if got := CheckNetworkMode(mode) != ""; got != bad {
			t.Errorf("CheckNetworkMode(%q) dangerous = %v, want %v", mode, got, bad)
		}
	}
}

func TestWeakening(t *testing.T) {
	tests := []struct {
		args []string
		want []string // Finding.Arg
	}{
		{[]string{"--user", "0"}, []string{"--user 0"}},
		{[]string{"-u0"}, []string{"-u0"}},
		{[]string{"--read-only=false", "--init=false"}, []string{"--read-only=false", "--init=false"}},
		{[]string{"--read-only", "--init", "--rm"}, nil},
		{[]string{"--pids-limit", "-1", "--ulimit", "nofile=1000000:1000000"}, []string{"--pids-limit -1", "--ulimit nofile=1000000:1000000"}},
		{[]string{"--security-opt", "no-new-privileges=false"}, []string{"--security-opt no-new-privileges=false"}},
		{[]string{"--security-opt=no-new-privileges:false"}, []string{"--security-opt=no-new-privileges:false"}},
		{[]string{"--security-opt", "no-new-privileges"}, nil},
		{[]string{"--cap-drop=ALL", "--network", "none"}, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, f := range Weakening(tt.args) {
			got = append(got, f.Arg)
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Weakening(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// CheckHostPath judges a path on its own (the mounts of a server's
// isolation block and the host paths of its args use it), the data dir
// included.
func TestCheckHostPath(t *testing.T) {
	hp := HostPaths{
		Home:    "/home/alice",
		DataDir: "/srv/mcpproxy-data",
		Resolve: func(p string) (string, error) {
			switch p {
			case "/srv/notes/keys":
				return "/home/alice/.ssh", nil
			case "/srv/state":
				return "/srv/mcpproxy-data/run", nil
			}
			return p, nil
		},
	}
	tests := []struct {
		path string
		want string // a word of the reason; "" for safe
	}{
		{"/", "whole filesystem"},
		{"/home/alice", "home directory"},
		{"/home", "holding a home directory"},
		{"/home/alice/.ssh", ".ssh"},
		{"/home/alice/.ssh/id_ed25519", ".ssh"},
		{"/home/alice/.aws", ".aws"},
		{"/home/alice/.gnupg", ".gnupg"},
		{"/home/alice/.docker", ".docker"},
		{"/home/alice/.kube", ".kube"},
		{"/home/alice/.config/gcloud", ".config"},
		{"/etc", "/etc"},
		{"/proc", "/proc"},
		{"/sys", "/sys"},
		{"/dev", "/dev"},
		{"/var/run", "/var/run"},
		{"/var", "holding"},
		{"/run/user/1000/docker.sock", "socket"},
		{"/srv/podman.sock", "socket"},
		{"/srv/mcpproxy-data", "data directory"},
		{"/srv/mcpproxy-data/logs", "data directory"},
		{"/srv", "holding mcpproxy's data directory"},
		{"/srv/notes/keys", "resolves to /home/alice/.ssh"},
		{"/srv/state", "resolves to /srv/mcpproxy-data/run"},
		{"/home/alice/notes", ""},
		{"/home/alice/src/project", ""},
		{"/data/in", ""},
		{"/srv/notes", ""},
		{"relative/path", ""},
	}
	for _, tt := range tests {
		got := CheckHostPath(tt.path, hp)
		switch {
		case tt.want == "" && got != "":
			t.Errorf("CheckHostPath(%q) = %q, want safe", tt.path, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("CheckHostPath(%q) = %q, want a reason with %q", tt.path, got, tt.want)
		}
	}
}

// On a case-insensitive host filesystem (macOS, Windows: FoldCase) a path
// names the same folder however it is cased, so the denylist must match it
// in any case: "/Users/Alice/.SSH" is ~/.ssh there. macOS keeps /etc and
// /var/run under /private.
func TestCheckHostPathFoldsCase(t *testing.T) {
	hp := HostPaths{Home: "/Users/alice", DataDir: "/Users/alice/.mcpproxy", FoldCase: true}
	for _, p := range []string{
		"/Users/alice/.SSH", "/users/alice/.ssh/id_ed25519", "/USERS/ALICE", "/Users/Alice/.Aws/credentials",
		"/Users/bob/.Kube", "/ETC", "/Etc/passwd", "/VAR/RUN/docker.sock", "/var/run/Docker.Sock",
		"/private/etc", "/PRIVATE/ETC/sudoers", "/private/var/run", "/Users/alice/.McpProxy", "/USERS",
	} {
		if why := CheckHostPath(p, hp); why == "" {
			t.Errorf("CheckHostPath(%q) with FoldCase = safe, want refused", p)
		}
	}
	for _, p := range []string{"/Users/alice/Projects", "/Users/alice/Documents/Notes", "/Volumes/Data"} {
		if why := CheckHostPath(p, hp); why != "" {
			t.Errorf("CheckHostPath(%q) with FoldCase = %q, want safe", p, why)
		}
	}
	// A case-sensitive host (Linux) keeps the exact names: /home/alice/.SSH
	// is not ~/.ssh there.
	if why := CheckHostPath("/home/alice/.SSH", HostPaths{Home: "/home/alice"}); why != "" {
		t.Errorf("case-sensitive: /home/alice/.SSH = %q, want safe", why)
	}
}

// An SSH agent's socket lets whoever can connect to it sign with the
// user's keys, and a read-only bind does not stop connect(2): measured, a
// container running as the socket owner's uid (the hardened profile's
// user for a non-root proxy) listed the agent's keys through a read-only
// bind of /tmp/ssh-XXXX. The agent's socket ($SSH_AUTH_SOCK, HostPaths.
// Sockets), OpenSSH's /tmp/ssh-* folders and macOS's launchd socket folders,
// and any folder holding one, are refused.
func TestCheckHostPathAgentSockets(t *testing.T) {
	hp := HostPaths{Home: "/home/alice", Sockets: []string{"/srv/agents/alice.sock"}}
	for _, p := range []string{
		"/tmp/ssh-Texddm8DGj59", "/tmp/ssh-Texddm8DGj59/agent.23942", "/srv/agents/alice.sock", "/srv/agents", "/srv",
		"/private/tmp/com.apple.launchd.Ab12Cd/Listeners",
	} {
		if why := CheckHostPath(p, hp); why == "" {
			t.Errorf("CheckHostPath(%q) = safe, want refused", p)
		}
	}
	for _, p := range []string{"/tmp/sshfs-mount", "/srv/agents2", "/tmp/work/ssh-notes"} {
		if why := CheckHostPath(p, hp); why != "" {
			t.Errorf("CheckHostPath(%q) = %q, want safe", p, why)
		}
	}
	if got := Check([]string{"-v", "/tmp/ssh-abc:/a"}, hp); len(got) != 1 {
		t.Errorf("extra_args bind of an agent folder: %+v", got)
	}
	// An engine's socket named by DOCKER_HOST in a folder of its own: the
	// folder is refused as holding it, though its name says nothing.
	hp.Sockets = []string{"/opt/engine/run/docker.sock"}
	for _, p := range []string{"/opt/engine/run", "/opt/engine", "/opt/engine/run/docker.sock"} {
		if why := CheckHostPath(p, hp); !strings.Contains(why, "container engine's socket") {
			t.Errorf("CheckHostPath(%q) = %q, want the engine's socket named", p, why)
		}
	}
	if why := CheckHostPath("/opt/engine2", hp); why != "" {
		t.Errorf("CheckHostPath(/opt/engine2) = %q, want safe", why)
	}
}

// Credential stores beyond ssh and the clouds' (Azure, Vault, Terraform,
// pass, the desktop keyring, git's credential cache socket, package
// registries' tokens) and the sockets of desktop container engines under
// the home are refused, and so are folders holding them.
func TestCheckHostPathMoreHomeSecrets(t *testing.T) {
	hp := HostPaths{Home: "/home/alice"}
	for _, p := range []string{
		"/home/alice/.azure", "/home/alice/.vault-token", "/home/alice/.terraform.d/credentials.tfrc.json",
		"/home/alice/.password-store", "/home/alice/.local/share/keyrings", "/home/alice/.cache/git/credential",
		"/home/alice/.cargo/credentials.toml", "/home/alice/.pgpass", "/home/alice/.colima/default",
		"/home/alice/.orbstack/run", "/home/alice/.rd/docker.sock",
	} {
		if why := CheckHostPath(p, hp); !strings.Contains(why, "credentials under the home directory") && !strings.Contains(why, "socket") {
			t.Errorf("CheckHostPath(%q) = %q, want refused as credentials", p, why)
		}
	}
	for _, p := range []string{"/home/alice/projects/site", "/home/alice/.cache/npm", "/home/alice/.cargo/registry"} {
		if why := CheckHostPath(p, hp); why != "" {
			t.Errorf("CheckHostPath(%q) = %q, want safe", p, why)
		}
	}
}

// Mounts reads the flags as docker does: a combined short flag mounts too,
// and a value that merely looks like a mount flag's name does not count.
func TestMounts(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"-v", "/data:/data"}, true},
		{[]string{"--volume=/data:/data"}, true},
		{[]string{"--mount", "type=bind,src=/x,dst=/x"}, true},
		{[]string{"-v/x:/x"}, true},
		{[]string{"-itv", "/x:/x"}, true},
		{[]string{"--memory", "64m", "--cap-add", "NET_ADMIN"}, false},
		{[]string{"--volumes-from", "other"}, false},
		{[]string{"-e", "VOLUME=1"}, false},
	} {
		if got := Mounts(tc.args); got != tc.want {
			t.Errorf("Mounts(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
