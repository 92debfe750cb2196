// Package apitest checks answers of the REST API against its OpenAPI
// document, for tests: that an answer's status is one the document lists
// for the route and that its JSON body has the documented shape.
package apitest

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Doc is a parsed OpenAPI document.
type Doc struct {
	paths   map[string]map[string]operation
	schemas map[string]any
}

type operation struct {
	Responses map[string]struct {
		Content map[string]struct {
			Schema any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// Parse reads an OpenAPI document.
func Parse(doc []byte) (*Doc, error) {
	var raw struct {
		Paths      map[string]map[string]operation `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, err
	}
	return &Doc{paths: raw.Paths, schemas: raw.Components.Schemas}, nil
}

// Check says what is wrong with an answer of the route pattern ("GET
// /api/v1/servers/{name}"): a status the document does not list for it, or
// a JSON body of another shape than the one documented for that status.
func (d *Doc) Check(pattern string, status int, body []byte) error {
	method, path, _ := strings.Cut(pattern, " ")
	ops, ok := d.paths[path]
	if !ok {
		return fmt.Errorf("%s: not in the document", pattern)
	}
	op, ok := ops[strings.ToLower(method)]
	if !ok {
		return fmt.Errorf("%s: method not in the document", pattern)
	}
	resp, ok := op.Responses[fmt.Sprint(status)]
	if !ok {
		return fmt.Errorf("%s: status %d is not documented (documented: %s)", pattern, status, strings.Join(sortedKeys(op.Responses), ", "))
	}
	media, ok := resp.Content["application/json"]
	if !ok {
		if len(strings.TrimSpace(string(body))) > 0 && len(resp.Content) == 0 {
			return fmt.Errorf("%s %d: a body where the document has none", pattern, status)
		}
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s %d: not JSON: %v", pattern, status, err)
	}
	if err := d.validate(media.Schema, v, "$"); err != nil {
		return fmt.Errorf("%s %d: %w", pattern, status, err)
	}
	return nil
}

// CheckValue checks a decoded JSON value against the named component
// schema (e.g. an SSE event's data).
func (d *Doc) CheckValue(component string, v any) error {
	s, ok := d.schemas[component]
	if !ok {
		return fmt.Errorf("no schema %q", component)
	}
	return d.validate(s, v, "$")
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (d *Doc) validate(schema any, v any, at string) error {
	s, ok := schema.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: bad schema %v", at, schema)
	}
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		target, ok := d.schemas[name]
		if !ok {
			return fmt.Errorf("%s: unknown $ref %s", at, ref)
		}
		return d.validate(target, v, at)
	}
	if v == nil {
		if s["nullable"] == true || len(s) == 0 || s["type"] == nil && s["allOf"] == nil && s["oneOf"] == nil {
			return nil
		}
		return fmt.Errorf("%s: null where the document says it is not nullable", at)
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			if err := d.validate(sub, v, at); err != nil {
				return err
			}
		}
	}
	if one, ok := s["oneOf"].([]any); ok {
		var errs []string
		for _, sub := range one {
			err := d.validate(sub, v, at)
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return fmt.Errorf("%s: matches none of oneOf: %s", at, strings.Join(errs, " | "))
	}
	typ, _ := s["type"].(string)
	switch typ {
	case "":
		return nil
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an object", at, v)
		}
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					return fmt.Errorf("%s: required %q missing", at, r)
				}
			}
		}
		extra, _ := s["additionalProperties"].(map[string]any)
		for k, val := range obj {
			if ps, ok := props[k]; ok {
				if err := d.validate(ps, val, at+"."+k); err != nil {
					return err
				}
				continue
			}
			if extra != nil {
				if err := d.validate(extra, val, at+"."+k); err != nil {
					return err
				}
				continue
			}
			if props != nil {
				return fmt.Errorf("%s: undocumented field %q (documented: %s)", at, k, strings.Join(sortedKeys(props), ", "))
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an array", at, v)
		}
		for i, e := range arr {
			if err := d.validate(s["items"], e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %T, want a string", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T, want a boolean", at, v)
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return fmt.Errorf("%s: %v, want an integer", at, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %T, want a number", at, v)
		}
	default:
		if !slices.Contains([]string{"null"}, typ) {
			return fmt.Errorf("%s: unknown schema type %q", at, typ)
		}
	}
	return nil
}
