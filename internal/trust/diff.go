package trust

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// maxDiffLines bounds the lines of each side a diff compares line by line;
// beyond it the whole sides are shown as removed and added.
const maxDiffLines = 400

// Diff shows how definition b differs from a, one line per line of their
// text form (see render): "  " unchanged, "- " only in a, "+ " only in b.
// Equal definitions give "".
func Diff(a, b Definition) string {
	al, bl := render(a), render(b)
	if slices.Equal(al, bl) {
		return ""
	}
	var out strings.Builder
	for _, op := range diffLines(al, bl) {
		out.WriteString(op)
		out.WriteByte('\n')
	}
	return out.String()
}

// Added shows a new tool's definition as all added lines.
func Added(d Definition) string {
	var out strings.Builder
	for _, l := range render(d) {
		out.WriteString("+ " + l + "\n")
	}
	return out.String()
}

// render lays a definition out as lines: each field on its own, multi-line
// texts and JSON indented below their field name.
func render(d Definition) []string {
	var lines []string
	field := func(name, text string) {
		if !strings.Contains(text, "\n") {
			lines = append(lines, name+": "+text)
			return
		}
		lines = append(lines, name+":")
		for _, l := range strings.Split(text, "\n") {
			lines = append(lines, "    "+l)
		}
	}
	if d.Title != "" {
		field("title", d.Title)
	}
	field("description", d.Description)
	field("input_schema", pretty(d.InputSchema))
	if len(d.Annotations) > 0 {
		field("annotations", pretty(d.Annotations))
	}
	return lines
}

func pretty(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return string(raw)
	}
	return buf.String()
}

// diffLines is a line diff by longest common subsequence.
func diffLines(a, b []string) []string {
	if len(a) > maxDiffLines || len(b) > maxDiffLines {
		var out []string
		for _, l := range a {
			out = append(out, "- "+l)
		}
		for _, l := range b {
			out = append(out, "+ "+l)
		}
		return out
	}
	// lcs[i][j] is the LCS length of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			out = append(out, "  "+a[i])
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, "- "+a[i])
			i++
		default:
			out = append(out, "+ "+b[j])
			j++
		}
	}
	for ; i < len(a); i++ {
		out = append(out, "- "+a[i])
	}
	for ; j < len(b); j++ {
		out = append(out, "+ "+b[j])
	}
	return out
}
