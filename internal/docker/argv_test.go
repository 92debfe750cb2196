package docker

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var goldenLabels = map[string]string{
	isolation.LabelServer:   "api",
	isolation.LabelManaged:  "true",
	isolation.LabelInstance: "0123abcd",
}

const uvxScript = `bin="${PYTHONUSERBASE:-$HOME/.local}/bin"; PATH="$bin:$PATH"; export PATH; [ -x "$bin/uvx" ] || pip install --quiet --disable-pip-version-check --user uv >&2 || exit 1; exec uvx "$@"`

// hardened is the argv of the hardened profile around the network flag,
// for a container of tmpfs size tmp (/tmp) and home (the home).
func hardened(network string, tmp, home int64) (limits, profile []string) {
	limits = []string{"--pids-limit", "256", "--ulimit", "nofile=8192:8192", "--network", network}
	profile = []string{"--user", "65534:65534", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--init",
		"--tmpfs", "/tmp:size=" + strconv.FormatInt(tmp, 10) + ",mode=1777,exec",
		"--tmpfs", "/home/mcpproxy:size=" + strconv.FormatInt(home, 10) + ",mode=700,exec,uid=65534,gid=65534"}
	return limits, profile
}

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	hLimitsNone, hProfile = hardened("none", 128<<20, 256<<20)
	hLimitsBridge, _      = hardened("bridge", 128<<20, 256<<20)
	_, hProfile64         = hardened("bridge", 16<<20, 32<<20)
	homeEnv               = []string{"-e", "HOME=/home/mcpproxy"}
)

