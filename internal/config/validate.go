package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/dockerargs"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path names the offending value, e.g. "mcpServers[2].command" or
	// "docker_isolation.memory_limit"; servers of the object form are named
	// by key ("mcpServers.github"). "" is the whole file.
	Path string
	// Line and Col are the 1-based position of the offending value in the
	// file (of the enclosing object when a required key is missing); 0 when
	// the configuration did not come from a file.
	Line, Col int
	// Msg says what is wrong and how to fix it.
	Msg string
}

// String formats p as "<line>:<col>: <path>: <msg>", leaving out what is
// unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", p.Line, p.Col)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	// File is the configuration file's path; "" when unknown.
	File     string
	Problems []Problem
}

// Error returns one line per problem: "<file>:<line>:<col>: <path>: <msg>".
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s := p.String()
		if e.File != "" {
			sep := ": "
			if p.Line > 0 {
				sep = ":"
			}
			s = e.File + sep + s
		}
		lines[i] = s
	}
	return strings.Join(lines, "\n")
}

// validator applies the semantic rules of a configuration, after Parse has
// decoded it (or to an in-memory one, in tests):
//
//   - A server has a unique name of letters, digits, "_", "." and "-" (not
//     "." or ".."), because the name appears in /mcp/{name} and in container
//     names; and exactly one of command (stdio) or url (http:// or https://
//     with a host). headers need url; env names are non-empty without "=" or
//     NUL.
//   - Sizes (memory_limit) use docker's syntax: a positive number with an
//     optional fraction, k/m/g/t unit and b suffix ("512m", "1.5g",
//     "1073741824"). cpu_limit is a positive decimal ("1.0", "0.5"). timeout
//     and init_timeout are positive Go durations.
//   - network_mode is "bridge", "none", "host", "default",
//     "container:<name|id>" or a user-defined network name matching
//     [A-Za-z0-9][A-Za-z0-9_.-]*; whether such a network exists is only
//     known when docker runs the container.
//   - registry is host[:port]; images are references as docker/distribution
//     defines them: [host[:port]/]lowercase/path[:tag][@sha256:digest].
//   - The global docker_isolation strings must not be empty (removing the
//     key gives the default); in a server's isolation block an empty string
//     inherits the global value. A server's isolation.working_dir is an
//     absolute container path.
//   - telemetry.endpoint, when set, is an http(s) URL; listen is host:port.
//   - docker_isolation.backend is "docker" or "kubernetes"; with kubernetes,
//     its kubernetes block holds Kubernetes names, and extra_args and Docker
//     network modes (other than bridge and none) are refused (kubernetes.go).
//   - pids_limit is a whole number from 1 to MaxPidsLimit.
//   - extra_args and network_mode never give a container the host
//     (dockerargs.Check: --privileged, host namespaces, added capabilities,
//     devices, weakened seccomp/AppArmor/SELinux, binds of /, a home, /etc,
//     /proc, /sys, /dev, a docker socket, …) unless the server's own block
//     says "allow_dangerous": true; the global extra_args and network_mode
//     have no such way out.
//
// When it runs after decoding a file, pos holds the position of every decoded value
// and bad the paths that already have a (type) problem; problems at or below
// a bad path are not reported twice.
type validator struct {
	problems []Problem
	warnings []Problem
	pos      map[string]position
	bad      map[string]bool
	// hostPaths judges the host paths of bind mounts in extra_args.
	hostPaths dockerargs.HostPaths
}

// defaultHostPaths is this host's view for judging bind mounts: the user's
// home, and symlinks resolved (Docker follows them).
func defaultHostPaths() dockerargs.HostPaths {
	home, _ := os.UserHomeDir()
	return dockerargs.HostPaths{Home: home, Resolve: filepath.EvalSymlinks, FoldCase: dockerargs.HostFoldsCase, Sockets: AgentSockets()}
}

// AgentSockets are the sockets of this session that no container may see,
// as given and with symlinks resolved: the SSH agent's ($SSH_AUTH_SOCK,
// signing with the user's keys) and the container engine's named by
// DOCKER_HOST (unix://…; control of the host, wherever it lives).
func AgentSockets() []string {
	var out []string
	add := func(s string) {
		if !filepath.IsAbs(s) {
			return
		}
		out = append(out, dockerargs.WithTarget(filepath.Clean(s), filepath.EvalSymlinks)...)
	}
	add(os.Getenv("SSH_AUTH_SOCK"))
	if h, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://"); ok {
		add(h)
	}
	return out
}

type position struct{ line, col int }

func (v *validator) add(path, msg string) {
	if p, ok := v.problem(path, msg); ok {
		v.problems = append(v.problems, p)
	}
}

