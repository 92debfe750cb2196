package isolation

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

func TestCacheVolumes(t *testing.T) {
	h := fakeHost(disk, diskLinks)
	vol := func(server, kind string) string { return CacheVolumeName(h.HostID, h.DataDirID, server, kind) }
	relaxed := func(s config.Server) config.Server {
		s.Isolation = &config.ServerIsolation{Hardened: ptr(false)}
		return s
	}
	tests := []struct {
		name   string
		server config.Server
		global func(*config.DockerIsolation)
		mounts []Mount
		env    map[string]string
	}{
		{"npx", config.Server{Name: "gh", Command: "npx", Args: []string{"-y", "pkg@1"}}, nil,
			[]Mount{{MountVolume, vol("gh", "npm"), HardenedHome + "/.npm", false, "package cache (npm)", "npm"}},
			npmEnv},
		{"node", config.Server{Name: "n", Command: "/usr/bin/node", Args: []string{"x.js"}}, nil,
			[]Mount{{MountVolume, vol("n", "npm"), HardenedHome + "/.npm", false, "package cache (npm)", "npm"}},
			npmEnv},
		{"uvx on the python image: uv's cache and pip's, the tool installed into it", config.Server{Name: "fetch", Command: "uvx", Args: []string{"mcp-server-fetch"}}, nil,
			[]Mount{
				{MountVolume, vol("fetch", "uv"), HardenedHome + "/.cache/uv", false, "package cache (uv)", "uv"},
				{MountVolume, vol("fetch", "pip"), HardenedHome + "/.cache/pip", false, "package cache (pip)", "pip"},
			},
			map[string]string{"PYTHONUSERBASE": HardenedHome + "/.cache/pip/.mcpproxy-userbase"}},
		{"uvx on uv's own image", config.Server{Name: "u", Command: "uvx", Args: []string{"x"}, Isolation: &config.ServerIsolation{Image: "ghcr.io/astral-sh/uv:python3.12"}}, nil,
			[]Mount{{MountVolume, vol("u", "uv"), HardenedHome + "/.cache/uv", false, "package cache (uv)", "uv"}}, nil},
		{"python", config.Server{Name: "py", Command: "python3", Args: []string{"-m", "srv"}}, nil,
			[]Mount{{MountVolume, vol("py", "pip"), HardenedHome + "/.cache/pip", false, "package cache (pip)", "pip"}}, nil},
		{"go", config.Server{Name: "g", Command: "go", Args: []string{"run", "example.com/x@v1"}}, nil,
			[]Mount{{MountVolume, vol("g", "go"), "/go/pkg/mod", false, "package cache (go)", "go"}}, nil},
		{"relaxed profile: root's home", relaxed(config.Server{Name: "r", Command: "npx", Args: []string{"x"}}), nil,
			[]Mount{{MountVolume, vol("r", "npm"), "/root/.npm", false, "package cache (npm)", "npm"}},
			npmEnv},
		{"the server's own setting wins", config.Server{Name: "o", Command: "npx", Env: map[string]string{"npm_config_prefer_offline": "false"}}, nil,
			[]Mount{{MountVolume, vol("o", "npm"), HardenedHome + "/.npm", false, "package cache (npm)", "npm"}},
			map[string]string{"npm_config_audit": "false", "npm_config_fund": "false", "npm_config_update_notifier": "false"}},
		{"no cache for a binary", config.Server{Name: "b", Command: "/opt/tool"}, nil, nil, nil},
		{"cache_volumes false", config.Server{Name: "off", Command: "npx"}, func(g *config.DockerIsolation) { g.CacheVolumes = false }, nil, nil},
		{"kubernetes", config.Server{Name: "k", Command: "npx"}, func(g *config.DockerIsolation) { g.Backend = config.BackendKubernetes }, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := globalOn()
			if tt.global != nil {
				tt.global(&g)
			}
			d := h.Decide(g, &tt.server, "")
			if d.Err != nil {
				t.Fatal(d.Err)
			}
			p := d.Plan
			if !reflect.DeepEqual(p.Mounts, tt.mounts) {
				t.Errorf("mounts:\n got %+v\nwant %+v", p.Mounts, tt.mounts)
			}
			if !reflect.DeepEqual(p.Env, tt.env) {
				t.Errorf("env %v, want %v", p.Env, tt.env)
			}
			for k := range p.Env {
				if !strings.Contains(strings.Join(p.EnvNames, " "), k) {
					t.Errorf("EnvNames %q lacks %s", p.EnvNames, k)
				}
			}
		})
	}
}

// No two servers, data dirs or hosts share a cache volume, whatever their
// names sanitize to; the name is one docker accepts.
func TestCacheVolumeNameUnique(t *testing.T) {
	seen := map[string]string{}
	for _, c := range [][4]string{
		{"h1", "d1", "a b", "npm"}, {"h1", "d1", "a-b", "npm"}, {"h1", "d1", "a_b", "npm"},
		{"h1", "d2", "a-b", "npm"}, {"h2", "d1", "a-b", "npm"}, {"h1", "d1", "a-b", "uv"},
		{"h1", "d1", strings.Repeat("x", 200), "npm"}, {"h1", "d1", strings.Repeat("x", 201), "npm"},
	} {
		name := CacheVolumeName(c[0], c[1], c[2], c[3])
		if prev, dup := seen[name]; dup {
			t.Fatalf("%v and %s share the volume %s", c, prev, name)
		}
		seen[name] = strings.Join(c[:], "/")
		if !volumeNameRe.MatchString(name) || !strings.HasPrefix(name, "mcpproxy-") || len(name) > 100 {
			t.Fatalf("volume name %q is not a plain docker name", name)
		}
	}
}

// volumeNameRe is docker's rule for volume names.
var volumeNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
