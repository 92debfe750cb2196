package config

import (
	"testing"
)

func TestDocumentRemove(t *testing.T) {
	tests := []struct {
		name, in, key, want string
	}{
		{"middle", "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3\n}", "b", "{\n  \"a\": 1,\n  \"c\": 3\n}"},
		{"first", "{\n  \"a\": 1,\n  \"b\": 2\n}", "a", "{\n  \"b\": 2\n}"},
		{"last", "{\n  \"a\": 1,\n  \"b\": 2\n}", "b", "{\n  \"a\": 1\n}"},
		{"last with trailing comma", "{\n  \"a\": 1,\n  \"b\": 2,\n}", "b", "{\n  \"a\": 1,\n}"},
		{"only", "{\n  \"a\": 1\n}", "a", "{}"},
		{"only, comment kept", "{\n  \"a\": 1\n  // note\n}", "a", "{\n  // note\n}"},
		{"own comments go", "{\n  \"a\": 1,\n  // about b\n  \"b\": 2, // b's line\n  \"c\": 3\n}", "b",
			"{\n  \"a\": 1,\n  \"c\": 3\n}"},
		{"previous line comment stays", "{\n  \"a\": 1, // a's line\n  \"b\": 2,\n  \"c\": 3\n}", "b",
			"{\n  \"a\": 1, // a's line\n  \"c\": 3\n}"},
		{"previous line comment stays at end", "{\n  \"a\": 1, // a's line\n  \"b\": 2 // b's line\n}", "b",
			"{\n  \"a\": 1 // a's line\n}"},
		{"comment after brace stays", "{ // settings\n  \"a\": 1,\n  \"b\": 2\n}", "a", "{ // settings\n  \"b\": 2\n}"},
		{"blank line kept before next", "{\n  \"a\": 1,\n\n  \"b\": 2,\n\n  \"c\": 3\n}", "b", "{\n  \"a\": 1,\n\n  \"c\": 3\n}"},
		{"block comment on line", "{\n  \"a\": 1, /* a */\n  \"b\": 2\n}", "b", "{\n  \"a\": 1 /* a */\n}"},
		{"one line middle", `{"a": 1, "b": 2, "c": 3}`, "b", `{"a": 1, "c": 3}`},
		{"one line first", `{"a": 1, "b": 2}`, "a", `{"b": 2}`},
		{"one line last", `{"a": 1, "b": 2}`, "b", `{"a": 1}`},
		{"absent", `{"a": 1}`, "z", `{"a": 1}`},
		{"CRLF", "{\r\n  \"a\": 1, // a\r\n  \"b\": 2 // b\r\n}", "b", "{\r\n  \"a\": 1 // a\r\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseDocument([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			d.removeMember(&d.root, tt.key)
			if got := string(d.bytes()); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestDocumentRemoveElement(t *testing.T) {
	tests := []struct {
		name, in string
		i        int
		want     string
	}{
		{"one line first", `[1, 2, 3]`, 0, `[2, 3]`},
		{"one line middle", `[1, 2, 3]`, 1, `[1, 3]`},
		{"one line last", `[1, 2, 3]`, 2, `[1, 2]`},
		{"trailing comma kept", "[\n  1,\n  2,\n]", 1, "[\n  1,\n]"},
		{"no trailing comma added", "[\n  1 /* one */ ,\n  2\n]", 1, "[\n  1 /* one */ \n]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseDocument([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			d.removeElement(&d.root, tt.i)
			if got := string(d.bytes()); got != tt.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

func TestDocumentAppend(t *testing.T) {
	tests := []struct {
		name, in, key, raw, want string
	}{
		{"indented", "{\n    \"a\": 1\n}", "b", `{"c":[1,2],"d":{}}`,
			"{\n    \"a\": 1,\n    \"b\": {\n        \"c\": [1, 2],\n        \"d\": {}\n    }\n}"},
		{"trailing comma kept", "{\n  \"a\": 1,\n}", "b", `2`, "{\n  \"a\": 1,\n  \"b\": 2,\n}"},
		{"line comment stays on its line", "{\n  \"a\": 1 // one\n}", "b", `2`, "{\n  \"a\": 1, // one\n  \"b\": 2\n}"},
		{"closing comment stays last", "{\n  \"a\": 1\n  // end\n}", "b", `2`, "{\n  \"a\": 1,\n  \"b\": 2\n  // end\n}"},
		{"empty", `{}`, "a", `[{"x":1}]`, "{\n  \"a\": [\n    {\n      \"x\": 1\n    }\n  ]\n}"},
		{"empty with comment", "{ /* nothing yet */ }", "a", `1`, "{ /* nothing yet */\n  \"a\": 1\n}"},
		{"one line", `{"a": 1}`, "b", `{"c":[1]}`, `{"a": 1, "b": {"c": [1]}}`},
		{"colon spacing copied", `{"a":1}`, "b", `2`, `{"a":1, "b":2}`},
		{"escaped key", "{\n  \"a\": 1\n}", "a\"b", `"<&>"`, "{\n  \"a\": 1,\n  \"a\\\"b\": \"<&>\"\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseDocument([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if err := d.appendMember(&d.root, tt.key, []byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			if got := string(d.bytes()); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestDocumentReplace(t *testing.T) {
	tests := []struct {
		name, in, key, raw, want string
	}{
		{"literal", `{"a": 1 /* c */, "b": 2}`, "a", `true`, `{"a": true /* c */, "b": 2}`},
		{"one-line array stays on one line", `{"a": [1, 2]}`, "a", `[3,4,5]`, `{"a": [3, 4, 5]}`},
		{"multi-line object stays multi-line", "{\n  \"a\": {\n    \"x\": 1\n  }\n}", "a", `{"y":2}`,
			"{\n  \"a\": {\n    \"y\": 2\n  }\n}"},
		{"literal to object", "{\n  \"a\": null\n}", "a", `{"y":2}`, "{\n  \"a\": {\n    \"y\": 2\n  }\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseDocument([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if err := d.setMember(&d.root, tt.key, []byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			if got := string(d.bytes()); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestTrailLen(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"\n  ", 0},
		{" // c\n  ", 6},
		{" /* a */ // b\n", 14},
		{" /* a\n b */\n  ", 12},
		{"\n  // next\n", 0},
		{" /* inline */ ", 0},
	}
	for _, tt := range tests {
		if got := trailLen([]byte(tt.in)); got != tt.want {
			t.Errorf("trailLen(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestDocumentKeepsBOM(t *testing.T) {
	in := "\xef\xbb\xbf{\"a\": 1}"
	d, err := parseDocument([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.setMember(&d.root, "a", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if got, want := string(d.bytes()), "\xef\xbb\xbf{\"a\": 2}"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
