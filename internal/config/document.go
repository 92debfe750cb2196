package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/tailscale/hujson"
)

// document is a configuration file held as a hujson syntax tree so that it
// can be edited without losing the user's comments, key order, formatting
// and unknown keys. Every edit touches only the values it changes; new
// values are laid out to match their neighbours (indentation, line endings,
// trailing commas).
type document struct {
	root hujson.Value
	bom  bool   // the file starts with a UTF-8 byte order mark
	nl   string // the file's line ending: "\n" or "\r\n"
	unit string // one level of indentation
}

func parseDocument(data []byte) (*document, error) {
	d := &document{nl: "\n", unit: "  "}
	if bytes.HasPrefix(data, utf8BOM) {
		d.bom = true
		data = data[len(utf8BOM):]
	}
	if i := bytes.IndexByte(data, '\n'); i > 0 && data[i-1] == '\r' {
		d.nl = "\r\n"
	}
	v, err := hujson.Parse(bytes.Clone(data))
	if err != nil {
		return nil, err
	}
	d.root = v
	if obj, ok := v.Value.(*hujson.Object); ok && len(obj.Members) > 0 {
		if ind, ok := lastLineIndent(obj.Members[0].Name.BeforeExtra); ok && ind != "" {
			d.unit = ind
		}
	}
	return d, nil
}

// bytes returns the file's content.
func (d *document) bytes() []byte {
	b := d.root.Pack()
	if d.bom {
		b = append(bytes.Clone(utf8BOM), b...)
	}
	return b
}

func asObject(v *hujson.Value) *hujson.Object {
	o, _ := v.Value.(*hujson.Object)
	return o
}

func asArray(v *hujson.Value) *hujson.Array {
	a, _ := v.Value.(*hujson.Array)
	return a
}

func memberName(m *hujson.ObjectMember) string {
	return m.Name.Value.(hujson.Literal).String()
}

// member returns the value of the first member named key of the object v,
// or nil.
func member(v *hujson.Value, key string) *hujson.Value {
	o := asObject(v)
	if o == nil {
		return nil
	}
	if i := memberIndex(o, key); i >= 0 {
		return &o.Members[i].Value
	}
	return nil
}

func memberIndex(o *hujson.Object, key string) int {
	for i := range o.Members {
		if memberName(&o.Members[i]) == key {
			return i
		}
	}
	return -1
}

// setMember sets key in the object v to the JSON value raw: the existing
// value is replaced in place, or a new member is appended.
func (d *document) setMember(v *hujson.Value, key string, raw []byte) error {
	if cur := member(v, key); cur != nil {
		return d.replace(cur, raw)
	}
	return d.appendMember(v, key, raw)
}

// removeMember removes key from the object v, if present.
func (d *document) removeMember(v *hujson.Value, key string) {
	o := asObject(v)
	if o == nil {
		return
	}
	i := memberIndex(o, key)
	if i < 0 {
		return
	}
	trailingComma := o.Members[len(o.Members)-1].Value.AfterExtra != nil
	next := &o.AfterExtra
	if i+1 < len(o.Members) {
		next = &o.Members[i+1].Name.BeforeExtra
	}
	*next = joinAfterRemoval(o.Members[i].Name.BeforeExtra, *next, i+1 == len(o.Members))
	o.Members = append(o.Members[:i], o.Members[i+1:]...)
	if n := len(o.Members); n > 0 {
		fixTrailingComma(&o.Members[n-1].Value.AfterExtra, &o.AfterExtra, trailingComma)
	} else if isBlank(o.AfterExtra) {
		o.AfterExtra = nil
	}
}

// removeElement removes element i of the array v.
func (d *document) removeElement(v *hujson.Value, i int) {
	a := asArray(v)
	trailingComma := a.Elements[len(a.Elements)-1].AfterExtra != nil
	next := &a.AfterExtra
	if i+1 < len(a.Elements) {
		next = &a.Elements[i+1].BeforeExtra
	}
	*next = joinAfterRemoval(a.Elements[i].BeforeExtra, *next, i+1 == len(a.Elements))
	a.Elements = append(a.Elements[:i], a.Elements[i+1:]...)
	if n := len(a.Elements); n > 0 {
		fixTrailingComma(&a.Elements[n-1].AfterExtra, &a.AfterExtra, trailingComma)
	} else if isBlank(a.AfterExtra) {
		a.AfterExtra = nil
	}
}

