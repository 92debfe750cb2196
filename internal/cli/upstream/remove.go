package upstream

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
)

func newRemove(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Stop a server and remove it from the config file",
		Args:    nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.Client()
			if err != nil {
				return err
			}
			if err := cl.RemoveServer(cmd.Context(), args[0]); err != nil {
				return g.Explain(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", args[0])
			return nil
		},
	}
}
