// Command mcpproxy aggregates MCP servers behind one Streamable-HTTP
// endpoint and runs stdio servers in Docker containers.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/app"
	"github.com/mcpproxy/mcpproxy/internal/cli"
	"github.com/mcpproxy/mcpproxy/internal/cli/call"
	"github.com/mcpproxy/mcpproxy/internal/cli/doctor"
	"github.com/mcpproxy/mcpproxy/internal/cli/tools"
	"github.com/mcpproxy/mcpproxy/internal/cli/upstream"
	"github.com/mcpproxy/mcpproxy/internal/config"
	isodoctor "github.com/mcpproxy/mcpproxy/internal/doctor"
	"github.com/mcpproxy/mcpproxy/internal/logging"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func getVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// serveProcs is the GOMAXPROCS serve runs with: 1 unless the user set the
// GOMAXPROCS variable. The proxy relays small messages between processes and
// spends its time waiting; with one P, a goroutine woken by a message runs on
// the thread that received it, instead of the runtime waking a second thread
// to look for work on every hop. Measured on a 2-core machine
// (BenchmarkSchedulerProcs, bench/results/scheduler_procs.txt): p50 through
// /mcp/{server} 23–128 µs lower, 21–30 % less proxy CPU per call, 8-client
// throughput −6…+12 %.
func serveProcs(env string) (n int, set bool) {
	if env != "" {
		return 0, false
	}
	return 1, true
}

// serveMemoryLimit is the Go heap's soft limit for serve unless the user
// sets GOMEMLIMIT. The proxy's live heap is small (tens of MB with
// thousands of tools); what makes its memory peak is garbage: a 16 MiB
// message, a flood of notifications or of stderr. The limit makes the
// collector run before such garbage doubles the heap, which keeps the peak
// RSS under 100 MB through every protocol abuse TestProtocolAbuse tries
// (instead of 140–180 MB). A larger live heap only costs more GC work,
// capped by the runtime at half the CPU; set GOMEMLIMIT to raise it.
const serveMemoryLimit = 64 << 20

func main() {
	if err := newRoot(os.Stdout, os.Stderr).Execute(); err != nil {
		os.Exit(1)
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &cli.Globals{}
	root := &cobra.Command{
		Use:           "mcpproxy",
		Short:         "One MCP endpoint for all your MCP servers, each stdio server isolated in its own container",
		SilenceUsage:  true,
		SilenceErrors: false,
		// Flags are validated before anything runs, whatever the command.
		PersistentPreRunE: func(*cobra.Command, []string) error {
			_, err := logging.ParseLevel(g.LogLevel)
			return err
		},
	}
	// Servers control much of what the commands print (tool names and
	// descriptions, errors, their stderr): none of it may drive the
	// terminal.
	root.SetOut(cli.Printable(stdout))
	root.SetErr(cli.Printable(stderr))
	root.PersistentFlags().StringVar(&g.ConfigPath, "config", "", "config file (default <data-dir>/mcp_config.json)")
	root.PersistentFlags().StringVar(&g.DataDir, "data-dir", "", "data directory (default ~/.mcpproxy)")
	root.PersistentFlags().StringVar(&g.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(newServe(g), newVersion(), newConfigCmd(g), newTelemetryCmd(g),
		upstream.NewCommand(g), tools.NewCommand(g), call.NewCommand(g), doctor.NewCommand(g, newDoctorIsolationCmd(g)))
	return root
}

func newServe(g *cli.Globals) *cobra.Command {
	var listen string
	var tray, readOnly, noManagement bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the proxy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			started := time.Now()
			level, err := logging.ParseLevel(g.LogLevel)
			if err != nil {
				return err
			}
			dataDir, configPath := g.Resolve()
			red := &logging.Redactor{}
			logger, closer, err := logging.New(logging.Options{Level: level, Dir: filepath.Join(dataDir, "logs"), Stderr: cmd.ErrOrStderr()}, red)
			if err != nil {
				return err
			}
			defer closer.Close()
			if n, set := serveProcs(os.Getenv("GOMAXPROCS")); set {
				runtime.GOMAXPROCS(n)
			}
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(serveMemoryLimit)
			}
			logger.Debug("scheduler", "gomaxprocs", runtime.GOMAXPROCS(0), "cpus", runtime.NumCPU())
			if tray {
				logger.Info("mcpproxy has no tray icon (--tray is accepted for compatibility and does nothing); the web UI's address is printed when the proxy listens")
			}
			// The key from the environment is taken out of it, so that no
			// server started from here inherits it.
			envKey := os.Getenv(app.APIKeyEnv)
			os.Unsetenv(app.APIKeyEnv)
			a, err := app.New(app.Options{ConfigPath: configPath, DataDir: dataDir, Listen: listen, Version: getVersion(), Logger: logger, Redactor: red, Started: started,
				Console: cmd.ErrOrStderr(), ReadOnly: readOnly, DisableManagement: noManagement, APIKey: envKey})
			if err != nil {
				logger.Error("cannot start", "error", err)
				return err
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
			served := make(chan struct{})
			var watch sync.WaitGroup
			defer watch.Wait()
			defer close(served)
			defer signal.Stop(sigs)
			watch.Go(func() {
				select {
				case s := <-sigs:
					logger.Info("signal received; stopping (send again to exit at once)", "signal", s.String())
					cancel()
				case <-served:
					return
				}
				select {
				case <-sigs:
					logger.Warn("second signal: exiting now")
					a.Kill()
					os.Exit(130)
				case <-served:
				}
			})
			return a.Serve(ctx)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (default 127.0.0.1:8080)")
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "refuse every configuration change from MCP clients and the API (edit the config file instead)")
	cmd.Flags().BoolVar(&noManagement, "disable-management", false, "leave the upstream_servers tool out of /mcp")
	// --tray is accepted (the spec's debugging command passes
	// --tray=false) but there is no tray icon: the web UI replaces it.
	cmd.Flags().BoolVar(&tray, "tray", false, "accepted for compatibility; mcpproxy has no tray icon (use the web UI)")
	return cmd
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "mcpproxy %s\n", getVersion())
		},
	}
}

