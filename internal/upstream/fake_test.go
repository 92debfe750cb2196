package upstream

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// pipeServer is an MCP server run in-process over pipes: a Stdio without a
// process, for tests of the upstream's own logic.
type pipeServer struct {
	inR  *io.PipeReader // the server reads the client's messages
	inW  *io.PipeWriter
	outR *io.PipeReader // the client reads the server's messages
	outW *io.PipeWriter
	done chan struct{}

	stopOnce sync.Once
	stopped  chan struct{} // closed by Stop and Kill
}

// behaviour says how a fake server acts.
type behaviour struct {
	tools  []string      // tool names it offers
	silent bool          // never answers initialize
	dies   bool          // with silent: ends as its first message arrives
	exit   chan struct{} // ends itself when closed (after initialize; nil: never)
}

func startPipeServer(b behaviour) *pipeServer {
	p := &pipeServer{done: make(chan struct{}), stopped: make(chan struct{})}
	p.inR, p.inW = io.Pipe()
	p.outR, p.outW = io.Pipe()
	go func() {
		defer close(p.done)
		defer p.outW.Close()
		if b.silent {
			// Reads and ignores everything, even the end of its stdin
			// (like a hung server), until stopped, or ends as the first
			// message arrives (dies).
			first := make(chan struct{})
			go func() {
				var b [1]byte
				if n, _ := p.inR.Read(b[:]); n > 0 {
					close(first)
				}
				_, _ = io.Copy(io.Discard, p.inR)
			}()
			var exit <-chan struct{}
			if b.dies {
				exit = first
			}
			select {
			case <-exit:
			case <-p.stopped:
			}
			return
		}
		s := mcp.NewServer(&mcp.Implementation{Name: "fake", Version: "1"}, nil)
		for _, name := range b.tools {
			s.AddTool(&mcp.Tool{Name: name, InputSchema: map[string]any{"type": "object"}}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name}}}, nil
			})
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ss, err := s.Connect(ctx, &mcp.IOTransport{Reader: p.inR, Writer: p.outW}, nil)
		if err != nil {
			return
		}
		if b.exit != nil {
			go func() {
				select {
				case <-b.exit:
					ss.Close()
				case <-p.stopped:
				}
			}()
		}
		_ = ss.Wait()
	}()
	return p
}

func (p *pipeServer) Stdin() io.WriteCloser { return p.inW }
func (p *pipeServer) Stdout() io.ReadCloser { return p.outR }
func (p *pipeServer) Done() <-chan struct{} { return p.done }
func (p *pipeServer) Kill()                 { p.close() }
func (p *pipeServer) close() {
	p.stopOnce.Do(func() {
		close(p.stopped)
		p.inW.Close()
		p.inR.Close()
		p.outR.Close()
	})
}

func (p *pipeServer) Stop(ctx context.Context, _ time.Duration) error {
	p.close()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeServer) Exit(context.Context) isolation.Exit {
	select {
	case <-p.done:
		return isolation.Exit{Code: 3, Reason: "exit status 3"}
	default:
		return isolation.Exit{Code: -1}
	}
}

// fakeLauncher launches pipeServers and counts launches per server.
type fakeLauncher struct {
	mu       sync.Mutex
	launches map[string]int
	act      func(s *config.Server) behaviour
	fail     error
}

func (f *fakeLauncher) Launch(ctx context.Context, s *config.Server, stderr io.Writer) (*Launched, error) {
	f.mu.Lock()
	if f.launches == nil {
		f.launches = map[string]int{}
	}
	f.launches[s.Name]++
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	b := behaviour{tools: []string{"echo"}}
	if f.act != nil {
		b = f.act(s)
	}
	return &Launched{Stdio: startPipeServer(b)}, nil
}

func (f *fakeLauncher) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.launches[name]
}

var errBoom = errors.New("boom")
