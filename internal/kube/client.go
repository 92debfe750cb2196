package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

// inClusterNamespace is where a pod finds its own namespace.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// connection is a ready API client and where it points.
type connection struct {
	cs   kubernetes.Interface
	rest *rest.Config
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
		if o.Kubeconfig != "" {
			rules.ExplicitPath = o.Kubeconfig
		}
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context})
		cfg, err = cc.ClientConfig()
		if err != nil {
			if clientcmd.IsEmptyConfig(err) {
				return nil, errors.New("no kubeconfig found: set docker_isolation.kubernetes.kubeconfig (or $KUBECONFIG), or in_cluster: true when mcpproxy runs in a pod")
			}
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		ns, _, _ = cc.Namespace()
		source = "kubeconfig " + firstNonEmpty(o.Kubeconfig, strings.Join(rules.Precedence, string(os.PathListSeparator)))
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
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &connection{cs: cs, rest: cfg, ns: ns, host: cfg.Host, source: source}, nil
}

func defaultKubeconfigExists() bool {
	if os.Getenv(clientcmd.RecommendedConfigPathEnvVar) != "" {
		return true
	}
	_, err := os.Stat(clientcmd.RecommendedHomeFile)
	return err == nil
}

var klogOnce sync.Once

// quietKlog sends client-go's own log lines (klog, process-wide) to log at
// debug level instead of the process's stderr, once per process.
func quietKlog(log *slog.Logger) {
	klogOnce.Do(func() {
		klog.SetSlogLogger(slog.New(debugOnly{log.Handler()}))
	})
}

// debugOnly logs every record at debug level.
type debugOnly struct{ slog.Handler }

func (d debugOnly) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.Handler.Enabled(ctx, slog.LevelDebug)
}

func (d debugOnly) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.Handler.Handle(ctx, r)
}

func (d debugOnly) WithAttrs(as []slog.Attr) slog.Handler { return debugOnly{d.Handler.WithAttrs(as)} }
func (d debugOnly) WithGroup(g string) slog.Handler       { return debugOnly{d.Handler.WithGroup(g)} }

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
