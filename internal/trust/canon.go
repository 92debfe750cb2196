package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// digest is the SHA-256 of a tool's canonical definition.
type digest [sha256.Size]byte

// hashPrefix starts every pin's hash text.
const hashPrefix = "sha256:"

func (d digest) String() string { return hashPrefix + hex.EncodeToString(d[:]) }

// parseDigest reads a pin's hash text; a malformed one gives the zero
// digest, which no definition has (its tool then shows as changed).
func parseDigest(s string) digest {
	var d digest
	if len(s) != len(hashPrefix)+2*sha256.Size || s[:len(hashPrefix)] != hashPrefix {
		return digest{}
	}
	if _, err := hex.Decode(d[:], []byte(s[len(hashPrefix):])); err != nil {
		return digest{}
	}
	return d
}

// The canonical form of a definition is what encoding/json writes for
// Definition with its JSON fields canonical: object keys sorted, numbers
// as float64s, no insignificant space, HTML characters escaped. Pins on
// disk hold hashes of that form, so it never changes. The encoder below
// writes it straight into a reused buffer, without reflection and
// without the intermediate copies that marshalling Definition makes; a
// value it does not know how to write is left to encoding/json.

// canonEncoder writes canonical JSON. Its buffers are reused across
// tools (encoders are pooled).
type canonEncoder struct {
	buf  []byte
	keys []string // scratch for the sorted keys of nested objects
	// schema and annotations are where definition wrote those fields'
	// values in buf.
	schema, annotations [2]int
}

var encoders = sync.Pool{New: func() any { return &canonEncoder{buf: make([]byte, 0, 1024)} }}

// errNotCanonical reports a value the encoder cannot write the way
// encoding/json would (a NaN, say); the caller falls back to
// encoding/json.
var errNotCanonical = errors.New("not canonical")

// hashTool returns the digest of t's canonical definition, allocating
// nothing in the common case (a schema as encoding/json decodes it).
func hashTool(t *mcp.Tool) digest {
	var sum digest
	if !withCanonical(t, func(e *canonEncoder) { sum = sha256.Sum256(e.buf) }) {
		d, _ := defineSlow(t)
		sum = slowDigest(d)
	}
	return sum
}

// withCanonical writes t's canonical definition with a pooled encoder and
// hands it to fn; false when the encoder cannot write it (defineSlow
// then can).
func withCanonical(t *mcp.Tool, fn func(e *canonEncoder)) bool {
	e := encoders.Get().(*canonEncoder)
	defer encoders.Put(e)
	e.buf = e.buf[:0]
	if e.definition(t) != nil {
		return false
	}
	fn(e)
	return true
}

// slowDigest is the digest of d as encoding/json renders it.
func slowDigest(d Definition) digest {
	b, _ := json.Marshal(d) // every field is already valid JSON
	return sha256.Sum256(b)
}

// definition writes t's canonical definition (the JSON of Definition).
func (e *canonEncoder) definition(t *mcp.Tool) error {
	e.buf = append(e.buf, `{"name":`...)
	e.buf = appendString(e.buf, t.Name)
	if t.Title != "" {
		e.buf = append(e.buf, `,"title":`...)
		e.buf = appendString(e.buf, t.Title)
	}
	e.buf = append(e.buf, `,"description":`...)
	e.buf = appendString(e.buf, t.Description)
	e.buf = append(e.buf, `,"input_schema":`...)
	e.schema[0] = len(e.buf)
	if err := e.top(t.InputSchema); err != nil {
		return err
	}
	e.schema[1] = len(e.buf)
	if t.Annotations != nil {
		e.buf = append(e.buf, `,"annotations":`...)
		e.annotations[0] = len(e.buf)
		if err := e.top(t.Annotations); err != nil {
			return err
		}
		e.annotations[1] = len(e.buf)
	}
	e.buf = append(e.buf, '}')
	return nil
}

// top writes a field's value: an object as encoding/json decoded it (how
// every schema arrives) is written as it is; anything else (raw JSON,
// typed schemas, annotations, a bare array or string) is rendered by
// encoding/json, decoded and then written, so that every form of one
// value comes out alike.
func (e *canonEncoder) top(v any) error {
	switch v.(type) {
	case map[string]any, nil:
		return e.value(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return errNotCanonical
	}
	var generic any
	if json.Unmarshal(b, &generic) != nil {
		return errNotCanonical
	}
	return e.value(generic)
}

// value writes v, one of the types encoding/json decodes into; any other
// type is appended as encoding/json renders it (what marshalling the
// enclosing map would have written).
func (e *canonEncoder) value(v any) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case string:
		e.buf = appendString(e.buf, x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return errNotCanonical
		}
		e.buf = appendFloat(e.buf, x)
	case []any:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		e.buf = append(e.buf, '[')
		for i, el := range x {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(el); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case map[string]any:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		// The keys go on the shared scratch slice, sorted in place; nested
		// objects push theirs after them.
		start := len(e.keys)
		for k := range x {
			e.keys = append(e.keys, k)
		}
		keys := e.keys[start:]
		slices.Sort(keys)
		e.buf = append(e.buf, '{')
		for i := range keys {
			k := e.keys[start+i] // re-read: a nested object may grow e.keys
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendString(e.buf, k)
			e.buf = append(e.buf, ':')
			if err := e.value(x[k]); err != nil {
				e.keys = e.keys[:start]
				return err
			}
		}
		e.buf = append(e.buf, '}')
		e.keys = e.keys[:start]
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return errNotCanonical
		}
		e.buf = append(e.buf, b...)
	}
	return nil
}

// appendFloat writes f as encoding/json does: the shortest decimal that
// reads back as f, in exponent form below 1e-6 and from 1e21 on, with a
// one-digit negative exponent written without its leading zero.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way encoding/json does:
// quotes, backslashes and control characters escaped (\b \f \n \r \t by
// name), <, > and & as \u003c \u003e \u0026, invalid UTF-8 as \ufffd, and
// U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
