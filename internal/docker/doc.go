// Package docker is mcpproxy's Docker backend: Runtime runs isolation Plans
// as `docker run -i` containers (the first isolation.Runtime), RunArgs
// composes their argv, and under them the CLI driver finds the docker binary
// (PATH, well-known install locations, the login shell), decides how to exec
// it (directly, or through the login shell when the daemon environment lives
// only there), probes the daemon with a cache, checks and pulls images,
// lists and removes containers by ID, and reaps a crashed instance's
// containers without touching anyone else's.
//
// Everything that touches the OS is injectable (file system, environment,
// clock, command runner) so that each decision is unit-tested; the
// operations themselves are tested against the real engine.
//
// The pieces, in the order mcpproxy uses them:
//
//   - Resolver.Resolve finds the binary; PlanSpawn and ChildEnv say how to
//     exec it; Prober.Probe answers "is docker available" with a cache.
//   - HydrateFromLoginShell (once, the first time a configuration needs
//     docker, unless DOCKER_HOST/DOCKER_CONTEXT are exported) merges the
//     login shell's PATH and DOCKER_* variables into mcpproxy's environment,
//     after which docker is exec'd directly.
//   - AcquireInstance gives the process a unique ID (LabelInstance); Reap
//     removes, at start, the containers that dead instances of this host
//     and data directory left behind.
//   - Runtime.EnsureImage, Start (with the stdio shim's socket link),
//     ListManaged, Remove and Events; the Container it returns reports how
//     the server ended (exit code, OOM kill).
package docker
