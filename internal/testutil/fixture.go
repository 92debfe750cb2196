package testutil

// The fixture server's answers, for tests that decode them. See
// ./mcpfixture for its tools and flags.

// FixtureCrashCode is the exit code of the fixture's crash tool and of its
// -crash-after and -exit-after-init flags.
const FixtureCrashCode = 3

// FixtureProcess is one element of the JSON array list_pids returns.
type FixtureProcess struct {
	PID     int    `json:"pid"`
	Cmdline string `json:"cmdline"` // arguments joined by spaces
}

// FixtureIdentity is the JSON object whoami returns.
type FixtureIdentity struct {
	PID      int    `json:"pid"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	Hostname string `json:"hostname"`
	// MemoryLimit is the cgroup memory limit as the kernel prints it: a byte
	// count, "max" (cgroup v2, unlimited), or "" when no cgroup file is readable.
	MemoryLimit string `json:"memory_limit"`
}
