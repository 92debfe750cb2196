// Package cli holds what mcpproxy's commands share: the global flags (data
// directory, config file, log level), the REST client of the running proxy
// they name, the -o table|json output flag and the printing helpers. The
// commands themselves live in one package per noun (upstream, tools, call,
// doctor), one file per verb.
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/apiclient"
	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
)

// Globals are the flags every command has.
type Globals struct {
	ConfigPath string
	DataDir    string
	LogLevel   string
}

// Resolve returns the data directory and the config file the flags name
// (their defaults: ~/.mcpproxy and <data-dir>/mcp_config.json).
func (g *Globals) Resolve() (dataDir, configPath string) {
	dataDir = g.DataDir
	if dataDir == "" {
		dataDir = config.DefaultDataDir()
	}
	configPath = g.ConfigPath
	if configPath == "" {
		configPath = filepath.Join(dataDir, config.FileName)
	}
	return dataDir, configPath
}

// Client is the REST client of the proxy serving the flags' data dir, with
// the config file's API key.
func (g *Globals) Client() (*apiclient.Client, error) {
	dataDir, configPath := g.Resolve()
	return apiclient.FromConfig(dataDir, configPath)
}

// Explain turns an API error into advice: a refused key names the config
// file it came from, a refused change lists its problems by field.
func (g *Globals) Explain(err error) error {
	if errors.Is(err, apiclient.ErrUnauthorized) {
		_, configPath := g.Resolve()
		return fmt.Errorf("%w: the proxy refused the API key of %s (is it running with another config file?)", err, configPath)
	}
	var ae *apiclient.APIError
	if errors.As(err, &ae) && len(ae.Problems) > 1 {
		var b strings.Builder
		b.WriteString(ae.Msg)
		for _, p := range ae.Problems {
			fmt.Fprintf(&b, "\n  %s", problemLine(p))
		}
		return errors.New(b.String())
	}
	return err
}

func problemLine(p httpapi.Problem) string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Output is the -o flag: how a command prints its answer.
type Output struct {
	Format string
}

// Output formats.
const (
	Table = "table"
	JSON  = "json"
)

// AddOutput registers -o/--output on cmd.
func AddOutput(cmd *cobra.Command, o *Output) {
	cmd.Flags().StringVarP(&o.Format, "output", "o", Table, "output format: table or json")
}

// Validate checks the flag's value.
func (o *Output) Validate() error {
	switch o.Format {
	case Table, JSON:
		return nil
	}
	return fmt.Errorf("--output %q: must be table or json", o.Format)
}

// JSON reports whether the answer is printed as JSON.
func (o *Output) JSON() bool { return o.Format == JSON }

// PrintJSON prints v as indented JSON.
func PrintJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// NewTable is a tab-aligned writer for columns; Flush it.
func NewTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// ShellWords quotes the words that need it, for reading (not for a shell).
func ShellWords(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w == "" || strings.ContainsAny(w, " \t\n'\"\\$`;&|<>*?()[]{}~#!") {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		out[i] = w
	}
	return strings.Join(out, " ")
}

// ValidServerName checks a server name argument as the config file would.
func ValidServerName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
	}) {
		return fmt.Errorf("server name %q: use letters, digits, '_', '.' and '-'", name)
	}
	return nil
}
