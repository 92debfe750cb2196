package upstream

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/fastpath"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// Server-to-client messages go to the most recent live flight; progress
// tokens are the proxy's own, mapped back to the client's.
func TestFlightsRouting(t *testing.T) {
	u := &Upstream{name: "s", tokens: map[string]*Flight{}}
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	ctx2, cancel2 := context.WithCancel(context.Background())
	f1, end1 := u.BeginFlight(ctx1, nil)
	meta, end2 := u.BeginCall(ctx2, nil, mcp.Meta{"progressToken": "client-tok", "other": 1})
	if got, ok := u.Target(fastpath.WantAny); !ok || got != ctx2 {
		t.Fatal("Target does not pick the most recent flight")
	}
	tok, _ := meta["progressToken"].(string)
	if !strings.HasPrefix(tok, "mcpproxy-") || meta["other"] != 1 {
		t.Fatalf("rewritten meta %v", meta)
	}
	if ctx, orig, ok := u.ByProgressToken(tok); !ok || ctx != ctx2 || orig != "client-tok" {
		t.Fatalf("ByProgressToken = %v, %v, %v", ctx, orig, ok)
	}
	cancel2()
	if got := u.target(nil); got != f1 {
		t.Fatal("a cancelled flight still receives messages")
	}
	end2()
	if _, _, ok := u.ByProgressToken(tok); ok {
		t.Fatal("an ended flight's token still maps")
	}
	// A client without the capability (here: no session) gets nothing.
	if _, ok := u.Target(fastpath.WantSampling); ok {
		t.Fatal("sampling routed to a client that cannot answer it")
	}
	if m := u.RewriteProgressToken(f1, mcp.Meta{"x": 1}); m["progressToken"] != nil {
		t.Fatal("a token was invented")
	}
	end1()
	if u.target(nil) != nil {
		t.Fatal("flights remain after they ended")
	}
}

// A host server on the fast path: the raw connection carries calls and the
// tool list; with the fast path off there is none.
func TestHostServerFastPath(t *testing.T) {
	bin := testutil.FixtureBinary(t)
	for _, setting := range []fastpath.Setting{fastpath.On, fastpath.Off} {
		m := newTestManager(t, HostLauncher{}, func(o *Options) { o.FastPath = setting })
		m.Apply(cfgOf(&config.Server{Name: "fx", Command: bin, Env: map[string]string{"FX_VALUE": "from-env"}}))
		st := waitState(t, m, "fx", StateReady)
		u := m.Get("fx")
		if (u.FastConn() != nil) != setting.Enabled() {
			t.Fatalf("setting %v: raw connection %v", setting, u.FastConn() != nil)
		}
		if st.ToolCount == 0 || len(u.Tools()) != st.ToolCount || u.InitializeResult() == nil {
			t.Fatalf("tools %d", st.ToolCount)
		}
		if setting == fastpath.On {
			res, ok, err := fastpath.CallTool(context.Background(), u.FastConn(), nil, &mcp.CallToolParamsRaw{Name: "getenv", Arguments: json.RawMessage(`{"name":"FX_VALUE"}`)})
			if !ok || err != nil || !strings.Contains(string(res.Raw), "from-env") {
				t.Fatalf("fast call = %s, %v, %v", res.Raw, ok, err)
			}
		}
		m.Shutdown()
		if st := u.Status(); st.State != StateStopped || u.Session() != nil {
			t.Fatalf("after shutdown: %+v", st)
		}
	}
}

// The host launcher runs the command with the server's env, and says how
// it exited.
func TestHostLauncherExit(t *testing.T) {
	run, err := HostLauncher{}.Launch(context.Background(), &config.Server{Name: "x", Command: "/bin/sh", Args: []string{"-c", `test "$V" = ok && exit 3`}, Env: map[string]string{"V": "ok"}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	<-run.Done()
	if e := run.Exit(context.Background()); e.Code != 3 {
		t.Fatalf("Exit = %+v", e)
	}
	if _, err := (HostLauncher{}).Launch(context.Background(), &config.Server{Name: "y", Command: "/nonexistent"}, nil); err == nil {
		t.Fatal("a missing command launched")
	}
}