// The argv of plans that Decide makes from configurations.
func TestRunArgsOfDecidedPlans(t *testing.T) {
	tests := []struct {
		name    string
		global  func(*config.DockerIsolation)
		server  config.Server
		cidfile string
		want    []string
	}{
		{
			name:   "python with env, workdir and both extra_args",
			global: func(g *config.DockerIsolation) { g.ExtraArgs = []string{"--cap-drop=ALL"} },
			server: config.Server{
				Name: "api", Command: "python", Args: []string{"-m", "my_server"},
				Env: map[string]string{"DEBUG": "true", "API_KEY": "your-secret-key"},
				Isolation: &config.ServerIsolation{
					Image: "my-custom-python:latest", NetworkMode: "none", WorkingDir: "/app",
					ExtraArgs: []string{"--read-only"},
				},
			},
			cidfile: "/run/cid",
			want: cat([]string{"run", "--cidfile", "/run/cid", "-i", "--name", "mcpproxy-api-ab12",
				"--label", "com.mcpproxy.instance=0123abcd", "--label", "com.mcpproxy.managed=true", "--label", "com.mcpproxy.server=api",
				"--memory", "512m", "--memory-swap", "512m", "--cpus", "1"}, hLimitsNone, hProfile, []string{"-w", "/app"}, homeEnv,
				[]string{"-e", "API_KEY", "-e", "DEBUG",
					"--cap-drop=ALL", "--read-only",
					"my-custom-python:latest", "python", "-m", "my_server"}),
		},
		{
			name:   "npx with defaults, no cidfile",
			server: config.Server{Name: "api", Command: "/usr/local/bin/npx", Args: []string{"-y", "@modelcontextprotocol/server-everything"}},
			want: cat([]string{"run", "-i", "--name", "mcpproxy-api-ab12",
				"--label", "com.mcpproxy.instance=0123abcd", "--label", "com.mcpproxy.managed=true", "--label", "com.mcpproxy.server=api",
				"--memory", "512m", "--memory-swap", "512m", "--cpus", "1"}, hLimitsBridge, hProfile, homeEnv,
				[]string{"node:20", "npx", "-y", "@modelcontextprotocol/server-everything"}),
		},
		{
			name:   "unknown binary keeps its host path, custom image and limits",
			server: config.Server{Name: "api", Command: "/opt/bin/mytool", Args: []string{"serve"}, Isolation: &config.ServerIsolation{Image: "localhost:5000/mytool:1", MemoryLimit: "64m", CPULimit: "0.25"}},
			want: cat([]string{"run", "-i", "--name", "mcpproxy-api-ab12",
				"--label", "com.mcpproxy.instance=0123abcd", "--label", "com.mcpproxy.managed=true", "--label", "com.mcpproxy.server=api",
				"--memory", "64m", "--memory-swap", "64m", "--cpus", "0.25"}, hLimitsBridge, hProfile64, homeEnv,
				[]string{"localhost:5000/mytool:1", "/opt/bin/mytool", "serve"}),
		},
		{
			name:   "uvx on the python image installs uv, args positional",
			server: config.Server{Name: "api", Command: "uvx", Args: []string{"mcp-server-fetch", "'; rm -rf / #"}},
			want: cat([]string{"run", "-i", "--name", "mcpproxy-api-ab12",
				"--label", "com.mcpproxy.instance=0123abcd", "--label", "com.mcpproxy.managed=true", "--label", "com.mcpproxy.server=api",
				"--memory", "512m", "--memory-swap", "512m", "--cpus", "1"}, hLimitsBridge, hProfile, homeEnv,
				[]string{"python:3.11", "sh", "-c", uvxScript, "uvx", "mcp-server-fetch", "'; rm -rf / #"}),
		},
		{
			name:   "uvx on uv's own image runs directly",
			server: config.Server{Name: "api", Command: "uvx", Args: []string{"pkg"}, Isolation: &config.ServerIsolation{Image: "ghcr.io/astral-sh/uv:python3.13-bookworm-slim"}},
			want: cat([]string{"run", "-i", "--name", "mcpproxy-api-ab12",
				"--label", "com.mcpproxy.instance=0123abcd", "--label", "com.mcpproxy.managed=true", "--label", "com.mcpproxy.server=api",
				"--memory", "512m", "--memory-swap", "512m", "--cpus", "1"}, hLimitsBridge, hProfile, homeEnv,
				[]string{"ghcr.io/astral-sh/uv:python3.13-bookworm-slim", "uvx", "pkg"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := config.DefaultDockerIsolation()
			g.Enabled = true
			if tt.global != nil {
				tt.global(&g)
			}
			d := isolation.Decide(g, &tt.server, "")
			if !d.Isolated {
				t.Fatalf("not isolated: %s", d.Reason)
			}
			got, err := RunArgs(d.Plan, RunSpec{Name: isolation.ContainerName(tt.server.Name, "ab12"), CIDFile: tt.cidfile, Labels: goldenLabels})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("argv\n got %q\nwant %q", got, tt.want)
			}
			for _, a := range got {
				if strings.Contains(a, "your-secret-key") {
					t.Fatalf("an env value is in argv: %q", a)
				}
			}
		})
	}
}

// fullPlan sets every typed field of the Plan, so that the golden argv shows
// how each maps to docker flags.
func fullPlan() *isolation.Plan {
	return &isolation.Plan{
		Server: "api", Runtime: "npx", Image: "node:20", WorkingDir: "/work",
		EnvNames: []string{"API_KEY", "DEBUG"}, Command: "npx", Args: []string{"-y", "pkg"},
		Timeout: 30 * time.Second, MemoryBytes: 512 << 20, MilliCPUs: 1500, PidsLimit: 256, NoFile: 4096,
		User: "1000:1000", ReadOnlyRoot: true, CapDrop: []string{"ALL"}, CapAdd: []string{"NET_BIND_SERVICE"},
		NoNewPrivileges: true, Init: true, Home: "/home/mcp", Network: "none",
		Tmpfs: []isolation.Tmpfs{
			{Path: "/tmp", SizeBytes: 64 << 20, Mode: 0o1777},
			{Path: "/home/mcp", SizeBytes: 128 << 20, Mode: 0o700, Owned: true},
		},
		Mounts: []isolation.Mount{
			{Type: isolation.MountBind, Source: "/srv/data", Target: "/data", ReadOnly: true, Reason: "argument"},
			{Type: isolation.MountBind, Source: "/srv/odd,name \"x\"", Target: "/odd", Reason: "isolation.mounts"},
			{Type: isolation.MountVolume, Source: "mcpproxy-cache", Target: "/home/mcp/.npm", Reason: "package cache"},
		},
		Hardened: true, Profile: "hardened", AllowDangerous: false,
		DockerArgs: []string{"--hostname", "box"},
		Notes:      []string{"note: shown in the debug log, not in argv"},
	}
}

