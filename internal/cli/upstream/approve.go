package upstream

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/apiclient"
	"github.com/mcpproxy/mcpproxy/internal/cli"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

func newApprove(g *cli.Globals) *cobra.Command {
	var approveTools bool
	var toolNames []string
	c := &cobra.Command{
		Use:   "approve NAME",
		Short: "Approve a quarantined server (or, with --tools/--tool, its changed and new tools)",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.Client()
			if err != nil {
				return err
			}
			if approveTools || len(toolNames) > 0 {
				return approveToolsCmd(cmd.Context(), cmd.OutOrStdout(), cl, args[0], toolNames, g)
			}
			return approveServerCmd(cmd.Context(), cmd.OutOrStdout(), cl, args[0], g)
		},
	}
	c.Flags().BoolVar(&approveTools, "tools", false, "approve every changed and new tool of the server, as shown by `upstream tools NAME --changed`")
	c.Flags().StringArrayVar(&toolNames, "tool", nil, "approve this changed or new `tool` (repeatable)")
	return c
}

func approveServerCmd(ctx context.Context, w io.Writer, cl *apiclient.Client, name string, g *cli.Globals) error {
	l, err := cl.Servers(ctx)
	if err != nil {
		return g.Explain(err)
	}
	var srv *httpapi.ServerView
	for i := range l.Servers {
		if l.Servers[i].Name == name {
			srv = &l.Servers[i]
		}
	}
	switch {
	case srv == nil:
		return fmt.Errorf("the running proxy has no server %q (see `mcpproxy upstream list`)", name)
	case srv.Quarantine == nil && len(srv.ToolsWithheld) > 0:
		return fmt.Errorf("%s is not quarantined, but tools are withheld (%s): review them with `mcpproxy upstream tools %s --changed` and approve them with `mcpproxy upstream approve %s --tools`",
			name, strings.Join(srv.ToolsWithheld, ", "), name, name)
	case srv.Quarantine == nil:
		fmt.Fprintf(w, "%s is not quarantined; nothing to approve\n", name)
		return nil
	}
	fmt.Fprintf(w, "approving %s (%s)\n", name, srv.Quarantine.Reason)
	printLaunch(w, srv.Quarantine.Launch)
	// What was printed is what is approved: an MCP client's change since
	// the list was read makes the approval fail (409) instead.
	res, err := cl.ApproveServer(ctx, name, srv.Quarantine.Fingerprint)
	if err != nil {
		return g.Explain(err)
	}
	if res.WasQuarantined {
		fmt.Fprintf(w, "approved: %s starts now; its tools are pinned when it first lists them\n", name)
	} else {
		fmt.Fprintf(w, "%s was approved already\n", name)
	}
	return nil
}

func approveToolsCmd(ctx context.Context, w io.Writer, cl *apiclient.Client, server string, names []string, g *cli.Globals) error {
	st, err := cl.Tools(ctx, server, true)
	if err != nil {
		return g.Explain(err)
	}
	if !st.Live {
		return fmt.Errorf("%s is not connected, so its tools are unknown; approve its tools once it runs", server)
	}
	byName := map[string]trust.ToolView{}
	for _, t := range st.Tools {
		byName[t.Name] = t
	}
	if len(names) == 0 {
		for _, t := range st.Tools {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		fmt.Fprintf(w, "%s has no changed or new tools; nothing to approve\n", server)
		return nil
	}
	// Approve exactly the definitions shown here: the proxy refuses if the
	// server presents something else by now.
	var req trust.ToolApproval
	for _, n := range names {
		t, ok := byName[n]
		if !ok {
			return fmt.Errorf("%s has no changed or new tool %q (see `mcpproxy upstream tools %s --changed`)", server, n, server)
		}
		req.Tools = append(req.Tools, trust.ApprovedTool{Name: n, Hash: t.Hash})
		fmt.Fprintf(w, "approving %s tool %s (%s)\n", t.State, n, t.Hash)
	}
	res, err := cl.ApproveTools(ctx, server, req)
	if err != nil {
		return g.Explain(err)
	}
	fmt.Fprintf(w, "approved: %s — clients see them now\n", strings.Join(res.Approved, ", "))
	return nil
}
