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
	argv := d.Plan.RunArgs(isolation.ContainerName(server.Name, "ab12"), "", map[string]string{"com.mcpproxy.managed": "true"})
	fmt.Println(strings.Join(argv, " "))
	// Output:
	// true global docker isolation enabled
	// run -i --rm --name mcpproxy-fetch-ab12 --label com.mcpproxy.managed=true --memory 512m --cpus 1.0 --network none -e API_KEY node:20 npx -y some-mcp-server
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
