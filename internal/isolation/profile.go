package isolation

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/dockerargs"
)

// Security profiles a Plan runs under.
const (
	// ProfileHardened is the default: no capabilities, no privilege gain,
	// a read-only root with size-capped writable /tmp and home, a non-root
	// user, a PID limit, an open-files limit and a reaping init. Docker's
	// default seccomp and AppArmor profiles stay in force.
	ProfileHardened = "hardened"
	// ProfileRelaxed is the engine's defaults (hardened: false): the
	// image's user (often root), the default capabilities, a writable root.
	ProfileRelaxed = "relaxed"
)

// The hardened profile's settings.
const (
	// HardenedHome is HOME inside a hardened container: a writable tmpfs
	// owned by the container's user. The package caches of npx ($HOME/.npm)
	// and uvx ($HOME/.cache/uv) live under it (a named volume may be
	// mounted there later).
	HardenedHome = "/home/mcpproxy"
	// TmpSize and HomeSize cap the writable tmpfs directories. Their pages
	// count against the memory limit, so they are also capped at a quarter
	// and a half of it: filling both never OOM-kills the server.
	TmpSize  int64 = 128 << 20
	HomeSize int64 = 256 << 20
	// NoFileLimit is the open-files limit (soft = hard).
	NoFileLimit int64 = 8192
	// NobodyUser is the user a hardened container runs as when the proxy
	// itself runs as root.
	NobodyUser = "65534:65534"
)

// containerUser is the user hardened containers run as; see SetProxyIDs.
var containerUser atomic.Pointer[string]

// SetProxyIDs records the proxy's own uid and gid (the package reads
// nothing from the process itself). Call it once at start, before any
// Decide: a container of a non-root proxy then runs as the same user, so
// the files it may read on the host stay readable to it; a root proxy's
// containers run as nobody. Until it is called, containers run as nobody.
func SetProxyIDs(uid, gid int) {
	u := NobodyUser
	if uid > 0 && gid >= 0 {
		u = strconv.Itoa(uid) + ":" + strconv.Itoa(gid)
	}
	containerUser.Store(&u)
}

// ContainerUser is the user a hardened container runs as: the proxy's
// uid:gid, or nobody (65534:65534) for a root proxy or before SetProxyIDs.
func ContainerUser() string {
	if u := containerUser.Load(); u != nil {
		return *u
	}
	return NobodyUser
}

// applyProfile merges the security profile into p: hardened unless the
// server's isolation.hardened (or, absent that, docker_isolation.hardened)
// is false. Every relaxation is written in p.Notes.
func applyProfile(p *Plan, global config.DockerIsolation, si *config.ServerIsolation) {
	hardened, where := global.Hardened, "docker_isolation.hardened"
	if si.Hardened != nil {
		hardened, where = *si.Hardened, "isolation.hardened"
	}
	pids := global.PidsLimit
	if si.PidsLimit != nil {
		pids = *si.PidsLimit
	}
	p.AllowDangerous = si.AllowDangerous
	if p.AllowDangerous {
		p.Notes = append(p.Notes, "allow_dangerous: true (per server): this server's extra_args, network_mode and mounts may give the container host access")
	}
	if !hardened {
		p.Hardened, p.Profile = false, ProfileRelaxed
		p.Notes = append(p.Notes, fmt.Sprintf("hardened: false (%s): the image's user (often root), Docker's default capabilities, a writable root, setuid binaries gain privileges", where))
		if si.PidsLimit != nil {
			p.PidsLimit = pids
		} else {
			p.Notes = append(p.Notes, "no PID limit (relaxed profile; set isolation.pids_limit to keep one)")
		}
		return
	}
	if pids <= 0 {
		pids = config.DefaultPidsLimit
		p.Notes = append(p.Notes, fmt.Sprintf("pids_limit unset: the default %d applies", pids))
	}
	p.Hardened, p.Profile = true, ProfileHardened
	p.User = ContainerUser()
	p.ReadOnlyRoot = true
	p.CapDrop = []string{"ALL"}
	p.NoNewPrivileges = true
	p.Init = true
	p.PidsLimit = pids
	p.NoFile = NoFileLimit
	p.Home = HardenedHome
	p.Tmpfs = []Tmpfs{
		{Path: "/tmp", SizeBytes: capTo(TmpSize, p.MemoryBytes/4), Mode: 0o1777, Exec: true},
		{Path: HardenedHome, SizeBytes: capTo(HomeSize, p.MemoryBytes/2), Mode: 0o700, Owned: true, Exec: true},
	}
	for _, f := range dockerargs.Weakening(p.DockerArgs) {
		p.Notes = append(p.Notes, fmt.Sprintf("extra_args %q overrides the hardened profile: %s", f.Arg, f.Why))
	}
}

// capTo returns size, or limit when limit is positive and smaller.
func capTo(size, limit int64) int64 {
	if limit > 0 && limit < size {
		return limit
	}
	return size
}