// appendMember adds key: raw at the end of the object v.
func (d *document) appendMember(v *hujson.Value, key string, raw []byte) error {
	o := asObject(v)
	if o == nil {
		return fmt.Errorf("edit: not an object")
	}
	var lastName *hujson.Value
	trailingComma := false
	colon := hujson.Extra(" ")
	if n := len(o.Members); n > 0 {
		last := &o.Members[n-1]
		lastName = &last.Name
		trailingComma = last.Value.AfterExtra != nil
		if b := last.Value.BeforeExtra; isBlank(b) && !bytes.ContainsAny(b, "\r\n") {
			colon = append(hujson.Extra{}, b...)
		}
	}
	before, tail, indent, multi := d.appendLayout(v, lastName, o.AfterExtra)
	val, err := d.render(raw, indent, multi)
	if err != nil {
		return err
	}
	val.BeforeExtra = colon
	if trailingComma {
		val.AfterExtra = hujson.Extra{}
	}
	o.Members = append(o.Members, hujson.ObjectMember{
		Name:  hujson.Value{BeforeExtra: before, Value: hujson.String(key)},
		Value: val,
	})
	o.AfterExtra = tail
	return nil
}

// appendElement adds raw at the end of the array v.
func (d *document) appendElement(v *hujson.Value, raw []byte) error {
	a := asArray(v)
	if a == nil {
		return fmt.Errorf("edit: not an array")
	}
	var last *hujson.Value
	trailingComma := false
	if n := len(a.Elements); n > 0 {
		last = &a.Elements[n-1]
		trailingComma = last.AfterExtra != nil
	}
	before, tail, indent, multi := d.appendLayout(v, last, a.AfterExtra)
	val, err := d.render(raw, indent, multi)
	if err != nil {
		return err
	}
	val.BeforeExtra = before
	if trailingComma {
		val.AfterExtra = hujson.Extra{}
	}
	a.Elements = append(a.Elements, val)
	a.AfterExtra = tail
	return nil
}

// appendLayout decides the whitespace around a child appended to the
// composite v whose current last child is last (its name, for an object;
// nil when empty) and whose closing Extra is tail. It returns the Extra
// before the new child, the composite's new closing Extra, the indentation
// of the new child's line and whether the composite is laid out over lines.
func (d *document) appendLayout(v, last *hujson.Value, tail hujson.Extra) (before, newTail hujson.Extra, indent string, multi bool) {
	if last == nil {
		// Empty composite: lay it out over lines, one level deeper than
		// the line it starts on. Comments inside it stay before the child.
		parent := d.lineIndent(v)
		indent = parent + d.unit
		lead := hujson.Extra(d.nl)
		if t := bytes.TrimRight(tail, " \t"); hasComment(t) {
			lead = bytes.Clone(t)
			if !bytes.HasSuffix(lead, []byte("\n")) {
				lead = append(lead, d.nl...)
			}
		}
		return append(lead, indent...), hujson.Extra(d.nl + parent), indent, true
	}
	indent = d.lineIndent(last)
	if !bytes.ContainsAny(last.BeforeExtra, "\n") && !bytes.ContainsAny(tail, "\n") {
		return hujson.Extra(" "), tail, indent, false
	}
	if n := trailLen(tail); n > 0 {
		// A comment on the last child's line stays on that line.
		return append(bytes.Clone(tail[:n]), indent...), append(hujson.Extra(d.nl), tail[n:]...), indent, true
	}
	return hujson.Extra(d.nl + indent), tail, indent, true
}

// replace replaces the value v by raw, keeping the comments around it. A
// value that fit on one line is replaced by a one-line value.
func (d *document) replace(v *hujson.Value, raw []byte) error {
	multi := true // a literal turning into an object or array gets lines
	if _, ok := v.Value.(hujson.Literal); !ok {
		multi = strings.ContainsAny(hujson.Value{Value: v.Value}.String(), "\n")
	}
	nv, err := d.render(raw, d.lineIndent(v), multi)
	if err != nil {
		return err
	}
	v.Value = nv.Value
	return nil
}

