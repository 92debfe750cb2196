package upstream

import (
	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/app"
	"github.com/mcpproxy/mcpproxy/internal/cli"
)

// newPrune is `mcpproxy upstream prune`: unlike the other verbs it acts on
// the Docker engine directly (by label), not through the running proxy.
func newPrune(g *cli.Globals) *cobra.Command {
	var server string
	var dryRun bool
	c := &cobra.Command{
		Use:   "prune",
		Short: "Remove the package cache volumes (npm, uv, pip, go) of the data dir's isolated servers",
		Long: "Removes, directly on the Docker engine and by label, the package cache volumes of the servers of --data-dir\n" +
			"(all of them, or one with --server). It needs no running proxy; a volume a running server uses is kept and\n" +
			"reported. A server's next start fetches its packages again. Volumes of other data dirs are never touched.",
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if server == "" {
				return nil
			}
			return cli.ValidServerName(server)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			dataDir, _ := g.Resolve()
			return app.PruneCaches(cmd.Context(), app.PruneOptions{DataDir: dataDir, Server: server, DryRun: dryRun, Out: cmd.OutOrStdout()})
		},
	}
	c.Flags().StringVar(&server, "server", "", "prune only this `server`'s caches")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed")
	return c
}
