package isolation

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

func ptr[T any](v T) *T { return &v }

func globalOn() config.DockerIsolation {
	g := config.DefaultDockerIsolation()
	g.Enabled = true
	return g
}

func globalOff() config.DockerIsolation { return config.DefaultDockerIsolation() }

func TestDecideRules(t *testing.T) {
	stdio := func(cmd string, enabled *bool) *config.Server {
		s := &config.Server{Name: "s", Command: cmd, Args: []string{"x"}}
		if enabled != nil {
			s.Isolation = &config.ServerIsolation{Enabled: enabled}
		}
		return s
	}
	http := &config.Server{Name: "h", URL: "http://127.0.0.1:9/mcp", Isolation: &config.ServerIsolation{Enabled: ptr(true)}}
	tests := []struct {
		name         string
		global       config.DockerIsolation
		server       *config.Server
		dockerPath   string
		isolated     bool
		reason       string
		ignoredOptIn bool
	}{
		{"nil server", globalOn(), nil, "", false, ReasonNoServer, false},
		{"global off, inherit", globalOff(), stdio("uvx", nil), "", false, ReasonGlobalOff, false},
		{"global off, opt-in ignored", globalOff(), stdio("uvx", ptr(true)), "", false, ReasonOptInIgnored, true},
		{"global off, opt-out", globalOff(), stdio("uvx", ptr(false)), "", false, ReasonOptedOut, false},
		{"global on, inherit", globalOn(), stdio("uvx", nil), "", true, ReasonGlobalOn, false},
		{"global on, empty isolation block", globalOn(), &config.Server{Name: "s", Command: "npx", Isolation: &config.ServerIsolation{}}, "", true, ReasonGlobalOn, false},
		{"global on, opt-in", globalOn(), stdio("uvx", ptr(true)), "", true, ReasonOptedIn, false},
		{"global on, opt-out", globalOn(), stdio("uvx", ptr(false)), "", false, ReasonOptedOut, false},
		{"http never wrapped", globalOn(), http, "", false, ReasonHTTP, false},
		{"http with opt-in, global off: not an ignored opt-in", globalOff(), http, "", false, ReasonHTTP, false},
		{"docker basename", globalOn(), stdio("docker", nil), "", false, ReasonDockerCommand, false},
		{"docker absolute", globalOn(), stdio("/usr/local/bin/docker", ptr(true)), "", false, ReasonDockerCommand, false},
		{"docker.exe", globalOn(), stdio(`C:\Program Files\Docker\docker.exe`, nil), "", false, ReasonDockerCommand, false},
		{"resolved docker path under another name", globalOn(), stdio("/opt/tools/dkr", nil), "/opt/tools/dkr", false, ReasonDockerCommand, false},
		{"my-docker-wrapper is isolated", globalOn(), stdio("my-docker-wrapper", nil), "/usr/bin/docker", true, ReasonGlobalOn, false},
		{"uvx under a docker-named dir is isolated", globalOn(), stdio("/opt/docker-tools/bin/uvx", nil), "/usr/bin/docker", true, ReasonGlobalOn, false},
		{"dockerize is isolated", globalOn(), stdio("dockerize", nil), "", true, ReasonGlobalOn, false},
		{"no command", globalOn(), &config.Server{Name: "s"}, "", false, ReasonNoCommand, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.global, tt.server, tt.dockerPath)
			if d.Isolated != tt.isolated || d.Reason != tt.reason || d.IgnoredOptIn != tt.ignoredOptIn {
				t.Fatalf("Decide = {Isolated:%v Reason:%q IgnoredOptIn:%v}, want {%v %q %v}",
					d.Isolated, d.Reason, d.IgnoredOptIn, tt.isolated, tt.reason, tt.ignoredOptIn)
			}
			if (d.Plan != nil) != d.Isolated {
				t.Fatalf("Plan non-nil = %v, Isolated = %v", d.Plan != nil, d.Isolated)
			}
		})
	}
}

