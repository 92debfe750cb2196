package isolation_test

import (
	"fmt"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

func ExampleDecide() {
	global := config.DefaultDockerIsolation()
	global.Enabled = true
	server := &config.Server{
		Name:    "fetch",
		Command: "npx",
		Args:    []string{"-y", "some-mcp-server"},
		Env:     map[string]string{"API_KEY": "never-in-argv"},
		Isolation: &config.ServerIsolation{
			NetworkMode: "none",
		},
	}
	d := isolation.Decide(global, server, "/usr/bin/docker")
	fmt.Println(d.Isolated, d.Reason)
	p := d.Plan
	fmt.Println(p.Image, p.Command, strings.Join(p.Args, " "))
	fmt.Println(p.Network, isolation.FormatMemory(p.MemoryBytes), isolation.FormatCPUs(p.MilliCPUs), p.EnvNames)
	// Output:
	// true global docker isolation enabled
	// node:20 npx -y some-mcp-server
	// none 512m 1 [API_KEY]
}

func ExampleQualifyImage() {
	fmt.Println(isolation.QualifyImage("node:20", "docker.io"))
	fmt.Println(isolation.QualifyImage("node:20", "registry.example:5000"))
	fmt.Println(isolation.QualifyImage("ghcr.io/astral-sh/uv:latest", "registry.example:5000"))
	// Output:
	// node:20
	// registry.example:5000/node:20
	// ghcr.io/astral-sh/uv:latest
}
