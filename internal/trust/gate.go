package trust

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Gate holds back the tools a person has not approved, from every client:
// a tool whose definition changed since it was pinned, or that appeared
// after its server's tools were pinned, is neither listed nor callable
// until a person approves it (ApproveTools). A server's first tool list
// after it became trusted — hand-written servers on their first connect,
// approved ones on their first connect after approval — is pinned as it
// is. Removed tools simply disappear.
type Gate struct {
	store *Store
	// current returns server's tool list as the upstream last presented it
	// and whether the server is connected (a connected server with no
	// tools has an empty list; one that is not has none).
	current func(server string) (tools []*mcp.Tool, live bool)
	log     *slog.Logger

	mu       sync.Mutex
	verdicts map[string]*verdict // by server
}

// verdict is the gate's judgement of one tool list, cached until the list
// or the pins change.
type verdict struct {
	from []*mcp.Tool // the list judged (compared by identity)
	live bool
	// state is every listed tool's state; a tool clients may see and
	// call is approved.
	state map[string]toolState
}

// toolState is a listed tool's state against its pin.
type toolState uint8

const (
	approved toolState = iota + 1
	changed
	added
)

// String is the state's name in the API (StateApproved, …).
func (s toolState) String() string {
	switch s {
	case approved:
		return StateApproved
	case changed:
		return StateChanged
	case added:
		return StateNew
	}
	return ""
}

// NewGate returns a gate over store; current reports a server's tools.
func NewGate(store *Store, current func(server string) ([]*mcp.Tool, bool), log *slog.Logger) *Gate {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Gate{store: store, current: current, log: log, verdicts: map[string]*verdict{}}
}

func sameList(a, b []*mcp.Tool) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// verdictFor judges server's current tool list, pinning it first if the
// server is connected and has no pins yet. Judging hashes each tool once
// (see hashTool: no allocation per tool); only a first list is turned
// into the definitions its pins keep.
func (g *Gate) verdictFor(server string) *verdict {
	tools, live := g.current(server)
	g.mu.Lock()
	v := g.verdicts[server]
	g.mu.Unlock()
	if v != nil && v.live == live && sameList(v.from, tools) {
		return v
	}
	pins, pinned := g.store.pinsOf(server)
	if !pinned && live {
		defs, sums := defineAll(tools)
		if g.store.baseline(server, defs, sums) {
			g.log.Info("tools pinned at first connect", "server", server, "tools", len(defs))
		}
		pins, _ = g.store.pinsOf(server)
	}
	v = &verdict{from: tools, live: live, state: make(map[string]toolState, len(tools))}
	for _, t := range tools {
		if t == nil {
			continue
		}
		st := approved
		if p, ok := pins[t.Name]; !ok {
			st = added
		} else if p.sum != hashTool(t) {
			st = changed
		}
		// A name listed twice is judged by its worst entry: clients and
		// the API select tools by name, so an approved entry must not
		// carry an unapproved twin past the gate.
		if prev, seen := v.state[t.Name]; seen && prev != approved {
			continue
		}
		v.state[t.Name] = st
	}
	g.mu.Lock()
	g.verdicts[server] = v
	g.mu.Unlock()
	return v
}

// defineAll returns the definitions and digests of tools by name.
func defineAll(tools []*mcp.Tool) (map[string]Definition, map[string]digest) {
	defs := make(map[string]Definition, len(tools))
	sums := make(map[string]digest, len(tools))
	for _, t := range tools {
		if t == nil {
			continue
		}
		d, sum := define(t)
		defs[t.Name], sums[t.Name] = d, sum
	}
	return defs, sums
}

// forget drops the cached verdict of server (its pins changed).
func (g *Gate) forget(server string) {
	g.mu.Lock()
	delete(g.verdicts, server)
	g.mu.Unlock()
}

