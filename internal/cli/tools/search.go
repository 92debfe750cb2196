package tools

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
)

func newSearch(g *cli.Globals) *cobra.Command {
	var out cli.Output
	var limit int
	c := &cobra.Command{
		Use:   "search QUERY...",
		Short: "Find tools by what they do (ranked full-text search, as retrieve_tools)",
		Args:  cobra.MinimumNArgs(1),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 100 {
				return fmt.Errorf("--limit %d: must be from 1 to 100", limit)
			}
			if strings.TrimSpace(strings.Join(args, " ")) == "" {
				return fmt.Errorf("QUERY is empty: say what the tool should do")
			}
			return out.Validate()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.Client()
			if err != nil {
				return err
			}
			res, err := cl.SearchTools(cmd.Context(), strings.Join(args, " "), limit)
			if err != nil {
				return g.Explain(err)
			}
			if out.JSON() {
				return cli.PrintJSON(cmd.OutOrStdout(), res)
			}
			if len(res.Tools) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no tool matches %q\n", res.Query)
				return nil
			}
			tw := cli.NewTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "SCORE\tTOOL\tDESCRIPTION")
			for _, t := range res.Tools {
				fmt.Fprintf(tw, "%.2f\t%s\t%s\n", t.Score, t.Name, oneLine(t.Description, 70))
			}
			return tw.Flush()
		},
	}
	c.Flags().IntVarP(&limit, "limit", "n", 10, "at most this many tools (1-100)")
	cli.AddOutput(c, &out)
	return c
}
