package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/apiclient"
	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/datadir"
	"github.com/mcpproxy/mcpproxy/internal/docker"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/kube"
)

// Env is what the checks look at; tests replace the resolver.
type Env struct {
	DataDir, ConfigPath string
	// Resolver finds the docker CLI (docker.NewResolver for the real OS).
	Resolver *docker.Resolver
}

// Run runs every check, in order.
func Run(ctx context.Context, e Env) []Result {
	var res []Result
	cfg, cfgResults := checkConfig(e)
	res = append(res, cfgResults...)
	res = append(res, checkDocker(ctx, e, cfg)...)
	res = append(res, checkListener(ctx, e))
	res = append(res, checkDataDir(e))
	return res
}

// checkConfig loads the config file: valid, or its problems; each warning
// (an unknown key) a WARN line. It returns the configuration the other
// checks judge (the defaults when there is none or it is invalid).
func checkConfig(e Env) (*config.Config, []Result) {
	cfg, err := config.Load(e.ConfigPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return config.Default(), []Result{{Status: OK, Check: "config", Detail: e.ConfigPath + " does not exist yet: the first `mcpproxy serve` creates it"}}
	case err != nil:
		var ve *config.ValidationError
		detail := err.Error()
		if errors.As(err, &ve) {
			var lines []string
			for _, p := range ve.Problems {
				lines = append(lines, p.String())
			}
			detail = fmt.Sprintf("%s is invalid (%d problems); the running proxy keeps its last valid configuration:\n%s", e.ConfigPath, len(ve.Problems), strings.Join(lines, "\n"))
		}
		return config.Default(), []Result{{Status: Fail, Check: "config", Detail: detail,
			Fix: "correct each problem in " + e.ConfigPath + " (`mcpproxy config validate` lists them with line:col)"}}
	}
	servers := fmt.Sprintf("%d servers", len(cfg.Servers))
	if len(cfg.Servers) == 1 {
		servers = "1 server"
	}
	out := []Result{{Status: OK, Check: "config", Detail: fmt.Sprintf("%s: valid (%s)", e.ConfigPath, servers)}}
	for _, w := range cfg.Warnings {
		out = append(out, Result{Status: Warn, Check: "config key", Detail: w.String(),
			Fix: "correct or remove the key in " + e.ConfigPath + " (mcpproxy ignores it)"})
	}
	return cfg, out
}

// sourceText says how the resolver found docker.
func sourceText(src string) string {
	switch src {
	case docker.SourcePath:
		return "found on PATH"
	case docker.SourceWellKnown:
		return "found at a well-known install location; it is not on PATH"
	case docker.SourceLoginShell:
		return "found through your login shell ($SHELL -l); it is not on PATH"
	}
	return "found by " + src
}

// isolatedImages are the images of the servers cfg isolates, each with the
// servers using it.
func isolatedImages(cfg *config.Config, dockerPath string) (map[string][]string, bool) {
	images := map[string][]string{}
	needs := false
	for _, s := range cfg.Servers {
		if !s.IsEnabled() || s.IsHTTP() {
			continue
		}
		if isolation.IsDockerCommand(s.Command, dockerPath) {
			needs = true
			continue
		}
		if d := isolation.Decide(cfg.DockerIsolation, s, dockerPath); d.Isolated {
			needs = true
			images[d.Plan.Image] = append(images[d.Plan.Image], s.Name)
		}
	}
	return images, needs
}

