package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// A block is one kind of JSON object in the configuration file. Its known
// keys come from the json tags of its Go struct, so a field added to the
// struct is a known key at once (TestEveryKeyIsDecoded checks that the
// decoder reads it too).
//
// An unknown key is never silent:
//   - in a strict block (docker_isolation, a server's isolation) it is an
//     error: a typo there changes what is isolated and how;
//   - anywhere, a key within a small edit distance of a known one
//     ("docker_isolaton", "mcpServer", "isolaton"), or a known key of a
//     related block written in the wrong place, is an error saying where
//     it belongs;
//   - MCPProxy's keys of the same block that mcpproxy does not use load
//     with a warning (compat), except where ignoring them would isolate
//     less than MCPProxy would (see decoder.compatModes);
//   - any other key is a warning (Config.Warnings), so that configuration
//     files written for MCPProxy, with its many other settings, still load.
type block struct {
	// where names the block in messages.
	where string
	keys  []string
	// strict makes every unknown key an error.
	strict bool
	// compat are the keys MCPProxy's same block has and mcpproxy ignores.
	compat []string
	// related are blocks whose keys are often written in this one by
	// mistake (a server's "image" instead of its isolation.image).
	related []*block
}

var (
	topBlock             = &block{where: "the top level", keys: jsonKeys(Config{})}
	serverBlock          = &block{where: "a server", keys: jsonKeys(Server{})}
	serverIsolationBlock = &block{where: `a server's "isolation" block`, keys: jsonKeys(ServerIsolation{}), strict: true,
		compat: []string{"mode", "log_driver", "log_max_size", "log_max_files"}}
	dockerIsolationBlock = &block{where: `"docker_isolation"`, keys: jsonKeys(DockerIsolation{}), strict: true,
		compat: []string{"mode", "enable_cache_volume", "log_driver", "log_max_size", "log_max_files"}}
	telemetryBlock = &block{where: `"telemetry"`, keys: jsonKeys(Telemetry{})}

	// Known-key tests, for the decoder's duplicate check and the editor.
	serverKeys    = serverBlock.has
	isolationKeys = serverIsolationBlock.has
)

func init() {
	topBlock.related = []*block{dockerIsolationBlock}
	serverBlock.related = []*block{serverIsolationBlock}
	serverIsolationBlock.related = []*block{dockerIsolationBlock}
	dockerIsolationBlock.related = []*block{serverIsolationBlock}
}

// aliases are unknown keys that other tools' configuration files use for
// a key of ours.
var aliases = map[string]string{
	"servers": "mcpServers", // VS Code's mcp.json
}

// jsonKeys returns the JSON keys of the struct v's fields, from their json
// tags, in field order. Fields tagged "-" are not keys.
func jsonKeys(v any) []string {
	t := reflect.TypeOf(v)
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

func (b *block) has(key string) bool { return slices.Contains(b.keys, key) }

// unknownKey says what an unknown key of b is: its message and whether it
// is an error (otherwise a warning).
func (b *block) unknownKey(key string) (msg string, isErr bool) {
	if slices.Contains(b.compat, key) {
		return fmt.Sprintf("%q is MCPProxy's setting; mcpproxy ignores it", key), false
	}
	if alt := aliases[key]; alt != "" && b.has(alt) {
		return fmt.Sprintf("unknown key %q: did you mean %q?", key, alt), true
	}
	if near := nearest(key, b.keys); near != "" {
		return fmt.Sprintf("unknown key %q: did you mean %q? (a misspelt key would be ignored)", key, near), true
	}
	for _, r := range b.related {
		if r.has(key) {
			return fmt.Sprintf("%q is a key of %s, not of %s; move it there", key, r.where, b.where), true
		}
		if near := nearest(key, r.keys); near != "" {
			return fmt.Sprintf("unknown key %q: did you mean %q (a key of %s, not of %s)?", key, near, r.where, b.where), true
		}
	}
	if b.strict {
		known := slices.Clone(b.keys)
		slices.Sort(known)
		return fmt.Sprintf("unknown key %q in %s; the keys are: %s", key, b.where, strings.Join(known, ", ")), true
	}
	return fmt.Sprintf("unknown key %q is ignored", key), false
}

// nearest returns the known key closest to key when it is close enough to
// be a slip of the keyboard: the same letters in another case or with other
// separators ("mcp_servers", "MCPServers"), or a small edit distance (one
// edit for keys of up to four letters, two beyond). "" when none is.
func nearest(key string, known []string) string {
	nk := normKey(key)
	best, bestD := "", 3
	for _, k := range known {
		if k == key {
			continue
		}
		nkk := normKey(k)
		limit := 2
		if len(nkk) <= 4 {
			limit = 1
		}
		d := editDistance(nk, nkk)
		if d <= limit && d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// normKey lowercases a key and drops its separators.
func normKey(k string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' {
			return -1
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, k)
}

// editDistance is the optimal-string-alignment distance of a and b:
// insertions, deletions, substitutions and swaps of adjacent letters.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// allKeys accepts every key (objects of user-chosen names: env, headers).
func allKeys(string) bool { return true }