func newConfigCmd(g *cli.Globals) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Work with the configuration file"}
	c.AddCommand(&cobra.Command{
		Use:   "validate [PATH]",
		Short: "Check a config file and list every problem",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, path := g.Resolve()
			if len(args) == 1 {
				path = args[0]
			}
			cfg, err := config.Load(path)
			if err != nil {
				cmd.SilenceErrors = true
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return err
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), warningLine(path, w))
			}
			note := ""
			switch n := len(cfg.Warnings); n {
			case 0:
			case 1:
				note = ", 1 warning"
			default:
				note = fmt.Sprintf(", %d warnings", n)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (%d servers%s)\n", path, len(cfg.Servers), note)
			return nil
		},
	})
	return c
}

// newDoctorIsolationCmd is `mcpproxy doctor isolation`.
func newDoctorIsolationCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "isolation [SERVER]...",
		Short: "Run each isolated server's container with a probe in place of the server and print what the box allows",
		Long: `For each isolated server (or the ones named), runs the server's container plan — image,
user, capabilities, limits, network, mounts, env — with mcpproxy's isolation probe in place of
the server, and prints a scorecard: capabilities, user, no_new_privs, seccomp, writable paths,
PID, memory and CPU limits, mount/raw-socket/mknod/chown/proc-sys attempts, whether the host's
loopback and the Docker bridge gateway are reachable, and whether env values are visible in
docker inspect. Each line is PASS or WARN with the setting that controls it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dataDir, configPath := g.Resolve()
			return isodoctor.Isolation(cmd.Context(), isodoctor.IsolationOptions{DataDir: dataDir, ConfigPath: configPath, Servers: args, Out: cmd.OutOrStdout()})
		},
	}
}

// warningLine formats a configuration warning like a problem:
// "<file>:<line>:<col>: warning: <path>: <msg>".
func warningLine(file string, w config.Problem) string {
	at := file + ": "
	if w.Line > 0 {
		at = fmt.Sprintf("%s:%d:%d: ", file, w.Line, w.Col)
	}
	return at + "warning: " + w.Path + ": " + w.Msg
}

func newTelemetryCmd(g *cli.Globals) *cobra.Command {
	c := &cobra.Command{Use: "telemetry", Short: "Anonymous usage report"}
	c.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the exact payload the daily report would send",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dataDir, configPath := g.Resolve()
			p, enabled, err := app.TelemetryPayload(cmd.Context(), dataDir, configPath, getVersion())
			if err != nil {
				return err
			}
			b, _ := json.MarshalIndent(p, "", "  ")
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			if !enabled {
				fmt.Fprintln(cmd.ErrOrStderr(), "telemetry is disabled (telemetry.enabled: false): nothing is sent")
			}
			return nil
		},
	})
	return c
}
