package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/tailscale/hujson"

	"github.com/mcpproxy/mcpproxy/internal/dockerargs"
)

// Load reads the configuration file at path and decodes it with Parse. A
// *ValidationError has its File set to path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	hp := defaultHostPaths()
	if abs, err := filepath.Abs(path); err == nil {
		hp.Secrets = dockerargs.WithTarget(abs, filepath.EvalSymlinks)
	}
	c, err := parseOn(data, hp)
	if err != nil {
		return nil, withFile(err, path)
	}
	return c, nil
}

// Parse decodes and validates the bytes of a configuration file: JSON that
// may hold // and /* */ comments and trailing commas. Keys that are absent
// take their defaults (DefaultDockerIsolation); default_images entries are
// merged over DefaultImages. mcpServers may be an array of servers or an
// object keyed by server name.
//
// Unknown keys are never silent (see block): in docker_isolation and a
// server's isolation block, or close to a known key ("docker_isolaton"),
// they are problems; elsewhere they load with a warning in
// Config.Warnings, as do MCPProxy's settings mcpproxy ignores.
//
// When anything is wrong Parse returns a *ValidationError that lists every
// problem with its path and line:column.
func Parse(data []byte) (*Config, error) { return parseOn(data, defaultHostPaths()) }

// parseOn is Parse with host paths judged against hp (tests give a fake
// host).
func parseOn(data []byte, hp dockerargs.HostPaths) (*Config, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	root, err := hujson.Parse(data)
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{syntaxProblem(err)}}
	}
	d := newDecoder(data)
	c := d.config(&root)
	d.compatModes(c)
	v := &validator{problems: d.problems, pos: d.pos, bad: d.bad, hostPaths: hp}
	v.config(c, func(i int) string { return d.serverPaths[i] })
	if err := v.err(); err != nil {
		return nil, err
	}
	c.Warnings = append(d.warnings, v.warnings...)
	sortProblems(c.Warnings)
	return c, nil
}

var utf8BOM = []byte("\xef\xbb\xbf")

var hujsonErrRe = newLazyRegexp(`^hujson: line (\d+), column (\d+): (.*)$`)

func syntaxProblem(err error) Problem {
	p := Problem{Msg: "invalid JSON: " + err.Error()}
	if m := hujsonErrRe.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Col, _ = strconv.Atoi(m[2])
		p.Msg = "invalid JSON: " + m[3]
	}
	return p
}

// withFile sets File on a *ValidationError.
func withFile(err error, file string) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		ve.File = file
	}
	return err
}

// decoder turns the hujson syntax tree into a Config, recording the position
// of every value it visits and reporting type errors with their paths.
type decoder struct {
	lineStarts  []int
	pos         map[string]position
	bad         map[string]bool
	problems    []Problem
	warnings    []Problem
	serverPaths []string
	// modes are the MCPProxy "mode" keys met, for compatModes.
	modes []modeUse
}

func newDecoder(data []byte) *decoder {
	d := &decoder{lineStarts: []int{0}, pos: map[string]position{}, bad: map[string]bool{}}
	for i, c := range data {
		if c == '\n' {
			d.lineStarts = append(d.lineStarts, i+1)
		}
	}
	return d
}

func (d *decoder) position(off int) position {
	i := sort.SearchInts(d.lineStarts, off+1) - 1
	return position{line: i + 1, col: off - d.lineStarts[i] + 1}
}

func (d *decoder) note(path string, v *hujson.Value) {
	d.pos[path] = d.position(v.StartOffset)
}

func (d *decoder) fail(path string, off int, msg string) {
	at := d.position(off)
	d.problems = append(d.problems, Problem{Path: path, Line: at.line, Col: at.col, Msg: msg})
	d.bad[path] = true
}

func isNull(v *hujson.Value) bool {
	return v.Value.Kind() == 'n'
}

// members iterates over the object v, calling fn for each member whose key
// b knows (every member when b is nil: env, headers, default_images, the
// object form of mcpServers). Unknown keys are reported as b says (see
// block); duplicate known keys are reported on the second occurrence. It
// reports a type error and returns false if v is not an object; null counts
// as absent.
func (d *decoder) members(path string, v *hujson.Value, typeMsg string, b *block, fn func(key, keyPath string, val *hujson.Value)) bool {
	d.note(path, v)
	if isNull(v) {
		return false
	}
	obj, ok := v.Value.(*hujson.Object)
	if !ok {
		d.fail(path, v.StartOffset, typeMsg)
		return false
	}
	seen := map[string]bool{}
	for i := range obj.Members {
		m := &obj.Members[i]
		key := m.Name.Value.(hujson.Literal).String()
		kp := joinKey(path, key)
		if b != nil && !b.has(key) {
			d.note(kp, &m.Value)
			d.unknown(b, key, kp, m)
			continue
		}
		if seen[key] {
			d.fail(kp, m.Name.StartOffset, "duplicate key; remove all but one")
			continue
		}
		seen[key] = true
		d.note(kp, &m.Value)
		fn(key, kp, &m.Value)
	}
	return true
}

