// Package trust decides what mcpproxy's less trusted callers may change and
// see: which server fields an MCP client may set through upstream_servers
// (never one that loosens isolation), which servers wait in quarantine for a
// person's approval, and which upstream tools are pinned (a tool whose
// definition changed since a person approved it is held back).
//
// The policy functions are pure; the pin store (pins.go) owns one JSON file
// in the data directory.
package trust

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// ClientKeys are the server keys an MCP client may set through
// upstream_servers add and update, in the order error messages list them.
// Every other key of a server — isolation settings, working_dir,
// quarantined and whatever config.Server gains later — is refused, so a new
// field is closed to MCP clients until someone decides otherwise here.
var ClientKeys = []string{"name", "command", "args", "env", "url", "headers", "enabled"}

// launchKeys are the client keys that change what a server runs or where it
// connects: changing one puts the server back into quarantine.
var launchKeys = []string{"command", "args", "env", "url", "headers"}

// RefusedError is a server change an MCP client may not make.
type RefusedError struct {
	// Field is the refused key as a JSON path ("isolation.extra_args",
	// "env.LD_PRELOAD", "command").
	Field string
	// Why says what the field would do.
	Why string
	// Where says where a person can make the change instead.
	Where string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s cannot be set by an MCP client (%s); %s", e.Field, e.Why, e.Where)
}

// ErrReadOnly is returned for a configuration change while mcpproxy runs
// with --read-only.
var ErrReadOnly = errors.New("mcpproxy runs with --read-only: configuration changes through MCP clients and the API are refused; edit the config file instead")

// Env is what the policy needs to know about the proxy.
type Env struct {
	// Global is the docker_isolation block in force.
	Global config.DockerIsolation
	// DockerPath is the resolved docker binary ("" when unresolved).
	DockerPath string
	// ConfigPath is named in errors as the place to make refused changes.
	ConfigPath string
}

func (e Env) where() string {
	file := "the config file"
	if e.ConfigPath != "" {
		file = "the config file (" + e.ConfigPath + ")"
	}
	return "a person can set it in " + file + " or through the authenticated REST API, web UI or CLI"
}

// Change is a server as an MCP client's add or update leaves it.
type Change struct {
	// Server is the server to write: on update, the existing server with the
	// client's fields applied; every field the client may not set keeps its
	// value.
	Server *config.Server
	// Changed lists the launch fields (command, args, env, url, headers)
	// whose value differs from the existing server; on add, every launch
	// field set.
	Changed []string
}

// Relaunches reports whether the change alters what the server runs or
// where it connects.
func (c Change) Relaunches() bool { return len(c.Changed) > 0 }

// ClientAdd checks a server object an MCP client sent to add a server and
// returns the server to add, quarantined. name, when not "", is the name
// argument of the call; it must agree with the object's own name.
func ClientAdd(raw json.RawMessage, name string, env Env) (Change, error) {
	s := &config.Server{}
	keys, err := applyClient(s, raw, env)
	if err != nil {
		return Change{}, err
	}
	if err := settleName(s, keys, name); err != nil {
		return Change{}, err
	}
	s.Quarantined = true
	ch := Change{Server: s}
	for _, k := range launchKeys {
		if keys[k] {
			ch.Changed = append(ch.Changed, k)
		}
	}
	if err := checkLaunch(s, env); err != nil {
		return Change{}, err
	}
	return ch, nil
}

// ClientUpdate checks a server object an MCP client sent to update old and
// returns old with the client's fields applied; a change of what it runs or
// where it connects (Change.Relaunches) quarantines it again, so that a
// client cannot swap what a trusted server runs. Only the keys present in raw
// change (a JSON merge: null removes an optional value); every field a client
// may not set keeps old's value, so an update never drops an isolation block
// it did not name.
func ClientUpdate(old *config.Server, raw json.RawMessage, env Env) (Change, error) {
	if old == nil {
		return Change{}, errors.New("no server to update")
	}
	s := old.Clone()
	keys, err := applyClient(s, raw, env)
	if err != nil {
		return Change{}, err
	}
	if keys["name"] && s.Name != old.Name {
		return Change{}, fmt.Errorf("server.name %q differs from the server being updated (%q); servers cannot be renamed through upstream_servers", s.Name, old.Name)
	}
	if keys["enabled"] && s.IsEnabled() {
		if err := ClientEnable(old, env); err != nil {
			return Change{}, err
		}
	}
	ch := Change{Server: s, Changed: launchDiff(old, s)}
	if ch.Relaunches() {
		if old.Isolation != nil && old.Isolation.AllowDangerous {
			return Change{}, &RefusedError{Field: ch.Changed[0],
				Why:   "this server's container is loosened by hand (isolation.allow_dangerous), so what it runs is not an MCP client's to change",
				Where: env.where()}
		}
		if err := checkLaunch(s, env); err != nil {
			return Change{}, err
		}
		s.Quarantined = true
	}
	return ch, nil
}

