package upstream

import (
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// The tools table has a header and its hash column lines up whatever the
// names' lengths; a diff follows its tool, indented.
func TestPrintToolsAligned(t *testing.T) {
	var b strings.Builder
	printTools(&b, trust.ServerTools{Server: "fx", Live: true, Tools: []trust.ToolView{
		{Name: "a", State: trust.StateApproved, Hash: "sha256:1"},
		{Name: "a_much_longer_name", State: trust.StateChanged, Hash: "sha256:2", Diff: "- description: old\n+ description: new\n"},
	}}, false)
	lines := strings.Split(b.String(), "\n")
	if !strings.HasPrefix(lines[0], "STATE") || !strings.Contains(lines[0], "TOOL") {
		t.Fatalf("no header:\n%s", b.String())
	}
	col := strings.Index(lines[0], "HASH")
	for _, l := range []string{lines[1], lines[2]} {
		if strings.Index(l, "sha256:") != col {
			t.Errorf("hash not under HASH (column %d):\n%s", col, b.String())
		}
	}
	if lines[3] != "    - description: old" || !strings.Contains(b.String(), "1 tool(s) withheld") {
		t.Errorf("diff or hint missing:\n%s", b.String())
	}
}
