package upstream

import (
	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
	"github.com/mcpproxy/mcpproxy/internal/docker"
	"github.com/mcpproxy/mcpproxy/internal/machine"
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
			"reported. A server's next start fetches its packages again. Volumes of other data dirs are never touched.\n" +
			"Without --server it also removes the images that set up a cache volume's owner which a proxy of --data-dir\n" +
			"left behind when it ended in the middle of it (mcpproxy.local/volume-init:*, by label).",
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if server == "" {
				return nil
			}
			return cli.ValidServerName(server)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			dataDir, _ := g.Resolve()
			rt := &docker.Runtime{Resolver: docker.NewResolver(), Prober: &docker.Prober{}}
			return rt.PruneCaches(cmd.Context(), docker.PruneOptions{Host: machine.Host(dataDir, ""), Server: server, DryRun: dryRun, Out: cmd.OutOrStdout()})
		},
	}
	c.Flags().StringVar(&server, "server", "", "prune only this `server`'s caches")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed")
	return c
}
