package isolation

import (
	"strings"
)

// RuntimeBinary is the runtime of commands that are not a known interpreter
// or package runner; it uses default_images["binary"].
const RuntimeBinary = "binary"

// builtinRuntimes are the runtime keys of the spec's default_images table
// (except "binary").
var builtinRuntimes = map[string]bool{
	"python": true, "python3": true, "uvx": true, "pip": true, "pipx": true,
	"node": true, "npm": true, "npx": true, "yarn": true,
	"go": true, "cargo": true, "rustc": true,
	"ruby": true, "gem": true, "php": true, "composer": true,
	"sh": true, "bash": true,
}

// runtimeAliases are other names of a builtin runtime's executable.
var runtimeAliases = map[string]string{
	"nodejs": "node", // Debian and Ubuntu name the node binary nodejs
}

// DetectRuntime maps a command to a runtime key of the default_images table.
// It looks at the basename only, so "/usr/bin/python3" and "python3" agree;
// a Windows ".exe" suffix is ignored. Versioned names map to their family:
// "python3.12" → "python3", "python2.7" → "python", "pip3" → "pip",
// "node20" → "node", "go1.21" → "go", "php8.2" → "php". "nodejs" is "node".
// Everything else, including names that merely contain a runtime's name
// ("nodemon", "my-python-tool"), is "binary".
func DetectRuntime(command string) string {
	name := strings.ToLower(baseName(command))
	if builtinRuntimes[name] {
		return name
	}
	if r, ok := runtimeAliases[name]; ok {
		return r
	}
	family, version := splitVersion(name)
	if family == "" || version == "" {
		return RuntimeBinary
	}
	major, _, _ := strings.Cut(version, ".")
	if builtinRuntimes[family+major] { // python3.12 → python3
		return family + major
	}
	if builtinRuntimes[family] {
		return family
	}
	return RuntimeBinary
}

// detectRuntime is DetectRuntime extended by the user's table: a command
// whose basename is itself a key of default_images (say "deno" after the
// user added "deno": "denoland/deno:2") uses that key.
func detectRuntime(command string, images map[string]string) string {
	name := baseName(command)
	if name != RuntimeBinary && images[name] != "" {
		return name
	}
	return DetectRuntime(command)
}

// splitVersion splits "python3.12" into "python" and "3.12". The version must
// start with a digit and consist of digits and single dots.
func splitVersion(name string) (family, version string) {
	i := strings.IndexAny(name, "0123456789")
	if i <= 0 {
		return "", ""
	}
	family, version = name[:i], name[i:]
	prevDot := false
	for _, r := range version {
		switch {
		case r >= '0' && r <= '9':
			prevDot = false
		case r == '.' && !prevDot:
			prevDot = true
		default:
			return "", ""
		}
	}
	if prevDot {
		return "", ""
	}
	return family, version
}

// baseName is the last element of a path with either separator, without a
// Windows ".exe" suffix. It does not consult the host OS, so it answers the
// same for a config written on any platform.
func baseName(command string) string {
	if i := strings.LastIndexAny(command, `/\`); i >= 0 {
		command = command[i+1:]
	}
	if len(command) > 4 && strings.EqualFold(command[len(command)-4:], ".exe") {
		command = command[:len(command)-4]
	}
	return command
}

// IsDockerCommand reports whether command is the docker CLI: its basename is
// "docker" (also "docker.exe" and Docker Desktop's "com.docker.cli"), or it
// equals dockerPath, the resolved docker binary. Names that merely contain
// "docker" ("my-docker-wrapper", "/opt/docker-tools/bin/uvx", "dockerize")
// are not docker.
func IsDockerCommand(command, dockerPath string) bool {
	if command == "" {
		return false
	}
	switch strings.ToLower(baseName(command)) {
	case "docker", "com.docker.cli":
		return true
	}
	return dockerPath != "" && command == dockerPath
}

// Setup scripts install a tool the image lacks, then exec it. The server's
// arguments are never part of the script: they follow it as positional
// parameters ("$@"), so no quoting can break out. The installer's stdout is
// sent to stderr because the container's stdout is the MCP channel.
//
// The tool is installed for the user (pip --user) into $PYTHONUSERBASE
// (default ~/.local): the one writable place of a hardened container
// besides /tmp. With a package cache volume PYTHONUSERBASE lies in it
// (cache.go), so the tool installed at the first start is found, not
// installed again, at the next.
const (
	uvxSetupScript  = `bin="${PYTHONUSERBASE:-$HOME/.local}/bin"; PATH="$bin:$PATH"; export PATH; [ -x "$bin/uvx" ] || pip install --quiet --disable-pip-version-check --user uv >&2 || exit 1; exec uvx "$@"`
	pipxSetupScript = `bin="${PYTHONUSERBASE:-$HOME/.local}/bin"; PATH="$bin:$PATH"; export PATH; [ -x "$bin/pipx" ] || pip install --quiet --disable-pip-version-check --user pipx >&2 || exit 1; exec pipx "$@"`
)

// containerCommand says what runs inside the container.
//
//   - Known runtimes run the command's basename (without ".exe") with the
//     same arguments: "/usr/local/bin/python3.12" becomes "python3.12", which
//     the image must provide. Versions are kept, not rewritten to the image's
//     interpreter, so a mismatch fails loudly instead of silently running a
//     different interpreter.
//   - "binary" (unknown) commands run exactly as configured, host paths
//     included: a custom image (isolation.image) must provide that path.
//   - uvx and pipx on the official python image (which ships pip but neither
//     tool) are installed first, through `sh -c SCRIPT <tool> ARGS…`; see
//     lacksTool.
func containerCommand(runtime, command string, args []string, image string) (cmd string, cargs []string, setup string) {
	cargs = append([]string(nil), args...)
	if runtime == RuntimeBinary {
		return command, cargs, ""
	}
	cmd = baseName(command)
	if (runtime == "uvx" || runtime == "pipx") && lacksTool(image) {
		script := uvxSetupScript
		if runtime == "pipx" {
			script = pipxSetupScript
		}
		// sh -c SCRIPT NAME ARGS…: NAME becomes $0, ARGS become "$@".
		return "sh", append([]string{"-c", script, runtime}, cargs...), runtime
	}
	return cmd, cargs, ""
}

// lacksTool reports whether image is the official python image, which has
// pip but not uv or pipx. Any other image (uv's own, a custom one) is
// expected to provide the tool itself.
func lacksTool(image string) bool {
	repo := repository(image)
	return repo == "python" || repo == "library/python"
}