// unknown reports the unknown key of block b at kp, as an error or a
// warning. MCPProxy's "mode" is set aside for compatModes, which can only
// judge it once the whole file is decoded.
func (d *decoder) unknown(b *block, key, kp string, m *hujson.ObjectMember) {
	if key == "mode" && slices.Contains(b.compat, key) {
		d.modes = append(d.modes, modeUse{path: kp, val: &m.Value, global: b == dockerIsolationBlock})
		return
	}
	msg, isErr := b.unknownKey(key)
	if isErr {
		d.fail(kp, m.Name.StartOffset, msg)
		return
	}
	d.warn(kp, m.Name.StartOffset, msg)
}

func (d *decoder) warn(path string, off int, msg string) {
	at := d.position(off)
	d.warnings = append(d.warnings, Problem{Path: path, Line: at.line, Col: at.col, Msg: msg})
}

func (d *decoder) str(path string, v *hujson.Value, dst *string) {
	if isNull(v) {
		return
	}
	lit, ok := v.Value.(hujson.Literal)
	if !ok || lit.Kind() != '"' {
		d.fail(path, v.StartOffset, "must be a string")
		return
	}
	*dst = lit.String()
}

func (d *decoder) boolean(path string, v *hujson.Value, dst *bool) {
	if isNull(v) {
		return
	}
	lit, ok := v.Value.(hujson.Literal)
	if !ok || (lit.Kind() != 't' && lit.Kind() != 'f') {
		d.fail(path, v.StartOffset, "must be true or false")
		return
	}
	*dst = lit.Bool()
}

func (d *decoder) optBool(path string, v *hujson.Value, dst **bool) {
	if isNull(v) {
		return
	}
	var b bool
	before := len(d.problems)
	d.boolean(path, v, &b)
	if len(d.problems) == before {
		*dst = &b
	}
}

const intMsg = "must be a whole number such as 256"

