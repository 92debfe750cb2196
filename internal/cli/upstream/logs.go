package upstream

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
)

func newLogs(g *cli.Globals) *cobra.Command {
	var follow bool
	var lines int
	var out cli.Output
	c := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print the last lines of a server's stderr log (secrets masked); -f follows it (-o json: the API's tail, or one JSON object a line while following)",
		Args:  nameArg,
		PreRunE: func(*cobra.Command, []string) error {
			if lines < 0 || lines > 10000 {
				return fmt.Errorf("--lines %d: must be from 0 to 10000", lines)
			}
			return out.Validate()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.Client()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if !follow {
				t, err := cl.Logs(cmd.Context(), args[0], lines)
				if err != nil {
					return g.Explain(err)
				}
				if out.JSON() {
					return cli.PrintJSON(w, t)
				}
				for _, l := range t.Lines {
					fmt.Fprintln(w, l)
				}
				return nil
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			enc := json.NewEncoder(w)
			err = cl.FollowLogs(ctx, args[0], lines, func(l httpapi.LogLine) {
				if out.JSON() {
					_ = enc.Encode(l)
					return
				}
				fmt.Fprintln(w, l.Line)
			})
			if err != nil {
				return g.Explain(err)
			}
			if ctx.Err() == nil {
				return fmt.Errorf("the proxy ended the log stream (it stopped?)")
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until interrupted")
	c.Flags().IntVarP(&lines, "lines", "n", 100, "how many of the last lines")
	cli.AddOutput(c, &out)
	return c
}
