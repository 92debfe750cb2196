package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

// inClusterNamespace is where a pod finds its own namespace.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// connection is a ready API client and where it points. It holds REST
// clients for the four API groups the backend uses, with a scheme of just
// their types: client-go's full clientset registers every API group of
// Kubernetes at start-up, which would cost every mcpproxy ~9 MB of
// resident memory whether or not it uses this backend.
type connection struct {
	core, coordination, networking, authorization *rest.RESTClient
	rest                                          *rest.Config
	// ns is the namespace the backend works in.
	ns string
	// host is the API server's URL; source says how the credentials were
	// found ("in-cluster", "kubeconfig /path (context x)").
	host, source string
}

// connect builds the API client from the options: in-cluster credentials
// when InCluster is set (or when no kubeconfig exists and mcpproxy runs in a
// pod), otherwise the kubeconfig (Kubeconfig, else $KUBECONFIG, else
// ~/.kube/config) with its Context. The namespace is Namespace, else the
// context's (in a pod: the pod's own), else "default".
func connect(o Options) (*connection, error) {
	var (
		cfg    *rest.Config
		ns     string
		source string
		err    error
	)
	inCluster := o.InCluster
	if !inCluster && o.Kubeconfig == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" && !defaultKubeconfigExists() {
		inCluster = true
	}
	if inCluster {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster credentials: %w (docker_isolation.kubernetes.in_cluster is for mcpproxy running in a pod)", err)
		}
		source = "in-cluster service account"
		if b, rerr := os.ReadFile(inClusterNamespace); rerr == nil {
			ns = strings.TrimSpace(string(b))
		}
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		o.Kubeconfig = expandHome(o.Kubeconfig)
		if o.Kubeconfig != "" {
			rules.ExplicitPath = o.Kubeconfig
		}
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context})
		file := firstNonEmpty(o.Kubeconfig, strings.Join(rules.Precedence, string(os.PathListSeparator)))
		cfg, err = cc.ClientConfig()
		if err != nil {
			if clientcmd.IsEmptyConfig(err) {
				return nil, errors.New("no kubeconfig found: set docker_isolation.kubernetes.kubeconfig (or $KUBECONFIG), or in_cluster: true when mcpproxy runs in a pod")
			}
			return nil, kubeconfigError(o, cc, file, err)
		}
		ns, _, _ = cc.Namespace()
		source = "kubeconfig " + file
		if o.Context != "" {
			source += " (context " + o.Context + ")"
		}
	}
	if o.Namespace != "" {
		ns = o.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "mcpproxy"
	// Many servers start at once: client-go's default 5 requests per
	// second would queue their starts behind each other.
	cfg.QPS, cfg.Burst = 50, 100
	cfg.WarningHandler = rest.NoWarnings{}
	conn := &connection{rest: cfg, ns: ns, host: cfg.Host, source: source}
	for _, g := range []struct {
		dst *(*rest.RESTClient)
		gv  schema.GroupVersion
	}{
		{&conn.core, corev1.SchemeGroupVersion},
		{&conn.coordination, coordinationv1.SchemeGroupVersion},
		{&conn.networking, networkingv1.SchemeGroupVersion},
		{&conn.authorization, authorizationv1.SchemeGroupVersion},
	} {
		gc := rest.CopyConfig(cfg)
		gv := g.gv
		gc.GroupVersion = &gv
		gc.APIPath = "/apis"
		if gv.Group == "" {
			gc.APIPath = "/api"
		}
		gc.NegotiatedSerializer = theAPITypes().codecs.WithoutConversion()
		rc, err := rest.RESTClientFor(gc)
		if err != nil {
			return nil, fmt.Errorf("kubernetes client: %w", err)
		}
		*g.dst = rc
	}
	return conn, nil
}

// apiTypes are the scheme and codecs of the four API groups the backend
// uses. They are made at the first connection: registering the groups'
// types costs ~1,000 allocations and ~100 KB of heap that a proxy which
// never runs a pod should not pay, at start-up or ever.
type apiTypes struct {
	codecs serializer.CodecFactory
	params runtime.ParameterCodec
}

// typesMade is set once apiTypes were made (read by a test).
var typesMade atomic.Bool

var theAPITypes = sync.OnceValue(func() *apiTypes {
	typesMade.Store(true)
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, coordinationv1.AddToScheme, networkingv1.AddToScheme, authorizationv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return &apiTypes{codecs: serializer.NewCodecFactory(scheme), params: runtime.NewParameterCodec(scheme)}
})

// objectPtr is a pointer to an API type.
type objectPtr[T any] interface {
	*T
	runtime.Object
}

// apiResource is one namespaced resource: the calls of a typed client this
// backend makes. L is its list type.
type apiResource[T, L any, PT objectPtr[T], PL objectPtr[L]] struct {
	rc       *rest.RESTClient
	resource string
	ns       string
}

func (r apiResource[T, L, PT, PL]) Create(ctx context.Context, obj PT) (PT, error) {
	out := PT(new(T))
	return out, r.rc.Post().Namespace(r.ns).Resource(r.resource).Body(obj).Do(ctx).Into(out)
}

func (r apiResource[T, L, PT, PL]) Get(ctx context.Context, name string) (PT, error) {
	out := PT(new(T))
	return out, r.rc.Get().Namespace(r.ns).Resource(r.resource).Name(name).Do(ctx).Into(out)
}

func (r apiResource[T, L, PT, PL]) Update(ctx context.Context, name string, obj PT) (PT, error) {
	out := PT(new(T))
	return out, r.rc.Put().Namespace(r.ns).Resource(r.resource).Name(name).Body(obj).Do(ctx).Into(out)
}

