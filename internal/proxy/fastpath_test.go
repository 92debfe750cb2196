package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/fastpath"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// fastPathProxy serves /mcp/everything over the conformance server with the
// fast path on.
func fastPathProxy(t *testing.T) (*Proxy, string) { return fastPathProxyTB(t) }

func fastPathProxyTB(t testing.TB) (*Proxy, string) { return proxyWithFastPath(t, true) }

// proxyWithFastPath is fastPathProxy with the fast path on or off
// (MCPPROXY_FASTPATH).
func proxyWithFastPath(t testing.TB, on bool) (*Proxy, string) {
	t.Helper()
	bin := testutil.EverythingServer(t)
	setting := fastpath.Off
	if on {
		setting = fastpath.On
	}
	m := upstream.NewManager(upstream.Options{FastPath: setting})
	cfg := config.Default()
	cfg.DockerIsolation.Enabled = false
	cfg.Servers = []*config.Server{{Name: "everything", Command: bin}}
	p, base := serveUpstreams(t, m, cfg, "everything")
	if raw := m.Get("everything").FastConn() != nil; raw != on {
		t.Fatalf("stdio upstream: raw connection %v with the fast path %v", raw, on)
	}
	return p, base + "/mcp/everything"
}

// serveUpstreams applies cfg to m, serves a proxy over it for the rest of
// the test and returns it and its base URL once the named upstream is ready.
func serveUpstreams(t testing.TB, m *upstream.Manager, cfg *config.Config, ready string, with ...func(*Options)) (*Proxy, string) {
	t.Helper()
	m.Apply(cfg)
	t.Cleanup(m.Shutdown)
	opts := Options{Manager: m}
	for _, w := range with {
		w(&opts)
	}
	p := New(opts)
	mux := http.NewServeMux()
	p.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := m.Get(ready).WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return p, srv.URL
}

func TestFastPathCallWithProgressLoggingAndSampling(t *testing.T) {
	p, url := fastPathProxy(t)
	rc := connectRecording(t, url)
	cs, ctx := rc.cs, rc.ctx
	f := p.existingForwarder("everything")

	// A plain call.
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text"})
	if err != nil {
		t.Fatal(err)
	}
	if got := text(res); !strings.Contains(got, "simple text") {
		t.Fatalf("test_simple_text: %q", got)
	}
	if f.fast.Stats().Served != 1 {
		t.Fatalf("fast path served %d calls, want 1", f.fast.Stats().Served)
	}

	// Progress during the call reaches the client with its own token.
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_tool_with_progress", Meta: mcp.Meta{"progressToken": "client-tok"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := text(res); got == "client-tok" || got == "" {
		// The upstream sees the proxy's token, never the client's.
		t.Fatalf("upstream saw progress token %q", got)
	}
	rc.wantProgress(t, 3, "client-tok")

	// Log messages during the call reach the client.
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_tool_with_logging"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { _, l, _ := rc.counts(); return l == 3 }, "3 log messages")

	// A sampling request during the call is answered by this client.
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_sampling", Arguments: map[string]any{"prompt": "hello"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := text(res); got != "LLM response: sampled: hello" {
		t.Fatalf("test_sampling: %q", got)
	}
	if _, _, n := rc.counts(); n != 1 {
		t.Fatalf("sampled %d times", n)
	}

	// An upstream error keeps its code.
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_error_handling"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError {
		t.Fatalf("test_error_handling: want an error result, got %q", text(res))
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "no_such_tool"}); err == nil {
		// The SDK server answers an unknown tool with a JSON-RPC error or an error result.
		t.Log("no_such_tool: no protocol error")
	}
	if n := f.fast.Stats().Served; n < 5 {
		t.Fatalf("fast path served %d calls, want ≥5", n)
	}
}

