// Package docker drives the Docker CLI for mcpproxy: it finds the docker
// binary (PATH, well-known install locations, the login shell), decides how
// to exec it (directly, or through the login shell when the daemon
// environment lives only there), probes the daemon with a cache, checks and
// pulls images, inspects, lists, stops and removes containers by ID, and
// tracks which mcpproxy instance is alive so that a crashed instance's
// containers can be reaped without touching anyone else's.
//
// Everything that touches the OS is injectable (file system, environment,
// clock, command runner) so that each decision is unit-tested; the
// operations themselves are tested against the real engine.
//
// The pieces, in the order mcpproxy uses them:
//
//   - HydrateFromLoginShell (macOS, once at start) merges the login shell's
//     PATH and DOCKER_* variables into a launchd-minimal environment.
//   - Resolver.Resolve finds the binary; PlanSpawn and ChildEnv say how to
//     exec it; Prober.Probe answers "is docker available" with a cache.
//   - AcquireInstance gives the process an ID whose liveness others can
//     check; Reap removes the containers of dead instances at start.
//   - CLI checks and pulls images and inspects, lists, stops and removes
//     containers, always by ID.
package docker