// checkDocker checks the docker CLI, the daemon and the isolated servers'
// images. Docker that is missing fails only when a server needs it.
func checkDocker(ctx context.Context, e Env, cfg *config.Config) []Result {
	if cfg.DockerIsolation.Backend == config.BackendKubernetes {
		return checkKubernetes(ctx, cfg)
	}
	res := e.Resolver.Resolve(ctx)
	images, needed := isolatedImages(cfg, res.Path)
	need := func(s Status) Status {
		if needed {
			return s
		}
		return Warn
	}
	var out []Result
	switch {
	case res.Path == "":
		st := Fail
		fix := "install Docker (Docker Engine or Docker Desktop) and put `docker` on PATH; or turn isolation off (docker_isolation.enabled: false) and the servers run on the host"
		detail := "not found on PATH, at the well-known locations (" + strings.Join(docker.WellKnownPaths(runtime.GOOS, ""), ", ") + ", ~/…) or through the login shell"
		if !needed {
			st, fix = Warn, "nothing needs it now (no server runs in a container); install Docker to isolate stdio servers"
		}
		return append(out, Result{Status: st, Check: "docker binary", Detail: detail, Fix: fix})
	case !res.Absolute():
		out = append(out, Result{Status: need(Warn), Check: "docker binary", Detail: fmt.Sprintf("%q is a function or alias of your login shell (%s): every docker call goes through $SHELL -l", res.Path, sourceText(res.Source)),
			Fix: "install the docker CLI as a file on PATH (or at /usr/bin/docker)"})
	default:
		out = append(out, Result{Status: OK, Check: "docker binary", Detail: res.Path + " (" + sourceText(res.Source) + ")"})
	}
	prober := &docker.Prober{Resolve: e.Resolver.Resolve}
	defer prober.Close()
	st := prober.Probe(ctx, true)
	if !st.Available {
		fix := "start the docker daemon (Docker Desktop, or `sudo systemctl start docker`); check DOCKER_HOST / DOCKER_CONTEXT, and that you may use its socket (the docker group)"
		s := Fail
		if !needed {
			s, fix = Warn, "nothing needs it now (no server runs in a container); "+fix
		}
		return append(out, Result{Status: s, Check: "docker daemon", Detail: "does not answer: " + st.Error, Fix: fix})
	}
	out = append(out, Result{Status: OK, Check: "docker daemon", Detail: "answers; server version " + st.Version})
	if len(images) == 0 {
		why := "docker_isolation.enabled is false"
		if cfg.DockerIsolation.Enabled {
			why = "no enabled stdio server is isolated"
		}
		return append(out, Result{Status: OK, Check: "images", Detail: "no server runs in a container (" + why + ")"})
	}
	cli := docker.NewCLI(res, docker.Environ{}, nil)
	refs := make([]string, 0, len(images))
	for ref := range images {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	for _, ref := range refs {
		servers := images[ref]
		slices.Sort(servers)
		used := "for " + strings.Join(servers, ", ")
		ok, err := cli.ImageExists(ctx, ref)
		switch {
		case err != nil:
			out = append(out, Result{Status: Fail, Check: "image " + ref, Detail: "cannot be checked: " + err.Error(), Fix: "check the docker daemon"})
		case ok:
			out = append(out, Result{Status: OK, Check: "image " + ref, Detail: "present (" + used + ")"})
		default:
			out = append(out, Result{Status: Fail, Check: "image " + ref, Detail: "not present (" + used + "); the server's first start pulls it from " + isolation.RegistryOf(ref),
				Fix: "docker pull " + ref + " (or set isolation.image / docker_isolation.default_images to an image you have)"})
		}
	}
	return out
}

// checkListener asks the data dir's running proxy for /healthz and checks
// that it takes the config file's API key.
func checkListener(ctx context.Context, e Env) Result {
	owner, running, err := datadir.Running(e.DataDir)
	if err != nil {
		return Result{Status: Fail, Check: "listener", Detail: "cannot read the lock of " + e.DataDir + ": " + err.Error(), Fix: "check the data dir's permissions"}
	}
	if !running {
		return Result{Status: Fail, Check: "listener", Detail: "no mcpproxy serves " + e.DataDir, Fix: "start it: mcpproxy serve" + dataDirFlag(e)}
	}
	if owner.Listen == "" {
		return Result{Status: Fail, Check: "listener", Detail: fmt.Sprintf("mcpproxy pid %d holds %s but is not listening", owner.PID, e.DataDir),
			Fix: "see its log (" + e.DataDir + "/logs/main.log); another program may hold the address"}
	}
	cl, err := apiclient.FromConfig(e.DataDir, e.ConfigPath)
	if err != nil {
		return Result{Status: Fail, Check: "listener", Detail: fmt.Sprintf("mcpproxy pid %d listens on %s, but: %v", owner.PID, owner.Listen, err), Fix: "check the config file's api_key"}
	}
	if err := cl.Healthz(ctx); err != nil {
		return Result{Status: Fail, Check: "listener", Detail: fmt.Sprintf("mcpproxy pid %d should listen on %s but does not answer: %v", owner.PID, owner.Listen, err),
			Fix: "restart it (mcpproxy serve" + dataDirFlag(e) + "); a firewall or proxy variable (HTTP_PROXY) may be in the way"}
	}
	if _, err := cl.Servers(ctx); errors.Is(err, apiclient.ErrUnauthorized) {
		return Result{Status: Fail, Check: "listener", Detail: fmt.Sprintf("mcpproxy pid %d answers on %s but refuses the API key of %s", owner.PID, cl.Base, e.ConfigPath),
			Fix: "use the config file the proxy runs with (--config), or restart it after changing api_key"}
	}
	return Result{Status: OK, Check: "listener", Detail: fmt.Sprintf("mcpproxy pid %d answers on %s (web UI %s/ui/) and accepts the API key", owner.PID, cl.Base, cl.Base)}
}

func dataDirFlag(e Env) string {
	if e.DataDir == config.DefaultDataDir() {
		return ""
	}
	return " --data-dir " + e.DataDir
}

// checkDataDir checks that the data dir is its user's alone: owned by this
// user, not readable or writable by others (it holds the API key, trust
// state and sockets), and held by at most one mcpproxy.
func checkDataDir(e Env) Result {
	fi, err := os.Stat(e.DataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return Result{Status: OK, Check: "data dir", Detail: e.DataDir + " does not exist yet (created private at the first start)"}
	}
	if err != nil {
		return Result{Status: Fail, Check: "data dir", Detail: err.Error(), Fix: "check the path and its permissions"}
	}
	if !fi.IsDir() {
		return Result{Status: Fail, Check: "data dir", Detail: e.DataDir + " is not a directory", Fix: "move it away or pass another --data-dir"}
	}
	var problems []string
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		problems = append(problems, fmt.Sprintf("owned by uid %d, not by you (uid %d)", uid, os.Getuid()))
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		problems = append(problems, fmt.Sprintf("mode %04o lets other users in", perm))
	}
	if ci, err := os.Stat(e.ConfigPath); err == nil && runtime.GOOS != "windows" && ci.Mode().Perm()&0o077 != 0 {
		problems = append(problems, fmt.Sprintf("%s (it holds the API key) has mode %04o", e.ConfigPath, ci.Mode().Perm()))
	}
	if len(problems) > 0 {
		return Result{Status: Fail, Check: "data dir", Detail: e.DataDir + ": " + strings.Join(problems, "; "),
			Fix: fmt.Sprintf("chown -R $(id -u) %s && chmod 700 %s && chmod 600 %s", e.DataDir, e.DataDir, e.ConfigPath)}
	}
	owner, held, err := datadir.Running(e.DataDir)
	switch {
	case err != nil:
		return Result{Status: Fail, Check: "data dir", Detail: "cannot read its lock: " + err.Error(), Fix: "check " + e.DataDir + "/" + datadir.LockName}
	case held:
		return Result{Status: OK, Check: "data dir", Detail: fmt.Sprintf("%s: private, yours, held by one mcpproxy (pid %d)", e.DataDir, owner.PID)}
	}
	return Result{Status: OK, Check: "data dir", Detail: e.DataDir + ": private, yours, no mcpproxy holds it"}
}

