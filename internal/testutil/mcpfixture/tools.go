package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tool inputs. A field without omitempty is required.
type (
	echoIn struct {
		Text string `json:"text" jsonschema:"the text to return"`
	}
	readFileIn struct {
		Path string `json:"path" jsonschema:"absolute path of the file to read"`
	}
	dialIn struct {
		Addr      string `json:"addr" jsonschema:"host:port to connect to over TCP"`
		TimeoutMS int    `json:"timeout_ms,omitempty" jsonschema:"connect timeout in milliseconds (default 2000)"`
	}
	allocIn struct {
		MB int `json:"mb" jsonschema:"MiB to allocate, touch and hold"`
	}
	getenvIn struct {
		Name string `json:"name" jsonschema:"environment variable name"`
	}
	slowIn struct {
		MS int `json:"ms" jsonschema:"milliseconds to sleep"`
	}
)

// Process is one entry of list_pids.
type Process struct {
	PID     int    `json:"pid"`
	Cmdline string `json:"cmdline"`
}

// Identity is the answer of whoami.
type Identity struct {
	PID      int    `json:"pid"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	Hostname string `json:"hostname"`
	// MemoryLimit is the cgroup memory limit as the kernel prints it
	// ("max", a byte count, or "" when no cgroup file is readable).
	MemoryLimit string `json:"memory_limit"`
}

// held keeps the memory alloc has allocated reachable until the process exits.
var held struct {
	sync.Mutex
	blocks [][]byte
	mb     int
}

// echoDescription is the echo tool's description (-echo-description-file).
var echoDescription = "Returns text unchanged."

func addTools(s *mcp.Server) {
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: echoDescription},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return text(in.Text), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "list_pids", Description: "Lists the processes visible in /proc as JSON [{pid, cmdline}]."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			procs, err := listProcesses()
			if err != nil {
				return nil, nil, err
			}
			return jsonText(procs)
		})

	mcp.AddTool(s, &mcp.Tool{Name: "read_file", Description: "Returns a file's content; an error result if it cannot be read."},
		func(_ context.Context, _ *mcp.CallToolRequest, in readFileIn) (*mcp.CallToolResult, any, error) {
			b, err := os.ReadFile(in.Path)
			if err != nil {
				return nil, nil, err
			}
			return text(string(b)), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "dial", Description: "Opens a TCP connection to addr; \"ok\", or an error result naming the failure."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in dialIn) (*mcp.CallToolResult, any, error) {
			timeout := 2 * time.Second
			if in.TimeoutMS > 0 {
				timeout = time.Duration(in.TimeoutMS) * time.Millisecond
			}
			d := net.Dialer{Timeout: timeout}
			c, err := d.DialContext(ctx, "tcp", in.Addr)
			if err != nil {
				return nil, nil, err
			}
			c.Close()
			return text("ok"), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "alloc", Description: "Allocates and touches mb MiB and holds it, so a memory limit OOM-kills the process."},
		func(_ context.Context, _ *mcp.CallToolRequest, in allocIn) (*mcp.CallToolResult, any, error) {
			if in.MB <= 0 {
				return nil, nil, errors.New("mb must be positive")
			}
			held.Lock()
			defer held.Unlock()
			for range in.MB {
				b := make([]byte, 1<<20)
				for i := 0; i < len(b); i += 4096 {
					b[i] = 1 // touch every page so it is resident
				}
				held.blocks = append(held.blocks, b)
				held.mb++
			}
			return text(fmt.Sprintf("allocated %d MiB, holding %d MiB", in.MB, held.mb)), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "getenv", Description: "Returns an environment variable's value (\"\" when unset)."},
		func(_ context.Context, _ *mcp.CallToolRequest, in getenvIn) (*mcp.CallToolResult, any, error) {
			return text(os.Getenv(in.Name)), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "environ", Description: "Lists the names (not values) of all environment variables as a JSON array."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			names := []string{}
			for _, kv := range os.Environ() {
				name, _, _ := strings.Cut(kv, "=")
				names = append(names, name)
			}
			sort.Strings(names)
			return jsonText(names)
		})

	mcp.AddTool(s, &mcp.Tool{Name: "crash", Description: "Exits the process with code 3 without answering."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			log.Printf("crash: exiting with code %d", CrashCode)
			os.Exit(CrashCode)
			return nil, nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "whoami", Description: "Returns pid, uid, gid, hostname and the cgroup memory limit as JSON."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			host, _ := os.Hostname()
			return jsonText(Identity{
				PID:         os.Getpid(),
				UID:         os.Getuid(),
				GID:         os.Getgid(),
				Hostname:    host,
				MemoryLimit: memoryLimit(),
			})
		})

	mcp.AddTool(s, &mcp.Tool{Name: "slow", Description: "Sleeps ms milliseconds, sending progress notifications when the call has a progress token."},
		func(ctx context.Context, req *mcp.CallToolRequest, in slowIn) (*mcp.CallToolResult, any, error) {
			const steps = 4
			total := time.Duration(in.MS) * time.Millisecond
			token := req.Params.GetProgressToken()
			for i := 1; i <= steps; i++ {
				select {
				case <-ctx.Done():
					return nil, nil, ctx.Err()
				case <-time.After(total / steps):
				}
				if token != nil {
					_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
						ProgressToken: token,
						Progress:      float64(i),
						Total:         steps,
						Message:       fmt.Sprintf("step %d of %d", i, steps),
					})
				}
			}
			return text(fmt.Sprintf("slept %d ms", in.MS)), nil, nil
		})
}

// listProcesses reads /proc: every numeric entry is a process this one can see.
func listProcesses() ([]Process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	procs := []Process{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		procs = append(procs, Process{PID: pid, Cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))})
	}
	sort.Slice(procs, func(i, j int) bool { return procs[i].PID < procs[j].PID })
	return procs, nil
}

// memoryLimit reads the cgroup v2 limit, then the v1 one.
func memoryLimit() string {
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	return ""
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func jsonText(v any) (*mcp.CallToolResult, any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	return text(string(b)), nil, nil
}
