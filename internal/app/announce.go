package app

import (
	"fmt"
	"io"
	"net/url"
)

// announce tells the person who started the proxy, on the console only
// (never in a log), where everything is: the MCP endpoint, the web UI, the
// config file and the logs; a newly generated API key (shown this once);
// and, on the first run, what docker isolation means and how to turn it
// off or on.
func (a *App) announce(addr string) {
	w := a.opts.Console
	if w == nil {
		return
	}
	fmt.Fprintf(w, "\nmcpproxy is running.\n"+
		"  MCP endpoint: http://%s/mcp  (one server alone: http://%s/mcp/NAME)\n"+
		"  Web UI:       http://%s/ui/\n"+
		"  Config file:  %s\n"+
		"  Logs:         %s/logs (main.log, one server-NAME.log per server)\n"+
		"  Manage it:    mcpproxy upstream list, mcpproxy doctor\n",
		addr, addr, addr, a.opts.ConfigPath, a.opts.DataDir)
	if a.keyGenerated {
		fmt.Fprintf(w, "\nmcpproxy generated an API key for its REST API, web UI and `mcpproxy upstream` commands.\n"+
			"It is stored as \"api_key\" in %s and shown only this once:\n\n    %s\n\n"+
			"Sign in to the web UI with it, or open this link, which carries it in its #fragment (a browser never\n"+
			"sends a fragment to a server, so it reaches no log):\n\n    http://%s/ui/signin#key=%s\n\n"+
			"The commands read the key from the config file.\n", a.opts.ConfigPath, *a.apiKey.Load(), addr, url.QueryEscape(*a.apiKey.Load()))
	}
	if a.firstRun {
		a.explainIsolation(w, addr)
	}
	fmt.Fprintln(w)
}

// explainIsolation says, on the first run, what docker isolation is and
// how to change it.
func (a *App) explainIsolation(w io.Writer, addr string) {
	if di := a.loaded.DockerIsolation; di.Enabled {
		hardened := ""
		if di.Hardened {
			hardened = ", no capabilities, a read-only root and a non-root user"
		}
		fmt.Fprintf(w, "\nDocker isolation is ON (Docker answered at this first start). Every stdio server runs in its own\n"+
			"container: it sees no host file but the paths its arguments name (read-only), gets %s of memory\n"+
			"and %s CPU%s, and cannot reach your home, keys or other processes.\n"+
			"HTTP servers and servers whose command is docker are not wrapped.\n"+
			"To turn it off (servers then run on the host with your rights): set \"docker_isolation\": {\"enabled\": false}\n"+
			"in %s, or use the Security page of the web UI (http://%s/ui/security).\n",
			di.MemoryLimit, di.CPULimit, hardened, a.opts.ConfigPath, addr)
		return
	}
	fmt.Fprintf(w, "\nDocker isolation is OFF: Docker did not answer at this first start, so stdio servers run on the host\n"+
		"with your user's rights. With Docker running, turn it on to run each server in its own container:\n"+
		"set \"docker_isolation\": {\"enabled\": true} in %s, or use the Security page of the web UI\n"+
		"(http://%s/ui/security). `mcpproxy doctor` says what is missing.\n", a.opts.ConfigPath, addr)
}