// VisibleTools returns the tools of server clients may see, of tools (the
// server's list, or one page of it as the upstream just sent it): each
// must match its pin. nil stays nil.
func (g *Gate) VisibleTools(server string, tools []*mcp.Tool) []*mcp.Tool {
	if tools == nil {
		return nil
	}
	if v := g.verdictFor(server); sameList(v.from, tools) { // pins a first list
		n := 0
		for _, st := range v.state {
			if st == approved {
				n++
			}
		}
		out := make([]*mcp.Tool, 0, n)
		for _, t := range tools {
			if t != nil && v.state[t.Name] == approved {
				out = append(out, t)
			}
		}
		return out
	}
	// A page the upstream just sent: each tool must match its pin.
	pins, _ := g.store.pinsOf(server)
	out := make([]*mcp.Tool, 0, len(tools))
	for _, t := range tools {
		if t == nil {
			continue
		}
		if p, ok := pins[t.Name]; ok && p.sum == hashTool(t) {
			out = append(out, t)
		}
	}
	return out
}

// Withheld returns the names of server's tools held back, sorted.
func (g *Gate) Withheld(server string) []string {
	v := g.verdictFor(server)
	var out []string
	for n, st := range v.state {
		if st != approved {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// WithheldError is the refusal of a call to a tool that is held back.
type WithheldError struct {
	Server, Tool string
	// State is StateChanged, StateNew, or "" for a tool the server does
	// not list at all.
	State string
}

func (e *WithheldError) Error() string {
	switch e.State {
	case StateChanged:
		return fmt.Sprintf("tool %q of server %q is withheld: its definition changed since a person approved it; "+
			"see the change with `mcpproxy upstream tools %s --changed` and approve it with `mcpproxy upstream approve %s --tools`",
			e.Tool, e.Server, e.Server, e.Server)
	case StateNew:
		return fmt.Sprintf("tool %q of server %q is withheld: it is new since the server's tools were approved; "+
			"see it with `mcpproxy upstream tools %s --changed` and approve it with `mcpproxy upstream approve %s --tools`",
			e.Tool, e.Server, e.Server, e.Server)
	}
	return fmt.Sprintf("server %q lists no tool %q (retrieve_tools finds the tools it has)", e.Server, e.Tool)
}

// CheckCall returns nil when tool of server may be called, or a
// *WithheldError.
func (g *Gate) CheckCall(server, tool string) error {
	v := g.verdictFor(server)
	st := v.state[tool]
	if st == approved {
		return nil
	}
	return &WithheldError{Server: server, Tool: tool, State: st.String()}
}

// ToolView is one tool of a server with its pin state, for the API.
type ToolView struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Hash identifies the definition shown; an approval names it so that
	// a person approves exactly what they saw.
	Hash string `json:"hash"`
	Definition
	// Approved is the pinned definition of a changed tool.
	Approved *Pin `json:"approved,omitempty"`
	// Diff shows a changed tool's definition against its pin, line by
	// line ("-" approved, "+" now); a new tool's as added lines.
	Diff string `json:"diff,omitempty"`
}

// ServerTools is a server's tools with their pin states.
type ServerTools struct {
	Server string `json:"server"`
	// Live is false when the server is not connected: its tools are
	// unknown until it is (a quarantined server never is).
	Live bool `json:"live"`
	// Pinned is false until the server's first tool list was pinned.
	Pinned bool       `json:"pinned"`
	Tools  []ToolView `json:"tools"`
}

// ServerTools returns server's current tools with their states; with
// onlyPending, only the changed and new ones.
func (g *Gate) ServerTools(server string, onlyPending bool) ServerTools {
	v := g.verdictFor(server)
	pins, pinned := g.store.pinsOf(server)
	out := ServerTools{Server: server, Live: v.live, Pinned: pinned, Tools: []ToolView{}}
	for _, t := range v.from {
		if t == nil {
			continue
		}
		st := v.state[t.Name]
		if onlyPending && st == approved {
			continue
		}
		d, h := Define(t)
		tv := ToolView{Name: t.Name, State: st.String(), Hash: h, Definition: d}
		switch st {
		case changed:
			p := *pins[t.Name]
			tv.Approved = &p
			tv.Diff = Diff(p.definition(t.Name), d)
		case added:
			tv.Diff = Added(d)
		}
		out.Tools = append(out.Tools, tv)
	}
	sort.Slice(out.Tools, func(i, j int) bool { return out.Tools[i].Name < out.Tools[j].Name })
	return out
}

// ToolApproval is a person's approval of some of a server's tools.
type ToolApproval struct {
	// Tools name the tools approved and, to approve exactly what was
	// shown, the hash of the definition seen ("" accepts the current one).
	Tools []ApprovedTool `json:"tools,omitempty"`
	// All approves every changed and new tool as the server presents it
	// now.
	All bool `json:"all,omitempty"`
}

// ApprovedTool names one approved tool.
type ApprovedTool struct {
	Name string `json:"name"`
	Hash string `json:"hash,omitempty"`
}

// ToolApprovalResult lists the tools an approval pinned.
type ToolApprovalResult struct {
	Server   string   `json:"server"`
	Approved []string `json:"approved"`
}

// ErrNotLive is returned for a tool approval while the server is not
// connected (its tools are unknown).
var ErrNotLive = errors.New("the server is not connected, so its tools are unknown; approve its tools once it runs")

// HashMismatchError refuses an approval of a definition the server no
// longer presents.
type HashMismatchError struct {
	Tool, Want, Have string
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("tool %q now has definition %s, not the %s approved; look at it again (`mcpproxy upstream tools … --changed`)", e.Tool, e.Have, e.Want)
}

// UnknownToolError refuses an approval of a tool the server does not list.
type UnknownToolError struct{ Server, Tool string }

func (e *UnknownToolError) Error() string {
	return fmt.Sprintf("server %q lists no tool %q", e.Server, e.Tool)
}

// ApproveTools pins the tools a person approved, as the server presents
// them now.
func (g *Gate) ApproveTools(server string, req ToolApproval) (ToolApprovalResult, error) {
	v := g.verdictFor(server)
	if !v.live {
		return ToolApprovalResult{}, ErrNotLive
	}
	// Only the tools approved are defined (a server may list thousands).
	byName := make(map[string]*mcp.Tool, len(req.Tools))
	for _, t := range v.from {
		if t != nil && (req.All && v.state[t.Name] != approved || len(req.Tools) > 0) {
			byName[t.Name] = t
		}
	}
	pick := map[string]Definition{}
	sums := map[string]digest{}
	add := func(t *mcp.Tool) {
		d, sum := define(t)
		pick[t.Name], sums[t.Name] = d, sum
	}
	if req.All {
		for n, st := range v.state {
			if st != approved {
				add(byName[n])
			}
		}
	}
	for _, a := range req.Tools {
		t, ok := byName[a.Name]
		if !ok {
			return ToolApprovalResult{}, &UnknownToolError{Server: server, Tool: a.Name}
		}
		if _, done := pick[a.Name]; !done {
			add(t)
		}
		if have := sums[a.Name].String(); a.Hash != "" && a.Hash != have {
			return ToolApprovalResult{}, &HashMismatchError{Tool: a.Name, Want: a.Hash, Have: have}
		}
	}
	res := ToolApprovalResult{Server: server, Approved: []string{}}
	if len(pick) == 0 {
		return res, nil
	}
	if err := g.store.approve(server, pick, sums); err != nil {
		return ToolApprovalResult{}, err
	}
	g.forget(server)
	for n := range pick {
		res.Approved = append(res.Approved, n)
	}
	slices.Sort(res.Approved)
	g.log.Info("tools approved", "server", server, "tools", res.Approved)
	return res, nil
}

// ServerForgotten drops the cached judgement of server (it was removed or
// its pins were dropped).
func (g *Gate) ServerForgotten(server string) { g.forget(server) }
