package doctor

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/embedbin"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/probe"
)

// The committed probe binaries must be exactly what the committed source
// builds to, so nothing unreviewed runs in containers.
func TestEmbeddedProbeMatchesSource(t *testing.T) {
	skip, err := embedbin.Verify("./probebin", "probe", t.TempDir(), "go generate ./internal/doctor", ProbeBinary)
	if err != nil {
		t.Fatal(err)
	}
	if skip != "" {
		t.Skip(skip)
	}
}

func TestScorecard(t *testing.T) {
	plan := &isolation.Plan{Image: "img", Profile: "hardened", Home: "/home/mcpproxy"}
	good := Report{
		Identity: probe.Identity{UID: 65534, EUID: 65534, GID: 65534, CapEff: probe.NoCaps, NoNewPrivs: 1, Seccomp: 2},
		Limits:   probe.Limits{PidsMax: 256, MemoryBytes: 512 << 20, MemorySwapBytes: 512 << 20, CPUQuotaMicros: 100000, CPUPeriodMicros: 100000},
		Writable: []string{"/tmp", "/home/mcpproxy", "/dev/shm"},
		Doors:    []probe.Attempt{{Door: "mount", Error: "operation not permitted"}, {Door: "raw_socket", Error: "operation not permitted"}},
		Dials:    map[string]probe.Attempt{"127.0.0.1:1": {Error: "refused"}, "172.17.0.1:2": {Error: "refused"}},
	}
	o := Observed{Loopback: "127.0.0.1:1", Gateway: "172.17.0.1:2", Secrets: 1, Delivery: isolation.SecretsShim}
	for _, l := range Scorecard(plan, good, o) {
		if l.Status != Pass {
			t.Errorf("hardened report: %+v", l)
		}
	}
	bad := good
	bad.Identity = probe.Identity{CapEff: "00000000a80425fb", Seccomp: 2}
	bad.Limits = probe.Limits{PidsMax: -1, MemoryBytes: 512 << 20, MemorySwapBytes: -1, CPUQuotaMicros: -1}
	bad.Writable = []string{"/", "/etc", "/tmp"}
	bad.Doors = []probe.Attempt{{Door: "raw_socket", Allowed: true}}
	bad.Dials = map[string]probe.Attempt{"127.0.0.1:1": {Error: "refused"}, "172.17.0.1:2": {Allowed: true}}
	o.SecretsInInspect, o.Delivery = true, isolation.SecretsEnv
	warned := map[string]bool{}
	for _, l := range Scorecard(plan, bad, o) {
		if l.Status == Warn {
			warned[l.Check] = true
		}
	}
	for _, c := range []string{"capabilities", "user", "no_new_privs", "writable paths", "PID limit", "memory limit", "CPU limit", "raw_socket", "bridge gateway (the host)", "secrets in docker inspect"} {
		if !warned[c] {
			t.Errorf("relaxed report: %q not warned (%v)", c, warned)
		}
	}
	var b bytes.Buffer
	Print(&b, "srv", plan, Scorecard(plan, bad, o))
	if !strings.Contains(b.String(), "WARN  capabilities") {
		t.Errorf("printed:\n%s", b.String())
	}
}