// MergePatch applies a JSON merge patch.
func (r apiResource[T, L, PT, PL]) MergePatch(ctx context.Context, name string, patch []byte) error {
	return r.rc.Patch(types.MergePatchType).Namespace(r.ns).Resource(r.resource).Name(name).Body(patch).Do(ctx).Error()
}

func (r apiResource[T, L, PT, PL]) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return r.rc.Delete().Namespace(r.ns).Resource(r.resource).Name(name).Body(&opts).Do(ctx).Error()
}

// List lists the objects matching the label selector.
func (r apiResource[T, L, PT, PL]) List(ctx context.Context, selector string) (PL, error) {
	out := PL(new(L))
	return out, r.rc.Get().Namespace(r.ns).Resource(r.resource).
		VersionedParams(&metav1.ListOptions{LabelSelector: selector}, theAPITypes().params).Do(ctx).Into(out)
}

func (c *connection) pods() apiResource[corev1.Pod, corev1.PodList, *corev1.Pod, *corev1.PodList] {
	return apiResource[corev1.Pod, corev1.PodList, *corev1.Pod, *corev1.PodList]{c.core, "pods", c.ns}
}

func (c *connection) secrets() apiResource[corev1.Secret, corev1.SecretList, *corev1.Secret, *corev1.SecretList] {
	return apiResource[corev1.Secret, corev1.SecretList, *corev1.Secret, *corev1.SecretList]{c.core, "secrets", c.ns}
}

func (c *connection) policies() apiResource[networkingv1.NetworkPolicy, networkingv1.NetworkPolicyList, *networkingv1.NetworkPolicy, *networkingv1.NetworkPolicyList] {
	return apiResource[networkingv1.NetworkPolicy, networkingv1.NetworkPolicyList, *networkingv1.NetworkPolicy, *networkingv1.NetworkPolicyList]{c.networking, "networkpolicies", c.ns}
}

func (c *connection) leases() apiResource[coordinationv1.Lease, coordinationv1.LeaseList, *coordinationv1.Lease, *coordinationv1.LeaseList] {
	return apiResource[coordinationv1.Lease, coordinationv1.LeaseList, *coordinationv1.Lease, *coordinationv1.LeaseList]{c.coordination, "leases", c.ns}
}

// accessReview asks the API server whether the credentials may do what
// review describes.
func (c *connection) accessReview(ctx context.Context, review *authorizationv1.SelfSubjectAccessReview) (*authorizationv1.SelfSubjectAccessReview, error) {
	out := &authorizationv1.SelfSubjectAccessReview{}
	return out, c.authorization.Post().Resource("selfsubjectaccessreviews").Body(review).Do(ctx).Into(out)
}

// expandHome turns a leading "~/" into the user's home directory.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

func defaultKubeconfigExists() bool {
	if os.Getenv(clientcmd.RecommendedConfigPathEnvVar) != "" {
		return true
	}
	_, err := os.Stat(clientcmd.RecommendedHomeFile)
	return err == nil
}

// client-go logs through klog, process-wide. Its lines go to the log of
// the last Runtime made, at debug level, and only those of verbosity 0:
// klog's higher verbosities print request and response bodies, which hold
// the Secrets' data (base64, out of the redactor's reach).
var (
	klogOnce   sync.Once
	klogTarget atomic.Pointer[slog.Logger]
)

// quietKlog routes client-go's klog lines to log (see klogTarget).
func quietKlog(log *slog.Logger) {
	klogTarget.Store(log)
	klogOnce.Do(func() {
		klog.SetSlogLogger(slog.New(klogHandler{}))
	})
}

// klogHandler passes klog's verbosity-0 records (slog level Info and up:
// klog's V(n) is level -n) to klogTarget at debug level, and drops the rest.
type klogHandler struct {
	attrs []slog.Attr
	group string
}

func (h klogHandler) target() slog.Handler {
	t := klogTarget.Load().Handler()
	if len(h.attrs) > 0 {
		t = t.WithAttrs(h.attrs)
	}
	if h.group != "" {
		t = t.WithGroup(h.group)
	}
	return t
}

func (h klogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo && klogTarget.Load().Handler().Enabled(ctx, slog.LevelDebug)
}

func (h klogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelInfo {
		return nil
	}
	r.Level = slog.LevelDebug
	return h.target().Handle(ctx, r)
}

func (h klogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return klogHandler{attrs: append(append([]slog.Attr(nil), h.attrs...), as...), group: h.group}
}

func (h klogHandler) WithGroup(g string) slog.Handler {
	if h.group != "" {
		g = h.group + "." + g
	}
	return klogHandler{attrs: h.attrs, group: g}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// kubeconfigError explains a kubeconfig that cannot be used, naming the
// setting of the docker_isolation.kubernetes block at fault: a kubeconfig
// file that cannot be read, a context the file does not have (listing
// those it has). file names the kubeconfig as the source does.
func kubeconfigError(o Options, cc clientcmd.ClientConfig, file string, err error) error {
	if o.Kubeconfig != "" {
		if _, serr := os.Stat(o.Kubeconfig); serr != nil {
			return fmt.Errorf("docker_isolation.kubernetes.kubeconfig %q cannot be read: %w", o.Kubeconfig, serr)
		}
	}
	if o.Context != "" {
		if raw, rerr := cc.RawConfig(); rerr == nil {
			if _, ok := raw.Contexts[o.Context]; !ok {
				names := make([]string, 0, len(raw.Contexts))
				for n := range raw.Contexts {
					names = append(names, n)
				}
				sort.Strings(names)
				has := "none"
				if len(names) > 0 {
					has = strings.Join(names, ", ")
				}
				return fmt.Errorf("docker_isolation.kubernetes.context %q: the kubeconfig (%s) has no such context; it has: %s",
					o.Context, file, has)
			}
		}
	}
	return fmt.Errorf("kubeconfig: %w", err)
}
