package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/version"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// Options configure a Runtime.
type Options struct {
	// PodSettings are shared by every pod (Owner is set by the Runtime).
	PodSettings
	// Kubeconfig is the kubeconfig file (a leading "~/" is the user's
	// home); "" means $KUBECONFIG or ~/.kube/config (or in-cluster
	// credentials inside a pod without one).
	Kubeconfig string
	// InCluster uses the pod's service account instead of a kubeconfig.
	InCluster bool
	// Context is the kubeconfig context; "" is its current one.
	Context string
	// Instance is this proxy's instance ID (isolation.LabelInstance): the
	// name and holder of its Lease.
	Instance string
	// LeaseLabels go on the instance's Lease besides managed and instance
	// (LabelHost, LabelDataDir).
	LeaseLabels map[string]string
	// LeaseDuration is how long the instance's Lease stays valid without a
	// renewal (default 15 s); it is renewed every third of it, and other
	// proxies reap the pods of an instance whose Lease has lapsed.
	LeaseDuration time.Duration
	// Logger receives the backend's log (nil discards it).
	Logger *slog.Logger
}

// DefaultLeaseDuration is Options.LeaseDuration's default.
const DefaultLeaseDuration = 15 * time.Second

// Probe results are cached this long (a failed probe for less, so a cluster
// that comes back is seen soon).
const (
	probeTTL       = time.Minute
	probeFailedTTL = 10 * time.Second
	probeTimeout   = 10 * time.Second
)

// Runtime runs isolation Plans as pods in one namespace of a cluster: the
// Kubernetes implementation of isolation.Runtime. Stdio goes through the API
// server's attach subresource; environment values through a Secret; the
// instance's liveness through a Lease (see Open).
type Runtime struct {
	opts Options
	log  *slog.Logger

	connMu sync.Mutex
	conn   *connection

	probes   singleflight.Group
	probeMu  sync.Mutex
	lastProb isolation.BackendStatus

	lease *leaseHolder

	// The background loop (lease renewal, periodic reaping) and its owner.
	loopMu     sync.Mutex
	loopCancel context.CancelFunc
	loopDone   chan struct{}
	closed     bool

	mu   sync.Mutex
	pods map[types.UID]string // this instance's live pods: UID → name
	seen map[string]leaseSeen // other instances' Leases, as last observed
}

var _ isolation.Runtime = (*Runtime)(nil)

// New returns a Runtime for opts. It does not contact the cluster: Probe
// says whether it can be reached, Open starts the instance's Lease.
func New(opts Options) *Runtime {
	if opts.LeaseDuration <= 0 {
		opts.LeaseDuration = DefaultLeaseDuration
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	quietKlog(log)
	r := &Runtime{opts: opts, log: log, pods: map[types.UID]string{}, seen: map[string]leaseSeen{}}
	r.lease = &leaseHolder{r: r}
	return r
}

// Name implements isolation.Runtime.
func (r *Runtime) Name() string { return "kubernetes" }

// Namespace returns the namespace the Runtime works in, once it has
// connected ("" before).
func (r *Runtime) Namespace() string {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	if r.conn == nil {
		return ""
	}
	return r.conn.ns
}

// client returns the API connection, building it on first use. A failure
// is not kept: the next call tries again (the kubeconfig may be fixed).
func (r *Runtime) client() (*connection, error) {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	if r.conn != nil {
		return r.conn, nil
	}
	c, err := connect(r.opts)
	if err != nil {
		return nil, err
	}
	r.conn = c
	return c, nil
}

// permissions are what the backend does in its namespace; Probe checks each.
var permissions = []authorizationv1.ResourceAttributes{
	{Verb: "create", Resource: "pods"},
	{Verb: "delete", Resource: "pods"},
	{Verb: "watch", Resource: "pods"},
	{Verb: "create", Resource: "pods", Subresource: "attach"},
	{Verb: "create", Resource: "secrets"},
	{Verb: "create", Resource: "networkpolicies", Group: "networking.k8s.io"},
	{Verb: "update", Resource: "leases", Group: "coordination.k8s.io"},
}

// Probe implements isolation.Runtime: the API server answers /version and
// the credentials may do what the backend does in its namespace (checked
// with SelfSubjectAccessReviews).
func (r *Runtime) Probe(ctx context.Context, refresh bool) isolation.BackendStatus {
	r.probeMu.Lock()
	last := r.lastProb
	r.probeMu.Unlock()
	ttl := probeTTL
	if !last.Available {
		ttl = probeFailedTTL
	}
	if !refresh && !last.CheckedAt.IsZero() && time.Since(last.CheckedAt) < ttl {
		return last
	}
	ch := r.probes.DoChan("probe", func() (any, error) {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
		defer cancel()
		st := r.probe(pctx)
		r.probeMu.Lock()
		r.lastProb = st
		r.probeMu.Unlock()
		return st, nil
	})
	select {
	case res := <-ch:
		return res.Val.(isolation.BackendStatus)
	case <-ctx.Done():
		return isolation.BackendStatus{CheckedAt: time.Now(), Error: "probe cancelled: " + ctx.Err().Error()}
	}
}

func (r *Runtime) probe(ctx context.Context) isolation.BackendStatus {
	st := isolation.BackendStatus{CheckedAt: time.Now()}
	c, err := r.client()
	if err != nil {
		st.Error = err.Error()
		return st
	}
	st.Path, st.Source = c.host, c.source
	raw, err := c.core.Get().AbsPath("/version").Do(ctx).Raw()
	var v version.Info
	if err == nil {
		err = json.Unmarshal(raw, &v)
	}
	if err != nil {
		st.Error = fmt.Sprintf("the Kubernetes API server at %s does not answer: %v", c.host, err)
		return st
	}
	st.Version = v.GitVersion
	var denied []string
	for _, p := range permissions {
		p.Namespace = c.ns
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &p}}
		res, err := c.accessReview(ctx, review)
		if err != nil {
			st.Error = fmt.Sprintf("checking permissions in namespace %s: %v", c.ns, err)
			return st
		}
		if !res.Status.Allowed {
			what := p.Resource
			if p.Subresource != "" {
				what += "/" + p.Subresource
			}
			denied = append(denied, p.Verb+" "+what)
		}
	}
	if len(denied) > 0 {
		st.Error = fmt.Sprintf("the credentials (%s) may not %s in namespace %s: grant the Role of deploy/kubernetes/rbac.yaml", c.source, strings.Join(denied, ", "), c.ns)
		return st
	}
	st.Available = true
	return st
}

