package upstream

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

func newList(g *cli.Globals) *cobra.Command {
	var out cli.Output
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the servers: state, tools, isolation, and why a quarantined server waits",
		Args:  cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if asJSON {
				out.Format = cli.JSON
			}
			return out.Validate()
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := g.Client()
			if err != nil {
				return err
			}
			l, err := cl.Servers(cmd.Context())
			if err != nil {
				return g.Explain(err)
			}
			if out.JSON() {
				return cli.PrintJSON(cmd.OutOrStdout(), l)
			}
			printServers(cmd.OutOrStdout(), l)
			return nil
		},
	}
	cli.AddOutput(c, &out)
	c.Flags().BoolVar(&asJSON, "json", false, "same as -o json")
	_ = c.Flags().MarkHidden("json")
	return c
}

// isolationColumn says where a server runs: in a container (its image),
// on the host, or remote.
func isolationColumn(s httpapi.ServerView) string {
	switch {
	case s.Transport == "http":
		return "remote (http)"
	case s.Isolation != nil && s.Isolation.Isolated:
		return "container " + s.Isolation.Image
	}
	return "host"
}

func printServers(w io.Writer, l httpapi.ServerList) {
	if l.ConfigInvalid {
		fmt.Fprintln(w, "The config file's last edit is invalid and was not applied: see `mcpproxy config validate`.")
	}
	if !l.DockerStatus.Available {
		why := l.DockerStatus.Error
		if why == "" {
			why = "not available"
		}
		fmt.Fprintf(w, "Docker: %s\n", why)
	}
	tw := cli.NewTable(w)
	fmt.Fprintln(tw, "NAME\tSTATE\tTOOLS\tISOLATION\tNOTE")
	for _, s := range l.Servers {
		note := s.LastError
		switch {
		case s.Quarantine != nil:
			note = "quarantined: mcpproxy upstream approve " + s.Name
		case len(s.ToolsWithheld) > 0:
			note = fmt.Sprintf("%d withheld: mcpproxy upstream tools %s --changed", len(s.ToolsWithheld), s.Name)
		case note == "" && s.Isolation != nil && s.Isolation.Phase != "" && s.Isolation.Phase != "running":
			note = s.Isolation.Phase
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.Name, s.State, s.ToolCount, isolationColumn(s), note)
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
	if len(l.ConfigWarnings) > 0 {
		fmt.Fprintln(w, "\nconfig warnings:")
		for _, cw := range l.ConfigWarnings {
			fmt.Fprintf(w, "  %s\n", cw)
		}
	}
}

func printLaunch(w io.Writer, l trust.Launch) {
	if l.Command != "" {
		fmt.Fprintf(w, "  runs: %s\n", cli.ShellWords(append([]string{l.Command}, l.Args...)))
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
	if len(l.HostPaths) > 0 {
		fmt.Fprintf(w, "  sees host paths: %s\n", strings.Join(l.HostPaths, ", "))
	}
}