func TestDecidePlanOverrides(t *testing.T) {
	g := globalOn()
	g.MemoryLimit = "256m"
	g.CPULimit = "0.5"
	g.NetworkMode = "bridge"
	g.Timeout = config.Duration(45 * time.Second)
	g.ExtraArgs = []string{"--cap-drop=ALL"}
	g.Registry = "registry.example:5000"

	s := &config.Server{
		Name:    "api",
		Command: "/usr/bin/python3",
		Args:    []string{"-m", "srv"},
		Env:     map[string]string{"ZED": "z-secret", "API_KEY": "k-secret", "DEBUG": "1"},
		// Host working_dir must not leak into the container.
		WorkingDir: "/home/me/project",
		Isolation: &config.ServerIsolation{
			Image:       "my-custom-python:latest",
			NetworkMode: "none",
			WorkingDir:  "/app",
			ExtraArgs:   []string{"--read-only"},
			MemoryLimit: "1g",
			CPULimit:    "2",
		},
	}
	stubProxyIDs(t, 1000, 1001)
	d := Decide(g, s, "")
	want := &Plan{
		Server:      "api",
		Runtime:     "python3",
		Image:       "registry.example:5000/my-custom-python:latest",
		Network:     "none",
		MemoryBytes: 1 << 30,
		MilliCPUs:   2000,
		WorkingDir:  "/app",
		EnvNames:    []string{"API_KEY", "DEBUG", "ZED"},
		DockerArgs:  []string{"--cap-drop=ALL", "--read-only"},
		Command:     "python3",
		Args:        []string{"-m", "srv"},
		Timeout:     45 * time.Second,
		// The hardened profile (the default).
		Hardened: true, Profile: ProfileHardened,
		User: "1000:1001", ReadOnlyRoot: true, CapDrop: []string{"ALL"}, NoNewPrivileges: true, Init: true,
		PidsLimit: 256, NoFile: NoFileLimit, Home: HardenedHome,
		Tmpfs: []Tmpfs{
			{Path: "/tmp", SizeBytes: TmpSize, Mode: 0o1777, Exec: true},
			{Path: HardenedHome, SizeBytes: HomeSize, Mode: 0o700, Owned: true, Exec: true}, // 1g limit: the defaults fit
		},
	}
	if !reflect.DeepEqual(d.Plan, want) {
		t.Fatalf("plan\n got %#v\nwant %#v", d.Plan, want)
	}

	// Without per-server overrides the global values apply.
	s.Isolation = nil
	d = Decide(g, s, "")
	p := d.Plan
	if p.Network != "bridge" || p.MemoryBytes != 256<<20 || p.MilliCPUs != 500 || p.WorkingDir != "" ||
		!reflect.DeepEqual(p.DockerArgs, []string{"--cap-drop=ALL"}) || p.Image != "registry.example:5000/python:3.11" {
		t.Fatalf("global values not applied: %#v", p)
	}
	// Mutating the plan must not alias the config.
	p.DockerArgs[0] = "changed"
	p.Args[0] = "changed"
	if g.ExtraArgs[0] != "--cap-drop=ALL" || s.Args[0] != "-m" {
		t.Fatal("plan aliases config slices")
	}
}

func TestDecidePlanEmptyGlobalsFallBackToDefaults(t *testing.T) {
	// A zero-value global block (only enabled set) still yields every flag:
	// an empty value never silently drops a limit.
	d := Decide(config.DockerIsolation{Enabled: true, Hardened: true}, &config.Server{Name: "n", Command: "npx", Args: []string{"pkg"}}, "")
	p := d.Plan
	if p.MemoryBytes != 512<<20 || p.MilliCPUs != 1000 || p.Network != "bridge" || p.Timeout != 30*time.Second || p.Image != "node:20" ||
		p.PidsLimit != 256 || !reflect.DeepEqual(p.Notes, []string{"pids_limit unset: the default 256 applies"}) {
		t.Fatalf("defaults not applied: %#v", p)
	}
}

