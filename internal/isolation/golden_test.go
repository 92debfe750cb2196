package isolation

import (
	"flag"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestDecisionsGolden renders the decision and plan for a catalogue of
// configurations to testdata/decisions.golden, a readable record of the
// policy (the docker argv of a plan has golden tests in internal/docker). Run `go test ./internal/isolation -run Golden -update` after an
// intended change and review the diff.
func TestDecisionsGolden(t *testing.T) {
	on := globalOn()
	off := globalOff()
	type row struct {
		title  string
		global config.DockerIsolation
		server config.Server
	}
	rows := []row{
		{"python module, global on", on, config.Server{Name: "py", Command: "python", Args: []string{"-m", "my_server"}}},
		{"uvx with secret env", on, config.Server{Name: "fetch", Command: "uvx", Args: []string{"mcp-server-fetch"}, Env: map[string]string{"API_KEY": "your-secret-key", "DEBUG": "true"}}},
		{"npx everything", on, config.Server{Name: "everything", Command: "npx", Args: []string{"-y", "@modelcontextprotocol/server-everything"}}},
		{"host binary with custom image", on, config.Server{Name: "tool", Command: "/opt/bin/mytool", Isolation: &config.ServerIsolation{Image: "mytool:1", NetworkMode: "none", ExtraArgs: []string{"--cap-drop=ALL"}}}},
		{"docker run upstream", on, config.Server{Name: "d", Command: "docker", Args: []string{"run", "-i", "--rm", "mcp/some-server"}}},
		{"opt-in while global off", off, config.Server{Name: "x", Command: "uvx", Args: []string{"p"}, Isolation: &config.ServerIsolation{Enabled: ptr(true)}}},
		{"opt-out while global on", on, config.Server{Name: "x", Command: "uvx", Args: []string{"p"}, Isolation: &config.ServerIsolation{Enabled: ptr(false)}}},
		{"http upstream", on, config.Server{Name: "h", URL: "http://127.0.0.1:1/mcp"}},
	}
	var b strings.Builder
	for _, r := range rows {
		d := Decide(r.global, &r.server, "/usr/bin/docker")
		fmt.Fprintf(&b, "## %s\nisolated=%v ignored_opt_in=%v reason=%q\n", r.title, d.Isolated, d.IgnoredOptIn, d.Reason)
		if d.Plan != nil {
			b.WriteString(renderPlan(d.Plan))
		}
		b.WriteByte('\n')
	}
	path := filepath.Join("testdata", "decisions.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Fatalf("decisions differ from %s (run with -update and review the diff):\n%s", path, b.String())
	}
}

// TestPackageIsPure keeps effects out of the policy package.
func TestPackageIsPure(t *testing.T) {
	forbidden := map[string]bool{"os": true, "os/exec": true, "syscall": true, "net": true, "net/http": true, "io/fs": true, "golang.org/x/sys/unix": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if forbidden[p] {
				t.Errorf("%s imports %q; package isolation must stay pure", f, p)
			}
		}
	}
}

// renderPlan writes every non-zero field of p, one per line, in declaration
// order: a field added to Plan shows up here without a change to the test.
func renderPlan(p *Plan) string {
	var b strings.Builder
	v := reflect.ValueOf(p).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.IsZero() {
			continue
		}
		fmt.Fprintf(&b, "  %s: ", v.Type().Field(i).Name)
		switch x := f.Interface().(type) {
		case string:
			b.WriteString(strconv.Quote(x))
		case []string:
			for j, s := range x {
				if j > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(strconv.Quote(s))
			}
		default:
			fmt.Fprintf(&b, "%+v", x)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
