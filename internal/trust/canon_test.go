package trust

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The canonical encoder hashes every tool exactly as encoding/json
// marshalling its Definition did (defineSlow): pins written by earlier
// versions keep matching.
func TestCanonicalHashMatchesEncodingJSON(t *testing.T) {
	schema := func(extra map[string]any) map[string]any {
		m := map[string]any{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tools := map[string]*mcp.Tool{
		"plain":       tool("echo", "Returns text unchanged."),
		"title":       {Name: "echo", Title: "Echo <b> & co", Description: "x", InputSchema: schema(nil)},
		"html":        {Name: "h", Description: "<script>alert('&')</script>", InputSchema: schema(map[string]any{"description": "a > b"})},
		"controls":    {Name: "c", Description: "tab\there\nnew\rret\bbs\fff\x00nul\x1fus\x7fdel \"q\" \\", InputSchema: schema(nil)},
		"unicode":     {Name: "u", Description: "café 日本 \u2028 \u2029 😀", InputSchema: schema(nil)},
		"bad utf-8":   {Name: "b", Description: "a\xffb\xc3(", InputSchema: schema(map[string]any{"x\xfe": "y\xc0"})},
		"numbers":     {Name: "n", InputSchema: schema(map[string]any{"a": 1.0, "b": math.Copysign(0, -1), "c": 1.5e-7, "d": 1e21, "e": 123456789012345678.0, "f": 0.000001, "g": 1e-9, "h": -2.5e300, "i": 100.0})},
		"arrays":      {Name: "a", InputSchema: schema(map[string]any{"required": []any{"text", 1.0, true, nil, []any{}, map[string]any{}}, "nil": []any(nil), "nilmap": map[string]any(nil)})},
		"nested":      {Name: "n", InputSchema: schema(map[string]any{"z": map[string]any{"b": map[string]any{"d": 1.0, "c": []any{map[string]any{"y": 1.0, "x": 2.0}}}, "a": "1"}})},
		"typed leaf":  {Name: "t", InputSchema: schema(map[string]any{"list": []string{"a", "b"}, "m": map[string]string{"z": "1", "a": "2"}, "i": 3, "raw": json.RawMessage(`{"b": 1, "a": 2}`)})},
		"raw":         {Name: "r", InputSchema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"number","maximum":1.50,"minimum":1e2}}, "a<b": "\u2028"}`)},
		"raw invalid": {Name: "r", InputSchema: json.RawMessage(`{"type":`)},
		"typed":       {Name: "s", InputSchema: &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"q": {Type: "string", Description: "<q>"}}}},
		"nil schema":  {Name: "z"},
		"annotations": {Name: "a", InputSchema: schema(nil), Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, Title: "T&T"}},
		"NaN":         {Name: "nan", InputSchema: schema(map[string]any{"x": math.NaN()})},
		"Inf":         {Name: "inf", InputSchema: math.Inf(1)},
		"channel":     {Name: "ch", InputSchema: schema(map[string]any{"c": make(chan int)})},
		"string top":  {Name: "s", InputSchema: "just <text>"},
		"empty":       {},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		tools["random"+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = &mcp.Tool{Name: randomString(r), Title: randomString(r), Description: randomString(r), InputSchema: randomValue(r, 3)}
	}
	for name, tl := range tools {
		wantDef, wantHash := defineSlow(tl)
		gotDef, gotHash := Define(tl)
		if gotHash != wantHash {
			t.Errorf("%s: hash %s, encoding/json's %s", name, gotHash, wantHash)
		}
		if h := hashTool(tl).String(); h != wantHash {
			t.Errorf("%s: hashTool %s, encoding/json's %s", name, h, wantHash)
		}
		if !bytes.Equal(gotDef.InputSchema, wantDef.InputSchema) || !bytes.Equal(gotDef.Annotations, wantDef.Annotations) ||
			gotDef.Name != wantDef.Name || gotDef.Title != wantDef.Title || gotDef.Description != wantDef.Description {
			t.Errorf("%s: definition\n%+v\nencoding/json's\n%+v", name, gotDef, wantDef)
		}
	}
}

func randomString(r *rand.Rand) string {
	const pieces = "ab<>&\"\\\n\t\x01\x7f\u2028é😀\xff "
	var b strings.Builder
	for range r.IntN(12) {
		i := r.IntN(len(pieces))
		b.WriteByte(pieces[i])
	}
	return b.String()
}

func randomValue(r *rand.Rand, depth int) any {
	switch k := r.IntN(7); {
	case depth == 0 || k == 0:
		return randomString(r)
	case k == 1:
		return []float64{0, 1, -1, 0.5, 1e-7, 3e21, 12345.678, -0.000001}[r.IntN(8)]
	case k == 2:
		return r.IntN(2) == 0
	case k == 3:
		return nil
	case k == 4:
		a := make([]any, r.IntN(4))
		for i := range a {
			a[i] = randomValue(r, depth-1)
		}
		return a
	default:
		m := map[string]any{}
		for range r.IntN(5) {
			m[randomString(r)] = randomValue(r, depth-1)
		}
		return m
	}
}

// The state file is what encoding/json writes for the state.
func TestWriteStateMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	d1, h1 := define(tool("echo", "Returns <text>."))
	d2, h2 := define(&mcp.Tool{Name: "z", Title: "Zed", InputSchema: json.RawMessage(`{}`), Annotations: &mcp.ToolAnnotations{DestructiveHint: new(bool)}})
	st := fileState{Version: stateVersion, Servers: map[string]*serverState{
		"b<&>":  {Pinned: true, Tools: map[string]*Pin{"echo": pin(d1, h1, at), "z": pin(d2, h2, at)}},
		"a":     {Quarantine: &QuarantineNote{Operation: "update", Changed: []string{"command", "args"}, At: at}},
		"empty": {Pinned: true},
		"both":  {Quarantine: &QuarantineNote{Operation: "add", At: at}, Pinned: true, Tools: map[string]*Pin{"e": pin(d1, h1, at)}},
	}}
	want, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	snap := map[string]serverState{}
	for n, ss := range st.Servers {
		snap[n] = *ss
	}
	var got bytes.Buffer
	if err := writeState(&got, snap); err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want)+"\n" {
		t.Fatalf("state file\n%s\nencoding/json's\n%s", got.String(), want)
	}
	var empty bytes.Buffer
	if err := writeState(&empty, nil); err != nil || empty.String() != `{"version":1,"servers":{}}`+"\n" {
		t.Fatalf("empty state %q, %v", empty.String(), err)
	}
}
