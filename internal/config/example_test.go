package config_test

import (
	"fmt"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

func ExampleParse() {
	c, err := config.Parse([]byte(`{
  // Claude Desktop style: the key is the server's name.
  "mcpServers": {
    "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
    "remote": {"url": "https://example.com/mcp"},
  },
  "docker_isolation": {"enabled": true, "default_images": {"python": "python:3.12"}},
}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range c.Servers {
		fmt.Println(s.Name, s.Transport())
	}
	di := c.DockerIsolation
	fmt.Println(di.Enabled, di.MemoryLimit, di.Timeout.D(), di.DefaultImages["python"], di.DefaultImages["npx"])
	// Output:
	// fs stdio
	// remote http
	// true 512m 30s python:3.12 node:20
}

func ExampleValidationError() {
	_, err := config.Parse([]byte(`{
  "mcpServers": [
    {"name": "a"},
    {"name": "b", "command": "uvx", "args": "pkg"}
  ],
  "docker_isolation": {"memory_limit": "lots"}
}`))
	fmt.Println(err)
	// Output:
	// 3:5: mcpServers[0].command: required for stdio servers (or set "url" for an HTTP server)
	// 4:45: mcpServers[1].args: must be an array of strings
	// 6:40: docker_isolation.memory_limit: must be a size such as "512m" or "1g" (a number of bytes with an optional b, k, m or g suffix, at least 6m: docker refuses less)
}
