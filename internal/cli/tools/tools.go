// Package tools is `mcpproxy tools`: the tools of the running proxy's
// servers, as clients see them — list and search (one file per verb).
package tools

import (
	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
)

// NewCommand returns `mcpproxy tools`.
func NewCommand(g *cli.Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "tools",
		Short: "List and search the tools of the running proxy's servers",
	}
	c.AddCommand(newList(g), newSearch(g))
	return c
}

// oneLine is the first line of a description, cut for a table.
func oneLine(s string, n int) string {
	for i, r := range s {
		if r == '\n' {
			s = s[:i]
			break
		}
	}
	if len(s) > n {
		cut := n
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
