package upstream

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpproxy/mcpproxy/internal/cli"
)

// addOptions are `upstream add`'s flags.
type addOptions struct {
	url, workingDir, isolation, image string
	env, headers                      []string
	disabled                          bool
	out                               cli.Output
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func newAdd(g *cli.Globals) *cobra.Command {
	var o addOptions
	var server map[string]any
	c := &cobra.Command{
		Use:   "add NAME [flags] [-- COMMAND [ARG...]]",
		Short: "Add a server (a stdio command after --, or --url); it starts at once",
		Long: `Add a server to the running proxy's config file; it starts at once (isolated in a container when
docker isolation is on). A stdio server's command follows "--":

  mcpproxy upstream add files -- npx -y @modelcontextprotocol/server-filesystem /data
  mcpproxy upstream add remote --url https://example.com/mcp --header "Authorization=Bearer …"

--env NAME takes the value from this command's own environment (so a secret is on no command
line); --env NAME=VALUE sets it as given.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("NAME is required: mcpproxy upstream add NAME -- COMMAND [ARG...], or NAME --url URL")
			}
			return cli.ValidServerName(args[0])
		},
		PreRunE: func(cmd *cobra.Command, args []string) error {
			var err error
			server, err = o.server(args[0], args[1:], cmd.ArgsLenAtDash())
			if err != nil {
				return err
			}
			return o.out.Validate()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := json.Marshal(server)
			if err != nil {
				return err
			}
			cl, err := g.Client()
			if err != nil {
				return err
			}
			ch, err := cl.AddServer(cmd.Context(), raw)
			if err != nil {
				return g.Explain(err)
			}
			if o.out.JSON() {
				return cli.PrintJSON(cmd.OutOrStdout(), ch)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %s (%s); see `mcpproxy upstream get %s`\n", ch.Server.Name, isolationColumn(ch.Server.ServerView), ch.Server.Name)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.url, "url", "", "the server's Streamable-HTTP `URL` (instead of a command)")
	f.StringArrayVar(&o.env, "env", nil, "environment variable `NAME[=VALUE]` (repeatable; NAME alone takes the value from this environment)")
	f.StringArrayVar(&o.headers, "header", nil, "HTTP header `NAME=VALUE` of a --url server (repeatable)")
	f.StringVar(&o.workingDir, "working-dir", "", "the command's working directory")
	f.StringVar(&o.isolation, "isolation", "", "isolation.enabled for this server: on or off (default: the global setting)")
	f.StringVar(&o.image, "image", "", "the container image (isolation.image; default: by runtime)")
	f.BoolVar(&o.disabled, "disabled", false, "add it disabled")
	cli.AddOutput(c, &o.out)
	return c
}

// server builds the server object of the flags, checking each.
func (o *addOptions) server(name string, rest []string, dash int) (map[string]any, error) {
	s := map[string]any{"name": name}
	var command []string
	if dash == 0 {
		return nil, fmt.Errorf("NAME goes before --: mcpproxy upstream add NAME -- COMMAND [ARG...]")
	}
	if dash > 0 {
		command = rest[dash-1:]
	} else if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected %q: put the server's command after --, e.g. mcpproxy upstream add %s -- %s", rest[0], name, strings.Join(rest, " "))
	}
	switch {
	case len(command) > 0 && o.url != "":
		return nil, fmt.Errorf("--url %q and a command after --: a server has one or the other", o.url)
	case len(command) == 0 && o.url == "":
		return nil, fmt.Errorf("no command and no --url: give the server's command after -- or its --url")
	case o.url != "":
		u, err := url.Parse(o.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--url %q: must be an http:// or https:// URL with a host", o.url)
		}
		s["url"] = o.url
	default:
		s["command"] = command[0]
		if len(command) > 1 {
			s["args"] = command[1:]
		}
	}
	if len(o.headers) > 0 && o.url == "" {
		return nil, fmt.Errorf("--header is for a --url server")
	}
	if o.workingDir != "" {
		if o.url != "" {
			return nil, fmt.Errorf("--working-dir is for a stdio server")
		}
		s["working_dir"] = o.workingDir
	}
	if len(o.env) > 0 {
		env := map[string]string{}
		for _, e := range o.env {
			k, v, hasValue := strings.Cut(e, "=")
			if !envNameRe.MatchString(k) {
				return nil, fmt.Errorf("--env %q: must be NAME or NAME=VALUE, NAME of letters, digits and _", e)
			}
			if !hasValue {
				val, ok := os.LookupEnv(k)
				if !ok {
					return nil, fmt.Errorf("--env %s: not set in this environment (export it, or give NAME=VALUE)", k)
				}
				v = val
			}
			env[k] = v
		}
		s["env"] = env
	}
	if len(o.headers) > 0 {
		h := map[string]string{}
		for _, e := range o.headers {
			k, v, ok := strings.Cut(e, "=")
			if !ok || k == "" || strings.ContainsAny(k, " \t:") {
				return nil, fmt.Errorf("--header %q: must be NAME=VALUE", e)
			}
			h[k] = v
		}
		s["headers"] = h
	}
	iso := map[string]any{}
	switch o.isolation {
	case "":
	case "on":
		iso["enabled"] = true
	case "off":
		iso["enabled"] = false
	default:
		return nil, fmt.Errorf("--isolation %q: must be on or off", o.isolation)
	}
	if o.image != "" {
		if o.url != "" {
			return nil, fmt.Errorf("--image is for a stdio server (an HTTP server runs elsewhere)")
		}
		iso["image"] = o.image
	}
	if len(iso) > 0 {
		s["isolation"] = iso
	}
	if o.disabled {
		s["enabled"] = false
	}
	return s, nil
}
