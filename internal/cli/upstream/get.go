package upstream

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
)

func newGet(g *cli.Globals) *cobra.Command {
	var out cli.Output
	c := &cobra.Command{
		Use:   "get NAME",
		Short: "Show one server: state, configuration (secrets redacted) and its container's exact docker run",
		Args:  nameArg,
		PreRunE: func(*cobra.Command, []string) error {
			return out.Validate()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.Client()
			if err != nil {
				return err
			}
			d, err := cl.Server(cmd.Context(), args[0])
			if err != nil {
				return g.Explain(err)
			}
			if out.JSON() {
				return cli.PrintJSON(cmd.OutOrStdout(), d)
			}
			printDetail(cmd.OutOrStdout(), d)
			return nil
		},
	}
	cli.AddOutput(c, &out)
	return c
}

func printDetail(w io.Writer, d httpapi.ServerDetail) {
	tw := cli.NewTable(w)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("name", d.Name)
	row("state", string(d.State))
	row("transport", d.Transport)
	row("tools", fmt.Sprint(d.ToolCount))
	row("isolation", isolationColumn(d.ServerView))
	if d.Isolation != nil {
		row("why", d.Isolation.Reason)
		row("container", d.Isolation.ContainerName)
	}
	row("last error", d.LastError)
	if d.LastExit != nil {
		row("last exit", d.LastExit.Reason)
	}
	if c := d.Config; c != nil {
		if c.Command != "" {
			row("command", cli.ShellWords(append([]string{c.Command}, c.Args...)))
		}
		row("url", c.URL)
		row("env", strings.Join(slices.Sorted(maps.Keys(c.Env)), ", "))
		row("headers", strings.Join(slices.Sorted(maps.Keys(c.Headers)), ", "))
		row("working dir", c.WorkingDir)
	}
	row("log file", d.LogFile)
	tw.Flush()
	if d.IsolationNote != "" {
		fmt.Fprintf(w, "\nnote: %s\n", d.IsolationNote)
	}
	if d.Quarantine != nil {
		fmt.Fprintf(w, "\nwaits for approval: %s\n  approve: %s\n", d.Quarantine.Reason, d.Quarantine.Approve)
	}
	if p := d.Plan; p != nil {
		fmt.Fprintf(w, "\ncontainer plan (%s profile): image %s, network %s, memory %s, cpus %s", orDefault(p.Profile, "default"), p.Image, p.Network, p.Memory, p.CPUs)
		if p.PidsLimit > 0 {
			fmt.Fprintf(w, ", pids %d", p.PidsLimit)
		}
		fmt.Fprintln(w)
		for _, m := range p.Mounts {
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			fmt.Fprintf(w, "  mount %s -> %s (%s) %s\n", m.Source, m.Target, mode, m.Reason)
		}
		for _, n := range p.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		if len(p.DockerRun) > 0 {
			fmt.Fprintf(w, "\ndocker %s\n", cli.ShellWords(p.DockerRun))
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
