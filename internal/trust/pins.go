package trust

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"maps"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Pin is the approved definition of one tool. Pins are never changed
// once made: an approval replaces them.
type Pin struct {
	// Hash is "sha256:" and the hex SHA-256 of the tool's canonical
	// definition (see Define).
	Hash        string          `json:"hash"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
	ApprovedAt  time.Time       `json:"approved_at"`

	sum digest // Hash, read
}

// Definition is the part of a tool a pin covers: what a model reads and
// relies on to choose and call it — its name, title, description, input
// schema and annotations (the behaviour hints some clients auto-approve
// by). JSON values are canonical (object keys sorted), so a server that
// merely reorders its schema's keys changes nothing.
type Definition struct {
	Name        string          `json:"name"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
}

// Define returns the canonical definition of t and its hash.
func Define(t *mcp.Tool) (Definition, string) {
	d, sum := define(t)
	return d, sum.String()
}

// define returns the canonical definition of t and its digest, written
// once by the canonical encoder (see canon.go).
func define(t *mcp.Tool) (Definition, digest) {
	var d Definition
	var sum digest
	if !withCanonical(t, func(e *canonEncoder) {
		d = Definition{Name: t.Name, Title: t.Title, Description: t.Description,
			InputSchema: bytes.Clone(e.buf[e.schema[0]:e.schema[1]])}
		if t.Annotations != nil {
			d.Annotations = bytes.Clone(e.buf[e.annotations[0]:e.annotations[1]])
		}
		sum = sha256.Sum256(e.buf)
	}) {
		d, _ = defineSlow(t)
		sum = slowDigest(d)
	}
	return d, sum
}

// defineSlow is the canonical definition of t by encoding/json, for the
// values the canonical encoder leaves to it (a NaN, a value that cannot be
// rendered).
func defineSlow(t *mcp.Tool) (Definition, string) {
	d := Definition{Name: t.Name, Title: t.Title, Description: t.Description,
		InputSchema: canonical(t.InputSchema)}
	if t.Annotations != nil {
		d.Annotations = canonical(t.Annotations)
	}
	return d, slowDigest(d).String()
}

// canonical renders v as JSON with object keys sorted, numbers as
// encoding/json writes float64s, and no insignificant space, so a schema
// hashes the same whichever way it was decoded; a value that cannot be
// rendered becomes its error text, which still pins it (as a string).
func canonical(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal("unrenderable: " + err.Error())
		return b
	}
	if _, decoded := v.(map[string]any); decoded {
		// What encoding/json decoded (either way a schema is listed):
		// maps marshal with sorted keys, numbers as float64.
		return b
	}
	// Anything else (raw JSON, typed schemas) gets the same form.
	var generic any
	if json.Unmarshal(b, &generic) != nil {
		return b
	}
	out, err := json.Marshal(generic)
	if err != nil {
		return b
	}
	return out
}

// pin makes the pin of definition d with digest sum, approved now.
func pin(d Definition, sum digest, now time.Time) *Pin {
	return &Pin{Hash: sum.String(), sum: sum, Title: d.Title, Description: d.Description, InputSchema: d.InputSchema, Annotations: d.Annotations, ApprovedAt: now}
}

// definition returns the definition a pin approved.
func (p *Pin) definition(name string) Definition {
	return Definition{Name: name, Title: p.Title, Description: p.Description, InputSchema: p.InputSchema, Annotations: p.Annotations}
}

// The states of a tool against its server's pins.
const (
	// StateApproved: the tool is what a person approved (or what the
	// server first presented, for a trusted server).
	StateApproved = "approved"
	// StateChanged: the tool's definition differs from its pin.
	StateChanged = "changed"
	// StateNew: the tool has no pin; it appeared after the baseline.
	StateNew = "new"
)

// pinsOf returns server's pins by name and whether its tools were ever
// pinned. The map is the store's own and must not be changed: a change of
// the pins replaces it (so it needs no copy).
func (s *Store) pinsOf(server string) (map[string]*Pin, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.st.Servers[server]
	if ss == nil || !ss.Pinned {
		return nil, false
	}
	return ss.Tools, true
}

// baseline pins every tool of defs when server has no pins yet and reports
// whether it did (a server's first tool list after it became trusted). The
// pins are in force at once and written by the store's writer.
func (s *Store) baseline(server string, defs map[string]Definition, sums map[string]digest) bool {
	did := false
	s.changeSoon(func() {
		ss := s.serverLocked(server)
		if ss.Pinned {
			return
		}
		now := time.Now().UTC()
		tools := make(map[string]*Pin, len(defs))
		for n, d := range defs {
			tools[n] = pin(d, sums[n], now)
		}
		ss.Pinned, ss.Tools, did = true, tools, true
	})
	return did
}

// approve pins the given definitions of server's tools.
func (s *Store) approve(server string, defs map[string]Definition, sums map[string]digest) error {
	return s.change(func() {
		ss := s.serverLocked(server)
		// A new map: readers hold the old one without a lock.
		tools := make(map[string]*Pin, len(ss.Tools)+len(defs))
		maps.Copy(tools, ss.Tools)
		now := time.Now().UTC()
		for n, d := range defs {
			tools[n] = pin(d, sums[n], now)
		}
		ss.Pinned, ss.Tools = true, tools
	})
}
