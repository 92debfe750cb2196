package httpapi

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The README's HTTP API table lists exactly the routes served.
func TestREADMEListsTheRoutes(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "## HTTP API")
	if start < 0 {
		t.Fatal("README has no HTTP API section")
	}
	section := s[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var inREADME []string
	for _, m := range regexp.MustCompile("(?m)^\\| `((?:GET|POST|PATCH|PUT|DELETE) /[^` ]*)`").FindAllStringSubmatch(section, -1) {
		inREADME = append(inREADME, m[1])
	}
	served := NewHandler(Options{Auth: &Auth{Key: func() string { return "" }}}).Routes()
	slices.Sort(inREADME)
	slices.Sort(served)
	if !slices.Equal(inREADME, served) {
		t.Fatalf("README's HTTP API table:\n%s\nroutes served:\n%s", strings.Join(inREADME, "\n"), strings.Join(served, "\n"))
	}
}
