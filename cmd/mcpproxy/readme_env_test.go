package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// standardEnv are variables of the platform or of other tools that
// mcpproxy reads as any program does; the README need not list them.
var standardEnv = map[string]bool{
	"PATH": true, "HOME": true, "USERPROFILE": true, "SHELL": true, "TMPDIR": true,
	"KUBERNETES_SERVICE_HOST": true, // client-go's in-cluster detection
}

// envRead returns the environment variables the Go files under roots read
// (os.Getenv / os.LookupEnv of a string literal or of a string constant),
// test files, test fixtures and generators left out.
func envRead(t *testing.T, roots ...string) map[string]string {
	t.Helper()
	consts := map[string]string{} // constant name → value, every package
	type call struct{ arg ast.Expr }
	var calls []call
	where := map[ast.Expr]string{}
	fset := token.NewFileSet()
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				switch d.Name() {
				case "testutil", "gen", "testdata":
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ValueSpec:
					for i, name := range n.Names {
						if i < len(n.Values) {
							if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[name.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && len(n.Args) == 1 {
						if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv") {
							calls = append(calls, call{n.Args[0]})
							where[n.Args[0]] = fset.Position(n.Pos()).String()
						}
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	read := map[string]string{}
	for _, c := range calls {
		switch a := c.arg.(type) {
		case *ast.BasicLit:
			v, _ := strconv.Unquote(a.Value)
			read[v] = where[c.arg]
		case *ast.Ident:
			if v, ok := consts[a.Name]; ok {
				read[v] = where[c.arg]
			}
		case *ast.SelectorExpr:
			if v, ok := consts[a.Sel.Name]; ok {
				read[v] = where[c.arg]
			}
		}
	}
	return read
}

// Every environment variable mcpproxy reads is in the README, and every
// MCPPROXY_ variable the README names is read by the code (the tests'
// own, MCPPROXY_TEST_CACHE and MCPPROXY_SHARED, included).
func TestREADMEListsTheEnvironment(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	prod := envRead(t, "../../cmd", "../../internal")
	for name, at := range prod {
		if standardEnv[name] {
			continue
		}
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(readme) {
			t.Errorf("%s is read (%s) but the README does not mention it", name, at)
		}
	}
	all := maps.Clone(prod)
	for name, at := range envReadTests(t) {
		all[name] = at
	}
	var missing []string
	for _, m := range regexp.MustCompile(`\bMCPPROXY_[A-Z_]+\b`).FindAllString(readme, -1) {
		if _, ok := all[m]; !ok && !slices.Contains(missing, m) {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		t.Errorf("the README names %v, which no code reads", missing)
	}
}

// envReadTests are the variables the test support reads.
func envReadTests(t *testing.T) map[string]string {
	t.Helper()
	read := map[string]string{}
	for _, dir := range []string{"../../internal/testutil"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			for _, m := range regexp.MustCompile(`"(MCPPROXY_[A-Z_]+)"`).FindAllStringSubmatch(string(b), -1) {
				read[m[1]] = filepath.Join(dir, e.Name())
			}
		}
	}
	return read
}
