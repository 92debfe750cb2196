package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/fastpath"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// blockGate withholds the tools it names.
type blockGate map[string]bool

func (g blockGate) VisibleTools(server string, tools []*mcp.Tool) []*mcp.Tool {
	if tools == nil {
		return nil
	}
	out := []*mcp.Tool{}
	for _, t := range tools {
		if !g[t.Name] {
			out = append(out, t)
		}
	}
	return out
}

func (g blockGate) CheckCall(server, tool string) error {
	if g[tool] {
		return errors.New("withheld by the test gate: " + tool)
	}
	return nil
}

// A withheld tool is neither listed on /mcp/{server} nor callable through
// /mcp/{server} or /mcp call_tool — on the fast path and on the SDK path —
// and the call never reaches the upstream (the fixture's crash tool would
// end the process); the other tools keep working, on the fast path.
func TestGateWithholdsOnEveryPath(t *testing.T) {
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fastpath=%v", fast), func(t *testing.T) {
			bin := testutil.FixtureBinary(t)
			setting := fastpath.Off
			if fast {
				setting = fastpath.On
			}
			m := upstream.NewManager(upstream.Options{FastPath: setting})
			cfg := config.Default()
			cfg.Servers = []*config.Server{{Name: "fx", Command: bin}}
			p, base := serveUpstreams(t, m, cfg, "fx", func(o *Options) { o.Gate = blockGate{"crash": true} })

			srv := connectRecording(t, base+"/mcp/fx")
			agg := connectRecording(t, base+"/mcp")
			ctx := srv.ctx
			pid := func() int {
				res, err := srv.cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
				if err != nil || res.IsError {
					t.Fatalf("whoami: %v %v", err, res)
				}
				var id struct {
					PID int `json:"pid"`
				}
				_ = json.Unmarshal([]byte(text(res)), &id)
				return id.PID
			}
			before := pid()

			lt, err := srv.cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, tl := range lt.Tools {
				listed = append(listed, tl.Name)
			}
			if slices.Contains(listed, "crash") || !slices.Contains(listed, "echo") {
				t.Fatalf("tools/list on /mcp/fx: %v", listed)
			}

			served := p.existingForwarder("fx").fast.Stats().Served
			_, err = srv.cs.CallTool(ctx, &mcp.CallToolParams{Name: "crash"})
			if err == nil || !strings.Contains(err.Error(), "withheld by the test gate") {
				t.Fatalf("tools/call crash on /mcp/fx: %v", err)
			}
			if n := p.existingForwarder("fx").fast.Stats().Served; n != served {
				t.Fatalf("the fast path answered a withheld call")
			}
			res, err := agg.cs.CallTool(ctx, &mcp.CallToolParams{Name: "call_tool", Arguments: map[string]any{"name": "fx:crash"}})
			if err != nil || !res.IsError || !strings.Contains(text(res), "withheld by the test gate: crash") {
				t.Fatalf("call_tool fx:crash: %v %v", err, res)
			}
			if u := m.Get("fx"); u.Status().State != upstream.StateReady || u.Status().Restarts != 0 || pid() != before {
				t.Fatalf("a withheld call reached the upstream: %+v", u.Status())
			}

			// The others work, on the fast path when it is on.
			aggServed := p.aggFast.Stats().Served
			res, err = agg.cs.CallTool(ctx, &mcp.CallToolParams{Name: "call_tool", Arguments: map[string]any{"name": "fx:echo", "args": map[string]any{"text": "ok"}}})
			if err != nil || res.IsError || text(res) != "ok" {
				t.Fatalf("call_tool fx:echo: %v %v", err, res)
			}
			if fast && p.aggFast.Stats().Served != aggServed+1 {
				t.Fatal("call_tool fx:echo did not take the fast path")
			}
		})
	}
}
