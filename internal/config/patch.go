package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/tailscale/hujson"
)

// PatchOptions tunes PatchServer.
type PatchOptions struct {
	// Keep, when not "", is a placeholder for a secret the caller never
	// saw: an env or header value equal to it keeps the value the file
	// holds for that name (an error when the file holds none), and a url
	// equal to the file's masked by it (RedactURL) keeps the file's url.
	Keep string
}

// PatchServer applies the JSON merge patch (RFC 7396) patch to the server
// named name, in one locked edit of the file at path: a key the patch names
// is set, a null removes it, an object is merged key by key, every other
// key, value and comment keeps its text. The result is validated as the
// file is (a *ValidationError naming each problem's path); a key that is
// not a key of its block is refused rather than left as a warning. Nothing
// is written when anything is refused.
func PatchServer(path, name string, patch json.RawMessage, opts PatchOptions) error {
	pv, err := patchObject(patch)
	if err != nil {
		return err
	}
	return editFile(path, func(d *document, c *Config) error {
		entry, objectForm, err := d.server(name)
		if err != nil {
			return err
		}
		at := serverPath(d, name, objectForm)
		if err := checkPatchKeys(at, pv, serverBlock, map[string]*block{"isolation": serverIsolationBlock}); err != nil {
			return err
		}
		if objectForm {
			if member(pv, "name") != nil {
				return &ValidationError{Problems: []Problem{{Path: joinKey(at, "name"), Msg: "the name is the key of the server's entry in mcpServers; it cannot be set inside it"}}}
			}
		}
		return d.mergePatch(entry, pv, at, opts.Keep)
	})
}

// PatchDockerIsolation applies the JSON merge patch patch to the
// docker_isolation block of the file at path (created when the file has
// none), as PatchServer does for a server.
func PatchDockerIsolation(path string, patch json.RawMessage) error {
	pv, err := patchObject(patch)
	if err != nil {
		return err
	}
	return editFile(path, func(d *document, c *Config) error {
		if err := checkPatchKeys("docker_isolation", pv, dockerIsolationBlock, map[string]*block{"kubernetes": kubernetesBlock}); err != nil {
			return err
		}
		di := member(&d.root, "docker_isolation")
		if di == nil || asObject(di) == nil {
			return d.setMember(&d.root, "docker_isolation", withoutNulls(pv).Pack())
		}
		return d.mergePatch(di, pv, "docker_isolation", "")
	})
}

// patchObject parses a merge patch, which must be a JSON object.
func patchObject(patch json.RawMessage) (*hujson.Value, error) {
	v, err := hujson.Parse(bytes.TrimSpace(patch))
	if err != nil || asObject(&v) == nil {
		return nil, errors.New("the change must be a JSON object")
	}
	if !v.IsStandard() {
		return nil, errors.New("the change must be standard JSON (no comments, no trailing commas)")
	}
	return &v, nil
}

// arrayOf is the array v holds, nil when v is absent or not an array.
func arrayOf(v *hujson.Value) *hujson.Array {
	if v == nil {
		return nil
	}
	return asArray(v)
}

// serverPath is the path of the server's entry as problems name it.
func serverPath(d *document, name string, objectForm bool) string {
	if objectForm {
		return joinKey("mcpServers", name)
	}
	if a := arrayOf(member(&d.root, "mcpServers")); a != nil {
		for i := range a.Elements {
			if serverName(&a.Elements[i]) == name {
				return fmt.Sprintf("mcpServers[%d]", i)
			}
		}
	}
	return "mcpServers"
}

