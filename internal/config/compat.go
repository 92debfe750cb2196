package config

import (
	"fmt"

	"github.com/tailscale/hujson"
)

// modeUse is one MCPProxy "mode" key (docker_isolation.mode or a server's
// isolation.mode) met while decoding.
type modeUse struct {
	path   string
	val    *hujson.Value
	global bool
}

// compatModes judges MCPProxy's "mode" keys, which mcpproxy does not have:
// isolation here follows "enabled" alone. Ignoring a mode is only a warning
// when mcpproxy then isolates at least as much as MCPProxy would have
// ("docker" with isolation on, "none", "sandbox" with isolation on: a
// container is a stronger box than MCPProxy's host sandbox). Where it would
// isolate less ("docker" or "sandbox" with the server left on the host) it
// is an error saying which key to set.
func (d *decoder) compatModes(c *Config) {
	for _, m := range d.modes {
		lit, ok := m.val.Value.(hujson.Literal)
		mode := ""
		if ok && lit.Kind() == '"' {
			mode = lit.String()
		}
		isolated, who := c.DockerIsolation.Enabled, "servers"
		if !m.global {
			who = "this server"
			s := d.serverAt(parentPath(parentPath(m.path)), c)
			isolated = s != nil && c.DockerIsolation.Enabled && s.Command != "" && !s.IsHTTP() &&
				(s.Isolation == nil || s.Isolation.Enabled == nil || *s.Isolation.Enabled)
		}
		off := m.val.StartOffset
		switch {
		case mode == "none":
			d.warn(m.path, off, `"mode" is MCPProxy's setting; mcpproxy ignores it and isolates as "enabled" says`)
		case (mode == "docker" || mode == "sandbox") && isolated:
			d.warn(m.path, off, fmt.Sprintf(`"mode" is MCPProxy's setting; mcpproxy ignores it (%s already run in a container)`, who))
		case mode == "docker":
			d.fail(m.path, off, fmt.Sprintf(`"mode": "docker" asks for isolation, but mcpproxy has no "mode" and would run %s on the host: set "enabled": true (in docker_isolation, and not false in the server's isolation block) and remove "mode"`, who))
		case mode == "sandbox":
			d.fail(m.path, off, fmt.Sprintf(`"mode": "sandbox" (MCPProxy's host sandbox) does not exist in mcpproxy, which would run %s on the host unconfined: set "enabled": true to run them in containers, or remove "mode" to run them on the host`, who))
		default:
			d.fail(m.path, off, `must be "docker", "sandbox" or "none" (MCPProxy's isolation mode; mcpproxy uses "enabled" instead: remove it)`)
		}
	}
}

// serverAt returns the decoded server whose entry is at path.
func (d *decoder) serverAt(path string, c *Config) *Server {
	for i, p := range d.serverPaths {
		if p == path && i < len(c.Servers) {
			return c.Servers[i]
		}
	}
	return nil
}
