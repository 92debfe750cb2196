package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// PodSettings are the cluster-side settings every pod of a Runtime shares
// (the docker_isolation.kubernetes block).
type PodSettings struct {
	// Namespace holds the pods, their Secrets and NetworkPolicies.
	Namespace string
	// ServiceAccount runs the pods; "" is the namespace's default. Its
	// token is never mounted into a server's pod.
	ServiceAccount string
	// RuntimeClassName selects a container runtime (gVisor, Kata); "" is
	// the cluster's default.
	RuntimeClassName string
	// NodeSelector constrains where the pods are scheduled.
	NodeSelector map[string]string
	// ImagePullPolicy is the pods' pull policy ("" means IfNotPresent).
	ImagePullPolicy corev1.PullPolicy
	// Owner, when set, makes every object a dependent of this one (the
	// instance's Lease), so that deleting it deletes them.
	Owner *metav1.OwnerReference
}

// Objects are the Kubernetes objects one isolated server is made of: its pod,
// the Secret holding its environment values (nil without env) and the
// NetworkPolicy that cuts its network (nil unless its network is "none").
// The Secret and the policy are created first, so that the pod never runs
// without them, and then adopted by the pod (an owner reference), so that
// deleting the pod deletes them.
type Objects struct {
	Pod    *corev1.Pod
	Secret *corev1.Secret
	Policy *networkingv1.NetworkPolicy
	// Notes say, one line each, which settings of the plan the cluster
	// enforces differently from Docker or not at all.
	Notes []string
}

// UnsupportedError says a Plan holds a setting this backend cannot carry out
// in a cluster (a host path, Docker-only arguments, a Docker network).
type UnsupportedError struct {
	// Setting names it ("mount /data", "extra_args", "network_mode").
	Setting string
	// Detail says why and what to do instead.
	Detail string
}

func (e *UnsupportedError) Error() string {
	return "kubernetes backend cannot run this server: " + e.Setting + ": " + e.Detail
}

// Notes BuildObjects adds, for the list view and the debug log.
const (
	NoteNetworkPolicy = "network none: a deny-all NetworkPolicy; it is enforced only if the cluster's network plugin enforces NetworkPolicy"
	notePidsLimit     = "pids_limit %d: the node's podPidsLimit (kubelet setting) applies instead; Kubernetes has no per-pod PID limit, and a server that hits the node's is not reported as such (no shim in the pod to read its pids.events), only its exit"
	noteNoFile        = "nofile %d: not set; the node's container runtime default applies"
	noteInit          = "init: no reaping init process in the pod"
	noteTmpfsMode     = "tmpfs %s: a memory-backed emptyDir; its mode is 0777 (only the server's user runs in the pod)"
)

// envSecretKey is the Secret key holding variable name: the name itself when
// it is a valid key, otherwise "x-" and a hash of it.
func envSecretKey(name string) string {
	if len(validation.IsConfigMapKey(name)) == 0 {
		return name
	}
	h := sha256.Sum256([]byte(name))
	return "x-" + hex.EncodeToString(h[:])
}

