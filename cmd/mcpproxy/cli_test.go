package main

// The management CLI against a running proxy (the real binary, both sides):
// upstream list|get|add|remove|enable|disable|restart|logs [-f], tools
// list|search, call, doctor; flags validated before anything runs.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/cli/doctor"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// mustRun runs the CLI and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("mcpproxy %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// waitCLI runs the CLI until its output contains want.
func waitCLI(t *testing.T, want string, timeout time.Duration, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, errOut, _ := runCLI(t, args...)
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("mcpproxy %s never printed %q:\n%s\n%s", strings.Join(args, " "), want, out, errOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Every management command against a running proxy: a server is added,
// inspected, disabled, enabled, restarted, its log read and followed, its
// tools listed, searched and called, and removed; -o json prints the API's
// JSON; a server that does not exist is named.
func TestCLIManagesServers(t *testing.T) {
	t.Parallel()
	bin := testutil.FixtureBinary(t)
	dataDir := t.TempDir()
	startProxy(t, dataDir, configJSON(t, stdio("fx", bin, "-name", "fx")))
	d := []string{"--data-dir", dataDir}
	run := func(args ...string) string { return mustRun(t, append(d, args...)...) }

	out := waitCLI(t, "ready", 30*time.Second, append(d, "upstream", "list")...)
	for _, want := range []string{"NAME", "STATE", "TOOLS", "ISOLATION", "fx", "host"} {
		if !strings.Contains(out, want) {
			t.Fatalf("upstream list lacks %q:\n%s", want, out)
		}
	}
	var l httpapi.ServerList
	if err := json.Unmarshal([]byte(run("upstream", "list", "-o", "json")), &l); err != nil || len(l.Servers) != 1 || l.Servers[0].Isolation == nil {
		t.Fatalf("upstream list -o json: %v %+v", err, l)
	}

	out, errOut, code := runCLIEnv(t, append(testEnv(), "EXTRA_SECRET=extra-secret-value-0123456789"),
		append(d, "upstream", "add", "extra", "--env", "EXTRA_SECRET", "--", bin, "-name", "extra", "-stderr", "extra-started")...)
	if code != 0 || !strings.Contains(out, "added extra (host)") {
		t.Fatalf("upstream add: exit %d\n%s\n%s", code, out, errOut)
	}
	waitCLI(t, "ready", 30*time.Second, append(d, "upstream", "get", "extra")...)
	out = run("upstream", "get", "extra")
	for _, want := range []string{"state", "ready", "command", "-name extra", "env", "EXTRA_SECRET", "log file"} {
		if !strings.Contains(out, want) {
			t.Fatalf("upstream get lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "extra-secret-value") || strings.Contains(run("upstream", "get", "extra", "-o", "json"), "extra-secret-value") {
		t.Fatalf("upstream get shows an env value:\n%s", out)
	}

	if out := run("upstream", "disable", "extra"); !strings.Contains(out, "disabled extra") {
		t.Fatalf("disable: %s", out)
	}
	waitCLI(t, "disabled", 10*time.Second, append(d, "upstream", "get", "extra")...)
	run("upstream", "enable", "extra")
	waitCLI(t, "ready", 30*time.Second, append(d, "upstream", "get", "extra")...)

	// The log: a tail, and a follower that sees the restart's new line.
	if out := run("upstream", "logs", "extra", "-n", "5"); !strings.Contains(out, "extra-started") {
		t.Fatalf("upstream logs: %s", out)
	}
	var tail httpapi.LogTail
	if err := json.Unmarshal([]byte(run("upstream", "logs", "extra", "-n", "5", "-o", "json")), &tail); err != nil || !slices.Contains(tail.Lines, "extra-started") {
		t.Fatalf("upstream logs -o json: %v %+v", err, tail)
	}
	follow := exec.Command(proxyBin, append(d, "upstream", "logs", "extra", "-f", "-n", "0")...)
	follow.Env = testEnv()
	var fout syncBuffer
	follow.Stdout, follow.Stderr = &fout, &fout
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = follow.Process.Kill(); _ = follow.Wait() })
	// The follower is connected once the proxy counts its stream; restart
	// until its line arrives (a restart before it connected is not seen).
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(fout.String(), "extra-started") {
		if time.Now().After(deadline) {
			t.Fatalf("upstream logs -f never printed the restart's line:\n%s", fout.String())
		}
		run("upstream", "restart", "extra")
		waitCLI(t, "ready", 30*time.Second, append(d, "upstream", "get", "extra")...)
		waitFor(func() bool { return strings.Contains(fout.String(), "extra-started") }, 2*time.Second)
	}

	// Tools.
	if out := run("tools", "list", "--server", "fx"); !strings.Contains(out, "fx:echo") || strings.Contains(out, "extra:") {
		t.Fatalf("tools list --server fx:\n%s", out)
	}
	if out := run("tools", "search", "returns", "text", "unchanged"); !strings.Contains(out, "echo") {
		t.Fatalf("tools search:\n%s", out)
	}
	if out := run("call", "fx:echo", "--args", `{"text": "through the cli"}`); strings.TrimSpace(out) != "through the cli" {
		t.Fatalf("call: %q", out)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(run("call", "fx:echo", "--args", `{"text": "j"}`, "-o", "json")), &res); err != nil || res["content"] == nil {
		t.Fatalf("call -o json: %v %v", err, res)
	}
	// A tool that fails: exit 1, its message on stderr.
	out, errOut, code = runCLI(t, append(d, "call", "fx:read_file", "--args", `{"path": "/nonexistent/file"}`)...)
	if code != 1 || !strings.Contains(errOut, "nonexistent") {
		t.Fatalf("a failing tool: exit %d\n%s\n%s", code, out, errOut)
	}

	// Unknown server and tool.
	if _, errOut, code := runCLI(t, append(d, "upstream", "get", "nosuch")...); code == 0 || !strings.Contains(errOut, `"nosuch"`) {
		t.Fatalf("get nosuch: exit %d %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, append(d, "call", "nosuch:echo")...); code == 0 || !strings.Contains(errOut, `"nosuch"`) {
		t.Fatalf("call nosuch: exit %d %s", code, errOut)
	}

	run("upstream", "remove", "extra")
	if out := run("upstream", "list"); strings.Contains(out, "extra") {
		t.Fatalf("removed server still listed:\n%s", out)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(cond func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// runCLIEnv is runCLI with the environment env.
func runCLIEnv(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, proxyBin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("mcpproxy %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// Flags are validated before anything runs: with no proxy running, a bad
// flag is named (not "mcpproxy is not running").
func TestCLIFlagsValidatedFirst(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	port := testutil.FreePort(t)
	cfg := `{"listen": "127.0.0.1:` + jsonInt(port) + `", "api_key": "` + strings.Repeat("cd", 32) + `", "mcpServers": []}`
	if err := os.WriteFile(filepath.Join(dataDir, "mcp_config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"upstream", "list", "-o", "yaml"}, `--output "yaml"`},
		{[]string{"upstream", "get", "fx", "-o", "xml"}, `--output "xml"`},
		{[]string{"upstream", "get", "bad/name"}, `server name "bad/name"`},
		{[]string{"upstream", "add", "x", "--url", "ftp://host/x"}, `--url "ftp://host/x"`},
		{[]string{"upstream", "add", "x"}, "no command and no --url"},
		{[]string{"upstream", "add", "x", "--url", "http://127.0.0.1:1/mcp", "--", "node"}, "one or the other"},
		{[]string{"upstream", "add", "x", "--env", "1BAD=x", "--", "node"}, `--env "1BAD=x"`},
		{[]string{"upstream", "add", "x", "--env", "MCPPROXY_TEST_UNSET_VAR", "--", "node"}, "--env MCPPROXY_TEST_UNSET_VAR: not set"},
		{[]string{"upstream", "add", "x", "--isolation", "maybe", "--", "node"}, `--isolation "maybe"`},
		{[]string{"upstream", "add", "x", "--header", "A=b", "--", "node"}, "--header is for a --url server"},
		{[]string{"upstream", "logs", "x", "--lines", "-3"}, "--lines -3"},
		{[]string{"tools", "search", "x", "--limit", "0"}, "--limit 0"},
		{[]string{"tools", "list", "--server", "a b"}, "--server"},
		{[]string{"call", "echo"}, `TOOL "echo": must be SERVER:TOOL`},
		{[]string{"call", "fx:echo", "--args", "[1, 2]"}, `--args "[1, 2]": must be a JSON object`},
		{[]string{"call", "fx:echo", "--args", `{"a": 1} {}`}, "one JSON object only"},
		{[]string{"doctor", "-o", "yaml"}, `--output "yaml"`},
	} {
		_, errOut, code := runCLI(t, append([]string{"--data-dir", dataDir}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "not running") {
			t.Errorf("mcpproxy %s: exit %d, stderr %q; want it to name %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

// doctorResults runs `mcpproxy doctor -o json` with env and returns its
// report and exit code.
func doctorResults(t *testing.T, env []string, args ...string) ([]doctor.Result, int) {
	t.Helper()
	out, errOut, code := runCLIEnv(t, env, append(args, "doctor", "-o", "json")...)
	var res []doctor.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("doctor -o json: %v\n%s\n%s", err, out, errOut)
	}
	return res, code
}

func findResult(t *testing.T, res []doctor.Result, check string) doctor.Result {
	t.Helper()
	for _, r := range res {
		if r.Check == check {
			return r
		}
	}
	t.Fatalf("no %q line in %+v", check, res)
	return doctor.Result{}
}

// pathWithout is PATH without the directories that hold a docker binary.
func pathWithout(t *testing.T, name string) string {
	t.Helper()
	var keep []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			continue
		}
		keep = append(keep, dir)
	}
	return strings.Join(keep, string(filepath.ListSeparator))
}

// envWith is the test environment with key set to value.
func envWith(key, value string) []string {
	var env []string
	for _, kv := range testEnv() {
		if !strings.HasPrefix(kv, key+"=") {
			env = append(env, kv)
		}
	}
	return append(env, key+"="+value)
}

// `mcpproxy doctor` with Docker present and with the docker binary hidden
// from PATH: which way docker was found and where, the daemon's version,
// each isolated server's image present or not, the config's unknown keys,
// the listener, and the data dir's single owner; each line OK, WARN or
// FAIL with the fix, and the exit code says whether one failed.
func TestDoctor(t *testing.T) {
	docker := testutil.RequireDocker(t)
	image := testutil.FixtureImage(t)
	exportDockerHost(t)
	dataDir := t.TempDir()
	if err := os.Chmod(dataDir, 0o700); err != nil { // t.TempDir's is 0755
		t.Fatal(err)
	}
	missing := "127.0.0.1:1/mcpproxy-test/never-there:1" // a pull would go to a closed local port
	cfg, _ := json.Marshal(map[string]any{
		"docker_isolation": map[string]any{"enabled": true, "default_images": map[string]string{"binary": image}},
		"mcpServers": []any{
			map[string]any{"name": "boxed", "command": "/mcpfixture"},
			map[string]any{"name": "nothere", "command": "/mcpfixture", "isolation": map[string]any{"image": missing}},
		},
		"ui_theme": "dark", // an unknown key: a warning
	})
	// No proxy yet: the listener fails, everything else is judged.
	if err := os.WriteFile(filepath.Join(dataDir, "mcp_config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	d := []string{"--data-dir", dataDir}
	res, code := doctorResults(t, testEnv(), d...)
	if r := findResult(t, res, "listener"); r.Status != doctor.Fail || !strings.Contains(r.Fix, "mcpproxy serve") {
		t.Fatalf("listener without a proxy: %+v", r)
	}
	if code != 1 {
		t.Fatalf("doctor with a failed check exited %d", code)
	}

	startProxy(t, dataDir, "")
	t.Cleanup(func() { // the proxy's containers of this test, whatever happens
		out, _ := exec.Command(docker, "ps", "-aq", "--filter", "label=com.mcpproxy.server=boxed").Output()
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command(docker, "rm", "-f", id).Run()
		}
	})
	res, code = doctorResults(t, testEnv(), d...)
	bin := findResult(t, res, "docker binary")
	if bin.Status != doctor.OK || !strings.Contains(bin.Detail, "found on PATH") {
		t.Fatalf("docker binary: %+v", bin)
	}
	if r := findResult(t, res, "docker daemon"); r.Status != doctor.OK || !strings.Contains(r.Detail, "server version 2") {
		t.Fatalf("docker daemon: %+v", r)
	}
	if r := findResult(t, res, "image "+image); r.Status != doctor.OK || !strings.Contains(r.Detail, "present (for boxed)") {
		t.Fatalf("present image: %+v", r)
	}
	if r := findResult(t, res, "image "+missing); r.Status != doctor.Fail || !strings.Contains(r.Fix, "docker pull "+missing) || !strings.Contains(r.Detail, "nothere") {
		t.Fatalf("missing image: %+v", r)
	}
	if r := findResult(t, res, "config"); r.Status != doctor.OK {
		t.Fatalf("config: %+v", r)
	}
	if r := findResult(t, res, "config key"); r.Status != doctor.Warn || !strings.Contains(r.Detail, "ui_theme") {
		t.Fatalf("config key: %+v", r)
	}
	if r := findResult(t, res, "listener"); r.Status != doctor.OK || !strings.Contains(r.Detail, "accepts the API key") {
		t.Fatalf("listener: %+v", r)
	}
	if r := findResult(t, res, "data dir"); r.Status != doctor.OK || !strings.Contains(r.Detail, "held by one mcpproxy") {
		t.Fatalf("data dir: %+v", r)
	}
	if code != 1 {
		t.Fatalf("doctor with a missing image exited %d", code)
	}

	// The docker binary hidden from PATH: found at a well-known location,
	// and the line says it is not on PATH.
	res, _ = doctorResults(t, envWith("PATH", pathWithout(t, "docker")), d...)
	bin = findResult(t, res, "docker binary")
	if bin.Status != doctor.OK || !strings.Contains(bin.Detail, "well-known install location; it is not on PATH") || !strings.HasPrefix(bin.Detail, "/") {
		t.Fatalf("docker hidden from PATH: %+v", bin)
	}
	if r := findResult(t, res, "docker daemon"); r.Status != doctor.OK {
		t.Fatalf("docker daemon with docker hidden from PATH: %+v", r)
	}

	// The table: one line per check, the fix under a failed one.
	out, _, _ := runCLI(t, append(d, "doctor")...)
	for _, want := range []string{"OK    docker binary", "FAIL  image " + missing, "fix: docker pull " + missing, "WARN  config key", "1 check(s) failed"} {
		if !strings.Contains(out, want) {
			t.Fatalf("doctor lacks %q:\n%s", want, out)
		}
	}

	// A data dir others can enter fails with the fix.
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	res, _ = doctorResults(t, testEnv(), d...)
	_ = os.Chmod(dataDir, 0o700)
	if r := findResult(t, res, "data dir"); r.Status != doctor.Fail || !strings.Contains(r.Detail, "mode 0755") || !strings.Contains(r.Fix, "chmod 700") {
		t.Fatalf("data dir 0755: %+v", r)
	}
}

// An invalid config file is a FAIL naming each problem, with "did you mean".
func TestDoctorInvalidConfig(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, "mcp_config.json"), []byte(`{"docker_isolaton": {"enabled": true}, "mcpServers": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	res, code := doctorResults(t, testEnv(), "--data-dir", dataDir)
	r := findResult(t, res, "config")
	if r.Status != doctor.Fail || !strings.Contains(r.Detail, `did you mean "docker_isolation"`) || !strings.Contains(r.Fix, "mcpproxy config validate") || code != 1 {
		t.Fatalf("invalid config: exit %d %+v", code, r)
	}
}