func TestDecideImageChoice(t *testing.T) {
	tests := []struct {
		name    string
		images  map[string]string
		command string
		image   string // per-server
		want    string
		runtime string
	}{
		{"per-server image wins", map[string]string{"python": "python:3.11"}, "python", "mine:1", "mine:1", "python"},
		{"runtime image", map[string]string{"npx": "node:22", "binary": "alpine:3.19"}, "npx", "", "node:22", "npx"},
		{"unknown runtime uses binary", map[string]string{"binary": "busybox:1"}, "/opt/bin/srv", "", "busybox:1", "binary"},
		{"runtime missing from table uses binary", map[string]string{"binary": "busybox:1"}, "ruby", "", "busybox:1", "ruby"},
		{"empty table uses spec defaults", nil, "cargo", "", "rust:1.75-slim", "cargo"},
		{"user-added runtime key", map[string]string{"deno": "denoland/deno:2", "binary": "alpine:3.18"}, "/usr/local/bin/deno", "", "denoland/deno:2", "deno"},
		{"versioned python uses python3 image", map[string]string{"python3": "python:3.12", "python": "python:3.11"}, "python3.12", "", "python:3.12", "python3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := config.DockerIsolation{Enabled: true, DefaultImages: tt.images}
			s := &config.Server{Name: "s", Command: tt.command}
			if tt.image != "" {
				s.Isolation = &config.ServerIsolation{Image: tt.image}
			}
			p := Decide(g, s, "").Plan
			if p.Image != tt.want || p.Runtime != tt.runtime {
				t.Fatalf("image, runtime = %q, %q; want %q, %q", p.Image, p.Runtime, tt.want, tt.runtime)
			}
		})
	}
}

func TestDecideEnvValuesNeverInPlan(t *testing.T) {
	s := &config.Server{Name: "s", Command: "uvx", Args: []string{"pkg"}, Env: map[string]string{"TOKEN": "hunter2-secret"}}
	p := Decide(globalOn(), s, "").Plan
	if dump := fmt.Sprintf("%#v", p); strings.Contains(dump, "hunter2") {
		t.Fatalf("secret value in the plan: %s", dump)
	}
	if !reflect.DeepEqual(p.EnvNames, []string{"TOKEN"}) {
		t.Fatalf("EnvNames = %v", p.EnvNames)
	}
}

// A limit that does not parse (a configuration built without validation)
// never disappears: the default applies and a note says so.
func TestDecideInvalidLimitFallsBackWithNote(t *testing.T) {
	g := globalOn()
	g.MemoryLimit = "lots"
	p := Decide(g, &config.Server{Name: "s", Command: "npx", Isolation: &config.ServerIsolation{CPULimit: "0"}}, "").Plan
	if p.MemoryBytes != 512<<20 || p.MilliCPUs != 1000 {
		t.Fatalf("limits %d bytes, %d millicpus; want the defaults", p.MemoryBytes, p.MilliCPUs)
	}
	want := []string{`memory_limit "lots" is invalid; the default "512m" applies`, `cpu_limit "0" is invalid; the default "1.0" applies`}
	if !reflect.DeepEqual(p.Notes, want) {
		t.Fatalf("notes %q, want %q", p.Notes, want)
	}
}

func TestFormatLimits(t *testing.T) {
	for b, want := range map[int64]string{512 << 20: "512m", 1 << 30: "1g", 3 << 29: "1536m", 64 << 10: "64k", 1000: "1000", 0: "0"} {
		if got := FormatMemory(b); got != want {
			t.Errorf("FormatMemory(%d) = %q, want %q", b, got, want)
		}
	}
	for m, want := range map[int64]string{1000: "1", 500: "0.5", 2250: "2.25", 1: "0.001", 10: "0.01", 16000: "16"} {
		if got := FormatCPUs(m); got != want {
			t.Errorf("FormatCPUs(%d) = %q, want %q", m, got, want)
		}
	}
	// Formatting and parsing agree.
	for _, s := range []string{"512m", "1g", "64k", "2.25", "0.5"} {
		if b, err := config.ParseMemory(s); err == nil && s[len(s)-1] >= 'a' && FormatMemory(b) != s {
			t.Errorf("memory %q round-trips to %q", s, FormatMemory(b))
		}
	}
}

// stubProxyIDs makes the proxy look like it runs as uid:gid during t.
func stubProxyIDs(t *testing.T, uid, gid int) {
	prev := containerUser.Load()
	SetProxyIDs(uid, gid)
	t.Cleanup(func() { containerUser.Store(prev) })
}