// BuildObjects turns plan into the objects that run it as a pod: pure data,
// no cluster call. The pod runs the plan's image with its command as the
// image's CMD (as `docker run IMAGE CMD…` does), stdin open for attach, no
// restarts, no service account token and no service links; resources.limits
// from MemoryBytes and MilliCPUs (requests equal them); the plan's user,
// read-only root, capabilities and no-new-privileges as the securityContext,
// with RuntimeDefault seccomp always; a memory-backed, size-capped emptyDir
// for each Tmpfs; a PersistentVolumeClaim of the volume's name for each
// volume Mount. Environment values go into the Secret and reach the container
// through secretKeyRef: the pod spec holds variable names only.
//
// A plan holding what a cluster cannot carry out (host path mounts,
// DockerArgs, a network other than bridge or none, a malformed user) is an
// *UnsupportedError naming the setting.
func BuildObjects(plan *isolation.Plan, opts isolation.StartOptions, s PodSettings) (Objects, error) {
	var out Objects
	if err := supported(plan); err != nil {
		return out, err
	}
	name := objectName(opts.Name)
	labels, annotations, err := objectLabels(opts.Labels, name)
	if err != nil {
		return out, &UnsupportedError{Setting: "labels", Detail: err.Error()}
	}
	annotations[annotationName] = opts.Name
	if plan.Profile != "" {
		annotations[annotationProfile] = plan.Profile
	}
	meta := func() metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: maps.Clone(labels), Annotations: maps.Clone(annotations)}
		if s.Owner != nil {
			m.OwnerReferences = []metav1.OwnerReference{*s.Owner}
		}
		return m
	}

	c := corev1.Container{
		Name:            containerName,
		Image:           plan.Image,
		Args:            append([]string{plan.Command}, plan.Args...),
		WorkingDir:      plan.WorkingDir,
		Stdin:           true,
		StdinOnce:       true,
		ImagePullPolicy: s.ImagePullPolicy,
	}
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = corev1.PullIfNotPresent
	}
	if plan.Home != "" && !hasEnv(opts.Env, "HOME") {
		c.Env = append(c.Env, corev1.EnvVar{Name: "HOME", Value: plan.Home})
	}
	if len(opts.Env) > 0 {
		sec := &corev1.Secret{ObjectMeta: meta(), Type: corev1.SecretTypeOpaque, Immutable: ptr(true), Data: map[string][]byte{}}
		for _, n := range sortedKeys(opts.Env) {
			if errs := validation.IsRelaxedEnvVarName(n); len(errs) > 0 {
				return out, &UnsupportedError{Setting: fmt.Sprintf("env %q", n), Detail: "not a valid variable name in a pod: " + strings.Join(errs, "; ")}
			}
			key := envSecretKey(n)
			sec.Data[key] = []byte(opts.Env[n])
			c.Env = append(c.Env, corev1.EnvVar{Name: n, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key},
			}})
		}
		out.Secret = sec
	}
	if plan.MemoryBytes > 0 || plan.MilliCPUs > 0 {
		lim := corev1.ResourceList{}
		if plan.MemoryBytes > 0 {
			lim[corev1.ResourceMemory] = *resource.NewQuantity(plan.MemoryBytes, resource.BinarySI)
		}
		if plan.MilliCPUs > 0 {
			lim[corev1.ResourceCPU] = *resource.NewMilliQuantity(plan.MilliCPUs, resource.DecimalSI)
		}
		c.Resources = corev1.ResourceRequirements{Limits: lim, Requests: lim.DeepCopy()}
	}
	sc, podSC, err := securityContexts(plan)
	if err != nil {
		return out, err
	}
	c.SecurityContext = sc

	spec := corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		AutomountServiceAccountToken:  ptr(false),
		EnableServiceLinks:            ptr(false),
		ServiceAccountName:            s.ServiceAccount,
		NodeSelector:                  maps.Clone(s.NodeSelector),
		TerminationGracePeriodSeconds: ptr(int64(terminationGrace)),
		SecurityContext:               podSC,
	}
	if s.RuntimeClassName != "" {
		spec.RuntimeClassName = ptr(s.RuntimeClassName)
	}
	for i, t := range plan.Tmpfs {
		vol := fmt.Sprintf("tmpfs-%d", i)
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: resource.NewQuantity(t.SizeBytes, resource.BinarySI)},
		}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: t.Path})
		out.Notes = append(out.Notes, fmt.Sprintf(noteTmpfsMode, t.Path))
	}
	for i, m := range plan.Mounts {
		vol := fmt.Sprintf("volume-%d", i)
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: objectName(m.Source), ReadOnly: m.ReadOnly},
		}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: m.Target, ReadOnly: m.ReadOnly})
	}
	spec.Containers = []corev1.Container{c}
	out.Pod = &corev1.Pod{ObjectMeta: meta(), Spec: spec}

	if plan.Network == "none" {
		out.Policy = &networkingv1.NetworkPolicy{
			ObjectMeta: meta(),
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{labelPod: name}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			},
		}
		out.Notes = append(out.Notes, NoteNetworkPolicy)
	}
	if plan.PidsLimit > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf(notePidsLimit, plan.PidsLimit))
	}
	if plan.NoFile > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf(noteNoFile, plan.NoFile))
	}
	if plan.Init {
		out.Notes = append(out.Notes, noteInit)
	}
	return out, nil
}