// warn records a problem that does not stop the configuration from loading.
func (v *validator) warn(path, msg string) {
	if p, ok := v.problem(path, msg); ok {
		v.warnings = append(v.warnings, p)
	}
}

// problem places msg at path (false when path is below a bad value).
func (v *validator) problem(path, msg string) (Problem, bool) {
	for q := path; q != ""; q = parentPath(q) {
		if v.bad[q] {
			return Problem{}, false
		}
	}
	p := Problem{Path: path, Msg: msg}
	for q := path; ; q = parentPath(q) {
		if at, ok := v.pos[q]; ok {
			p.Line, p.Col = at.line, at.col
			break
		}
		if q == "" {
			break
		}
	}
	return p, true
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	sortProblems(v.problems)
	return &ValidationError{Problems: v.problems}
}

// sortProblems orders problems by their position in the file.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

func (v *validator) config(c *Config, serverPath func(int) string) {
	if c.Listen != "" && !validListen(c.Listen) {
		v.add("listen", `must be host:port such as "127.0.0.1:8080"`)
	}
	if c.InitTimeout < 0 {
		v.add("init_timeout", `must be a positive duration such as "30s"`)
	}
	if msg := apiKeyProblem(c.APIKey); msg != "" {
		v.add("api_key", msg)
	}
	seen := make(map[string]string, len(c.Servers))
	for i, s := range c.Servers {
		p := serverPath(i)
		if s == nil {
			v.add(p, "must be a server object")
			continue
		}
		v.server(p, s)
		if s.Name == "" {
			continue
		}
		if first, dup := seen[s.Name]; dup {
			v.add(p+".name", fmt.Sprintf("duplicate server name %q (also %s); names must be unique", s.Name, first))
			continue
		}
		seen[s.Name] = p
	}
	v.dockerIsolation("docker_isolation", &c.DockerIsolation)
	v.backend(c, serverPath)
	if e := c.Telemetry.Endpoint; e != "" && !validHTTPURL(e) {
		v.add("telemetry.endpoint", "must be an http:// or https:// URL with a host; remove the key to use the default endpoint")
	}
}

func (v *validator) server(p string, s *Server) {
	switch {
	case s.Name == "":
		v.add(p+".name", `required: a unique name of letters, digits, "_", "." and "-"`)
	case !validServerName(s.Name):
		v.add(p+".name", fmt.Sprintf(`%q may only contain letters, digits, "_", "." and "-" (it is used in the URL /mcp/{name} and in container names) and must not be "." or ".."`, s.Name))
	}
	switch {
	case s.Command != "" && s.URL != "":
		v.add(p+".url", `cannot be combined with "command": a server is either stdio ("command") or HTTP ("url"); remove one`)
	case s.Command == "" && s.URL == "":
		if !v.bad[p+".url"] {
			v.add(p+".command", `required for stdio servers (or set "url" for an HTTP server)`)
		}
	}
	if strings.ContainsRune(s.Command, 0) {
		v.add(p+".command", "must not contain a NUL byte")
	}
	for i, a := range s.Args {
		if strings.ContainsRune(a, 0) {
			v.add(fmt.Sprintf("%s.args[%d]", p, i), "must not contain a NUL byte")
		}
	}
	if s.URL != "" && !validHTTPURL(s.URL) {
		v.add(p+".url", `must be an http:// or https:// URL with a host, such as "https://example.com/mcp"`)
	}
	for _, k := range sortedKeys(s.Env) {
		kp := joinKey(p+".env", k)
		if !validEnvName(k) {
			v.add(kp, `invalid variable name: it must be non-empty and contain no "=" or NUL`)
		} else if strings.ContainsRune(s.Env[k], 0) {
			v.add(kp, "value must not contain a NUL byte")
		}
	}
	if len(s.Headers) > 0 && s.URL == "" {
		v.add(p+".headers", `only valid for HTTP servers (set "url" or remove "headers")`)
	}
	for _, k := range sortedKeys(s.Headers) {
		kp := joinKey(p+".headers", k)
		if !validHeaderName(k) {
			v.add(kp, "invalid header name: use letters, digits and !#$%&'*+-.^_`|~")
		} else if strings.ContainsAny(s.Headers[k], "\r\n\x00") {
			v.add(kp, "value must not contain CR, LF or NUL")
		}
	}
	if iso := s.Isolation; iso != nil {
		ip := p + ".isolation"
		if iso.Image != "" && !validImageRef(iso.Image) {
			v.add(ip+".image", imageMsg)
		}
		if iso.NetworkMode != "" && !validNetworkMode(iso.NetworkMode) {
			v.add(ip+".network_mode", networkMsg)
		}
		if iso.WorkingDir != "" && !strings.HasPrefix(iso.WorkingDir, "/") {
			v.add(ip+".working_dir", `must be an absolute path inside the container, such as "/app"`)
		}
		if iso.MemoryLimit != "" && !validSize(iso.MemoryLimit) {
			v.add(ip+".memory_limit", sizeMsg)
		}
		if iso.CPULimit != "" && !validCPU(iso.CPULimit) {
			v.add(ip+".cpu_limit", cpuMsg)
		}
		if iso.PidsLimit != nil {
			v.pidsLimit(ip+".pids_limit", *iso.PidsLimit)
		}
		v.serverDangerous(ip, iso)
	}
}

