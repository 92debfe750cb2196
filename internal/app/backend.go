package app

import (
	"context"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/kube"
)

// The isolation backend: the Docker runtime (always built: servers whose
// command is docker use its CLI) or, when docker_isolation.backend is
// "kubernetes", a kube.Runtime that runs every isolated server as a pod. The
// choice is made once, from the configuration New loads, before any server
// starts; a different backend written to the file later takes effect at
// the next start (logged).

// selectBackend makes the launcher run isolated servers through the
// backend cfg names.
func (i *Isolation) selectBackend(cfg *config.Config) {
	i.backend = cfg.DockerIsolation.Backend
	if i.backend != config.BackendKubernetes {
		i.backend = config.BackendDocker
		return
	}
	k := cfg.DockerIsolation.Kubernetes
	leaseLabels := map[string]string{}
	for key, v := range i.launcher.Labels {
		if key != isolation.LabelManaged && key != isolation.LabelInstance {
			leaseLabels[key] = v
		}
	}
	o := kube.OptionsFromConfig(k)
	o.Instance, o.LeaseLabels, o.Logger = i.instance.ID, leaseLabels, i.a.log
	i.kube = kube.New(o)
	i.launcher.Runtime = i.kube
	// Docker's preparation (login-shell environment, stdio shim) is for
	// docker's containers; a server whose command is docker still gets it
	// through startPrepare when it needs the CLI.
	i.launcher.Prepare = nil
	i.a.log.Info("isolation backend: kubernetes (isolated servers run as pods)", "kubeconfig", k.Kubeconfig, "in_cluster", k.InCluster, "namespace", k.Namespace)
}

// usesDocker reports whether cfg runs anything through docker: a server
// whose command is docker, and with the docker backend an isolated server.
func (i *Isolation) usesDocker(cfg *config.Config, dockerPath string) bool {
	return isolation.RunsDockerCommand(cfg, dockerPath) || i.kube == nil && isolation.Isolates(cfg, dockerPath)
}

// backendChanged warns, once per value, when the file names another backend
// than the one in force.
func (i *Isolation) backendChanged(cfg *config.Config) {
	want := cfg.DockerIsolation.Backend
	if want == "" {
		want = config.BackendDocker
	}
	i.mu.Lock()
	fresh := want != i.backend && want != i.warnedBackend
	i.warnedBackend = want
	i.mu.Unlock()
	if fresh {
		i.a.log.Warn("docker_isolation.backend changed in the config file; it takes effect when mcpproxy restarts",
			"in_force", i.backend, "configured", want)
	}
}

// kubeStatus is the kubernetes backend's probe as docker_status.
func (i *Isolation) kubeStatus(ctx context.Context, refresh bool) httpapi.DockerStatus {
	st := i.kube.Probe(ctx, refresh)
	return httpapi.DockerStatus{Backend: config.BackendKubernetes, Available: st.Available, DockerPath: st.Path, Source: st.Source,
		Version: st.Version, CheckedAt: st.CheckedAt, Error: st.Error}
}

// openKube makes this instance known to the cluster (its Lease), removes
// the pods of instances whose Lease lapsed, and keeps both up to date until
// Close.
func (i *Isolation) openKube(ctx context.Context) {
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := i.kube.Open(octx); err != nil {
		i.a.log.Warn("kubernetes backend: could not register this instance or reap lapsed ones; retried at the first start", "error", err)
	}
}

// closeKube removes this instance's pods and its Lease.
func (i *Isolation) closeKube(timeout time.Duration) {
	i.kube.RemoveAll(timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := i.kube.Close(ctx); err != nil {
		i.a.log.Warn("kubernetes backend: releasing the instance Lease", "error", err)
	}
}
