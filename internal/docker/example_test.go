package docker_test

import (
	"fmt"

	"github.com/mcpproxy/mcpproxy/internal/docker"
)

func ExamplePlanSpawn() {
	// docker was not found as a file: the login shell runs it, with every
	// argument passed as a positional parameter.
	sp := docker.PlanSpawn(docker.Resolution{}, []string{"run", "-i", "--rm", "-e", "API_KEY", "node:20", "npx", "pkg"},
		docker.Environ{GOOS: "linux", Getenv: func(string) string { return "" }})
	fmt.Println(sp.Mode)
	fmt.Printf("%q\n", sp.Argv)
	// Output:
	// login-shell
	// ["/bin/sh" "-l" "-c" "docker \"$@\"" "docker" "run" "-i" "--rm" "-e" "API_KEY" "node:20" "npx" "pkg"]
}

func ExampleChildEnv() {
	res := docker.Resolution{Path: "/Applications/Docker.app/Contents/Resources/bin/docker", Source: docker.SourceWellKnown}
	fmt.Println(docker.ChildEnv([]string{"HOME=/Users/me", "PATH=/usr/bin:/bin"}, res))
	// Output:
	// [HOME=/Users/me PATH=/Applications/Docker.app/Contents/Resources/bin:/usr/bin:/bin]
}
