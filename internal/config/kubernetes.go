package config

import (
	"fmt"
	"strings"

	"github.com/tailscale/hujson"
)

// Isolation backends (docker_isolation.backend).
const (
	// BackendDocker runs each isolated server as a local Docker container
	// (the default).
	BackendDocker = "docker"
	// BackendKubernetes runs each isolated server as a pod in a cluster
	// (docker_isolation.kubernetes says which).
	BackendKubernetes = "kubernetes"
)

// Kubernetes is the docker_isolation.kubernetes block: where the
// kubernetes backend runs its pods. Every key is optional.
type Kubernetes struct {
	// Kubeconfig is the kubeconfig file; "" means $KUBECONFIG, then
	// ~/.kube/config (or the pod's service account when mcpproxy runs in
	// a cluster without one).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// InCluster uses the service account of the pod mcpproxy runs in.
	InCluster bool `json:"in_cluster,omitempty"`
	// Context is the kubeconfig context; "" is its current one.
	Context string `json:"context,omitempty"`
	// Namespace holds the servers' pods; "" is the context's namespace
	// (in a cluster: mcpproxy's own), else "default".
	Namespace string `json:"namespace,omitempty"`
	// ServiceAccount runs the servers' pods (its token is never mounted).
	ServiceAccount string `json:"service_account,omitempty"`
	// RuntimeClassName selects a sandboxed runtime (gVisor, Kata).
	RuntimeClassName string `json:"runtime_class_name,omitempty"`
	// NodeSelector constrains the nodes the pods run on.
	NodeSelector map[string]string `json:"node_selector,omitempty"`
	// ImagePullPolicy is the pods' policy: "IfNotPresent" (default),
	// "Always" or "Never".
	ImagePullPolicy string `json:"image_pull_policy,omitempty"`
}

// Clone returns a deep copy of k.
func (k Kubernetes) Clone() Kubernetes {
	k.NodeSelector = cloneMap(k.NodeSelector)
	return k
}

// kubernetesBlock is the strict docker_isolation.kubernetes block.
var kubernetesBlock = &block{where: `"docker_isolation.kubernetes"`, keys: jsonKeys(Kubernetes{}), strict: true}

// kubernetes decodes the docker_isolation.kubernetes block into k.
func (d *decoder) kubernetes(p string, v *hujson.Value, k *Kubernetes) {
	d.members(p, v, "must be an object", kubernetesBlock, func(key, kp string, v *hujson.Value) {
		switch key {
		case "kubeconfig":
			d.str(kp, v, &k.Kubeconfig)
		case "in_cluster":
			d.boolean(kp, v, &k.InCluster)
		case "context":
			d.str(kp, v, &k.Context)
		case "namespace":
			d.str(kp, v, &k.Namespace)
		case "service_account":
			d.str(kp, v, &k.ServiceAccount)
		case "runtime_class_name":
			d.str(kp, v, &k.RuntimeClassName)
		case "node_selector":
			d.stringMap(kp, v, &k.NodeSelector)
		case "image_pull_policy":
			d.str(kp, v, &k.ImagePullPolicy)
		}
	})
}

