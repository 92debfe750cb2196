package upstream

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

func newTools(g *cli.Globals) *cobra.Command {
	var changed, asJSON bool
	var out cli.Output
	c := &cobra.Command{
		Use:   "tools NAME",
		Short: "List a server's tools with their approval state; --changed shows only the changed and new ones, with the diff",
		Args:  nameArg,
		PreRunE: func(*cobra.Command, []string) error {
			if asJSON {
				out.Format = cli.JSON
			}
			return out.Validate()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.Client()
			if err != nil {
				return err
			}
			st, err := cl.Tools(cmd.Context(), args[0], changed)
			if err != nil {
				return g.Explain(err)
			}
			if out.JSON() {
				return cli.PrintJSON(cmd.OutOrStdout(), st)
			}
			printTools(cmd.OutOrStdout(), st, changed)
			return nil
		},
	}
	c.Flags().BoolVar(&changed, "changed", false, "only the changed and new tools, with what changed")
	cli.AddOutput(c, &out)
	c.Flags().BoolVar(&asJSON, "json", false, "same as -o json")
	_ = c.Flags().MarkHidden("json")
	return c
}

func printTools(w io.Writer, st trust.ServerTools, onlyPending bool) {
	if !st.Live {
		fmt.Fprintf(w, "%s is not connected: its tools are known once it runs (a quarantined server needs `mcpproxy upstream approve %s` first)\n", st.Server, st.Server)
		return
	}
	if len(st.Tools) == 0 {
		if onlyPending {
			fmt.Fprintf(w, "%s has no changed or new tools\n", st.Server)
		} else {
			fmt.Fprintf(w, "%s has no tools\n", st.Server)
		}
		return
	}
	width := len("TOOL")
	for _, t := range st.Tools {
		width = max(width, len(t.Name))
	}
	fmt.Fprintf(w, "%-8s  %-*s  %s\n", "STATE", width, "TOOL", "HASH")
	for _, t := range st.Tools {
		fmt.Fprintf(w, "%-8s  %-*s  %s\n", t.State, width, t.Name, t.Hash)
		if t.Diff != "" {
			for _, l := range strings.Split(strings.TrimSuffix(t.Diff, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	pending := 0
	for _, t := range st.Tools {
		if t.State != trust.StateApproved {
			pending++
		}
	}
	if pending > 0 {
		fmt.Fprintf(w, "\n%d tool(s) withheld from every client until approved: mcpproxy upstream approve %s --tools (or --tool NAME)\n", pending, st.Server)
	}
}