// TestRunArgsGolden records the argv of a plan with every field set, with
// and without the shim, in testdata/runargs.golden. Run
// `go test ./internal/docker -run RunArgsGolden -update` after an intended
// change and review the diff.
func TestRunArgsGolden(t *testing.T) {
	var b strings.Builder
	for _, c := range []struct {
		title string
		plan  *isolation.Plan
		spec  RunSpec
	}{
		{"every field, attach", fullPlan(), RunSpec{Name: "mcpproxy-api-ab12", CIDFile: "/run/api.cid", Labels: goldenLabels}},
		{"every field, shim", fullPlan(), RunSpec{Name: "mcpproxy-api-ab12", Labels: goldenLabels, Shim: &Shim{Binary: "/data/run/bin/shim-0123", Socket: "/data/run/io-mcpproxy-api-ab12/stdio.sock"}}},
		{"zero limits leave their flags out", &isolation.Plan{Image: "img:1", Command: "/srv"}, RunSpec{Name: "n"}},
		{"tmpfs owned by a named user has no uid", &isolation.Plan{Image: "img:1", Command: "/srv", User: "mcp",
			Tmpfs: []isolation.Tmpfs{{Path: "/home/mcp", SizeBytes: 1 << 20, Mode: 0o700, Owned: true}}}, RunSpec{Name: "n"}},
	} {
		argv, err := RunArgs(c.plan, c.spec)
		if err != nil {
			t.Fatalf("%s: %v", c.title, err)
		}
		b.WriteString("## " + c.title + "\n")
		for _, a := range argv {
			b.WriteString(strconv.Quote(a) + " ")
		}
		b.WriteString("\n\n")
	}
	path := filepath.Join("testdata", "runargs.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Fatalf("argv differs from %s (run with -update and review the diff):\n%s", path, b.String())
	}
}

func TestRunArgsRefusesInexpressibleTmpfs(t *testing.T) {
	for _, tf := range []isolation.Tmpfs{
		{Path: "/a:b", SizeBytes: 1, Mode: 0o700},
		{Path: "/a,b", SizeBytes: 1, Mode: 0o700},
		{Path: "relative", SizeBytes: 1, Mode: 0o700},
		{Path: "/nosize", Mode: 0o700},
	} {
		if _, err := RunArgs(&isolation.Plan{Image: "i", Command: "c", Tmpfs: []isolation.Tmpfs{tf}}, RunSpec{Name: "n"}); err == nil {
			t.Errorf("tmpfs %+v accepted", tf)
		}
	}
}

func TestShimCompatible(t *testing.T) {
	ok := Shim{Binary: "/run/bin/shim", Socket: "/run/io-x/stdio.sock"}
	tests := []struct {
		name string
		args []string
		shim Shim
		want bool
	}{
		{"plain", nil, ok, true},
		{"own entrypoint", []string{"--entrypoint", "/bin/sh"}, ok, false},
		{"own entrypoint=", []string{"--entrypoint=/bin/sh"}, ok, false},
		{"colon in path", nil, Shim{Binary: "/a:b/shim", Socket: "/io/s.sock"}, false},
		{"comma in path", nil, Shim{Binary: "/shim", Socket: "/i,o/s.sock"}, false},
		{"no binary", nil, Shim{Socket: "/io/s.sock"}, false},
	}
	for _, tt := range tests {
		if got := ShimCompatible(&isolation.Plan{DockerArgs: tt.args}, tt.shim); got != tt.want {
			t.Errorf("%s: ShimCompatible = %v, want %v", tt.name, got, tt.want)
		}
	}
}
