// Package call is `mcpproxy call TOOL --args JSON`: one tool call through
// the running proxy, as an MCP client's call_tool would make it.
package call

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
)

// ErrToolFailed is returned when the tool answered with isError (the
// command exits non-zero after printing the answer).
var ErrToolFailed = errors.New("the tool reported an error")

// NewCommand returns `mcpproxy call`.
func NewCommand(g *cli.Globals) *cobra.Command {
	var out cli.Output
	var args string
	c := &cobra.Command{
		Use:   "call SERVER:TOOL [--args JSON]",
		Short: "Call a tool through the running proxy and print its result",
		Long: `Call a tool through the running proxy, as an MCP client's call_tool does (a withheld tool or a
quarantined server is refused). The result's text is printed; -o json prints the whole result.
The command fails when the tool reports an error.

  mcpproxy call files:read_file --args '{"path": "/data/notes.txt"}'`,
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) != 1 {
				return fmt.Errorf("give one tool as SERVER:TOOL (see `mcpproxy tools list`)")
			}
			server, tool, ok := strings.Cut(a[0], ":")
			if !ok || tool == "" {
				return fmt.Errorf("TOOL %q: must be SERVER:TOOL (see `mcpproxy tools list`)", a[0])
			}
			return cli.ValidServerName(server)
		},
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkArgs(args); err != nil {
				return err
			}
			return out.Validate()
		},
		RunE: func(cmd *cobra.Command, a []string) error {
			cl, err := g.Client()
			if err != nil {
				return err
			}
			res, err := cl.CallTool(cmd.Context(), a[0], json.RawMessage(args))
			if err != nil {
				return g.Explain(err)
			}
			if out.JSON() {
				if err := cli.PrintJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			} else {
				printResult(cmd, res)
			}
			if res.IsError {
				cmd.SilenceErrors = true
				return ErrToolFailed
			}
			return nil
		},
	}
	c.Flags().StringVar(&args, "args", "{}", "the tool's arguments, a JSON object")
	cli.AddOutput(c, &out)
	return c
}

// checkArgs checks --args before anything runs.
func checkArgs(args string) error {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(args))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		why := "not a JSON object"
		if err != nil {
			why = err.Error()
		}
		return fmt.Errorf("--args %q: must be a JSON object such as '{\"path\": \"/tmp/x\"}' (%s)", args, why)
	}
	if dec.More() {
		return fmt.Errorf("--args %q: one JSON object only", args)
	}
	return nil
}

// printResult prints the result's content: text as it is, other content as
// JSON; structured content when there is nothing else.
func printResult(cmd *cobra.Command, res *mcp.CallToolResult) {
	w := cmd.OutOrStdout()
	if res.IsError {
		w = cmd.ErrOrStderr()
	}
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			fmt.Fprintln(w, t.Text)
			continue
		}
		b, _ := json.Marshal(c)
		fmt.Fprintln(w, string(b))
	}
	if len(res.Content) == 0 && res.StructuredContent != nil {
		var buf bytes.Buffer
		b, _ := json.Marshal(res.StructuredContent)
		_ = json.Indent(&buf, b, "", "  ")
		fmt.Fprintln(w, buf.String())
	}
}
