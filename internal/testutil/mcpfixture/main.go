// Command mcpfixture is a small MCP server (stdio) whose tools let a test look
// at the world from where the server runs: which processes it can see, which
// files it can read, which addresses it can reach, its environment, user and
// memory limit. Run inside a container, it proves (or disproves) isolation.
//
// It is a static Go binary so that it runs in a FROM scratch image.
//
// Tools (a failure is a tool error result, isError true, with the error text):
//
//	echo {text}                 the text unchanged
//	list_pids                   JSON [{pid, cmdline}] of every process in /proc
//	read_file {path}            the file's content
//	dial {addr, timeout_ms?}    "ok" once a TCP connection to addr opens
//	alloc {mb}                  allocates, touches and holds mb MiB (memory limits OOM-kill it)
//	getenv {name}               the variable's value, "" when unset
//	environ                     JSON array of the variable names (no values)
//	crash                       exits with code 3 without answering
//	whoami                      JSON {pid, uid, gid, hostname, memory_limit} (cgroup v2 or v1)
//	slow {ms}                   sleeps, with 4 progress notifications when given a token
//
// testutil.FixtureProcess and testutil.FixtureIdentity decode the JSON answers.
//
// Flags change how the process behaves, for lifecycle tests:
//
//	-stderr TEXT               write TEXT to stderr at start (log-file tests)
//	-tools-changed-after D     add the tool "late" after D (sends tools/list_changed)
//	-crash-after D             exit with code 3 after D
//	-exit-after-init           exit with code 3 once the handshake is done
//	                           (notifications/initialized, or server/discover answered)
//	-hang                      never answer; read stdin until EOF (init timeouts)
//	-ignore-eof                keep running after stdin closes (a container that
//	                           outlives its docker CLI, for crash-reaper tests)
//	-name NAME                 the server's implementation name (default mcpfixture)
//	-echo-description-file F   the echo tool's description is F's content, read
//	                           at start (tool-pinning tests rewrite it)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// CrashCode is the exit code of the crash tool, -crash-after and -exit-after-init.
const CrashCode = 3

func main() {
	var (
		stderrText   = flag.String("stderr", "", "write `TEXT` to stderr at start")
		toolsChanged = flag.Duration("tools-changed-after", 0, "add the tool \"late\" after this `duration`")
		crashAfter   = flag.Duration("crash-after", 0, "exit with code 3 after this `duration`")
		exitInit     = flag.Bool("exit-after-init", false, "exit with code 3 once the handshake is done")
		hang         = flag.Bool("hang", false, "never answer; read stdin until EOF")
		ignoreEOF    = flag.Bool("ignore-eof", false, "keep running after stdin closes")
		name         = flag.String("name", "mcpfixture", "the server's implementation `name`")
		echoDescFile = flag.String("echo-description-file", "", "read the echo tool's description from this `file`")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("mcpfixture: ")

	if *stderrText != "" {
		fmt.Fprintln(os.Stderr, *stderrText)
	}
	if *hang {
		_, _ = io.Copy(io.Discard, os.Stdin)
		return
	}
	if *crashAfter > 0 {
		time.AfterFunc(*crashAfter, func() {
			log.Printf("crash-after %v: exiting with code %d", *crashAfter, CrashCode)
			os.Exit(CrashCode)
		})
	}

	server := mcp.NewServer(&mcp.Implementation{Name: *name, Version: "1.0.0"}, nil)
	if *exitInit {
		server.AddReceivingMiddleware(exitAfterHandshake)
	}
	if *echoDescFile != "" {
		b, err := os.ReadFile(*echoDescFile)
		if err != nil {
			log.Fatalf("echo description: %v", err)
		}
		echoDescription = strings.TrimSpace(string(b))
	}
	addTools(server)
	if *toolsChanged > 0 {
		time.AfterFunc(*toolsChanged, func() {
			mcp.AddTool(server, &mcp.Tool{Name: "late", Description: "Added after start; returns \"late\"."},
				func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
					return text("late"), nil, nil
				})
		})
	}

	err := server.Run(context.Background(), &mcp.StdioTransport{})
	if *ignoreEOF {
		log.Printf("stdin closed (%v); -ignore-eof: staying up until SIGTERM or SIGINT", err)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		log.Printf("exiting on %v", <-sig)
		os.Exit(0)
	}
	if err != nil {
		log.Printf("server stopped: %v", err)
		os.Exit(1)
	}
}

// exitAfterHandshake ends the process once a client has connected: on
// notifications/initialized (protocol 2025-11-25 and older), or just after
// answering server/discover (2026-07-28, which has no initialized notification).
func exitAfterHandshake(next mcp.MethodHandler) mcp.MethodHandler {
	exit := func() {
		log.Printf("exit-after-init: exiting with code %d", CrashCode)
		os.Exit(CrashCode)
	}
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		res, err := next(ctx, method, req)
		switch method {
		case "notifications/initialized":
			exit()
		case "server/discover":
			time.AfterFunc(100*time.Millisecond, exit) // let the answer go out first
		}
		return res, err
	}
}
