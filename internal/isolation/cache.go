package isolation

import (
	"fmt"
	"path"
	"slices"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

// Package caches (issue 10, item 2): a server run by a package runner gets a
// named volume of its own for the runner's cache, mounted writable where the
// runner looks for it for the container's user, so that its second start
// neither downloads nor unpacks its packages again. The volume belongs to
// one server of one data dir on one host: its name is a hash of the three,
// and it carries their labels. A second server of the same package gets a
// volume of its own — one server's cache can never poison another's.
//
// The Docker backend creates the volume (labelled) before the container and
// makes it the container user's; `mcpproxy upstream prune` and removing the
// server from the configuration remove it. docker_isolation.cache_volumes:
// false turns caches off; the kubernetes backend has none.

// Labels on a cache volume besides LabelManaged, LabelServer, LabelHost
// and LabelDataDir (it has no LabelInstance: it outlives instances).
const (
	// LabelCache names the cache the volume holds ("npm", "uv", "pip",
	// "go", "yarn").
	LabelCache = "com.mcpproxy.cache"
	// LabelOwner is the "uid:gid" the volume's root belongs to ("" for
	// the engine's default, root).
	LabelOwner = "com.mcpproxy.owner"
	// LabelVolumeInit marks the short-lived local image that gives a new
	// cache volume's root to its owner; its value is the volume's name.
	LabelVolumeInit = "com.mcpproxy.volume-init"
)

// packageCache is where a runtime keeps its cache: a path under the
// container user's home (rel), or an absolute one.
type packageCache struct {
	kind string
	rel  string
	abs  string
	// env are settings (not secrets) the runner reads, given to the
	// container with the cache.
	env map[string]string
}

// npmEnv makes npx use what the cache holds without asking the registry
// again (npx revalidates every packument otherwise, even of a pinned
// version), and keeps npm from sending the registry the package tree for an
// audit nobody reads and from checking for a newer npm.
var npmEnv = map[string]string{
	"npm_config_prefer_offline":  "true",
	"npm_config_audit":           "false",
	"npm_config_fund":            "false",
	"npm_config_update_notifier": "false",
}

// packageCaches maps runtimes (DetectRuntime keys) to their cache.
var packageCaches = map[string]packageCache{
	"npx":     {kind: "npm", rel: ".npm", env: npmEnv},
	"npm":     {kind: "npm", rel: ".npm", env: npmEnv},
	"node":    {kind: "npm", rel: ".npm", env: npmEnv},
	"yarn":    {kind: "yarn", rel: ".cache/yarn"},
	"uvx":     {kind: "uv", rel: ".cache/uv"},
	"pip":     {kind: "pip", rel: ".cache/pip"},
	"pipx":    {kind: "pip", rel: ".cache/pip"},
	"python":  {kind: "pip", rel: ".cache/pip"},
	"python3": {kind: "pip", rel: ".cache/pip"},
	// The golang images set GOPATH=/go: the module cache is /go/pkg/mod.
	"go": {kind: "go", abs: "/go/pkg/mod"},
}

// userBaseDir is where, in the pip cache volume, a setup script's tool is
// installed (PYTHONUSERBASE).
const userBaseDir = ".mcpproxy-userbase"

// rootHome is HOME of the image's user when the profile does not set one
// (relaxed: the spec's images run as root).
const rootHome = "/root"

// CacheVolumeName is the name of server's volume for cache kind on the
// host and data dir with these label values: "mcpproxy-<server>-<kind>-"
// and a hash of all four, so that no two servers, data dirs or hosts share
// one (the server part is sanitized like a container name and only helps
// people read `docker volume ls`).
func CacheVolumeName(hostID, dataDirID, server, kind string) string {
	h := shortHash("cache\x00" + hostID + "\x00" + dataDirID + "\x00" + server + "\x00" + kind)
	return "mcpproxy-" + sanitizeName(server, "server") + "-" + kind + "-" + h
}

// addCaches adds the package cache volumes of p's runtime (and of a setup
// tool it installs first: pip for uvx on the python image).
func (h Host) addCaches(p *Plan, global config.DockerIsolation, s *config.Server) {
	if !global.CacheVolumes || h.DataDirID == "" {
		return
	}
	if global.Backend == config.BackendKubernetes {
		if _, ok := packageCaches[p.Runtime]; ok {
			p.Notes = append(p.Notes, "no package cache volume: the kubernetes backend has none")
		}
		return
	}
	runtimes := []string{p.Runtime}
	if p.Setup != "" {
		runtimes = append(runtimes, "pip") // the setup script installs the tool with pip
	}
	home := p.Home
	if home == "" {
		home = rootHome
	}
	for _, rt := range runtimes {
		c, ok := packageCaches[rt]
		if !ok || hasCache(p, c.kind) {
			continue
		}
		target := c.abs
		if target == "" {
			target = path.Join(home, c.rel)
		}
		if covered(p, target) {
			continue
		}
		p.Mounts = append(p.Mounts, Mount{
			Type: MountVolume, Source: CacheVolumeName(h.HostID, h.DataDirID, s.Name, c.kind), Target: target,
			Reason: fmt.Sprintf("package cache (%s)", c.kind), Cache: c.kind,
		})
		env := c.env
		if c.kind == "pip" && p.Setup != "" {
			// The tool the setup script installs lives in the volume
			// too, so the next start finds it (runtime.go).
			env = map[string]string{"PYTHONUSERBASE": path.Join(target, userBaseDir)}
		}
		for k, v := range env {
			if _, set := s.Env[k]; set {
				continue // the server's own setting wins
			}
			if p.Env == nil {
				p.Env = map[string]string{}
			}
			p.Env[k] = v
			if !slices.Contains(p.EnvNames, k) {
				p.EnvNames = append(p.EnvNames, k)
			}
		}
	}
	slices.Sort(p.EnvNames)
}

func hasCache(p *Plan, kind string) bool {
	return slices.ContainsFunc(p.Mounts, func(m Mount) bool { return m.Cache == kind })
}

// covered reports whether target is already a mount's target or inside one.
func covered(p *Plan, target string) bool {
	return slices.ContainsFunc(p.Mounts, func(m Mount) bool { return within(target, m.Target) })
}