// applyClient decodes the client's server object into s, key by key,
// refusing every key outside ClientKeys (and the harmless isolation
// {"enabled": true}). It returns the keys present.
func applyClient(s *config.Server, raw json.RawMessage, env Env) (map[string]bool, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(raw), &obj); err != nil || obj == nil {
		return nil, errors.New("server must be a JSON object with name and command (or url)")
	}
	keys := slices.Sorted(maps.Keys(obj))
	present := map[string]bool{}
	// Refusals first, so the answer names what is not allowed even when
	// another field is also malformed.
	for _, k := range keys {
		if !slices.Contains(ClientKeys, k) && !harmless(k, obj[k]) {
			return nil, refuse(k, obj[k], env)
		}
	}
	if raw, ok := obj["env"]; ok {
		var names map[string]json.RawMessage
		_ = json.Unmarshal(raw, &names)
		for _, name := range slices.Sorted(maps.Keys(names)) {
			if why := steeringEnv(name); why != "" {
				return nil, &RefusedError{Field: "env." + name, Why: why, Where: env.where()}
			}
		}
	}
	for _, k := range keys {
		present[k] = true
		if k == "isolation" {
			continue // harmless: isolation.enabled true changes nothing a person set
		}
		if err := setField(s, k, obj[k]); err != nil {
			return nil, err
		}
	}
	return present, nil
}

// setField decodes one allowed key into s with the configuration's own JSON
// rules. null removes an optional value; env and headers are merged by name
// (a null value removes that name), so a client that cannot see the values
// already there does not wipe them by adding one.
func setField(s *config.Server, key string, val json.RawMessage) error {
	if string(bytes.TrimSpace(val)) == "null" {
		switch key {
		case "name":
			return errors.New("server.name: must be a string")
		case "command":
			s.Command = ""
		case "args":
			s.Args = nil
		case "env":
			s.Env = nil
		case "url":
			s.URL = ""
		case "headers":
			s.Headers = nil
		case "enabled":
			s.Enabled = nil
		}
		return nil
	}
	switch key {
	case "env":
		return mergeMap(&s.Env, key, val)
	case "headers":
		return mergeMap(&s.Headers, key, val)
	case "args":
		s.Args = nil
	}
	one, _ := json.Marshal(map[string]json.RawMessage{key: val})
	if err := json.Unmarshal(one, s); err != nil {
		return fmt.Errorf("server.%s: must be %s", key, typeName(key))
	}
	return nil
}

// mergeMap applies an object of string (or null) values to *dst.
func mergeMap(dst *map[string]string, key string, val json.RawMessage) error {
	var patch map[string]*string
	if err := json.Unmarshal(val, &patch); err != nil {
		return fmt.Errorf("server.%s: must be %s", key, typeName(key))
	}
	m := maps.Clone(*dst)
	if m == nil {
		m = map[string]string{}
	}
	for k, v := range patch {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = *v
		}
	}
	if len(m) == 0 {
		m = nil
	}
	*dst = m
	return nil
}

func typeName(key string) string {
	switch key {
	case "args":
		return "an array of strings"
	case "env", "headers":
		return "an object of string values"
	case "enabled":
		return "true or false"
	}
	return "a string"
}

func settleName(s *config.Server, keys map[string]bool, name string) error {
	switch {
	case !keys["name"] && name == "":
		return errors.New("server.name is required")
	case !keys["name"]:
		s.Name = name
	case name != "" && name != s.Name:
		return fmt.Errorf("name %q and server.name %q differ", name, s.Name)
	}
	return nil
}

// harmless reports whether a key outside ClientKeys changes nothing: only
// "isolation": {"enabled": true}, which asks for what the global flag
// decides anyway and cannot opt a server out.
func harmless(key string, val json.RawMessage) bool {
	if key != "isolation" {
		return false
	}
	var iso map[string]json.RawMessage
	if json.Unmarshal(val, &iso) != nil || len(iso) != 1 {
		return false
	}
	return string(bytes.TrimSpace(iso["enabled"])) == "true"
}

// refuse explains why key may not be set by an MCP client.
func refuse(key string, val json.RawMessage, env Env) *RefusedError {
	e := &RefusedError{Field: key, Where: env.where()}
	switch key {
	case "isolation":
		e.Why = "it changes how the server is isolated; an MCP client may only send {\"enabled\": true}"
		var iso map[string]json.RawMessage
		if json.Unmarshal(val, &iso) == nil {
			for _, k := range slices.Sorted(maps.Keys(iso)) {
				if k == "enabled" && string(bytes.TrimSpace(iso[k])) == "true" {
					continue
				}
				e.Field = "isolation." + k
				e.Why = isolationWhy(k, iso[k])
				break
			}
		}
	case "docker_isolation":
		e.Why = "it is the global isolation setting of every server"
	case "working_dir":
		e.Why = "it is the host directory the server runs in"
	case "quarantined":
		e.Why = "only a person approves a server, through the authenticated API, web UI or `mcpproxy upstream approve`"
	default:
		e.Why = "MCP clients may set only " + strings.Join(ClientKeys, ", ")
	}
	return e
}