func TestFastPathUnknownSession404(t *testing.T) {
	_, url := fastPathProxy(t)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"test_simple_text","arguments":{}}}`
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", "no-such-session")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown session: status %d, want 404", resp.StatusCode)
	}
}

// recordingClient is a Go SDK client that records the progress and log
// notifications it receives and answers sampling requests.
type recordingClient struct {
	cs  *mcp.ClientSession
	ctx context.Context

	mu       sync.Mutex
	progress []*mcp.ProgressNotificationParams
	logs     []string
	sampled  int
}

func connectRecording(t *testing.T, url string) *recordingClient {
	t.Helper()
	rc := &recordingClient{}
	c := mcp.NewClient(&mcp.Implementation{Name: "fast-test", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			rc.mu.Lock()
			rc.progress = append(rc.progress, r.Params)
			rc.mu.Unlock()
		},
		LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) {
			rc.mu.Lock()
			rc.logs = append(rc.logs, r.Params.Data.(string))
			rc.mu.Unlock()
		},
		CreateMessageHandler: func(_ context.Context, r *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			rc.mu.Lock()
			rc.sampled++
			rc.mu.Unlock()
			return &mcp.CreateMessageResult{Role: "assistant", Model: "test", Content: &mcp.TextContent{Text: "sampled: " + r.Params.Messages[0].Content.(*mcp.TextContent).Text}}, nil
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	rc.cs, rc.ctx = cs, ctx
	return rc
}

func (rc *recordingClient) counts() (progress, logs, sampled int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.progress), len(rc.logs), rc.sampled
}

// wantProgress waits for n progress notifications, all with token.
func (rc *recordingClient) wantProgress(t *testing.T, n int, token string) {
	t.Helper()
	eventually(t, func() bool { p, _, _ := rc.counts(); return p == n }, fmt.Sprintf("%d progress notifications", n))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, pr := range rc.progress {
		if pr.ProgressToken != token {
			t.Fatalf("progress token %v, want %s", pr.ProgressToken, token)
		}
	}
}

func text(r *mcp.CallToolResult) string {
	var sb strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			sb.WriteString(tc.Text)
		}
	}
	return sb.String()
}

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client that cancels a fast-path call (notifications/cancelled, POSTed on
// its own) ends it here and upstream; the session keeps working.
func TestFastPathCancel(t *testing.T) {
	p, url := fastPathProxy(t)
	callCtx, cancelCall := context.WithCancel(context.Background())
	defer cancelCall()
	c := mcp.NewClient(&mcp.Implementation{Name: "fast-cancel", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { cancelCall() },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	f := p.existingForwarder("everything")
	_, err = cs.CallTool(callCtx, &mcp.CallToolParams{Name: "test_tool_with_progress", Meta: mcp.Meta{"progressToken": "t"}})
	if err == nil {
		t.Fatal("cancelled call: want an error")
	}
	// The call ends by the client's notifications/cancelled (Stats().Stopped)
	// or, if the client dropped the request's connection first, by its
	// context; either way the upstream is told (rawConn.call).
	eventually(t, func() bool { return f.fast.InFlight() == 0 }, "the cancelled call to end")
	t.Logf("ended by notifications/cancelled: %d", f.fast.Stats().Stopped)
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text(res), "simple text") {
		t.Fatalf("after cancel: %q", text(res))
	}
}

// call_tool on /mcp takes the same fast path: the upstream's result bytes,
// progress with the client's token, log messages filtered by the session's
// level, sampling answered by the calling client, and failures as error
// results naming the server and tool. What it cannot answer at once
// (unknown server, bad arguments) is left to the SDK handler.
func TestAggregateFastPathCallTool(t *testing.T) {
	p, url := fastPathProxy(t)
	rc := connectRecording(t, strings.TrimSuffix(url, "/everything"))
	cs, ctx := rc.cs, rc.ctx
	call := func(name string, args map[string]any, meta mcp.Meta) *mcp.CallToolResult {
		t.Helper()
		in := map[string]any{"name": name}
		if args != nil {
			in["args"] = args
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "call_tool", Arguments: in, Meta: meta})
		if err != nil {
			t.Fatalf("call_tool %s: %v", name, err)
		}
		return res
	}

	if got := text(call("everything:test_simple_text", nil, nil)); !strings.Contains(got, "simple text") {
		t.Fatalf("test_simple_text: %q", got)
	}
	if n := p.aggFast.Stats().Served; n != 1 {
		t.Fatalf("aggregate fast path served %d calls, want 1", n)
	}

	// Before the client sets a level, no log message reaches it (as the SDK
	// session behaves): the call's whole answer, read raw on the same
	// session, carries no event; after, those at or above it do.
	if events := rawCallEvents(t, strings.TrimSuffix(url, "/everything"), rc.cs.ID(), "call_tool", `{"name":"everything:test_tool_with_logging"}`); len(events) != 1 {
		t.Fatalf("before logging/setLevel the answer carried %d messages, want only the result: %q", len(events), events)
	}
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	call("everything:test_tool_with_logging", nil, nil)
	eventually(t, func() bool { _, l, _ := rc.counts(); return l == 3 }, "3 log messages")

	if got := text(call("everything:test_tool_with_progress", nil, mcp.Meta{"progressToken": "agg-tok"})); got == "agg-tok" || got == "" {
		t.Fatalf("upstream saw progress token %q", got)
	}
	rc.wantProgress(t, 3, "agg-tok")

	if got := text(call("everything:test_sampling", map[string]any{"prompt": "hi"}, nil)); got != "LLM response: sampled: hi" {
		t.Fatalf("test_sampling: %q", got)
	}

	// An upstream JSON-RPC error becomes an error result naming both.
	res := call("everything:no_such_tool", nil, nil)
	if !res.IsError || !strings.HasPrefix(text(res), `call_tool everything:no_such_tool: server "everything" tool "no_such_tool" failed: `) {
		t.Fatalf("unknown tool: isError=%v %q", res.IsError, text(res))
	}
	served := p.aggFast.Stats().Served
	if served != 6 {
		t.Fatalf("aggregate fast path served %d calls, want 6", served)
	}

	// Left to the SDK handler, with the same answers as before.
	res = call("nowhere:tool", nil, nil)
	if !res.IsError || text(res) != `call_tool nowhere:tool: unknown server "nowhere"` {
		t.Fatalf("unknown server: isError=%v %q", res.IsError, text(res))
	}
	res = call("no-colon", nil, nil)
	if !res.IsError || !strings.Contains(text(res), `must be "server:tool"`) {
		t.Fatalf("bad name: isError=%v %q", res.IsError, text(res))
	}
	if n := p.aggFast.Stats().Served; n != served {
		t.Fatalf("aggregate fast path took %d requests it should have left to the SDK", n-served)
	}
}

// The shared upstream session logs at the most verbose level any client
// asked for, and each client gets only its own level: a client choosing
// "error" after another chose "info" hides nothing from the other, also
// after the upstream reconnects.
func TestLogLevelIsPerClient(t *testing.T) {
	p, url := fastPathProxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type client struct {
		cs   *mcp.ClientSession
		mu   sync.Mutex
		logs int
	}
	connect := func() *client {
		c := &client{}
		mc := mcp.NewClient(&mcp.Implementation{Name: "log-test", Version: "1"}, &mcp.ClientOptions{
			LoggingMessageHandler: func(context.Context, *mcp.LoggingMessageRequest) {
				c.mu.Lock()
				c.logs++
				c.mu.Unlock()
			},
		})
		cs, err := mc.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, DisableStandaloneSSE: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		c.cs = cs
		return c
	}
	count := func(c *client) int { c.mu.Lock(); defer c.mu.Unlock(); return c.logs }
	quiet, loud := connect(), connect()
	for _, step := range []struct {
		c     *client
		level mcp.LoggingLevel
	}{{quiet, "error"}, {loud, "info"}, {quiet, "error"}} {
		if err := step.c.cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: step.level}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		before := count(loud)
		if _, err := loud.cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_tool_with_logging"}); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool { return count(loud) == before+3 }, when+": 3 info messages for the client that asked for info")
		// The quiet client's call, read raw on its session: its whole
		// answer is the result, no info message.
		if events := rawCallEvents(t, url, quiet.cs.ID(), "test_tool_with_logging", `{}`); len(events) != 1 {
			t.Fatalf("%s: the client that asked for error got %q", when, events)
		}
		if n := count(quiet); n != 0 {
			t.Fatalf("%s: the client that asked for error got %d info messages", when, n)
		}
	}
	check("first connection")
	if !p.opts.Manager.Restart("everything") {
		t.Fatal("restart failed")
	}
	if _, err := p.opts.Manager.Get("everything").WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	check("after a reconnect")
}

// With the fast path off (MCPPROXY_FASTPATH=0) every call goes through the
// SDK server and client, and the answers are the same as with it on: on
// /mcp/{server} and through call_tool, results, error results, JSON-RPC
// errors, progress, log messages and sampling. The log and progress
// notifications sent just before a response reach the calling client on
// the SDK path too (upstream/noteorder.go); the clients here have no
// standalone stream, so nothing arrives any other way.
//
// What is asserted about the paths is what is stable under any load: why
// each call did or did not take the fast path, counted per reason. With the
// fast path on, every call was served by it and none fell back for any
// reason; with it off, none was served and every POST was declined as
// "off". (A served call is counted before its answer is written.)
func TestFastPathOffGivesTheSameAnswers(t *testing.T) {
	type answer struct {
		text     string
		isError  bool
		rpcError string
	}
	type paths struct {
		served   int64
		declined map[fastpath.Reason]int64 // both endpoints
	}
	run := func(on bool) (answers []answer, progress, logs, sampled int, got paths) {
		p, url := proxyWithFastPath(t, on)
		for _, endpoint := range []string{url, strings.TrimSuffix(url, "/everything")} {
			rc := connectRecording(t, endpoint)
			if err := rc.cs.SetLoggingLevel(rc.ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
				t.Fatal(err)
			}
			agg := !strings.HasSuffix(endpoint, "/everything")
			call := func(name string, args map[string]any, meta mcp.Meta) {
				params := &mcp.CallToolParams{Name: name, Arguments: args, Meta: meta}
				if agg {
					in := map[string]any{"name": "everything:" + name}
					if args != nil {
						in["args"] = args
					}
					params = &mcp.CallToolParams{Name: "call_tool", Arguments: in, Meta: meta}
				}
				res, err := rc.cs.CallTool(rc.ctx, params)
				switch {
				case err != nil:
					answers = append(answers, answer{rpcError: err.Error()})
				case name == "test_tool_with_progress":
					// the text is the proxy's own token, different each run
					answers = append(answers, answer{isError: res.IsError})
				default:
					answers = append(answers, answer{text: text(res), isError: res.IsError})
				}
			}
			call("test_simple_text", nil, nil)
			call("test_tool_with_progress", nil, mcp.Meta{"progressToken": "tok"})
			call("test_tool_with_logging", nil, nil)
			call("test_sampling", map[string]any{"prompt": "hello"}, nil)
			call("test_error_handling", nil, nil)
			call("no_such_tool", nil, nil)
			rc.wantProgress(t, 3, "tok")
			eventually(t, func() bool { _, l, _ := rc.counts(); return l == 3 }, fmt.Sprintf("3 log messages (fast path %v, %s)", on, endpoint))
			pr, l, s := rc.counts()
			progress, logs, sampled = progress+pr, logs+l, sampled+s
		}
		got.declined = map[fastpath.Reason]int64{}
		stats := []fastpath.Stats{p.aggFast.Stats()}
		if f := p.existingForwarder("everything"); f != nil {
			stats = append(stats, f.fast.Stats())
		}
		for _, st := range stats {
			got.served += st.Served
			for r, n := range st.Declined {
				got.declined[r] += n
			}
		}
		return answers, progress, logs, sampled, got
	}
	onAnswers, onProgress, onLogs, onSampled, onPaths := run(true)
	offAnswers, offProgress, offLogs, offSampled, offPaths := run(false)
	calls := int64(len(onAnswers))
	if onPaths.served != calls {
		t.Errorf("fast path on served %d of %d calls; declined: %v", onPaths.served, calls, onPaths.declined)
	}
	for _, r := range fastpath.CallReasons {
		if n := onPaths.declined[r]; n != 0 {
			t.Errorf("fast path on: %d call(s) fell back to the SDK path: %s", n, r)
		}
	}
	if n := onPaths.declined[fastpath.ReasonOff]; n != 0 {
		t.Errorf("fast path on, yet %d request(s) declined as off", n)
	}
	if offPaths.served != 0 {
		t.Errorf("fast path off, yet it served %d calls", offPaths.served)
	}
	if n := offPaths.declined[fastpath.ReasonOff]; n < calls {
		t.Errorf("fast path off: %d POSTs declined as off, want at least the %d calls; declined: %v", n, calls, offPaths.declined)
	}
	if len(onAnswers) != len(offAnswers) {
		t.Fatalf("%d answers with the fast path, %d without", len(onAnswers), len(offAnswers))
	}
	for i := range onAnswers {
		if onAnswers[i] != offAnswers[i] {
			t.Errorf("call %d: fast path %+v, SDK path %+v", i, onAnswers[i], offAnswers[i])
		}
	}
	if onProgress != offProgress || onLogs != offLogs || onSampled != offSampled {
		t.Errorf("progress/logs/sampling: fast path %d/%d/%d, SDK path %d/%d/%d", onProgress, onLogs, onSampled, offProgress, offLogs, offSampled)
	}
}

// An HTTP upstream always takes the SDK path: the log and progress
// notifications and the sampling requests of a call still reach the
// calling client, on both endpoints.
func TestHTTPUpstreamNotificationsReachCaller(t *testing.T) {
	m := upstream.NewManager(upstream.Options{})
	cfg := config.Default()
	cfg.DockerIsolation.Enabled = false
	cfg.Servers = []*config.Server{{Name: "remote", URL: testutil.EverythingHTTP(t, nil)}}
	p, base := serveUpstreams(t, m, cfg, "remote")
	for _, endpoint := range []string{base + "/mcp/remote", base + "/mcp"} {
		rc := connectRecording(t, endpoint)
		if err := rc.cs.SetLoggingLevel(rc.ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
			t.Fatal(err)
		}
		for _, tool := range []string{"test_tool_with_logging", "test_tool_with_progress"} {
			params := &mcp.CallToolParams{Name: tool, Meta: mcp.Meta{"progressToken": "http-tok"}}
			if !strings.HasSuffix(endpoint, "/remote") {
				params = &mcp.CallToolParams{Name: "call_tool", Arguments: map[string]any{"name": "remote:" + tool}, Meta: params.Meta}
			}
			if res, err := rc.cs.CallTool(rc.ctx, params); err != nil || res.IsError {
				t.Fatalf("%s via %s: %v %v", tool, endpoint, err, res)
			}
		}
		rc.wantProgress(t, 3, "http-tok")
		eventually(t, func() bool { _, l, _ := rc.counts(); return l == 3 }, "3 log messages via "+endpoint)
		// A sampling request during the call is answered by this client.
		params := &mcp.CallToolParams{Name: "test_sampling", Arguments: map[string]any{"prompt": "hi"}}
		if !strings.HasSuffix(endpoint, "/remote") {
			params = &mcp.CallToolParams{Name: "call_tool", Arguments: map[string]any{"name": "remote:test_sampling", "args": map[string]any{"prompt": "hi"}}}
		}
		res, err := rc.cs.CallTool(rc.ctx, params)
		if err != nil || text(res) != "LLM response: sampled: hi" {
			t.Fatalf("test_sampling via %s: %v %q", endpoint, err, text(res))
		}
	}
	if n := p.aggFast.Stats().Served; n != 0 {
		t.Fatalf("the fast path served %d calls of an HTTP upstream", n)
	}
}

// rawCallEvents sends one tools/call on session sid with a plain HTTP
// client, reads the whole answer and returns its JSON-RPC messages in
// order (one for a plain JSON answer; the events of an SSE one). The
// answer of a call carries everything the proxy sent for it, so what is not
// there was not sent.
func rawCallEvents(t *testing.T, url, sid, tool, args string) []string {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":"raw-1","method":"tools/call","params":{"name":` + strconv.Quote(tool) + `,"arguments":` + args + `}}`
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("raw call: %d %v %s", resp.StatusCode, err, b)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return []string{string(b)}
	}
	var events []string
	for _, line := range strings.Split(string(b), "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			events = append(events, data)
		}
	}
	return events
}
