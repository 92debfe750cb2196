package ui

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/dockerargs"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/trust"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// logTailLines is how many log lines the server page shows at first.
const logTailLines = 200

// dashboardData is the dashboard: every server, the docker status, the
// global switch.
type dashboardData struct {
	httpapi.ServerList
	Stdio, Isolated int
	Quarantined     []httpapi.ServerView
	Withheld        []withheldTools
}

// withheldTools are a server's tools held back until a person approves
// them, with the body approving exactly the definitions shown.
type withheldTools struct {
	Server  string
	Tools   []trust.ToolView
	Approve string
}

func (u *UI) dashboard(w http.ResponseWriter, r *http.Request) {
	list, err := u.opts.Service.ListServers(r.Context(), false)
	if err != nil {
		u.failed(w, r, err)
		return
	}
	d := dashboardData{ServerList: list}
	for _, s := range list.Servers {
		if s.Transport == "stdio" {
			d.Stdio++
			if s.Isolation != nil && s.Isolation.Isolated {
				d.Isolated++
			}
		}
		if s.Quarantine != nil || s.State == upstream.StateQuarantined {
			d.Quarantined = append(d.Quarantined, s)
		}
		if len(s.ToolsWithheld) > 0 {
			d.Withheld = append(d.Withheld, u.withheld(r.Context(), s.Name))
		}
	}
	u.render(w, r, http.StatusOK, page{Title: "Dashboard", Page: "dashboard", Data: d})
}

// withheld is what the dashboard shows of a server's withheld tools: each
// with the hash of the definition the person approves.
func (u *UI) withheld(ctx context.Context, server string) withheldTools {
	w := withheldTools{Server: server}
	st, err := u.opts.Service.ServerTools(ctx, server, true)
	if err != nil {
		return w
	}
	w.Tools = st.Tools
	if len(st.Tools) > 0 {
		w.Approve = approvalBody(st.Tools)
	}
	return w
}

// approvalBody is the POST …/tools/approve body approving exactly these
// definitions (by hash: a tool that changed again since is refused).
func approvalBody(tools []trust.ToolView) string {
	var a trust.ToolApproval
	for _, t := range tools {
		a.Tools = append(a.Tools, trust.ApprovedTool{Name: t.Name, Hash: t.Hash})
	}
	b, _ := json.Marshal(a)
	return string(b)
}

// serverData is the server page.
type serverData struct {
	httpapi.ServerDetail
	Tools    trust.ServerTools
	ToolsErr string
	Log      httpapi.LogTail
	LogErr   string
	EnvNames []string
	Headers  []string
	// Pending are the changed and new tools with what approving them sends.
	Pending []pendingTool
	// IsoSettings is the entry's own isolation block, key by key (what it
	// sets over docker_isolation's defaults); Switch its isolation switch.
	IsoSettings []setting
	Switch      isoSwitch
	// IsoForm is the form changing the block's limits and image.
	IsoForm *isoForm
}

// isoForm is what the server page's isolation form shows: the block's
// own values and, as placeholders, the defaults they override.
type isoForm struct {
	Image, MemoryLimit, CPULimit, NetworkMode, PidsLimit string
	DefMemory, DefCPU, DefNetwork, DefPids               string
	Networks                                             []string
}

// newIsoForm is the form for settings si under the global block g.
func newIsoForm(si config.ServerIsolation, g config.DockerIsolation) *isoForm {
	f := &isoForm{Image: si.Image, MemoryLimit: si.MemoryLimit, CPULimit: si.CPULimit, NetworkMode: si.NetworkMode,
		DefMemory: g.MemoryLimit, DefCPU: g.CPULimit, DefNetwork: g.NetworkMode, Networks: []string{"bridge", "none"}}
	if si.PidsLimit != nil {
		f.PidsLimit = strconv.FormatInt(*si.PidsLimit, 10)
	}
	if g.PidsLimit != 0 {
		f.DefPids = strconv.FormatInt(g.PidsLimit, 10)
	}
	if f.NetworkMode != "" && f.NetworkMode != "bridge" && f.NetworkMode != "none" {
		f.Networks = append(f.Networks, f.NetworkMode)
	}
	return f
}

// setting is one key of a server's isolation block as the file holds it.
type setting struct{ Key, Value string }

// isoSettings lists the keys si sets, in the file's terms.
// The keys the isolation form edits (image, limits, network) and the
// switch (enabled) are left to them.
func isoSettings(si *config.ServerIsolation) []setting {
	if si == nil {
		return nil
	}
	var out []setting
	add := func(k, v string) {
		if v != "" {
			out = append(out, setting{k, v})
		}
	}
	if si.Hardened != nil {
		add("hardened", strconv.FormatBool(*si.Hardened))
	}
	add("working_dir", si.WorkingDir)
	if len(si.Mounts) > 0 {
		add("mounts", strings.Join(si.Mounts, ", "))
	}
	if len(si.ExtraArgs) > 0 {
		add("extra_args", shellQuote(si.ExtraArgs))
	}
	if si.AllowDangerous {
		add("allow_dangerous", "true")
	}
	return out
}