var (
	// dnsLabelRe is an RFC 1123 label as Kubernetes names namespaces.
	dnsLabelRe = newLazyRegexp(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// dnsSubdomainRe is an RFC 1123 subdomain (service accounts, runtime
	// classes, label key prefixes).
	dnsSubdomainRe = newLazyRegexp(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// labelNameRe is a label key's name part, and a non-empty label value.
	labelNameRe = newLazyRegexp(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
)

func validDNSLabel(s string) bool     { return len(s) <= 63 && dnsLabelRe.MatchString(s) }
func validDNSSubdomain(s string) bool { return len(s) <= 253 && dnsSubdomainRe.MatchString(s) }

// validLabelKey accepts [prefix/]name: a DNS subdomain prefix and a name of
// at most 63 characters.
func validLabelKey(s string) bool {
	prefix, name, ok := strings.Cut(s, "/")
	if !ok {
		prefix, name = "", s
	} else if !validDNSSubdomain(prefix) {
		return false
	}
	return len(name) <= 63 && labelNameRe.MatchString(name)
}

func validLabelValue(s string) bool { return s == "" || len(s) <= 63 && labelNameRe.MatchString(s) }

// backend checks docker_isolation.backend and, for the kubernetes backend,
// its block and the settings a cluster cannot carry out: docker run
// arguments (extra_args, global or per server) and Docker network modes
// other than bridge and none.
func (v *validator) backend(c *Config, serverPath func(int) string) {
	p := "docker_isolation"
	d := &c.DockerIsolation
	switch d.Backend {
	case "", BackendDocker: // "" is the zero value of a config built in code
		return
	case BackendKubernetes:
	default:
		v.add(p+".backend", fmt.Sprintf(`%q is not a backend: use "docker" (local containers, the default) or "kubernetes" (pods in a cluster)`, d.Backend))
		return
	}
	v.kubernetes(p+".kubernetes", &d.Kubernetes)
	const argsMsg = `docker run arguments do not apply to the kubernetes backend (pods are built from the typed settings); remove them, or set docker_isolation.backend to "docker"`
	if len(d.ExtraArgs) > 0 {
		v.add(p+".extra_args", argsMsg)
	}
	netMsg := func(mode string) string {
		return fmt.Sprintf(`%q has no meaning in a cluster: use "bridge" (the pod network) or "none" (a deny-all NetworkPolicy)`, mode)
	}
	if !kubeNetwork(d.NetworkMode) && validNetworkMode(d.NetworkMode) {
		v.add(p+".network_mode", netMsg(d.NetworkMode))
	}
	for i, s := range c.Servers {
		if s == nil || s.Isolation == nil {
			continue
		}
		ip := serverPath(i) + ".isolation"
		if len(s.Isolation.ExtraArgs) > 0 {
			v.add(ip+".extra_args", argsMsg)
		}
		if len(s.Isolation.Mounts) > 0 {
			v.add(ip+".mounts", `host paths do not exist on cluster nodes; remove them, or set docker_isolation.backend to "docker"`)
		}
		if m := s.Isolation.NetworkMode; m != "" && !kubeNetwork(m) && validNetworkMode(m) {
			v.add(ip+".network_mode", netMsg(m))
		}
	}
}

// kubeNetwork reports whether the kubernetes backend can carry out mode.
func kubeNetwork(mode string) bool {
	return mode == "bridge" || mode == "none" || mode == "default"
}

func (v *validator) kubernetes(p string, k *Kubernetes) {
	if k.InCluster && k.Kubeconfig != "" {
		v.add(p+".in_cluster", `in_cluster and kubeconfig exclude each other: remove one (in_cluster is for mcpproxy running in a pod)`)
	}
	if strings.ContainsRune(k.Kubeconfig, 0) {
		v.add(p+".kubeconfig", "must not contain a NUL byte")
	}
	if k.Namespace != "" && !validDNSLabel(k.Namespace) {
		v.add(p+".namespace", `must be a namespace name: up to 63 lowercase letters, digits and "-", such as "mcp-servers"`)
	}
	if k.ServiceAccount != "" && !validDNSSubdomain(k.ServiceAccount) {
		v.add(p+".service_account", `must be a service account name: lowercase letters, digits, "-" and ".", such as "mcp-servers"`)
	}
	if k.RuntimeClassName != "" && !validDNSSubdomain(k.RuntimeClassName) {
		v.add(p+".runtime_class_name", `must be a RuntimeClass name: lowercase letters, digits, "-" and ".", such as "gvisor"`)
	}
	for _, key := range sortedKeys(k.NodeSelector) {
		kp := joinKey(p+".node_selector", key)
		switch {
		case !validLabelKey(key):
			v.add(kp, `must be a label key such as "pool" or "example.com/pool"`)
		case !validLabelValue(k.NodeSelector[key]):
			v.add(kp, `value must be a label value: up to 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit`)
		}
	}
	switch k.ImagePullPolicy {
	case "", "IfNotPresent", "Always", "Never":
	default:
		v.add(p+".image_pull_policy", fmt.Sprintf(`%q is not a pull policy: use "IfNotPresent" (the default), "Always" or "Never"`, k.ImagePullPolicy))
	}
}
