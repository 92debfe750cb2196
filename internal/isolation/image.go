package isolation

import (
	"regexp"
	"strings"
)

// dockerHubNames are the spellings of Docker Hub, docker's default registry.
var dockerHubNames = map[string]bool{
	"docker.io":            true,
	"index.docker.io":      true,
	"registry-1.docker.io": true,
}

// QualifyImage returns image as it is given to docker, given the configured
// registry.
//
// An image that already names a registry host is returned unchanged. The
// host is the first path component when the reference has more than one and
// that component contains '.' or ':' or is "localhost" (docker's own rule),
// so "ghcr.io/x/y:1" and "localhost:5000/y" keep their host while
// "myorg/tool:1" has none.
//
// When registry is Docker Hub ("docker.io", its other spellings, or "") the
// image is returned unchanged: Docker Hub is docker's default, so "node:20"
// already means docker.io/library/node:20, and a locally built image such as
// "myfixture:1" keeps resolving to the local image by its own name.
//
// Any other registry is prefixed verbatim: "node:20" with registry
// "registry.example:5000" becomes "registry.example:5000/node:20" and
// "myorg/tool:1" becomes "registry.example:5000/myorg/tool:1". A scheme or
// trailing slash on registry is dropped.
func QualifyImage(image, registry string) string {
	if image == "" || hasRegistryHost(image) {
		return image
	}
	registry = strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://")
	registry = strings.TrimRight(registry, "/")
	if registry == "" || dockerHubNames[strings.ToLower(registry)] {
		return image
	}
	return registry + "/" + image
}

// hasRegistryHost reports whether image's first path component is a
// registry host.
func hasRegistryHost(image string) bool {
	first, _, ok := strings.Cut(image, "/")
	if !ok {
		return false
	}
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// repository returns image's repository path without registry host, tag or
// digest: "docker.io/library/python:3.11" → "library/python",
// "python@sha256:…" → "python".
func repository(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if hasRegistryHost(image) {
		_, image, _ = strings.Cut(image, "/")
	}
	slash := strings.LastIndexByte(image, '/')
	if i := strings.LastIndexByte(image, ':'); i > slash {
		image = image[:i]
	}
	return image
}

// RegistryOf names the registry image is pulled from: its registry host, or
// "docker.io" (docker's default) when it names none.
func RegistryOf(image string) string {
	if hasRegistryHost(image) {
		host, _, _ := strings.Cut(image, "/")
		return host
	}
	return "docker.io"
}

// gitInstall matches an argument that installs a package from git: a pip
// or uv requirement ("git+https://…", "pkg @ git+ssh://…",
// "--from=git+https://…") or an npm spec ("git+https://…", "git://…",
// "github:owner/repo").
var gitInstall = regexp.MustCompile(`(^|[=@\s])(git\+[a-z]+://|git://|github:)`)

// gitImageKey is the default_images key of runtime when args install from
// git ("uvx-git", "pip-git", "pipx-git", "npx-git"): an image that has git.
// "" when runtime has none or nothing is installed from git.
func gitImageKey(runtime string, args []string) string {
	switch runtime {
	case "uvx", "pip", "pipx", "npx":
	default:
		return ""
	}
	for _, a := range args {
		if gitInstall.MatchString(a) {
			return runtime + "-git"
		}
	}
	return ""
}
