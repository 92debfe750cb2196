// Package doctor is `mcpproxy doctor`: checks of the installation, each
// line OK, WARN or FAIL with the fix — the docker binary (which way it was
// found and where), the daemon and its version, the images of the isolated
// servers, the config file (valid; unknown keys with "did you mean"), the
// running proxy's listener and the data directory's single owner.
// `mcpproxy doctor isolation` (internal/doctor) is its subcommand.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
	"github.com/mcpproxy/mcpproxy/internal/docker"
)

// Status is a check's verdict.
type Status string

// Verdicts.
const (
	OK   Status = "OK"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Result is one line of the report.
type Result struct {
	Status Status `json:"status"`
	// Check names what was checked ("docker binary", "image node:20").
	Check string `json:"check"`
	// Detail is what was found.
	Detail string `json:"detail"`
	// Fix says what to do, for WARN and FAIL.
	Fix string `json:"fix,omitempty"`
}

// ErrFailed is returned when a check failed (the command exits non-zero).
var ErrFailed = errors.New("doctor: a check failed")

// checkTimeout bounds the whole report (docker, the listener).
const checkTimeout = 30 * time.Second

// NewCommand returns `mcpproxy doctor`; subcommands (doctor isolation) are
// added to it.
func NewCommand(g *cli.Globals, subcommands ...*cobra.Command) *cobra.Command {
	var out cli.Output
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the installation: docker, images, the config file, the running proxy, the data directory",
		Long: `Checks, each reported OK, WARN or FAIL with the fix:
  docker binary   where the docker CLI is and how it was found (PATH, a well-known location, the login shell)
  docker daemon   whether it answers, and its version
  image …         whether each isolated server's image is present
  kubernetes      with docker_isolation.backend "kubernetes" (instead of the docker lines): whether the
                  cluster answers and the credentials may run pods in the namespace
  network none    with the kubernetes backend: the servers whose network none is a deny-all
                  NetworkPolicy, enforced only if the cluster's network plugin enforces NetworkPolicy
  config          whether the config file is valid; unknown keys (with "did you mean")
  listener        whether the proxy of the data dir answers, and accepts the config file's API key
  data dir        owned by you, private, and held by at most one mcpproxy
The command exits non-zero when a check fails. ` + "`mcpproxy doctor isolation`" + ` checks what the container allows.`,
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			return out.Validate()
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			dataDir, configPath := g.Resolve()
			ctx, cancel := context.WithTimeout(cmd.Context(), checkTimeout)
			defer cancel()
			res := Run(ctx, Env{DataDir: dataDir, ConfigPath: configPath, Resolver: docker.NewResolver()})
			if out.JSON() {
				if err := cli.PrintJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			} else {
				Print(cmd.OutOrStdout(), res)
			}
			for _, r := range res {
				if r.Status == Fail {
					cmd.SilenceErrors = true
					return ErrFailed
				}
			}
			return nil
		},
	}
	cli.AddOutput(c, &out)
	c.AddCommand(subcommands...)
	return c
}

// Print writes the report: one line per check, the fix indented under it.
func Print(w io.Writer, res []Result) {
	width := 0
	for _, r := range res {
		width = max(width, len(r.Check))
	}
	fails := 0
	for _, r := range res {
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", r.Status, width, r.Check, firstLine(r.Detail))
		for _, l := range moreLines(r.Detail) {
			fmt.Fprintf(w, "      %-*s  %s\n", width, "", l)
		}
		if r.Fix != "" {
			fmt.Fprintf(w, "      %-*s  fix: %s\n", width, "", r.Fix)
		}
		if r.Status == Fail {
			fails++
		}
	}
	if fails > 0 {
		fmt.Fprintf(w, "\n%d check(s) failed\n", fails)
	}
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

func moreLines(s string) []string {
	_, rest, ok := strings.Cut(s, "\n")
	if !ok {
		return nil
	}
	return strings.Split(rest, "\n")
}