// checkPatchKeys refuses keys of the patch p (for block b at path at) that
// are not keys of b, and of its nested blocks, with the file's own message
// ("did you mean").
func checkPatchKeys(at string, p *hujson.Value, b *block, nested map[string]*block) error {
	var probs []Problem
	for _, m := range asObject(p).Members {
		k := memberName(&m)
		kp := joinKey(at, k)
		if !b.has(k) {
			msg, _ := b.unknownKey(k)
			probs = append(probs, Problem{Path: kp, Msg: msg})
			continue
		}
		if nb := nested[k]; nb != nil && asObject(&m.Value) != nil {
			if err := checkPatchKeys(kp, &m.Value, nb, nil); err != nil {
				var ve *ValidationError
				errors.As(err, &ve)
				probs = append(probs, ve.Problems...)
			}
		}
	}
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

// mergePatch merges the object patch p into the object dst (at path at):
// RFC 7396, applied member by member to the document so that whatever the
// patch does not name keeps its text and comments. keep, when not "", is
// the placeholder that keeps an env or header value as it is, and a url
// sent back as it was shown (masked).
func (d *document) mergePatch(dst, p *hujson.Value, at, keep string) error {
	for _, m := range asObject(p).Members {
		k := memberName(&m)
		kp := joinKey(at, k)
		val := &m.Value
		cur := member(dst, k)
		switch {
		case keep != "" && k == "url" && maskedURL(val, cur, keep):
			// The file's url, as the caller was shown it: kept.
		case keep != "" && k == "url" && holdsMask(val, keep):
			// A masked url that is not the file's as shown (it changed
			// meanwhile, or the mask went into another url): writing it
			// would put the mask in place of the secrets.
			return &ValidationError{Problems: []Problem{{Path: kp, Msg: fmt.Sprintf("holds the mask %q but is not the url the file holds, as shown (it changed since, or this is another url): send the whole url with its secrets", keep)}}}
		case isNull(val):
			d.removeMember(dst, k)
		case asObject(val) != nil && cur != nil && asObject(cur) != nil:
			if err := d.mergePatchKeep(cur, val, kp, keep, k == "env" || k == "headers"); err != nil {
				return err
			}
		default:
			if keep != "" && (k == "env" || k == "headers") && asObject(val) != nil {
				if err := refuseKeep(val, kp, keep); err != nil {
					return err
				}
			}
			clean := withoutNulls(val)
			if cur == nil && asObject(clean) != nil && len(asObject(clean).Members) == 0 {
				continue // {} merged into nothing changes nothing worth writing
			}
			if err := d.setMember(dst, k, clean.Pack()); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergePatchKeep is mergePatch for a nested object; in a secrets map
// (env, headers) a value equal to keep leaves the file's value alone.
func (d *document) mergePatchKeep(dst, p *hujson.Value, at, keep string, secrets bool) error {
	if !secrets || keep == "" {
		return d.mergePatch(dst, p, at, keep)
	}
	kept := hujson.Value{Value: &hujson.Object{}}
	for _, m := range asObject(p).Members {
		k := memberName(&m)
		if lit, ok := m.Value.Value.(hujson.Literal); ok && lit.Kind() == '"' && lit.String() == keep {
			if member(dst, k) == nil {
				return &ValidationError{Problems: []Problem{{Path: joinKey(at, k), Msg: fmt.Sprintf("%q keeps a value the file holds, but the file has none for %q: send the value", keep, k)}}}
			}
			continue
		}
		o := asObject(&kept)
		o.Members = append(o.Members, m)
	}
	return d.mergePatch(dst, &kept, at, "")
}

// maskedURL reports whether the patch's url val is the file's url cur with
// its secrets masked by keep (RedactURL), and not the file's url itself.
func maskedURL(val, cur *hujson.Value, keep string) bool {
	v, ok := val.Value.(hujson.Literal)
	if !ok || v.Kind() != '"' || cur == nil {
		return false
	}
	c, ok := cur.Value.(hujson.Literal)
	if !ok || c.Kind() != '"' {
		return false
	}
	return v.String() != c.String() && v.String() == RedactURL(c.String(), keep)
}

// holdsMask reports whether the string val carries the mask keep, as is or
// escaped the way RedactURL's query and userinfo write it.
func holdsMask(val *hujson.Value, keep string) bool {
	v, ok := val.Value.(hujson.Literal)
	if !ok || v.Kind() != '"' {
		return false
	}
	s := v.String()
	return strings.Contains(s, keep) || strings.Contains(s, url.QueryEscape(keep)) || strings.Contains(s, url.PathEscape(keep))
}

// refuseKeep refuses the keep placeholder in a secrets map that replaces
// the file's (nothing to keep).
func refuseKeep(p *hujson.Value, at, keep string) error {
	for _, m := range asObject(p).Members {
		if lit, ok := m.Value.Value.(hujson.Literal); ok && lit.Kind() == '"' && lit.String() == keep {
			return &ValidationError{Problems: []Problem{{Path: joinKey(at, memberName(&m)), Msg: fmt.Sprintf("%q keeps a value the file holds, but the file has none here: send the value", keep)}}}
		}
	}
	return nil
}

// withoutNulls returns v with the null members of its objects removed (a
// merge patch's null on a key that does not exist yet means nothing).
func withoutNulls(v *hujson.Value) *hujson.Value {
	c := v.Clone()
	var strip func(v *hujson.Value)
	strip = func(v *hujson.Value) {
		o := asObject(v)
		if o == nil {
			return
		}
		kept := o.Members[:0]
		for _, m := range o.Members {
			if isNull(&m.Value) {
				continue
			}
			strip(&m.Value)
			kept = append(kept, m)
		}
		o.Members = kept
	}
	strip(&c)
	return &c
}

// AddServerJSON adds the server object raw (as the file holds a server) to
// the file at path, in one locked edit validated as the file is: a key that
// is not a key of a server (or of its isolation block) is refused, and so
// is a name the file holds already (ErrServerExists).
func AddServerJSON(path string, raw json.RawMessage) error {
	sv, err := patchObject(raw)
	if err != nil {
		return errors.New("the server must be a JSON object")
	}
	name := serverName(sv)
	if name == "" {
		return &ValidationError{Problems: []Problem{{Path: "name", Msg: "is required (a string)"}}}
	}
	return editFile(path, func(d *document, c *Config) error {
		if c.Server(name) != nil {
			return fmt.Errorf("add server %q: %w", name, ErrServerExists)
		}
		list := member(&d.root, "mcpServers")
		objectForm := list != nil && asObject(list) != nil
		at := "mcpServers"
		if objectForm {
			at = joinKey(at, name)
		} else if a := arrayOf(list); a != nil {
			at = fmt.Sprintf("mcpServers[%d]", len(a.Elements))
		} else {
			at = "mcpServers[0]"
		}
		if err := checkPatchKeys(at, sv, serverBlock, map[string]*block{"isolation": serverIsolationBlock}); err != nil {
			return err
		}
		clean := withoutNulls(sv)
		switch {
		case list == nil || isNull(list):
			return d.setMember(&d.root, "mcpServers", append(append([]byte("["), clean.Pack()...), ']'))
		case objectForm:
			o := asObject(clean)
			if i := memberIndex(o, "name"); i >= 0 {
				o.Members = append(o.Members[:i], o.Members[i+1:]...)
			}
			return d.appendMember(list, name, clean.Pack())
		default:
			return d.appendElement(list, clean.Pack())
		}
	})
}
