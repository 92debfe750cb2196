package bench

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// BenchmarkProcessHop: the floor any proxy process pays on this machine —
// a relay that only copies bytes between the client's stdio and the
// server's, against the direct connection.
func BenchmarkProcessHop(b *testing.B) {
	bin := testutil.EverythingServer(b)
	root, err := testutil.ModuleRoot()
	if err != nil {
		b.Fatal(err)
	}
	relay := filepath.Join(b.TempDir(), "relay")
	build := exec.Command("go", "build", "-o", relay, "./bench/relay")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build relay: %v\n%s", err, out)
	}
	for i := 0; i < b.N; i++ {
		direct := stdioSession(b, bin)
		hop := stdioSession(b, relay, bin)
		warm(b, simpleText(direct))
		warm(b, simpleText(hop))
		d, h := interleaved(b, simpleText(direct), simpleText(hop))
		var sb strings.Builder
		fmt.Fprintf(&sb, "test_simple_text, %d sequential calls each, interleaved, Go SDK stdio client\n", calls)
		fmt.Fprintf(&sb, "  direct            %s\n", d)
		fmt.Fprintf(&sb, "  through a relay   %s   (%+.1f µs at p50: one extra process that only copies bytes)\n", h, us(h.p50-d.p50))
		writeResult(b, "process_hop", sb.String())
		report(b, "direct", d)
		report(b, "relay", h)
	}
}
