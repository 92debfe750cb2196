package docker

import (
	"path/filepath"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// DisplayArgs is the `docker run` argv (after the docker binary) Start would
// use for plan as a container called name with labels: the same flags, the
// same choice of stdio (the shim when it is installed and the plan allows
// it). For people (the web UI, the API's server view); env values never
// appear in it.
func (r *Runtime) DisplayArgs(plan *isolation.Plan, name string, labels map[string]string) ([]string, error) {
	spec := RunSpec{Name: name, CIDFile: filepath.Join(r.RunDir, name+".cid"), Labels: labels}
	r.mu.Lock()
	shimBin := r.shimBinary
	r.mu.Unlock()
	if s := (Shim{Binary: shimBin, Socket: filepath.Join(r.RunDir, "io-"+name, "stdio.sock")}); shimBin != "" && ShimCompatible(plan, s) {
		spec.Shim = &s
	}
	return RunArgs(plan, spec)
}
