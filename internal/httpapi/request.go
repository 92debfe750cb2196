package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// query checks r's query parameters: each must be one of allowed and given
// once. It returns them.
func query(r *http.Request, allowed ...string) (map[string]string, error) {
	q := r.URL.Query()
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(allowed, k) {
			msg := "unknown query parameter"
			if len(allowed) > 0 {
				msg += " (this route takes " + strings.Join(allowed, ", ") + ")"
			} else {
				msg += " (this route takes none)"
			}
			return nil, BadField(k, msg)
		}
		if len(q[k]) != 1 {
			return nil, BadField(k, "given more than once")
		}
		out[k] = q[k][0]
	}
	return out, nil
}

// boolParam reads a boolean query parameter: absent is false; "", "1",
// "true" are true; "0", "false" are false.
func boolParam(q map[string]string, name string) (bool, error) {
	v, ok := q[name]
	if !ok {
		return false, nil
	}
	switch strings.ToLower(v) {
	case "", "1", "true", "yes":
		return true, nil
	case "0", "false", "no":
		return false, nil
	}
	return false, BadField(name, fmt.Sprintf("%q is not a boolean (use true or false)", v))
}

// intParam reads an integer query parameter in [lo, hi]; absent is def.
func intParam(q map[string]string, name string, def, lo, hi int) (int, error) {
	v, ok := q[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, BadField(name, fmt.Sprintf("%q must be a whole number from %d to %d", v, lo, hi))
	}
	return n, nil
}

// readBody reads r's body (at most maxBody bytes).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, BadField("body", fmt.Sprintf("larger than %d bytes", maxBody))
		}
		return nil, BadField("body", "cannot be read: "+err.Error())
	}
	return b, nil
}

// noBody refuses a body on a route that takes none ({} is no body).
func noBody(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	var empty map[string]json.RawMessage
	if b = bytes.TrimSpace(b); len(b) > 0 && (json.Unmarshal(b, &empty) != nil || len(empty) > 0) {
		return BadField("body", "this route takes no body")
	}
	return nil
}

// optionalObjectBody reads a body that is empty (nil) or one JSON object.
func optionalObjectBody(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	b, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	if b = bytes.TrimSpace(b); len(b) == 0 {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return nil, BadField("body", "must be one JSON object: "+jsonProblem(err))
	}
	return b, nil
}

// objectBody reads a body that must be one JSON object and returns it.
func objectBody(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	b, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, BadField("body", "a JSON object is required")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return nil, BadField("body", "must be one JSON object: "+jsonProblem(err))
	}
	return b, nil
}

// decodeObject decodes the JSON object b into v (a pointer to a struct),
// refusing unknown fields; the error names the field.
func decodeObject(b json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return BadField(te.Field, "must be "+jsonType(te.Type.Kind().String()))
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return BadField(strings.Trim(f, `"`), "unknown field")
		}
		return BadField("body", jsonProblem(err))
	}
	return nil
}

// jsonType names a Go kind as JSON does.
func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "a number"
}

func jsonProblem(err error) string {
	if err == nil {
		return "not an object"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