// serverDangerous refuses a server's extra_args, network_mode and mounts
// that give the container the host, unless its block allows them (then
// each one is a warning, so that config validate shows them).
func (v *validator) serverDangerous(ip string, iso *ServerIsolation) {
	found := false
	report := func(path, msg string) {
		found = true
		if iso.AllowDangerous {
			v.warn(path, `allowed by "allow_dangerous": true: `+msg)
			return
		}
		v.add(path, msg+`; remove it, or, if this server really needs it, write "allow_dangerous": true in its isolation block by hand`)
	}
	for _, f := range dockerargs.Check(iso.ExtraArgs, v.hostPaths) {
		report(fmt.Sprintf("%s.extra_args[%d]", ip, f.Index), fmt.Sprintf("%q gives the container %s", f.Arg, f.Why))
	}
	v.mounts(ip, iso, report)
	if iso.NetworkMode != "" && validNetworkMode(iso.NetworkMode) {
		if why := dockerargs.CheckNetworkMode(iso.NetworkMode); why != "" {
			report(ip+".network_mode", fmt.Sprintf("%q gives the container %s", iso.NetworkMode, why))
		}
	}
	if iso.AllowDangerous && !found {
		v.warn(ip+".allow_dangerous", `has no effect: nothing in this server's extra_args, network_mode or mounts needs it; remove it`)
	}
}

func (v *validator) pidsLimit(path string, n int64) {
	if n < 1 || n > MaxPidsLimit {
		v.add(path, fmt.Sprintf("must be a whole number from 1 to %d: the most processes the container may run (default %d)", MaxPidsLimit, DefaultPidsLimit))
	}
}

func (v *validator) dockerIsolation(p string, d *DockerIsolation) {
	def := DefaultDockerIsolation()
	check := func(key, val, fallback string, ok func(string) bool, msg string) {
		switch {
		case val == "":
			v.add(p+"."+key, fmt.Sprintf("must not be empty; remove the key to use the default (%q)", fallback))
		case !ok(val):
			v.add(p+"."+key, msg)
		}
	}
	check("memory_limit", d.MemoryLimit, def.MemoryLimit, validSize, sizeMsg)
	check("cpu_limit", d.CPULimit, def.CPULimit, validCPU, cpuMsg)
	check("network_mode", d.NetworkMode, def.NetworkMode, validNetworkMode, networkMsg)
	check("registry", d.Registry, def.Registry, validRegistry, `must be a registry host such as "docker.io" or "registry.example.com:5000"`)
	if d.Timeout <= 0 {
		v.add(p+".timeout", `must be a positive duration such as "30s"`)
	}
	v.pidsLimit(p+".pids_limit", d.PidsLimit)
	const noWayOut = `; allow_dangerous does not apply to the global settings: if one server really needs it, set it in that server's isolation block and write "allow_dangerous": true there by hand`
	for _, f := range dockerargs.Check(d.ExtraArgs, v.hostPaths) {
		v.add(fmt.Sprintf("%s.extra_args[%d]", p, f.Index), fmt.Sprintf("%q gives every isolated container %s; remove it%s", f.Arg, f.Why, noWayOut))
	}
	if validNetworkMode(d.NetworkMode) {
		if why := dockerargs.CheckNetworkMode(d.NetworkMode); why != "" {
			v.add(p+".network_mode", fmt.Sprintf(`%q gives every isolated container %s; use "bridge" or "none"%s`, d.NetworkMode, why, noWayOut))
		}
	}
	for _, k := range sortedKeys(d.DefaultImages) {
		kp := joinKey(p+".default_images", k)
		switch {
		case k == "":
			v.add(kp, "runtime name must not be empty")
		case !validImageRef(d.DefaultImages[k]):
			v.add(kp, imageMsg)
		}
	}
}

const (
	sizeMsg    = `must be a size such as "512m" or "1g" (a number of bytes with an optional b, k, m or g suffix, at least 6m: docker refuses less)`
	cpuMsg     = `must be a positive number of CPUs such as "1.0" or "0.5" (at least 0.001)`
	imageMsg   = `must be an image reference such as "python:3.11" or "ghcr.io/org/image:tag" (lowercase repository, optional :tag and @sha256:digest)`
	networkMsg = `must be "bridge", "none", "host", "container:<name>" or the name of a user-defined network`
)

