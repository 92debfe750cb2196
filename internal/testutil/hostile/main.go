// Command hostile is an MCP server (stdio) that behaves as an attacker
// would once it runs inside mcpproxy's container: each tool tries one door
// out of the box (internal/probe) and reports what the kernel allowed; other
// tools and flags abuse the protocol. Tests run it through the proxy and
// assert the effects.
//
// It speaks JSON-RPC by hand, not through the SDK, so that it can also
// write what a well-behaved server never would (duplicate and forged
// responses, garbage, huge lines), and it is a static binary that runs in a
// FROM scratch image. The same binary, run under the name "suid-helper"
// (the image holds a setuid-root copy by that name), only prints the
// identity it runs with (probe.HelperReport) and exits.
//
// Tools (results are text; JSON objects unless said otherwise; a refused
// door is not a tool error, the report says what happened):
//
//	echo {text}                       the text
//	read_file {path}                  the file's content (tool error if unreadable)
//	write {dir, bytes?}               probe.WriteResult of writing bytes (default 1) in dir
//	writable_paths {paths?}           JSON array of the directories a file can be created in
//	identity                          {identity: probe.Identity, limits: probe.Limits}
//	setuid                            probe.Attempt of running /suid-helper
//	mount | ptrace {pid?} | raw_socket | proc_sys_write {path?} | mknod | chown
//	                                  probe.Attempt
//	getenv {name}                     the value ("" when unset)
//	environ                           JSON array of the variable names
//	dial {addr, timeout_ms?}          probe.Attempt
//	gateway                           the default gateway's IPv4 address
//	alloc {mb}                        allocates and holds mb MiB (a memory limit OOM-kills it)
//	cpu_spin {ms, threads?}           probe.SpinResult
//	fork_bomb {max?, reserve?, hold_ms?}
//	                                  forks until refused, then holds the processes until
//	                                  fork_release (or hold_ms, default 60000) and answers
//	                                  probe.ForkResult; with a progress token it sends one
//	                                  progress notification once the bomb has peaked
//	fork_release                      ends a holding fork_bomb
//	fork_exit {code?}                 forks until refused, ends those processes and exits
//	                                  with code (default 2) without answering
//	exit {code}                       exits at once without answering
//	big_line {mib, as_result?}        sends a notification line of mib MiB (or answers with one)
//	garbage {lines}                   writes lines of non-JSON to stdout, then answers
//	stderr_flood {mb}                 writes mb MB to stderr, then answers
//	notify_flood {count}              sends count log notifications, then answers
//
// Flags:
//
//	-name NAME       server name (default hostile)
//	-tools N         N more tools named t00000… (a huge tools/list)
//	-twice           every response is written twice
//	-forged          every response is preceded by one to an id never sent
//	-silent-init     never answer initialize
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/probe"
)

// HelperName is the setuid helper's file name in the image.
const HelperName = "suid-helper"

func main() {
	if filepath.Base(os.Args[0]) == HelperName {
		if err := probe.WriteHelperReport(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	s := &server{out: bufio.NewWriterSize(os.Stdout, 64<<10), release: make(chan struct{}, 1)}
	flag.StringVar(&s.name, "name", "hostile", "server `name`")
	flag.IntVar(&s.extraTools, "tools", 0, "add `N` more tools")
	flag.BoolVar(&s.twice, "twice", false, "write every response twice")
	flag.BoolVar(&s.forged, "forged", false, "precede every response by one to an id never sent")
	flag.BoolVar(&s.silentInit, "silent-init", false, "never answer initialize")
	flag.Parse()
	s.tools = s.toolTable()
	s.serve(os.Stdin)
}

// message is a JSON-RPC request, notification or response.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type server struct {
	name       string
	extraTools int
	twice      bool
	forged     bool
	silentInit bool
	tools      []tool

	mu  sync.Mutex // guards out
	out *bufio.Writer

	bombMu  sync.Mutex // one fork bomb at a time
	release chan struct{}

	wg sync.WaitGroup
}

func (s *server) serve(in io.Reader) {
	r := bufio.NewReaderSize(in, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			s.handle(line)
		}
		if err != nil {
			break
		}
	}
	s.wg.Wait()
}

