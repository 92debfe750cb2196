// Package upstream is `mcpproxy upstream`: the running proxy's servers —
// list, get, add, remove, enable, disable, restart, approve, logs and the
// tools a person approves — one file per verb; and prune, the package
// cache volumes of the data dir, on the engine.
package upstream

import (
	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
)

// NewCommand returns `mcpproxy upstream`.
func NewCommand(g *cli.Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "upstream",
		Short: "Manage the running proxy's upstream servers",
		Long: "These commands talk to the running mcpproxy (the one serving --data-dir, or at the config file's listen address),\n" +
			"authenticated with the API key from the config file. Changes are edits of the config file, applied at once.\n" +
			"prune acts on the Docker engine directly: it removes the data dir's package cache volumes.",
	}
	c.AddCommand(newList(g), newGet(g), newAdd(g), newRemove(g), newEnable(g, true), newEnable(g, false),
		newRestart(g), newApprove(g), newLogs(g), newTools(g), newPrune(g))
	return c
}

// nameArg checks a command's one argument, a server name, before anything
// runs.
func nameArg(cmd *cobra.Command, args []string) error {
	if err := cobra.ExactArgs(1)(cmd, args); err != nil {
		return err
	}
	return cli.ValidServerName(args[0])
}