// checkKubernetes checks the cluster of the kubernetes backend: that its
// API server answers and the credentials may do what the backend does in
// its namespace; and says which servers' network none is a NetworkPolicy,
// whose enforcement depends on the cluster's network plugin.
func checkKubernetes(ctx context.Context, cfg *config.Config) []Result {
	out := []Result{{Status: OK, Check: "docker", Detail: "docker_isolation.backend is kubernetes: isolated servers run as pods"}}
	rt := kube.New(kube.OptionsFromConfig(cfg.DockerIsolation.Kubernetes))
	st := rt.Probe(ctx, true)
	if st.Available {
		out = append(out, Result{Status: OK, Check: "kubernetes", Detail: fmt.Sprintf("API server %s (%s) answers; %s may run pods in namespace %s", st.Path, st.Version, st.Source, rt.Namespace())})
	} else {
		out = append(out, Result{Status: Fail, Check: "kubernetes", Detail: st.Error,
			Fix: "check docker_isolation.kubernetes (kubeconfig, context, namespace) and that the cluster answers (kubectl get --raw /readyz); deploy/kubernetes/rbac.yaml is the Role the backend needs"})
	}
	var none []string
	for _, s := range cfg.Servers {
		if !s.IsEnabled() || s.IsHTTP() {
			continue
		}
		if d := isolation.Decide(cfg.DockerIsolation, s, ""); d.Isolated && d.Plan.Network == "none" {
			none = append(none, s.Name)
		}
	}
	if len(none) > 0 {
		out = append(out, Result{Status: Warn, Check: "network none", Detail: strings.Join(none, ", ") + ": " + kube.NoteNetworkPolicy,
			Fix: "make sure the cluster's network plugin enforces NetworkPolicy (Calico and Cilium do; the plain bridge and flannel plugins do not), or treat these servers as having the pod network"})
	}
	return out
}
