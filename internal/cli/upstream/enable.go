package upstream

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
)

// newEnable is `upstream enable` (enabled) or `upstream disable`.
func newEnable(g *cli.Globals, enabled bool) *cobra.Command {
	use, short, done := "enable NAME", "Enable a server (it starts)", "enabled"
	if !enabled {
		use, short, done = "disable NAME", "Disable a server (it stops; its configuration stays)", "disabled"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.Client()
			if err != nil {
				return err
			}
			ch, err := cl.SetEnabled(cmd.Context(), args[0], enabled)
			if err != nil {
				return g.Explain(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s)\n", done, args[0], ch.Server.State)
			return nil
		},
	}
}
