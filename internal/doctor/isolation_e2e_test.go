package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// isoConfig is a config document with docker isolation on and servers.
func isoConfig(t *testing.T, servers ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"docker_isolation": map[string]any{"enabled": true}, "mcpServers": servers})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// isoServer is a stdio server running command in image; iso adds keys of
// its isolation block.
func isoServer(name, image string, iso map[string]any, command string) map[string]any {
	si := map[string]any{"image": image}
	maps.Copy(si, iso)
	return map[string]any{"name": name, "command": command, "isolation": si}
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestDoctorIsolation runs `doctor isolation` on a hardened server (with a
// secret), a relaxed one and a host one: the scorecard passes every line of
// the hardened box but the bridge gateway (bridge lets a server reach the
// host: a WARN that names network_mode), warns on each door the relaxed
// one leaves open, and no container is left behind.
func TestDoctorIsolation(t *testing.T) {
	t.Parallel()
	dockerPath := testutil.RequireDocker(t)
	image := testutil.FixtureImage(t)
	suffix := randomHex(t, 4)
	boxed, relaxed := "boxed-"+suffix, "relaxed-"+suffix
	b := isoServer(boxed, image, nil, "/mcpfixture")
	b["env"] = map[string]string{"DOCTOR_TOKEN": "doctor-secret-" + suffix}
	r := isoServer(relaxed, image, map[string]any{"hardened": false, "network_mode": "none"}, "/mcpfixture")
	onHost := map[string]any{"name": "onhost-" + suffix, "command": "/bin/true", "isolation": map[string]any{"enabled": false}}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "mcp_config.json")
	if err := os.WriteFile(cfgPath, []byte(isoConfig(t, b, r, onHost)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := Isolation(ctx, IsolationOptions{DataDir: dir, ConfigPath: cfgPath, Out: &out}); err != nil {
		t.Fatalf("doctor: %v\n%s", err, out.String())
	}
	text := out.String()
	t.Logf("scorecard:\n%s", text)
	sections := strings.Split(text, "\n\n")
	card := func(name string) string {
		for _, s := range sections {
			if strings.HasPrefix(s, name+"  ") {
				return s
			}
		}
		t.Fatalf("no scorecard for %s", name)
		return ""
	}
	line := regexp.MustCompile(`(?m)^  (PASS|WARN)  (\S.*?)  +`)
	status := func(card string) map[string]string {
		m := map[string]string{}
		for _, l := range line.FindAllStringSubmatch(card, -1) {
			m[strings.TrimSpace(l[2])] = l[1]
		}
		return m
	}
	hard := status(card(boxed))
	for check, s := range hard {
		want := "PASS"
		if check == "bridge gateway (the host)" {
			want = "WARN"
		}
		if s != want {
			t.Errorf("%s: %s is %s, want %s", boxed, check, s, want)
		}
	}
	for _, check := range []string{"capabilities", "user", "no_new_privs", "seccomp", "writable paths", "PID limit", "memory limit", "CPU limit",
		"mount", "raw_socket", "mknod", "chown", "proc_sys_write", "host loopback", "bridge gateway (the host)", "secrets in docker inspect"} {
		if _, ok := hard[check]; !ok {
			t.Errorf("%s: no %q line", boxed, check)
		}
	}
	soft := status(card(relaxed))
	for _, check := range []string{"capabilities", "user", "no_new_privs", "writable paths", "PID limit", "raw_socket", "mknod", "chown"} {
		if soft[check] != "WARN" {
			t.Errorf("%s: %s is %q, want WARN", relaxed, check, soft[check])
		}
	}
	if strings.Contains(text, "onhost-"+suffix) {
		t.Errorf("a host server was checked")
	}
	for _, name := range []string{boxed, relaxed} {
		out, err := exec.Command(dockerPath, "ps", "-aq", "--filter", "label="+isolation.LabelServer+"="+name).Output()
		if err != nil {
			t.Fatal(err)
		}
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			t.Errorf("containers of %s left behind: %s", name, ids)
			_ = exec.Command(dockerPath, append([]string{"rm", "-f"}, ids...)...).Run()
		}
	}
}

// A server the proxy would refuse to start (a mount of the data dir) is
// reported as such, not probed.
func TestDoctorReportsRefusedPlan(t *testing.T) {
	t.Parallel()
	testutil.RequireDocker(t)
	image := testutil.FixtureImage(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "mcp_config.json")
	s := isoServer("greedy", image, map[string]any{"mounts": []string{filepath.Join(dir, "logs")}}, "/mcpfixture")
	if err := os.WriteFile(cfgPath, []byte(isoConfig(t, s)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Isolation(ctx, IsolationOptions{DataDir: dir, ConfigPath: cfgPath, Out: &out})
	if err == nil || !strings.Contains(out.String(), `greedy  not started: isolation.mounts[0] "`+filepath.Join(dir, "logs")+`": refused: it would give the container mcpproxy's data directory`) {
		t.Fatalf("doctor: %v\n%s", err, out.String())
	}
}
