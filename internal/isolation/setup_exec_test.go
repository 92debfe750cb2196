package isolation

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

// TestSetupScriptRunsUnderSh runs the uvx and pipx setup commands under the
// host's /bin/sh with fake pip/uvx/pipx, proving that hostile arguments
// arrive verbatim as separate arguments, nothing in them is executed, and the
// installer's output stays off stdout (the MCP channel).
func TestSetupScriptRunsUnderSh(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX sh")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	work := filepath.Join(dir, "work")
	for _, d := range []string{bin, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The fake pip installs the fake tool into $PYTHONUSERBASE/bin, as
	// `pip install --user` does, and counts its calls.
	tool := filepath.Join(dir, "tool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"+`printf '%s\n' "$(basename "$0")"; for a in "$@"; do printf '[%s]\n' "$a"; done`+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("pip", `echo pip-noise-on-stdout; echo x >> "$PIP_CALLS"
[ "$4" = --user ] || exit 9
name=$5; [ "$name" = uv ] && name=uvx # the uv package brings uv and uvx
mkdir -p "$PYTHONUSERBASE/bin" && cp "`+tool+`" "$PYTHONUSERBASE/bin/$name"
`)

	hostile := []string{
		`'; touch canary1 #`,
		`"; touch canary2; echo "`,
		`$(touch canary3)`,
		"`touch canary4`",
		`a b  c`,
		`--from=x`,
		"",
	}
	for _, tool := range []string{"uvx", "pipx"} {
		t.Run(tool, func(t *testing.T) {
			p := Decide(globalOn(), &config.Server{Name: "s", Command: tool, Args: hostile}, "").Plan
			if p.Setup != tool || p.Command != "sh" {
				t.Fatalf("no setup: %#v", p)
			}
			userBase := filepath.Join(dir, tool+"-userbase")
			calls := filepath.Join(dir, tool+"-pip-calls")
			run := func() (stdout, stderr bytes.Buffer) {
				cmd := exec.Command("/bin/sh", p.Args...)
				cmd.Dir = work
				cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + dir, "PYTHONUSERBASE=" + userBase, "PIP_CALLS=" + calls}
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					out, _ := exec.Command("ls", "-laR", dir).CombinedOutput()
					t.Fatalf("run: %v\nstderr: %s\n%s", err, stderr.String(), out)
				}
				return stdout, stderr
			}
			stdout, stderr := run()
			// The second start finds the tool installed: pip is not run.
			again, _ := run()
			if b, _ := os.ReadFile(calls); string(b) != "x\n" {
				t.Fatalf("pip ran %d times over two starts, want once", strings.Count(string(b), "x"))
			}
			if again.String() != stdout.String() {
				t.Fatalf("second start printed %q, first %q", again.String(), stdout.String())
			}
			want := tool + "\n"
			for _, a := range hostile {
				want += "[" + a + "]\n"
			}
			if stdout.String() != want {
				t.Fatalf("stdout\n got %q\nwant %q", stdout.String(), want)
			}
			if !strings.Contains(stderr.String(), "pip-noise-on-stdout") {
				t.Fatalf("installer output should go to stderr, got %q", stderr.String())
			}
			entries, _ := os.ReadDir(work)
			if len(entries) != 0 {
				t.Fatalf("an argument was executed: %v", entries)
			}
		})
	}
}