// render parses the standard JSON raw into a value laid out for a line
// indented by indent. Laid out over lines (multi), each object member and
// each element of an array that holds objects or arrays gets its own line,
// in the document's indentation unit and line ending; arrays of plain values
// stay on one line, as people write "args". Otherwise the value is on one
// line with a space after each comma and colon.
func (d *document) render(raw []byte, indent string, multi bool) (hujson.Value, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return hujson.Value{}, fmt.Errorf("edit: render value: %w", err)
	}
	v, err := hujson.Parse(buf.Bytes())
	if err != nil {
		return hujson.Value{}, fmt.Errorf("edit: render value: %w", err)
	}
	if multi {
		d.layout(&v, indent)
	} else {
		spaceOut(&v)
	}
	v.BeforeExtra, v.AfterExtra = nil, nil
	return v, nil
}

// layout spreads the compact value v over lines, v's line being indented
// by indent.
func (d *document) layout(v *hujson.Value, indent string) {
	inner := hujson.Extra(d.nl + indent + d.unit)
	switch c := v.Value.(type) {
	case *hujson.Object:
		if len(c.Members) == 0 {
			return
		}
		for i := range c.Members {
			c.Members[i].Name.BeforeExtra = inner
			c.Members[i].Value.BeforeExtra = hujson.Extra(" ")
			d.layout(&c.Members[i].Value, indent+d.unit)
		}
		c.AfterExtra = hujson.Extra(d.nl + indent)
	case *hujson.Array:
		flat := true
		for i := range c.Elements {
			if _, ok := c.Elements[i].Value.(hujson.Literal); !ok {
				flat = false
			}
		}
		if flat {
			spaceOut(v)
			return
		}
		for i := range c.Elements {
			c.Elements[i].BeforeExtra = inner
			d.layout(&c.Elements[i], indent+d.unit)
		}
		c.AfterExtra = hujson.Extra(d.nl + indent)
	}
}

// spaceOut puts one space after every comma and colon of a compact value.
func spaceOut(v *hujson.Value) {
	switch c := v.Value.(type) {
	case *hujson.Object:
		for i := range c.Members {
			if i > 0 {
				c.Members[i].Name.BeforeExtra = hujson.Extra(" ")
			}
			c.Members[i].Value.BeforeExtra = hujson.Extra(" ")
			spaceOut(&c.Members[i].Value)
		}
	case *hujson.Array:
		for i := range c.Elements {
			if i > 0 {
				c.Elements[i].BeforeExtra = hujson.Extra(" ")
			}
			spaceOut(&c.Elements[i])
		}
	}
}

// lineIndent returns the leading blanks of the line on which v starts. v
// must point into d.root.
func (d *document) lineIndent(v *hujson.Value) string {
	d.root.UpdateOffsets()
	b := d.root.Pack()
	off := min(v.StartOffset, len(b))
	start := bytes.LastIndexByte(b[:off], '\n') + 1
	end := start
	for end < len(b) && (b[end] == ' ' || b[end] == '\t') {
		end++
	}
	return string(b[start:end])
}

// lastLineIndent returns what follows the last newline of e, if e has one
// and that is only blanks.
func lastLineIndent(e hujson.Extra) (string, bool) {
	i := bytes.LastIndexByte(e, '\n')
	if i < 0 {
		return "", false
	}
	rest := e[i+1:]
	if !isBlank(rest) {
		return "", false
	}
	return string(rest), true
}

func isBlank(e []byte) bool {
	return len(bytes.Trim(e, " \t\r\n")) == 0
}

func hasComment(e []byte) bool {
	return bytes.Contains(e, []byte("//")) || bytes.Contains(e, []byte("/*"))
}

// trailLen returns the length of the start of e that belongs to the value
// before it: comments that start on that value's line, through the end of
// the line. It is 0 when no comment starts on that line.
func trailLen(e []byte) int {
	sawComment := false
	for i := 0; i < len(e); {
		switch {
		case e[i] == ' ' || e[i] == '\t' || e[i] == '\r':
			i++
		case e[i] == '\n':
			if sawComment {
				return i + 1
			}
			return 0
		case bytes.HasPrefix(e[i:], []byte("//")):
			j := bytes.IndexByte(e[i:], '\n')
			if j < 0 {
				return 0
			}
			return i + j + 1
		case bytes.HasPrefix(e[i:], []byte("/*")):
			j := bytes.Index(e[i+2:], []byte("*/"))
			if j < 0 {
				return 0
			}
			i += 2 + j + 2
			sawComment = true
		default:
			return 0
		}
	}
	return 0
}

