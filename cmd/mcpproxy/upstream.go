package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/apiclient"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// newUpstreamCmd is `mcpproxy upstream`: the running proxy's servers, and
// the approvals only a person gives (quarantined servers, changed tools).
func newUpstreamCmd(g *globalFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "upstream",
		Short: "List the running proxy's servers and approve quarantined servers and changed tools",
		Long: "These commands talk to the running mcpproxy (the one serving --data-dir, or at the config file's listen address),\n" +
			"authenticated with the API key from the config file.",
	}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the servers, with why a quarantined server waits and which tools are withheld",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			l, err := cl.Servers(cmd.Context())
			if err != nil {
				return explain(err, g)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), l)
			}
			printServers(cmd.OutOrStdout(), l)
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")

	var approveTools bool
	var toolNames []string
	approve := &cobra.Command{
		Use:   "approve NAME",
		Short: "Approve a quarantined server (or, with --tools/--tool, its changed and new tools)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			if approveTools || len(toolNames) > 0 {
				return approveToolsCmd(cmd.Context(), cmd.OutOrStdout(), cl, args[0], toolNames, g)
			}
			return approveServerCmd(cmd.Context(), cmd.OutOrStdout(), cl, args[0], g)
		},
	}
	approve.Flags().BoolVar(&approveTools, "tools", false, "approve every changed and new tool of the server, as shown by `upstream tools NAME --changed`")
	approve.Flags().StringArrayVar(&toolNames, "tool", nil, "approve this changed or new `tool` (repeatable)")

	var changed, toolsJSON bool
	tools := &cobra.Command{
		Use:   "tools NAME",
		Short: "List a server's tools with their approval state; --changed shows only the changed and new ones, with the diff",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			st, err := cl.Tools(cmd.Context(), args[0], changed)
			if err != nil {
				return explain(err, g)
			}
			if toolsJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			printTools(cmd.OutOrStdout(), st, changed)
			return nil
		},
	}
	tools.Flags().BoolVar(&changed, "changed", false, "only the changed and new tools, with what changed")
	tools.Flags().BoolVar(&toolsJSON, "json", false, "print the API's JSON")

	c.AddCommand(list, approve, tools)
	return c
}

// client is the API client for the proxy of the global flags' data dir and
// config file.
func (g *globalFlags) client() (*apiclient.Client, error) {
	dataDir, configPath := g.resolve()
	return apiclient.FromConfig(dataDir, configPath)
}

// explain turns a refused key into advice.
func explain(err error, g *globalFlags) error {
	if errors.Is(err, apiclient.ErrUnauthorized) {
		_, configPath := g.resolve()
		return fmt.Errorf("%w: the proxy refused the API key of %s (is it running with another config file?)", err, configPath)
	}
	return err
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func printServers(w io.Writer, l apiclient.ServerList) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tTOOLS\tISOLATION\tNOTE")
	for _, s := range l.Servers {
		iso := "host"
		if s.Isolation != nil && s.Isolation.Isolated {
			iso = "container"
		} else if s.Transport == "http" {
			iso = "remote (http)"
		}
		note := s.LastError
		switch {
		case s.Quarantine != nil:
			note = "quarantined: mcpproxy upstream approve " + s.Name
		case len(s.ToolsWithheld) > 0:
			note = fmt.Sprintf("%d withheld: mcpproxy upstream tools %s --changed", len(s.ToolsWithheld), s.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.Name, s.State, s.ToolCount, iso, note)
	}
	tw.Flush()
	for _, s := range l.Servers {
		if q := s.Quarantine; q != nil {
			fmt.Fprintf(w, "\n%s waits for approval: %s\n", s.Name, q.Reason)
			printLaunch(w, q.Launch)
			fmt.Fprintf(w, "  approve: %s\n", q.Approve)
		}
		if len(s.ToolsWithheld) > 0 {
			fmt.Fprintf(w, "\n%s: tools withheld until approved (changed or new): %s\n  review: mcpproxy upstream tools %s --changed\n",
				s.Name, strings.Join(s.ToolsWithheld, ", "), s.Name)
		}
	}
}

func printLaunch(w io.Writer, l trust.Launch) {
	if l.Command != "" {
		fmt.Fprintf(w, "  runs: %s\n", shellWords(append([]string{l.Command}, l.Args...)))
	}
	if l.URL != "" {
		fmt.Fprintf(w, "  connects to: %s\n", l.URL)
	}
	if len(l.EnvNames) > 0 {
		fmt.Fprintf(w, "  env: %s\n", strings.Join(l.EnvNames, ", "))
	}
	if len(l.HeaderNames) > 0 {
		fmt.Fprintf(w, "  headers: %s\n", strings.Join(l.HeaderNames, ", "))
	}
}

// shellWords quotes words that need it, for reading (not for a shell).
func shellWords(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w == "" || strings.ContainsAny(w, " \t\n'\"\\$`;&|<>*?()[]{}~#!") {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		out[i] = w
	}
	return strings.Join(out, " ")
}

func printTools(w io.Writer, st trust.ServerTools, onlyPending bool) {
	if !st.Live {
		fmt.Fprintf(w, "%s is not connected: its tools are known once it runs (a quarantined server needs `mcpproxy upstream approve %s` first)\n", st.Server, st.Server)
		return
	}
	if len(st.Tools) == 0 {
		if onlyPending {
			fmt.Fprintf(w, "%s has no changed or new tools\n", st.Server)
		} else {
			fmt.Fprintf(w, "%s has no tools\n", st.Server)
		}
		return
	}
	for _, t := range st.Tools {
		fmt.Fprintf(w, "%-8s  %s  %s\n", t.State, t.Name, t.Hash)
		if t.Diff != "" {
			for _, l := range strings.Split(strings.TrimSuffix(t.Diff, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	pending := 0
	for _, t := range st.Tools {
		if t.State != trust.StateApproved {
			pending++
		}
	}
	if pending > 0 {
		fmt.Fprintf(w, "\n%d tool(s) withheld from every client until approved: mcpproxy upstream approve %s --tools (or --tool NAME)\n", pending, st.Server)
	}
}

func approveServerCmd(ctx context.Context, w io.Writer, cl *apiclient.Client, name string, g *globalFlags) error {
	l, err := cl.Servers(ctx)
	if err != nil {
		return explain(err, g)
	}
	var srv *apiclient.Server
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
	res, err := cl.ApproveServer(ctx, name)
	if err != nil {
		return explain(err, g)
	}
	if res.WasQuarantined {
		fmt.Fprintf(w, "approved: %s starts now; its tools are pinned when it first lists them\n", name)
	} else {
		fmt.Fprintf(w, "%s was approved already\n", name)
	}
	return nil
}

func approveToolsCmd(ctx context.Context, w io.Writer, cl *apiclient.Client, server string, names []string, g *globalFlags) error {
	st, err := cl.Tools(ctx, server, true)
	if err != nil {
		return explain(err, g)
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
		return explain(err, g)
	}
	fmt.Fprintf(w, "approved: %s — clients see them now\n", strings.Join(res.Approved, ", "))
	return nil
}
