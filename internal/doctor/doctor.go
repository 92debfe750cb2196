// Package doctor is `mcpproxy doctor isolation`: the probe it runs in a
// server's container plan in place of the server (probebin, embedded and
// reproducibly built like the stdio shim), the report the probe prints,
// the scorecard made of it — one PASS or WARN line per property of the box,
// with the setting that controls it — and Isolation, which runs the probe
// in each server's plan through the Docker runtime (isolation.go).
package doctor

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/probe"
)

// ProbePath is where the probe is mounted inside the container.
const ProbePath = "/.mcpproxy/probe"

// Report is what the probe prints (see probebin).
type Report = probe.Report

// Observed is what the doctor learned around the probe.
type Observed struct {
	// Loopback and Gateway are the addresses of listeners the doctor
	// opened on the host's loopback and on the Docker bridge gateway
	// ("" when it could not open one).
	Loopback, Gateway string
	// SecretsInInspect is true when a configured env value appears in
	// `docker inspect` of the container; Secrets is how many values the
	// server has.
	SecretsInInspect bool
	Secrets          int
	// Delivery is how the values reached the server.
	Delivery isolation.SecretDelivery
}

// Status of one line.
type Status string

// Statuses.
const (
	Pass Status = "PASS"
	Warn Status = "WARN"
)

// Line is one property of the box.
type Line struct {
	Status  Status
	Check   string
	Found   string
	Setting string
}

// Scorecard judges a report of a server's container made with plan.
func Scorecard(plan *isolation.Plan, r Report, o Observed) []Line {
	var out []Line
	add := func(ok bool, check, found, setting string) {
		s := Warn
		if ok {
			s = Pass
		}
		out = append(out, Line{s, check, found, setting})
	}
	id, l := r.Identity, r.Limits
	add(id.CapEff == probe.NoCaps, "capabilities", "CapEff "+id.CapEff, "docker_isolation.hardened / isolation.hardened (cap-drop ALL)")
	add(id.UID != 0 && id.EUID != 0, "user", fmt.Sprintf("uid %d gid %d", id.UID, id.GID), "hardened profile (--user; the proxy's own uid, or 65534 for a root proxy)")
	add(id.NoNewPrivs == 1, "no_new_privs", fmt.Sprint(id.NoNewPrivs), "hardened profile (--security-opt no-new-privileges)")
	add(id.Seccomp == 2, "seccomp", map[int]string{0: "off", 1: "strict", 2: "filter (Docker's default profile)"}[id.Seccomp], "never loosened (extra_args seccomp=… refused)")
	extra := slices.DeleteFunc(slices.Clone(r.Writable), func(p string) bool {
		return p == "/tmp" || p == "/dev/shm" || (plan.Home != "" && p == plan.Home)
	})
	add(len(extra) == 0, "writable paths", strings.Join(r.Writable, " "), "hardened profile (--read-only, size-capped tmpfs /tmp and home)")
	add(l.PidsMax > 0, "PID limit", limitText(l.PidsMax, ""), "pids_limit (docker_isolation or isolation)")
	add(l.MemoryBytes > 0 && l.MemorySwapBytes == l.MemoryBytes, "memory limit", memText(l), "memory_limit")
	add(l.CPUQuotaMicros > 0, "CPU limit", cpuText(l), "cpu_limit")
	for _, d := range r.Doors {
		add(!d.Allowed, d.Door, allowedText(d), "hardened profile (capabilities dropped; Docker's seccomp)")
	}
	if o.Loopback != "" {
		d := r.Dials[o.Loopback]
		add(!d.Allowed, "host loopback", reachText(d, o.Loopback), "network_mode (never host)")
	}
	if o.Gateway != "" {
		d := r.Dials[o.Gateway]
		add(!d.Allowed, "bridge gateway (the host)", reachText(d, o.Gateway), "network_mode: none for servers that need no network (bridge lets them reach the host and the internet)")
	}
	switch {
	case o.Secrets == 0:
		add(true, "secrets in docker inspect", "the server has no env values", "env")
	default:
		add(!o.SecretsInInspect, "secrets in docker inspect", fmt.Sprintf("%d value(s) delivered by %s; in docker inspect: %v", o.Secrets, o.Delivery, o.SecretsInInspect), "stdio shim (local daemon on Linux; not with --entrypoint in extra_args)")
	}
	return out
}

func limitText(n int64, unit string) string {
	if n < 0 {
		return "none"
	}
	return fmt.Sprintf("%d%s", n, unit)
}

func memText(l probe.Limits) string {
	if l.MemoryBytes < 0 {
		return "none"
	}
	s := isolation.FormatMemory(l.MemoryBytes)
	if l.MemorySwapBytes == l.MemoryBytes {
		return s + ", no swap"
	}
	if l.MemorySwapBytes < 0 {
		return s + ", unlimited swap"
	}
	return s + ", swap to " + isolation.FormatMemory(l.MemorySwapBytes)
}

func cpuText(l probe.Limits) string {
	if l.CPUQuotaMicros <= 0 || l.CPUPeriodMicros <= 0 {
		return "none"
	}
	return fmt.Sprintf("%.2f CPUs", float64(l.CPUQuotaMicros)/float64(l.CPUPeriodMicros))
}

func allowedText(a probe.Attempt) string {
	if a.Allowed {
		return "allowed: " + a.Detail
	}
	return "refused: " + a.Error
}

func reachText(a probe.Attempt, addr string) string {
	if a.Allowed {
		return addr + " reachable"
	}
	return addr + " unreachable (" + a.Error + ")"
}

// Print writes the scorecard of server as aligned columns.
func Print(w io.Writer, server string, plan *isolation.Plan, lines []Line) {
	fmt.Fprintf(w, "%s  (image %s, profile %s)\n", server, plan.Image, plan.Profile)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", l.Status, l.Check, l.Found, l.Setting)
	}
	tw.Flush()
	for _, n := range plan.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}