func (s *server) handle(line []byte) {
	var m message
	if err := json.Unmarshal(line, &m); err != nil {
		s.send(message{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcError{Code: -32700, Message: "parse error"}})
		return
	}
	if len(m.ID) == 0 || m.Method == "" {
		return // a notification, or a response to us
	}
	switch m.Method {
	case "initialize":
		if s.silentInit {
			return
		}
		var p struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		_ = json.Unmarshal(m.Params, &p)
		s.respond(m.ID, map[string]any{
			"protocolVersion": p.ProtocolVersion,
			"capabilities":    map[string]any{"tools": map[string]any{}, "logging": map[string]any{}},
			"serverInfo":      map[string]any{"name": s.name, "version": "1.0.0"},
		})
	case "ping", "logging/setLevel":
		s.respond(m.ID, map[string]any{})
	case "tools/list":
		list := make([]map[string]any, 0, len(s.tools))
		for _, t := range s.tools {
			list = append(list, map[string]any{"name": t.name, "description": t.desc, "inputSchema": t.schema()})
		}
		s.respond(m.ID, map[string]any{"tools": list})
	case "tools/call":
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.call(m.ID, m.Params)
		}()
	default:
		s.send(message{JSONRPC: "2.0", ID: m.ID, Error: &rpcError{Code: -32601, Message: "method not found: " + m.Method}})
	}
}

// call runs one tools/call.
func (s *server) call(id json.RawMessage, params json.RawMessage) {
	var p struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
		Meta      struct {
			ProgressToken any `json:"progressToken"`
		} `json:"_meta"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		s.send(message{JSONRPC: "2.0", ID: id, Error: &rpcError{Code: -32602, Message: err.Error()}})
		return
	}
	for _, t := range s.tools {
		if t.name != p.Name {
			continue
		}
		args := p.Arguments
		if len(args) == 0 || string(args) == "null" {
			args = json.RawMessage("{}")
		}
		text, err := t.run(s, call{args: args, progress: p.Meta.ProgressToken})
		res := map[string]any{"content": []map[string]any{{"type": "text", "text": text}}}
		if err != nil {
			res["content"] = []map[string]any{{"type": "text", "text": err.Error()}}
			res["isError"] = true
		}
		s.respond(id, res)
		return
	}
	s.send(message{JSONRPC: "2.0", ID: id, Error: &rpcError{Code: -32602, Message: "unknown tool " + p.Name}})
}

func (s *server) respond(id json.RawMessage, result any) {
	if s.forged {
		s.send(message{JSONRPC: "2.0", ID: json.RawMessage("987654321"), Result: map[string]any{"forged": true}})
		s.send(message{JSONRPC: "2.0", ID: json.RawMessage(`"forged-id"`), Result: map[string]any{"forged": true}})
	}
	m := message{JSONRPC: "2.0", ID: id, Result: result}
	s.send(m)
	if s.twice {
		s.send(m)
	}
}

func (s *server) notify(method string, params any) {
	s.send(message{JSONRPC: "2.0", Method: method, Params: mustJSON(params)})
}

func (s *server) send(m message) {
	b, err := json.Marshal(m)
	if err != nil {
		b = []byte(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"error","data":"marshal failed"}}`)
	}
	s.writeRaw(append(b, '\n'))
}