// terminationGrace is how long the kubelet waits after SIGTERM when a pod is
// deleted without a grace period of its own.
const terminationGrace = 5

// supported refuses what a cluster cannot carry out.
func supported(plan *isolation.Plan) error {
	if args := plan.DockerArgs; len(args) > 0 {
		return &UnsupportedError{Setting: "extra_args " + strconv.Quote(strings.Join(args, " ")),
			Detail: "extra_args are docker run arguments (a Docker-only escape hatch); remove them from docker_isolation.extra_args and the server's isolation.extra_args to run on the kubernetes backend"}
	}
	switch n := plan.Network; n {
	case "", "bridge", "default", "none":
	case "host":
		return &UnsupportedError{Setting: "network_mode \"host\"", Detail: "a server's pod never shares the node's network; use \"bridge\" (the pod network) or \"none\""}
	default:
		return &UnsupportedError{Setting: "network_mode " + strconv.Quote(n), Detail: "Docker networks do not exist in a cluster; use \"bridge\" (the pod network) or \"none\""}
	}
	for _, m := range plan.Mounts {
		switch m.Type {
		case isolation.MountVolume:
			if m.Source == "" {
				return &UnsupportedError{Setting: "mount " + m.Target, Detail: "a volume mount without a volume name"}
			}
		default:
			return &UnsupportedError{Setting: fmt.Sprintf("mount %s at %s (%s)", m.Source, m.Target, m.Reason),
				Detail: "host paths do not exist on cluster nodes; remove the mount, or use a named volume (a PersistentVolumeClaim of that name)"}
		}
		if !strings.HasPrefix(m.Target, "/") {
			return &UnsupportedError{Setting: "mount " + m.Target, Detail: "the target must be an absolute path"}
		}
	}
	return nil
}

// securityContexts maps the plan's profile: the user as runAsUser/Group
// (runAsNonRoot unless it is uid 0) and the volumes' fsGroup, read-only
// root, capabilities, allowPrivilegeEscalation false with NoNewPrivileges,
// never privileged, and RuntimeDefault seccomp.
func securityContexts(plan *isolation.Plan) (*corev1.SecurityContext, *corev1.PodSecurityContext, error) {
	seccomp := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	sc := &corev1.SecurityContext{
		Privileged:     ptr(false),
		SeccompProfile: seccomp,
	}
	pod := &corev1.PodSecurityContext{SeccompProfile: seccomp}
	if plan.User != "" {
		uid, gid, err := parseUser(plan.User)
		if err != nil {
			return nil, nil, &UnsupportedError{Setting: "user " + strconv.Quote(plan.User), Detail: err.Error()}
		}
		sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot = &uid, &gid, ptr(uid != 0)
		pod.FSGroup = ptr(gid)
		pod.FSGroupChangePolicy = ptr(corev1.FSGroupChangeOnRootMismatch)
	}
	if plan.ReadOnlyRoot {
		sc.ReadOnlyRootFilesystem = ptr(true)
	}
	if plan.NoNewPrivileges {
		sc.AllowPrivilegeEscalation = ptr(false)
	}
	if len(plan.CapDrop) > 0 || len(plan.CapAdd) > 0 {
		sc.Capabilities = &corev1.Capabilities{Drop: capabilities(plan.CapDrop), Add: capabilities(plan.CapAdd)}
	}
	return sc, pod, nil
}

// parseUser reads "uid:gid" (a lone "uid" means gid = uid).
func parseUser(u string) (uid, gid int64, err error) {
	us, gs, ok := strings.Cut(u, ":")
	if !ok {
		gs = us
	}
	uid, err1 := strconv.ParseInt(us, 10, 64)
	gid, err2 := strconv.ParseInt(gs, 10, 64)
	if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf(`a pod needs a numeric "uid:gid"`)
	}
	return uid, gid, nil
}

// capabilities normalizes names to Kubernetes' form: upper case, no CAP_.
func capabilities(names []string) []corev1.Capability {
	var out []corev1.Capability
	for _, n := range names {
		out = append(out, corev1.Capability(strings.TrimPrefix(strings.ToUpper(n), "CAP_")))
	}
	return out
}

func hasEnv(env map[string]string, name string) bool {
	_, ok := env[name]
	return ok
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func ptr[T any](v T) *T { return &v }