func TestProfile(t *testing.T) {
	f, tr := false, true
	n := int64(64)
	server := func(si *config.ServerIsolation) *config.Server {
		return &config.Server{Name: "s", Command: "npx", Args: []string{"pkg"}, Isolation: si}
	}
	t.Run("root proxy runs containers as nobody", func(t *testing.T) {
		stubProxyIDs(t, 0, 0)
		if p := Decide(globalOn(), server(nil), "").Plan; p.User != NobodyUser || !p.Hardened {
			t.Errorf("plan %+v", p)
		}
	})
	t.Run("per-server hardened: false relaxes visibly", func(t *testing.T) {
		p := Decide(globalOn(), server(&config.ServerIsolation{Hardened: &f}), "").Plan
		if p.Hardened || p.Profile != ProfileRelaxed || p.User != "" || p.ReadOnlyRoot || p.CapDrop != nil || p.NoNewPrivileges ||
			p.PidsLimit != 0 || p.Tmpfs != nil || len(p.Notes) != 2 || !strings.Contains(p.Notes[0], "hardened: false (isolation.hardened)") {
			t.Errorf("plan %+v", p)
		}
	})
	t.Run("relaxed keeps an explicit PID limit", func(t *testing.T) {
		p := Decide(globalOn(), server(&config.ServerIsolation{Hardened: &f, PidsLimit: &n}), "").Plan
		if p.PidsLimit != 64 || len(p.Notes) != 1 {
			t.Errorf("plan %+v", p)
		}
	})
	t.Run("per-server hardened: true wins over the global false", func(t *testing.T) {
		g := globalOn()
		g.Hardened = false
		if p := Decide(g, server(&config.ServerIsolation{Hardened: &tr, PidsLimit: &n}), "").Plan; !p.Hardened || p.PidsLimit != 64 {
			t.Errorf("plan %+v", p)
		}
		if p := Decide(g, server(nil), "").Plan; p.Hardened || !strings.Contains(p.Notes[0], "(docker_isolation.hardened)") {
			t.Errorf("plan %+v", p)
		}
	})
	t.Run("tmpfs capped by the memory limit", func(t *testing.T) {
		g := globalOn()
		g.MemoryLimit = "64m"
		p := Decide(g, server(nil), "").Plan
		if p.Tmpfs[0].SizeBytes != 16<<20 || p.Tmpfs[1].SizeBytes != 32<<20 {
			t.Errorf("tmpfs %+v", p.Tmpfs)
		}
	})
	t.Run("extra_args that override the profile are noted", func(t *testing.T) {
		p := Decide(globalOn(), server(&config.ServerIsolation{ExtraArgs: []string{"--user", "0", "--read-only=false"}}), "").Plan
		if len(p.Notes) != 2 || !strings.Contains(p.Notes[0], `extra_args "--user 0" overrides the hardened profile`) {
			t.Errorf("notes %q", p.Notes)
		}
	})
	t.Run("allow_dangerous is shown", func(t *testing.T) {
		p := Decide(globalOn(), server(&config.ServerIsolation{AllowDangerous: true}), "").Plan
		if !p.AllowDangerous || len(p.Notes) != 1 || !strings.HasPrefix(p.Notes[0], "allow_dangerous: true") {
			t.Errorf("plan %+v", p)
		}
	})
}

// What a configuration needs: a container (Isolates) or the docker CLI for
// a server whose command is docker (RunsDockerCommand); disabled and HTTP
// servers need neither.
func TestConfigNeeds(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name               string
		global             config.DockerIsolation
		server             config.Server
		isolates, dockerCL bool
	}{
		{"isolated npx", globalOn(), config.Server{Name: "a", Command: "npx"}, true, false},
		{"isolation off", globalOff(), config.Server{Name: "a", Command: "npx"}, false, false},
		{"opted out", globalOn(), config.Server{Name: "a", Command: "npx", Isolation: &config.ServerIsolation{Enabled: &off}}, false, false},
		{"disabled", globalOn(), config.Server{Name: "a", Command: "npx", Enabled: &off}, false, false},
		{"http", globalOn(), config.Server{Name: "a", URL: "http://127.0.0.1:1/mcp"}, false, false},
		{"docker command", globalOff(), config.Server{Name: "a", Command: "docker", Args: []string{"run", "-i", "img"}}, false, true},
		{"docker command, disabled", globalOn(), config.Server{Name: "a", Command: "/usr/bin/docker", Enabled: &off}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.server
			cfg := &config.Config{DockerIsolation: tc.global, Servers: []*config.Server{&s}}
			if got := Isolates(cfg, "/usr/bin/docker"); got != tc.isolates {
				t.Errorf("Isolates = %v, want %v", got, tc.isolates)
			}
			if got := RunsDockerCommand(cfg, "/usr/bin/docker"); got != tc.dockerCL {
				t.Errorf("RunsDockerCommand = %v, want %v", got, tc.dockerCL)
			}
		})
	}
}