func (s *server) writeRaw(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.out.Write(b)
	_ = s.out.Flush()
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// call is one tool invocation.
type call struct {
	args     json.RawMessage
	progress any
}

func (c call) decode(v any) error {
	if err := json.Unmarshal(c.args, v); err != nil {
		return fmt.Errorf("bad arguments: %w", err)
	}
	return nil
}

// tool is one entry of tools/list.
type tool struct {
	name, desc string
	// props are the input properties: name → JSON type ("string",
	// "integer", "boolean", "array").
	props map[string]string
	run   func(s *server, c call) (string, error)
}

func (t tool) schema() map[string]any {
	props := map[string]any{}
	for k, typ := range t.props {
		p := map[string]any{"type": typ}
		if typ == "array" {
			p["items"] = map[string]any{"type": "string"}
		}
		props[k] = p
	}
	return map[string]any{"type": "object", "properties": props}
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// attemptTool is a tool that runs one probe.
func attemptTool(name, desc string, props map[string]string, f func(c call) (probe.Attempt, error)) tool {
	return tool{name: name, desc: desc, props: props, run: func(_ *server, c call) (string, error) {
		a, err := f(c)
		if err != nil {
			return "", err
		}
		return jsonText(a)
	}}
}

var errBusy = errors.New("a fork bomb is already holding")

func (s *server) toolTable() []tool {
	t := []tool{
		{name: "echo", desc: "Returns text.", props: map[string]string{"text": "string"}, run: func(_ *server, c call) (string, error) {
			var in struct{ Text string }
			err := c.decode(&in)
			return in.Text, err
		}},
		{name: "read_file", desc: "Reads a file.", props: map[string]string{"path": "string"}, run: func(_ *server, c call) (string, error) {
			var in struct{ Path string }
			if err := c.decode(&in); err != nil {
				return "", err
			}
			b, err := os.ReadFile(in.Path)
			return string(b), err
		}},
		{name: "write", desc: "Writes bytes into a new file in dir.", props: map[string]string{"dir": "string", "bytes": "integer"}, run: func(_ *server, c call) (string, error) {
			var in struct {
				Dir   string
				Bytes int64
			}
			if err := c.decode(&in); err != nil {
				return "", err
			}
			return jsonText(probe.TryWrite(in.Dir, in.Bytes))
		}},
		{name: "writable_paths", desc: "Lists the directories a file can be created in.", props: map[string]string{"paths": "array"}, run: func(_ *server, c call) (string, error) {
			var in struct{ Paths []string }
			if err := c.decode(&in); err != nil {
				return "", err
			}
			if len(in.Paths) == 0 {
				in.Paths = probe.DefaultWriteCandidates
			}
			w := probe.WritablePaths(in.Paths)
			if w == nil {
				w = []string{}
			}
			return jsonText(w)
		}},
		{name: "identity", desc: "Reports uid, capabilities, no_new_privs, seccomp and limits.", run: func(*server, call) (string, error) {
			id, err := probe.ReadIdentity()
			if err != nil {
				return "", err
			}
			return jsonText(map[string]any{"identity": id, "limits": probe.ReadLimits()})
		}},
		attemptTool("setuid", "Runs the setuid-root helper.", nil, func(call) (probe.Attempt, error) {
			return probe.Setuid("/" + HelperName), nil
		}),
		attemptTool("mount", "Tries to mount a tmpfs.", nil, func(call) (probe.Attempt, error) { return probe.Mount(), nil }),
		attemptTool("ptrace", "Tries to attach to a process (default pid 1).", map[string]string{"pid": "integer"}, func(c call) (probe.Attempt, error) {
			var in struct{ PID int }
			if err := c.decode(&in); err != nil {
				return probe.Attempt{}, err
			}
			if in.PID == 0 {
				in.PID = 1
			}
			return probe.Ptrace(in.PID), nil
		}),
		attemptTool("raw_socket", "Tries to open a raw socket.", nil, func(call) (probe.Attempt, error) { return probe.RawSocket(), nil }),
		attemptTool("proc_sys_write", "Tries to open a /proc/sys file for writing.", map[string]string{"path": "string"}, func(c call) (probe.Attempt, error) {
			var in struct{ Path string }
			if err := c.decode(&in); err != nil {
				return probe.Attempt{}, err
			}
			return probe.ProcSysWrite(in.Path), nil
		}),
		attemptTool("mknod", "Tries to create a device node.", nil, func(call) (probe.Attempt, error) { return probe.Mknod(), nil }),
		attemptTool("chown", "Tries to give a file to root.", nil, func(call) (probe.Attempt, error) { return probe.ChownRoot(), nil }),
		{name: "getenv", desc: "Returns a variable's value.", props: map[string]string{"name": "string"}, run: func(_ *server, c call) (string, error) {
			var in struct{ Name string }
			err := c.decode(&in)
			return os.Getenv(in.Name), err
		}},
		{name: "environ", desc: "Lists the variable names.", run: func(*server, call) (string, error) { return jsonText(probe.EnvNames()) }},
		attemptTool("dial", "Opens a TCP connection.", map[string]string{"addr": "string", "timeout_ms": "integer"}, func(c call) (probe.Attempt, error) {
			var in struct {
				Addr      string
				TimeoutMS int `json:"timeout_ms"`
			}
			if err := c.decode(&in); err != nil {
				return probe.Attempt{}, err
			}
			return probe.Dial(in.Addr, time.Duration(in.TimeoutMS)*time.Millisecond), nil
		}),
		{name: "gateway", desc: "Returns the default gateway.", run: func(*server, call) (string, error) { return probe.DefaultGateway() }},
		{name: "alloc", desc: "Allocates and holds memory.", props: map[string]string{"mb": "integer"}, run: func(_ *server, c call) (string, error) {
			var in struct{ MB int }
			if err := c.decode(&in); err != nil {
				return "", err
			}
			probe.Alloc(in.MB)
			return fmt.Sprintf("holding %d MiB", in.MB), nil
		}},
		{name: "cpu_spin", desc: "Keeps CPUs busy.", props: map[string]string{"ms": "integer", "threads": "integer"}, run: func(_ *server, c call) (string, error) {
			var in struct{ MS, Threads int }
			if err := c.decode(&in); err != nil {
				return "", err
			}
			return jsonText(probe.Spin(time.Duration(in.MS)*time.Millisecond, in.Threads))
		}},
		{name: "fork_bomb", desc: "Forks until refused, holds until fork_release.", props: map[string]string{"max": "integer", "reserve": "integer", "hold_ms": "integer"}, run: (*server).forkBomb},
		{name: "fork_release", desc: "Ends a holding fork bomb.", run: func(s *server, _ call) (string, error) {
			select {
			case s.release <- struct{}{}:
			default:
			}
			return "released", nil
		}},
		{name: "fork_exit", desc: "Forks until refused, then exits.", props: map[string]string{"code": "integer"}, run: func(s *server, c call) (string, error) {
			in := struct{ Code int }{Code: 2}
			_ = c.decode(&in)
			b := probe.ForkBomb(1<<20, 0)
			b.Release()
			fmt.Fprintf(os.Stderr, "fork_exit: %d processes, then %s; exiting with code %d\n", b.Result.Started, b.Result.Error, in.Code)
			os.Exit(in.Code)
			return "", nil
		}},
		{name: "exit", desc: "Exits at once.", props: map[string]string{"code": "integer"}, run: func(s *server, c call) (string, error) {
			var in struct{ Code int }
			_ = c.decode(&in)
			os.Exit(in.Code)
			return "", nil
		}},
		{name: "big_line", desc: "Sends a huge line.", props: map[string]string{"mib": "integer", "as_result": "boolean"}, run: func(s *server, c call) (string, error) {
			var in struct {
				MIB      int
				AsResult bool `json:"as_result"`
			}
			if err := c.decode(&in); err != nil {
				return "", err
			}
			big := strings.Repeat("x", in.MIB<<20)
			if in.AsResult {
				return big, nil
			}
			s.notify("notifications/message", map[string]any{"level": "info", "logger": "hostile", "data": big})
			return "sent", nil
		}},
		{name: "garbage", desc: "Writes non-JSON lines to stdout.", props: map[string]string{"lines": "integer"}, run: func(s *server, c call) (string, error) {
			var in struct{ Lines int }
			if err := c.decode(&in); err != nil {
				return "", err
			}
			for i := 0; i < in.Lines; i++ {
				s.writeRaw([]byte(fmt.Sprintf("garbage %d }{ not json \x00\xff\n", i)))
			}
			return "sent", nil
		}},
		{name: "stderr_flood", desc: "Writes to stderr.", props: map[string]string{"mb": "integer"}, run: func(_ *server, c call) (string, error) {
			var in struct{ MB int }
			if err := c.decode(&in); err != nil {
				return "", err
			}
			line := []byte(strings.Repeat("E", 1023) + "\n")
			for i := 0; i < in.MB*1000; i++ {
				if _, err := os.Stderr.Write(line); err != nil {
					return "", err
				}
			}
			return "flooded", nil
		}},
		{name: "notify_flood", desc: "Sends log notifications.", props: map[string]string{"count": "integer"}, run: func(s *server, c call) (string, error) {
			var in struct{ Count int }
			if err := c.decode(&in); err != nil {
				return "", err
			}
			for i := 0; i < in.Count; i++ {
				s.notify("notifications/message", map[string]any{"level": "info", "logger": "hostile", "data": fmt.Sprintf("flood %d", i)})
			}
			return "sent", nil
		}},
	}
	for i := 0; i < s.extraTools; i++ {
		t = append(t, tool{name: fmt.Sprintf("t%05d", i), desc: fmt.Sprintf("Filler tool number %d.", i),
			run: func(*server, call) (string, error) { return "filler", nil }})
	}
	return t
}

func (s *server) forkBomb(c call) (string, error) {
	var in struct {
		Max     int
		Reserve int
		HoldMS  int `json:"hold_ms"`
	}
	if err := c.decode(&in); err != nil {
		return "", err
	}
	if in.Max <= 0 {
		in.Max = 1 << 20
	}
	if in.Reserve <= 0 {
		in.Reserve = 8
	}
	if in.HoldMS <= 0 {
		in.HoldMS = 60000
	}
	if !s.bombMu.TryLock() {
		return "", errBusy
	}
	defer s.bombMu.Unlock()
	select { // a release sent before this bomb does not count
	case <-s.release:
	default:
	}
	b := probe.ForkBomb(in.Max, in.Reserve)
	defer b.Release()
	if c.progress != nil {
		s.notify("notifications/progress", map[string]any{"progressToken": c.progress, "progress": b.Result.Started,
			"message": fmt.Sprintf("peaked at %d processes (%s)", b.Result.Started, b.Result.Error)})
	}
	select {
	case <-s.release:
	case <-time.After(time.Duration(in.HoldMS) * time.Millisecond):
	}
	return jsonText(b.Result)
}