var (
	serverNameRe = newLazyRegexp(`^[A-Za-z0-9_.-]+$`)
	sizeRe       = newLazyRegexp(`^([0-9]+(?:\.[0-9]+)?)([kKmMgGtT]?[bB]?)$`)
	cpuRe        = newLazyRegexp(`^(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)$`)
	// networkNameRe matches the built-in modes (bridge, host, none, default)
	// and user-defined network names, which docker restricts to this form.
	networkNameRe = newLazyRegexp(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// containerRe matches a container name or ID, as in "container:<name>".
	containerRe = newLazyRegexp(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

	domainComponent = `(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])`
	registryHost    = `(?:` + domainComponent + `(?:\.` + domainComponent + `)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?`
	registryRe      = newLazyRegexp(`^` + registryHost + `$`)
	// imageRe follows the reference grammar of docker/distribution: an
	// optional registry host, lowercase path components separated by "/",
	// an optional tag and an optional sha256 digest.
	pathComponent = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	imageRe       = newLazyRegexp(`^(?:(` + registryHost + `)/)?(` + pathComponent + `(?:/` + pathComponent + `)*)` +
		`(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`)
)

func validServerName(s string) bool {
	return serverNameRe.MatchString(s) && s != "." && s != ".."
}

// MinMemoryLimit is the smallest memory limit docker run accepts ("Minimum
// memory limit allowed is 6MB"): a smaller one would fail every start.
const MinMemoryLimit = 6 << 20

// validSize reports whether s is a memory size docker run --memory accepts
// (see ParseMemory).
func validSize(s string) bool {
	n, err := ParseMemory(s)
	return err == nil && n >= MinMemoryLimit
}

// validCPU reports whether s is a positive decimal number of CPUs (see
// ParseMilliCPUs).
func validCPU(s string) bool {
	_, err := ParseMilliCPUs(s)
	return err == nil
}

// validNetworkMode accepts the built-in docker network modes, the
// "container:<name|id>" form and user-defined network names. Whether a
// user-defined network exists is only known when the container starts.
func validNetworkMode(s string) bool {
	if rest, ok := strings.CutPrefix(s, "container:"); ok {
		return containerRe.MatchString(rest)
	}
	return networkNameRe.MatchString(s)
}

// validRegistry accepts hostname[:port] (or [ipv6]:port) with a port in 1-65535.
func validRegistry(s string) bool {
	if !registryRe.MatchString(s) {
		return false
	}
	return validHostPort(s)
}

// validHostPort checks the port of a host[:port] or [ipv6][:port] string
// whose shape the caller's regexp has already accepted.
func validHostPort(s string) bool {
	port := ""
	if rest, ok := strings.CutPrefix(s, "["); ok {
		host, after, ok := strings.Cut(rest, "]")
		if !ok || net.ParseIP(host) == nil {
			return false
		}
		port = strings.TrimPrefix(after, ":")
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		port = s[i+1:]
	}
	if port == "" {
		return true
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// validImageRef reports whether s is a docker image reference such as
// "python:3.11", "ghcr.io/org/img:tag" or "img@sha256:<64 hex>".
func validImageRef(s string) bool {
	m := imageRe.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	if m[1] != "" && !validHostPort(m[1]) {
		return false
	}
	name := m[2]
	if m[1] != "" {
		name = m[1] + "/" + name
	}
	return len(name) <= 255
}

func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Hostname() != ""
}

func validEnvName(s string) bool {
	return s != "" && !strings.ContainsAny(s, "=\x00")
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func validListen(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var simpleKeyRe = newLazyRegexp(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// joinKey appends an object key to a path: base.key, or base["key"] when the
// key is not a plain identifier.
func joinKey(base, key string) string {
	if simpleKeyRe.MatchString(key) {
		if base == "" {
			return key
		}
		return base + "." + key
	}
	return base + "[" + strconv.Quote(key) + "]"
}

// parentPath drops the last segment of a path made by joinKey and index
// suffixes ("a.b[2]" → "a.b", "a" → "").
func parentPath(p string) string {
	last := 0
	for i := 0; i < len(p); {
		switch p[i] {
		case '.':
			last = i
			i++
		case '[':
			last = i
			if i+1 < len(p) && p[i+1] == '"' {
				q, err := strconv.QuotedPrefix(p[i+1:])
				if err != nil {
					return ""
				}
				i += 1 + len(q) + 1
			} else {
				j := strings.IndexByte(p[i:], ']')
				if j < 0 {
					return ""
				}
				i += j + 1
			}
		default:
			i++
		}
	}
	return p[:last]
}