func (d *decoder) integer(path string, v *hujson.Value, dst *int64) {
	if isNull(v) {
		return
	}
	lit, ok := v.Value.(hujson.Literal)
	if !ok || lit.Kind() != '0' {
		d.fail(path, v.StartOffset, intMsg)
		return
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil {
		d.fail(path, v.StartOffset, intMsg)
		return
	}
	*dst = n
}

func (d *decoder) optInt(path string, v *hujson.Value, dst **int64) {
	if isNull(v) {
		return
	}
	var n int64
	before := len(d.problems)
	d.integer(path, v, &n)
	if len(d.problems) == before {
		*dst = &n
	}
}

func (d *decoder) strings(path string, v *hujson.Value, dst *[]string) {
	if isNull(v) {
		return
	}
	arr, ok := v.Value.(*hujson.Array)
	if !ok {
		d.fail(path, v.StartOffset, "must be an array of strings")
		return
	}
	out := make([]string, 0, len(arr.Elements))
	for i := range arr.Elements {
		e := &arr.Elements[i]
		ep := fmt.Sprintf("%s[%d]", path, i)
		d.note(ep, e)
		lit, ok := e.Value.(hujson.Literal)
		if !ok || lit.Kind() != '"' {
			d.fail(ep, e.StartOffset, "must be a string")
			continue
		}
		out = append(out, lit.String())
	}
	*dst = out
}

// stringMap decodes an object of string values into dst, adding to what dst
// already holds.
func (d *decoder) stringMap(path string, v *hujson.Value, dst *map[string]string) {
	m := map[string]string{}
	ok := d.members(path, v, "must be an object of string values", nil, func(key, kp string, val *hujson.Value) {
		lit, ok := val.Value.(hujson.Literal)
		if !ok || lit.Kind() != '"' {
			d.fail(kp, val.StartOffset, "must be a string")
			return
		}
		m[key] = lit.String()
	})
	if !ok {
		return
	}
	if *dst == nil {
		*dst = m
		return
	}
	for k, val := range m {
		(*dst)[k] = val
	}
}

func (d *decoder) duration(path string, v *hujson.Value, dst *Duration) {
	if isNull(v) {
		return
	}
	lit, ok := v.Value.(hujson.Literal)
	if !ok || lit.Kind() != '"' {
		d.fail(path, v.StartOffset, `must be a duration string such as "30s"`)
		return
	}
	t, err := time.ParseDuration(lit.String())
	switch {
	case err != nil:
		d.fail(path, v.StartOffset, fmt.Sprintf(`%q is not a duration; use a form such as "30s" or "2m"`, lit.String()))
	case t <= 0:
		d.fail(path, v.StartOffset, `must be a positive duration such as "30s"`)
	default:
		*dst = Duration(t)
	}
}

func (d *decoder) config(root *hujson.Value) *Config {
	c := Default()
	d.note("", root)
	if _, ok := root.Value.(*hujson.Object); !ok {
		d.fail("", root.StartOffset, "the configuration must be a JSON object")
		return c
	}
	d.members("", root, "", topBlock, func(key, kp string, v *hujson.Value) {
		switch key {
		case "listen":
			d.str(kp, v, &c.Listen)
		case "mcpServers":
			c.Servers = d.servers(kp, v)
		case "docker_isolation":
			d.dockerIsolation(kp, v, &c.DockerIsolation)
		case "telemetry":
			d.members(kp, v, "must be an object", telemetryBlock, func(key, kp string, v *hujson.Value) {
				switch key {
				case "enabled":
					d.boolean(kp, v, &c.Telemetry.Enabled)
				case "endpoint":
					d.str(kp, v, &c.Telemetry.Endpoint)
				}
			})
		case "init_timeout":
			d.duration(kp, v, &c.InitTimeout)
		case "api_key":
			d.str(kp, v, &c.APIKey)
		case "require_mcp_auth":
			d.boolean(kp, v, &c.RequireMCPAuth)
		}
	})
	return c
}

func (d *decoder) servers(path string, v *hujson.Value) []*Server {
	out := []*Server{}
	switch list := v.Value.(type) {
	case *hujson.Array:
		for i := range list.Elements {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.note(p, &list.Elements[i])
			out = append(out, d.server(p, &list.Elements[i], nil))
			d.serverPaths = append(d.serverPaths, p)
		}
	case *hujson.Object:
		d.members(path, v, "", nil, func(key, kp string, v *hujson.Value) {
			out = append(out, d.server(kp, v, &key))
			d.serverPaths = append(d.serverPaths, kp)
		})
	default:
		if !isNull(v) {
			d.fail(path, v.StartOffset, "must be an array of servers or an object keyed by server name")
		}
	}
	return out
}

// server decodes one server entry; key is the entry's key in the object form.
func (d *decoder) server(p string, v *hujson.Value, key *string) *Server {
	s := &Server{}
	if key != nil {
		s.Name = *key
	}
	if _, ok := v.Value.(*hujson.Object); !ok {
		d.fail(p, v.StartOffset, "must be a server object")
		return s
	}
	d.members(p, v, "", serverBlock, func(k, kp string, v *hujson.Value) {
		switch k {
		case "name":
			var name string
			d.str(kp, v, &name)
			if key == nil {
				s.Name = name
			} else if !d.bad[kp] && !isNull(v) && name != *key {
				d.fail(kp, v.StartOffset, fmt.Sprintf("must match its key %q (or be removed)", *key))
			}
		case "command":
			d.str(kp, v, &s.Command)
		case "args":
			d.strings(kp, v, &s.Args)
		case "env":
			d.stringMap(kp, v, &s.Env)
		case "working_dir":
			d.str(kp, v, &s.WorkingDir)
		case "url":
			d.str(kp, v, &s.URL)
		case "headers":
			d.stringMap(kp, v, &s.Headers)
		case "enabled":
			d.optBool(kp, v, &s.Enabled)
		case "quarantined":
			d.boolean(kp, v, &s.Quarantined)
		case "isolation":
			if isNull(v) {
				return
			}
			iso := &ServerIsolation{}
			if d.members(kp, v, "must be an object", serverIsolationBlock, func(k, kp string, v *hujson.Value) {
				switch k {
				case "enabled":
					d.optBool(kp, v, &iso.Enabled)
				case "image":
					d.str(kp, v, &iso.Image)
				case "network_mode":
					d.str(kp, v, &iso.NetworkMode)
				case "working_dir":
					d.str(kp, v, &iso.WorkingDir)
				case "extra_args":
					d.strings(kp, v, &iso.ExtraArgs)
				case "memory_limit":
					d.str(kp, v, &iso.MemoryLimit)
				case "cpu_limit":
					d.str(kp, v, &iso.CPULimit)
				case "hardened":
					d.optBool(kp, v, &iso.Hardened)
				case "pids_limit":
					d.optInt(kp, v, &iso.PidsLimit)
				case "allow_dangerous":
					d.boolean(kp, v, &iso.AllowDangerous)
				case "mounts":
					d.strings(kp, v, &iso.Mounts)
				}
			}) {
				s.Isolation = iso
			}
		}
	})
	return s
}

func (d *decoder) dockerIsolation(p string, v *hujson.Value, di *DockerIsolation) {
	d.members(p, v, "must be an object", dockerIsolationBlock, func(k, kp string, v *hujson.Value) {
		switch k {
		case "enabled":
			d.boolean(kp, v, &di.Enabled)
		case "memory_limit":
			d.str(kp, v, &di.MemoryLimit)
		case "cpu_limit":
			d.str(kp, v, &di.CPULimit)
		case "timeout":
			d.duration(kp, v, &di.Timeout)
		case "network_mode":
			d.str(kp, v, &di.NetworkMode)
		case "registry":
			d.str(kp, v, &di.Registry)
		case "default_images":
			d.stringMap(kp, v, &di.DefaultImages)
		case "extra_args":
			d.strings(kp, v, &di.ExtraArgs)
		case "hardened":
			d.boolean(kp, v, &di.Hardened)
		case "pids_limit":
			d.integer(kp, v, &di.PidsLimit)
		case "cache_volumes":
			d.boolean(kp, v, &di.CacheVolumes)
		case "backend":
			d.str(kp, v, &di.Backend)
		case "kubernetes":
			d.kubernetes(kp, v, &di.Kubernetes)
		}
	})
}
