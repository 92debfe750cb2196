package tools

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
)

func newList(g *cli.Globals) *cobra.Command {
	var out cli.Output
	var server string
	c := &cobra.Command{
		Use:   "list",
		Short: "List every tool clients can see (withheld and quarantined ones are not)",
		Args:  cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("server") {
				if err := cli.ValidServerName(server); err != nil {
					return fmt.Errorf("--server: %w", err)
				}
			}
			return out.Validate()
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := g.Client()
			if err != nil {
				return err
			}
			l, err := cl.ListTools(cmd.Context(), server)
			if err != nil {
				return g.Explain(err)
			}
			if out.JSON() {
				return cli.PrintJSON(cmd.OutOrStdout(), l)
			}
			tw := cli.NewTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "TOOL\tDESCRIPTION")
			for _, t := range l.Tools {
				fmt.Fprintf(tw, "%s\t%s\n", t.Name, oneLine(t.Description, 80))
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&server, "server", "", "only this server's tools")
	cli.AddOutput(c, &out)
	return c
}