// joinAfterRemoval returns the Extra that replaces next (the Extra after the
// removed child, or the closing Extra when isTail) once the child whose
// leading Extra is before has been removed. A comment on the previous
// child's line (at the start of before) is kept; the removed child's own
// leading comments and the comment on its line (at the start of next) go
// with it.
func joinAfterRemoval(before, next hujson.Extra, isTail bool) hujson.Extra {
	keep := before[:trailLen(before)]
	rest := next
	if n := trailLen(next); n > 0 {
		nl := "\n"
		if bytes.HasSuffix(next[:n], []byte("\r\n")) {
			nl = "\r\n"
		}
		rest = append(hujson.Extra(nl), next[n:]...)
	}
	if len(keep) == 0 && !bytes.ContainsAny(before, "\n") && !bytes.ContainsAny(rest, "\n") {
		// One-line layout: keep the spacing of the removed child's slot.
		if isTail || hasComment(before) {
			return bytes.Clone(rest)
		}
		return bytes.Clone(before)
	}
	if len(keep) > 0 {
		// keep ends the line; drop rest's own line break.
		if i := bytes.IndexByte(rest, '\n'); i >= 0 && isBlank(rest[:i]) {
			rest = rest[i+1:]
		}
	}
	return append(bytes.Clone(keep), rest...)
}

// fixTrailingComma restores the composite's trailing comma after its last
// child changed: lastAfter is the new last child's AfterExtra, which hujson
// uses as the trailing-comma marker, and tail the closing Extra.
func fixTrailingComma(lastAfter, tail *hujson.Extra, want bool) {
	switch {
	case want && *lastAfter == nil:
		*lastAfter = hujson.Extra{}
	case !want && *lastAfter != nil:
		*tail = append(bytes.Clone(*lastAfter), *tail...)
		*lastAfter = nil
	}
}

// equalJSON reports whether the value v means the same as the standard JSON
// raw.
func equalJSON(v *hujson.Value, raw []byte) bool {
	c := hujson.Value{Value: v.Value}.Clone()
	c.Standardize()
	var a, b any
	if json.Unmarshal(c.Pack(), &a) != nil || json.Unmarshal(raw, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// isEmptyJSON reports whether v is null, "", [] or {}: what an omitted
// optional key means.
func isEmptyJSON(v *hujson.Value) bool {
	switch c := v.Value.(type) {
	case hujson.Literal:
		return c.Kind() == 'n' || string(c) == `""`
	case *hujson.Object:
		return len(c.Members) == 0
	case *hujson.Array:
		return len(c.Elements) == 0
	}
	return false
}

// syncObject edits the object dst so that, for each key that known accepts,
// it holds exactly the members of want (standard JSON object): differing
// values are replaced, missing ones appended, extra ones removed unless they
// are empty (an omitted key and an empty value mean the same). Members that
// are already equal, members known does not accept (unknown keys), the
// order of existing members and comments are kept. nested names the keys
// whose object values are synced recursively, with their own known set.
func (d *document) syncObject(dst *hujson.Value, want []byte, known func(string) bool, nested map[string]func(string) bool) error {
	wv, err := hujson.Parse(want)
	if err != nil {
		return err
	}
	wo := asObject(&wv)
	if wo == nil || asObject(dst) == nil {
		return d.replace(dst, want)
	}
	o := asObject(dst)
	for i := len(o.Members) - 1; i >= 0; i-- {
		k := memberName(&o.Members[i])
		if !known(k) || memberIndex(wo, k) >= 0 || isEmptyJSON(&o.Members[i].Value) {
			continue
		}
		d.removeMember(dst, k)
	}
	for i := range wo.Members {
		k := memberName(&wo.Members[i])
		raw := wo.Members[i].Value.Pack()
		cur := member(dst, k)
		switch {
		case cur == nil:
			if err := d.appendMember(dst, k, raw); err != nil {
				return err
			}
		case equalJSON(cur, raw):
		case nested[k] != nil && asObject(cur) != nil && asObject(&wo.Members[i].Value) != nil:
			if err := d.syncObject(cur, raw, nested[k], nil); err != nil {
				return err
			}
		default:
			if err := d.replace(cur, raw); err != nil {
				return err
			}
		}
	}
	return nil
}