type pendingTool struct {
	trust.ToolView
	Approve string // the JSON body approving exactly this definition
}

func (u *UI) server(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ctx := r.Context()
	det, err := u.opts.Service.GetServer(ctx, name)
	if err != nil {
		u.failed(w, r, err)
		return
	}
	d := serverData{ServerDetail: det}
	if c := det.Config; c != nil {
		d.EnvNames = sortedKeys(c.Env)
		d.Headers = sortedKeys(c.Headers)
		if det.Transport == "stdio" {
			var si config.ServerIsolation
			if c.Isolation != nil {
				si = *c.Isolation
			}
			d.IsoSettings = isoSettings(c.Isolation)
			if global, err := u.opts.Service.DockerIsolation(ctx); err == nil {
				d.Switch = newIsoSwitch(si, global.Enabled)
				d.IsoForm = newIsoForm(si, global)
				if d.Switch.OptInIgnored {
					d.IsolationNote = "" // the page says it in the switch's words
				}
			}
		}
	}
	if d.Tools, err = u.opts.Service.ServerTools(ctx, name, false); err != nil {
		d.ToolsErr = err.Error()
	}
	for _, t := range d.Tools.Tools {
		if t.State != trust.StateApproved {
			d.Pending = append(d.Pending, pendingTool{ToolView: t, Approve: approvalBody([]trust.ToolView{t})})
		}
	}
	if d.Log, err = u.opts.Service.LogTail(ctx, name, logTailLines); err != nil {
		d.LogErr = err.Error()
	}
	u.render(w, r, http.StatusOK, page{Title: name, Page: "server", Server: name, Scripts: []string{"server.js"}, Data: d})
}

// securityData is the Security page.
type securityData struct {
	Docker   httpapi.DockerStatus
	Global   config.DockerIsolation
	Servers  []securityServer
	ToHost   []string // isolated now: what turning isolation off moves to the host
	ToBoxes  []string // on the host now, isolated once the switch is on
	Images   string   // default_images as "runtime = image" lines
	Networks []string // the network modes offered
}

type securityServer struct {
	httpapi.ServerView
	Settings config.ServerIsolation
	Note     string
	isoSwitch
}

// isoSwitch is a server's isolation switch and what the global gate
// makes of it.
type isoSwitch struct {
	// On is the switch: the server is not opted out.
	On bool
	// Toggle is the PATCH body flipping the switch.
	Toggle string
	// OptInIgnored: the entry says isolation.enabled: true, and the
	// global switch (off) ignores it.
	OptInIgnored bool
	// Waits: no setting of its own, on while the global switch is off:
	// it runs on the host until the global switch is on.
	Waits bool
}

// newIsoSwitch is the switch of a server with these settings.
func newIsoSwitch(si config.ServerIsolation, globalOn bool) isoSwitch {
	s := isoSwitch{On: si.Enabled == nil || *si.Enabled}
	s.Toggle = toggleBody(s.On, globalOn)
	s.OptInIgnored = !globalOn && si.Enabled != nil && *si.Enabled
	s.Waits = !globalOn && si.Enabled == nil
	return s
}

func (u *UI) security(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	list, err := u.opts.Service.ListServers(ctx, false)
	if err != nil {
		u.failed(w, r, err)
		return
	}
	global, err := u.opts.Service.DockerIsolation(ctx)
	if err != nil {
		u.failed(w, r, err)
		return
	}
	d := securityData{Docker: list.DockerStatus, Global: global, Images: formatImages(global.DefaultImages),
		Networks: []string{"bridge", "none"}}
	if global.NetworkMode != "" && global.NetworkMode != "bridge" && global.NetworkMode != "none" {
		d.Networks = append(d.Networks, global.NetworkMode)
	}
	for _, s := range list.Servers {
		if s.Transport != "stdio" {
			continue
		}
		ss := securityServer{ServerView: s}
		if si, err := u.opts.Service.ServerIsolation(ctx, s.Name); err == nil {
			ss.Settings, ss.Note = si.Settings, si.Note
		} else if !errors.Is(err, ErrNotFound) {
			ss.Note = "isolation settings unavailable: " + err.Error()
		}
		ss.isoSwitch = newIsoSwitch(ss.Settings, global.Enabled)
		if ss.OptInIgnored {
			ss.Note = "" // the page says it in the switch's words
		}
		isolated := s.Isolation != nil && s.Isolation.Isolated
		if isolated {
			d.ToHost = append(d.ToHost, s.Name)
		} else if ss.On {
			d.ToBoxes = append(d.ToBoxes, s.Name)
		}
		d.Servers = append(d.Servers, ss)
	}
	u.render(w, r, http.StatusOK, page{Title: "Security", Page: "security", Scripts: []string{"security.js"}, Data: d})
}

