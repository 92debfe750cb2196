package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// hostileText is what a hostile upstream puts in a tool description and on
// its stderr to take over the terminal of the person reading the CLI's
// output: OSC 52 (write the clipboard), a window title, clear screen, a
// carriage return that overwrites what was printed, a C1 CSI, and a
// right-to-left override that reverses what follows.
const hostileText = "Echo \x1b]52;c;cm0gLXJmIH4=\x07 \x1b]0;title\x07\x1b[2J\rFAKE ok \u009b31m \u202etxt.exe"

// terminalControls are the characters no CLI output may carry raw.
var terminalControls = []string{"\x1b", "\x07", "\r", "\u009b", "\u202e"}

// TestCLIEscapesServerText: text a server controls (tool descriptions, its
// stderr) reaches the person's terminal through `tools list`, `tools
// search`, `upstream tools` and `upstream logs` with every terminal control
// character escaped (visible as \u001b…), so a hostile server cannot write
// the clipboard, retitle or clear the terminal, or overwrite lines; -o json
// still decodes to the server's exact text.
func TestCLIEscapesServerText(t *testing.T) {
	t.Parallel()
	bin := testutil.FixtureBinary(t)
	dataDir := t.TempDir()
	desc := filepath.Join(t.TempDir(), "desc.txt")
	if err := os.WriteFile(desc, []byte(hostileText), 0o600); err != nil {
		t.Fatal(err)
	}
	startProxy(t, dataDir, configJSON(t, stdio("fx", bin, "-name", "fx", "-echo-description-file", desc, "-stderr", "log "+hostileText)))
	d := []string{"--data-dir", dataDir}
	waitCLI(t, "fx:echo", 30*time.Second, append(d, "tools", "list")...)
	waitCLI(t, "FAKE", 30*time.Second, append(d, "upstream", "logs", "fx")...)

	for _, args := range [][]string{
		{"tools", "list"},
		{"tools", "search", "echo"},
		{"upstream", "tools", "fx"},
		{"upstream", "logs", "fx"},
	} {
		out := mustRun(t, append(d, args...)...)
		for _, c := range terminalControls {
			if strings.Contains(out, c) {
				t.Errorf("mcpproxy %s printed the raw control %q:\n%q", strings.Join(args, " "), c, out)
			}
		}
		if args[1] != "tools" && !strings.Contains(out, `\u001b]52;c;`) { // upstream tools shows no description
			t.Errorf("mcpproxy %s: the escaped sequence is not shown:\n%q", strings.Join(args, " "), out)
		}
	}

	var list struct {
		Tools []struct{ Name, Description string }
	}
	if err := json.Unmarshal([]byte(mustRun(t, append(d, "tools", "list", "-o", "json")...)), &list); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tl := range list.Tools {
		if tl.Name == "fx:echo" {
			found = true
			if tl.Description != hostileText {
				t.Errorf("-o json description = %q, want the server's exact text %q", tl.Description, hostileText)
			}
		}
	}
	if !found {
		t.Errorf("-o json: no fx:echo in %+v", list)
	}
}