func isolationWhy(key string, val json.RawMessage) string {
	switch key {
	case "enabled":
		if string(bytes.TrimSpace(val)) == "false" {
			return "it would run the server on the host, outside its container"
		}
		return "it must be true or absent"
	case "extra_args":
		return "raw docker flags can give the container the host (--privileged, --pid=host, -v /:/host)"
	case "network_mode":
		return "it chooses which networks the container reaches (host gives it the host's)"
	case "image":
		return "it picks the container image instead of the runtime mapping"
	case "working_dir":
		return "it changes the container's working directory"
	case "memory_limit", "cpu_limit", "pids_limit":
		return "it changes the container's resource limits"
	case "mounts":
		return "it mounts host paths into the container"
	case "hardened", "allow_dangerous":
		return "it relaxes the container's hardening"
	}
	return "it changes how the server is isolated"
}

// steeringEnv explains why an environment variable name is refused from an
// MCP client, or returns "". A server's env values are in the environment of
// the process that starts it on the host (the docker CLI, for an isolated
// server), so names that steer that process — where docker connects, which
// config and credential helpers it uses, what the dynamic loader injects —
// would act on the host, outside the container.
func steeringEnv(name string) string {
	n := strings.ToUpper(name)
	for _, p := range []string{"DOCKER_", "BUILDX_", "BUILDKIT_", "COMPOSE_", "MCPPROXY_"} {
		if strings.HasPrefix(n, p) {
			return "it steers the docker CLI or mcpproxy on the host"
		}
	}
	for _, p := range []string{"LD_", "DYLD_"} {
		if strings.HasPrefix(n, p) {
			return "it steers the host's dynamic loader"
		}
	}
	switch n {
	case "PATH", "HOME", "SHELL", "TMPDIR", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR",
		"SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
		return "it steers the process that starts the server on the host"
	}
	return ""
}

// ClientEnable refuses an MCP client's start of server s, which a person
// disabled, when it would run outside mcpproxy's containers while docker
// isolation is on: a docker command, a per-server opt-out, or a container
// a person loosened by hand (allow_dangerous). Starting it is the person's
// decision, as its settings are. A server that is enabled already, an HTTP
// server and one that runs in a container may be enabled.
func ClientEnable(s *config.Server, env Env) error {
	if s == nil || s.IsEnabled() || !env.Global.Enabled || s.IsHTTP() {
		return nil
	}
	why := ""
	switch {
	case isolation.IsDockerCommand(s.Command, env.DockerPath):
		why = "its docker command runs its own container outside mcpproxy's isolation"
	case s.Isolation != nil && s.Isolation.AllowDangerous:
		why = "its container is loosened by hand (isolation.allow_dangerous)"
	default:
		if d := isolation.Decide(env.Global, s, env.DockerPath); !d.Isolated {
			why = fmt.Sprintf("it would not run in a container (%s)", d.Reason)
		}
	}
	if why == "" {
		return nil
	}
	return &RefusedError{Field: "enabled",
		Why:   why + ", and a person disabled it; an MCP client cannot start it",
		Where: env.where()}
}

// checkLaunch refuses what would run a server added or relaunched by an MCP
// client outside a container while docker isolation is on: a docker command
// (never wrapped again) or a per-server opt-out kept from the configuration.
func checkLaunch(s *config.Server, env Env) error {
	if !env.Global.Enabled || s.IsHTTP() {
		return nil
	}
	if isolation.IsDockerCommand(s.Command, env.DockerPath) {
		return &RefusedError{Field: "command",
			Why:   "a docker command runs its own container outside mcpproxy's isolation, so MCP clients cannot set one while docker_isolation is on",
			Where: env.where()}
	}
	if s.Command == "" {
		return nil // validation names the missing command
	}
	if d := isolation.Decide(env.Global, s, env.DockerPath); !d.Isolated {
		return &RefusedError{Field: "command",
			Why:   fmt.Sprintf("the server would not run in a container (%s); an MCP client can only set what runs inside one", d.Reason),
			Where: env.where()}
	}
	return nil
}

// launchDiff lists the launch fields whose values differ between a and b.
func launchDiff(a, b *config.Server) []string {
	var out []string
	if a.Command != b.Command {
		out = append(out, "command")
	}
	if !slices.Equal(a.Args, b.Args) {
		out = append(out, "args")
	}
	if !maps.Equal(a.Env, b.Env) {
		out = append(out, "env")
	}
	if a.URL != b.URL {
		out = append(out, "url")
	}
	if !maps.Equal(a.Headers, b.Headers) {
		out = append(out, "headers")
	}
	sort.Strings(out)
	return out
}