// toggleBody is the PATCH of a server's isolation block that flips its
// switch: off is an explicit opt-out; on removes the opt-out (the server
// follows the global switch) or, while the global switch is off, records
// an opt-in (which the global gate ignores until it is on).
func toggleBody(on, globalOn bool) string {
	switch {
	case on:
		return `{"enabled":false}`
	case globalOn:
		return `{"enabled":null}`
	default:
		return `{"enabled":true}`
	}
}

func (u *UI) add(w http.ResponseWriter, r *http.Request) {
	// The page says whether a new stdio server would run in a container.
	global, err := u.opts.Service.DockerIsolation(r.Context())
	if err != nil {
		u.failed(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, page{Title: "Add a server", Page: "add", Scripts: []string{"add.js"}, Data: global.Enabled})
}

// toolsData is the tool search page.
type toolsData struct {
	Query string
	Hits  []httpapi.ToolHit
	Err   string
}

func (u *UI) tools(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := toolsData{Query: q}
	if q != "" {
		res, err := u.opts.Service.SearchTools(r.Context(), q, 50)
		if err != nil {
			d.Err = err.Error()
		}
		d.Hits = res.Tools
	}
	u.render(w, r, http.StatusOK, page{Title: "Tools", Page: "tools", Query: q, Data: d})
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func formatImages(m map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		b.WriteString(k + " = " + m[k] + "\n")
	}
	return b.String()
}

// ConfigValidity is the banner every page shows when the configuration
// file on disk is invalid.
type ConfigValidity = httpapi.ConfigStatus

// configValidity asks the service, never failing the page for it.
func (u *UI) configValidity(ctx context.Context) *ConfigValidity {
	st, err := u.opts.Service.ConfigStatus(ctx)
	if err != nil {
		return &ConfigValidity{Valid: true}
	}
	return &st
}

// funcs are the templates' helpers. None of them returns template.HTML:
// every value stays text for html/template to escape.
var funcs = template.FuncMap{
	"path": url.PathEscape,
	"join": strings.Join,
	// approveBody is a quarantined server's approval as the page shows it:
	// an MCP client's change since makes it fail (409), not approve that.
	"approveBody": func(q *trust.QuarantineView) string {
		if q == nil {
			return ""
		}
		b, _ := json.Marshal(httpapi.ServerApprove{Fingerprint: q.Fingerprint})
		return string(b)
	},
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		d := time.Since(t).Round(time.Second)
		switch {
		case d < time.Minute:
			return d.String() + " ago"
		case d < time.Hour:
			return d.Round(time.Minute).String() + " ago"
		}
		return t.Local().Format("2006-01-02 15:04")
	},
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("15:04:05")
	},
	"diffLines": func(diff string) []diffLine {
		var out []diffLine
		for _, l := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
			c := ""
			switch {
			case strings.HasPrefix(l, "+"):
				c = "add"
			case strings.HasPrefix(l, "-"):
				c = "del"
			}
			out = append(out, diffLine{Class: c, Text: l})
		}
		return out
	},
	"isolated":     func(i *upstream.IsolationInfo) bool { return i != nil && i.Isolated },
	"mountArgs":    dockerargs.Mounts,
	"shellQuote":   shellQuote,
	"commandLines": commandLines,
	"prepend":      func(first string, rest []string) []string { return append([]string{first}, rest...) },
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
}

type diffLine struct{ Class, Text string }

// shellQuote renders argv as a shell command line a person can read (and
// paste): words with shell metacharacters are single-quoted.
func shellQuote(argv []string) string {
	var parts []string
	for _, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`!*?[](){}<>|&;#~") {
			parts = append(parts, a)
			continue
		}
		parts = append(parts, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	return strings.Join(parts, " ")
}

// commandLines renders a docker command line a person can read: one
// option with its value per line, then the image and the command on the
// last, joined by " \\" continuations.
func commandLines(argv []string) string {
	var lines []string
	cur, need, positional := "", 0, false
	for i, a := range argv {
		q := shellQuote([]string{a})
		switch {
		case i < 2: // "docker run"
			cur = strings.TrimSpace(cur + " " + q)
		case positional:
			cur += " " + q
		case strings.HasPrefix(a, "-"):
			lines = append(lines, cur)
			cur, need = "  "+q, 1
			if strings.Contains(a, "=") || booleanFlags[a] {
				need = 0
			}
		case need > 0:
			cur += " " + q
			need--
		default: // the image: it and everything after it is the command
			lines = append(lines, cur)
			cur, positional = "  "+q, true
		}
	}
	return strings.Join(append(lines, cur), " \\\n")
}

// booleanFlags are the docker run flags that take no value.
var booleanFlags = map[string]bool{
	"-i": true, "--interactive": true, "-t": true, "--tty": true, "--rm": true, "--init": true,
	"--read-only": true, "-d": true, "--detach": true, "--privileged": true, "-P": true, "--publish-all": true,
	"--no-healthcheck": true, "--oom-kill-disable": true, "--sig-proxy": true,
}
