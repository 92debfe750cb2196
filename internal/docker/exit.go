package docker

import (
	"fmt"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// exitOf says how container name ended, from the exit code of its `docker
// run` (which mirrors the container's, and is 137 after a SIGKILL) and
// whether the engine reported an OOM kill. memoryBytes is the plan's limit,
// named in the OOM reason. code -1 means unknown. pidsHits is how many
// times the container's PID limit (pidsLimit, the plan's) refused a
// process, as the stdio shim reported it (≤ 0: never, or unknown); the
// reason then says the server had hit it, and names the setting.
func exitOf(name string, code int, oom bool, memoryBytes, pidsLimit, pidsHits int64) isolation.Exit {
	e := isolation.Exit{Code: code}
	switch {
	case oom:
		e.OOMKilled = true
		e.Reason = fmt.Sprintf("container %s was OOM-killed: the server exceeded its memory limit (%s)", name, isolation.FormatMemory(memoryBytes))
	case code == 125:
		e.Reason = fmt.Sprintf("docker run failed for container %s (exit code 125: the engine refused it)", name)
	case code == 126:
		e.Reason = fmt.Sprintf("the command of container %s could not be run (exit code 126: not executable)", name)
	case code == 127:
		e.Reason = fmt.Sprintf("the command of container %s was not found in the image (exit code 127)", name)
	case code == 137:
		e.Reason = fmt.Sprintf("container %s was killed (exit code 137: SIGKILL, e.g. by docker or the kernel)", name)
	case code >= 0:
		e.Reason = fmt.Sprintf("container %s exited with code %d", name, code)
	}
	if pidsHits > 0 && !oom && code >= 0 && code != 125 {
		e.PidsLimitHits = pidsHits
		e.Reason += " " + isolation.PidsLimitHit(pidsLimit, pidsHits)
	}
	return e
}
