package upstream

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
)

func newRestart(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "restart NAME",
		Short: "Stop and start a server (a new container when it is isolated)",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.Client()
			if err != nil {
				return err
			}
			if err := cl.Restart(cmd.Context(), args[0]); err != nil {
				return g.Explain(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restarting %s\n", args[0])
			return nil
		},
	}
}