// EnsureImage implements isolation.Runtime. Images are pulled by the
// cluster's nodes (image_pull_policy), not by mcpproxy: a missing image
// surfaces from Start with the node's reason.
func (r *Runtime) EnsureImage(ctx context.Context, image string, progress func(line string)) error {
	if image == "" {
		return errors.New("no image to run")
	}
	return nil
}

// ListManaged implements isolation.Runtime: every pod of the namespace
// carrying LabelManaged=true, of every instance.
func (r *Runtime) ListManaged(ctx context.Context) ([]isolation.Managed, error) {
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	list, err := c.pods().List(ctx, managedSelector().String())
	if err != nil {
		return nil, fmt.Errorf("list mcpproxy pods in namespace %s: %w", c.ns, err)
	}
	out := make([]isolation.Managed, 0, len(list.Items))
	for i := range list.Items {
		p := &list.Items[i]
		out = append(out, isolation.Managed{
			ID: string(p.UID), Name: p.Name, Image: podImage(p), State: podStateWord(p),
			Labels: restoreLabels(p.Labels, p.Annotations),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// podStateWord is the pod's phase, with the reason of a container that
// waits or ended ("Pending: ErrImageNeverPull", "Failed: OOMKilled").
func podStateWord(p *corev1.Pod) string {
	w := string(p.Status.Phase)
	if cs := serverStatus(p); cs != nil {
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			w += ": " + cs.State.Waiting.Reason
		case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
			w += ": " + cs.State.Terminated.Reason
		}
	} else if p.Status.Reason != "" {
		w += ": " + p.Status.Reason
	}
	return w
}

func podImage(p *corev1.Pod) string {
	for _, c := range p.Spec.Containers {
		if c.Name == containerName {
			return c.Image
		}
	}
	return ""
}

// managedSelector selects every object mcpproxy manages.
func managedSelector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{isolation.LabelManaged: "true"})
}

// instanceSelector selects the objects of one instance.
func instanceSelector(instance string) labels.Selector {
	return labels.SelectorFromSet(labels.Set{isolation.LabelManaged: "true", isolation.LabelInstance: labelValue(instance)})
}

// Remove implements isolation.Runtime: the pod with that UID is deleted at
// once (its Secret and NetworkPolicy follow it: they are its dependents).
// The UID is a precondition of the deletion, so a pod of the same name
// created since is never touched. A pod already gone is not an error.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	uid := types.UID(id)
	r.mu.Lock()
	name, ok := r.pods[uid]
	r.mu.Unlock()
	if !ok {
		list, err := c.pods().List(ctx, managedSelector().String())
		if err != nil {
			return fmt.Errorf("remove pod %s: %w", id, err)
		}
		for _, p := range list.Items {
			if p.UID == uid {
				name, ok = p.Name, true
			}
		}
		if !ok {
			return nil
		}
	}
	return r.deletePod(ctx, c, name, uid, 0)
}

// RemoveAll deletes every pod this Runtime started and has not removed
// yet, at once and concurrently, bounded by timeout (shutdown, second
// signal). What it misses goes with the instance's Lease (Close).
func (r *Runtime) RemoveAll(timeout time.Duration) {
	r.mu.Lock()
	pods := maps.Clone(r.pods)
	r.mu.Unlock()
	r.connMu.Lock()
	c := r.conn
	r.connMu.Unlock()
	if len(pods) == 0 || c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for uid, name := range pods {
		wg.Go(func() {
			if err := r.deletePod(ctx, c, name, uid, 0); err != nil {
				r.log.Warn("kubernetes backend: removing a pod at shutdown", "pod", name, "error", err)
			}
		})
	}
	wg.Wait()
}

// deletePod deletes pod name if it still has uid, with grace seconds for
// the server to exit on SIGTERM.
func (r *Runtime) deletePod(ctx context.Context, c *connection, name string, uid types.UID, grace int64) error {
	err := c.pods().Delete(ctx, name, metav1.DeleteOptions{
		GracePeriodSeconds: &grace,
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	r.mu.Lock()
	delete(r.pods, uid)
	r.mu.Unlock()
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Conflict: the name now belongs to another pod; ours is gone.
		return nil
	}
	return fmt.Errorf("delete pod %s: %w", name, err)
}
