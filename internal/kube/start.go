package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/remotecommand"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// cleanupTimeout bounds the removal of what a failed start created (its own
// context: the start's may be what ran out).
const cleanupTimeout = 15 * time.Second

// Start implements isolation.Runtime. It creates the plan's Secret and
// NetworkPolicy (if any) and its pod, all dependents of the instance's
// Lease; waits until the server's container runs, failing at once with the
// node's reason when it cannot (image not present, pull failure, refused
// configuration) and with the last reason when ctx ends first (for example
// "waiting for a node: 0/1 nodes are available: 1 Insufficient memory");
// attaches to its stdin, stdout and stderr through the API server; and makes
// the Secret and policy dependents of the pod, so that they go with it. A
// failed start removes the pod it created.
func (r *Runtime) Start(ctx context.Context, plan *isolation.Plan, opts isolation.StartOptions) (isolation.Container, error) {
	phase := opts.Phase
	if phase == nil {
		phase = func(string) {}
	}
	c, err := r.client()
	if err != nil {
		return nil, fmt.Errorf("kubernetes backend: %w", err)
	}
	owner, err := r.ensureStarted(ctx, c)
	if err != nil {
		return nil, err
	}
	settings := r.opts.PodSettings
	settings.Namespace, settings.Owner = c.ns, &owner
	objs, err := BuildObjects(plan, opts, settings)
	if err != nil {
		return nil, err
	}
	for _, n := range objs.Notes {
		r.log.Debug("kubernetes backend: plan note", "server", plan.Server, "pod", objs.Pod.Name, "note", n)
	}

	phase("creating pod")
	pod, err := r.create(ctx, c, objs)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (isolation.Container, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if derr := r.deletePod(cctx, c, pod.Name, pod.UID, 0); derr != nil {
			r.log.Warn("kubernetes backend: removing the pod of a failed start", "pod", pod.Name, "error", derr)
		}
		return nil, err
	}
	adopted := make(chan error, 1)
	go func() {
		// Not bound to the start's deadline: a pod that started must not
		// keep Lease-owned companions because the start ran out meanwhile.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		adopted <- r.adopt(actx, c, objs, pod)
	}()

	if err := waitRunning(ctx, c, pod, phase); err != nil {
		<-adopted
		return fail(r.endedEarly(ctx, c, pod, opts, err))
	}
	phase("attaching stdio")
	ctr, err := r.attach(ctx, c, pod, opts, objs)
	if err != nil {
		<-adopted
		return fail(r.endedEarly(ctx, c, pod, opts, r.attachFailed(ctx, c, pod, err)))
	}
	if err := <-adopted; err != nil {
		ctr.Kill()
		return fail(err)
	}
	r.log.Info("kubernetes backend: pod started", "server", plan.Server, "pod", pod.Name, "namespace", c.ns, "image", plan.Image)
	return ctr, nil
}

// create makes the Secret and NetworkPolicy, then the pod. When a step
// fails, whatever it made is removed again.
func (r *Runtime) create(ctx context.Context, c *connection, objs Objects) (*corev1.Pod, error) {
	var undo []func(context.Context)
	rollback := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		for _, u := range undo {
			u(cctx)
		}
	}
	if s := objs.Secret; s != nil {
		created, err := c.secrets().Create(ctx, s)
		if err != nil {
			// The error names the object, never its data.
			return nil, r.namingSetting(c, fmt.Errorf("create the Secret holding the server's environment in namespace %s: %w", c.ns, err))
		}
		undo = append(undo, func(ctx context.Context) {
			_ = c.secrets().Delete(ctx, created.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &created.UID}})
		})
	}
	if p := objs.Policy; p != nil {
		created, err := c.policies().Create(ctx, p)
		if err != nil {
			rollback()
			return nil, fmt.Errorf("create the NetworkPolicy of network none in namespace %s: %w", c.ns, err)
		}
		undo = append(undo, func(ctx context.Context) {
			_ = c.policies().Delete(ctx, created.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &created.UID}})
		})
	}
	pod, err := c.pods().Create(ctx, objs.Pod)
	if err != nil {
		rollback()
		return nil, r.namingSetting(c, fmt.Errorf("create pod %s in namespace %s: %w", objs.Pod.Name, c.ns, err))
	}
	r.mu.Lock()
	r.pods[pod.UID] = pod.Name
	r.mu.Unlock()
	return pod, nil
}

// adopt makes the Secret and NetworkPolicy dependents of the pod (they were
// the Lease's until the pod existed), so that they go when it goes.
func (r *Runtime) adopt(ctx context.Context, c *connection, objs Objects, pod *corev1.Pod) error {
	if objs.Secret == nil && objs.Policy == nil {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID,
	}}}})
	if err != nil {
		return err
	}
	if objs.Secret != nil {
		if err := c.secrets().MergePatch(ctx, objs.Secret.Name, patch); err != nil {
			return fmt.Errorf("make Secret %s a dependent of its pod: %w", objs.Secret.Name, err)
		}
	}
	if objs.Policy != nil {
		if err := c.policies().MergePatch(ctx, objs.Policy.Name, patch); err != nil {
			return fmt.Errorf("make NetworkPolicy %s a dependent of its pod: %w", objs.Policy.Name, err)
		}
	}
	return nil
}

// endedEarly completes the error of a server that ended before its stdio
// was attached (an *isolation.ExitedError): what it wrote meanwhile went to
// the container's log, not to an attach stream, so the log's last lines are
// copied to StartOptions.Stderr, where the server's stderr goes. Other
// errors are returned as they are.
func (r *Runtime) endedEarly(ctx context.Context, c *connection, pod *corev1.Pod, opts isolation.StartOptions, err error) error {
	var ex *isolation.ExitedError
	if !errors.As(err, &ex) || opts.Stderr == nil {
		return err
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logTailTimeout)
	defer cancel()
	r.copyLogTail(lctx, c, pod.Name, opts.Stderr)
	return err
}

// The log lines (and bytes) of a server that ended early that reach its
// stderr, and how long reading them may take.
const (
	logTailLines   = 50
	logTailBytes   = 16 << 10
	logTailTimeout = 5 * time.Second
)

// copyLogTail copies the last lines of the server container's log to w.
// The log holds stdout too: only servers that ended before their stdio was
// attached get here, and nothing had been sent to them.
func (r *Runtime) copyLogTail(ctx context.Context, c *connection, pod string, w io.Writer) {
	tail, limit := int64(logTailLines), int64(logTailBytes)
	stream, err := c.core.Get().Namespace(c.ns).Resource("pods").Name(pod).SubResource("log").
		VersionedParams(&corev1.PodLogOptions{Container: containerName, TailLines: &tail, LimitBytes: &limit}, theAPITypes().params).Stream(ctx)
	if err != nil {
		r.log.Debug("kubernetes backend: reading the log of a server that ended early", "pod", pod, "error", err)
		return
	}
	defer stream.Close()
	_, _ = io.Copy(w, stream)
}

// attachSettle bounds how long a failed attach waits for the pod's status
// to say that the server ended.
const attachSettle = 20 * time.Second

// attachFailed explains a failed attach. A server that ends between
// "running" and the attach makes the kubelet refuse the attach ("container
// server not found in pod …") while the pod's status still says running:
// the kubelet reports the end at its next relist, later under load. So
// unless the API server refused the attach itself (forbidden,
// unauthorized) or the start ran out, the pod's status is awaited until it
// says how the server ended (an *isolation.ExitedError, the message every
// backend gives), for at most attachSettle; then err is returned as it is.
func (r *Runtime) attachFailed(ctx context.Context, c *connection, pod *corev1.Pod, err error) error {
	wait := attachSettle
	if ctx.Err() != nil || apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		wait = 0
	}
	if x, ended := r.endedWithin(ctx, c, pod, wait); ended {
		return &isolation.ExitedError{Name: pod.Name, Exit: x}
	}
	return err
}

// endedWithin reports how pod's server ended, if its status says so within
// wait (0: as the status is now).
func (r *Runtime) endedWithin(ctx context.Context, c *connection, pod *corev1.Pod, wait time.Duration) (isolation.Exit, bool) {
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(wait, 5*time.Second))
	defer cancel()
	var x isolation.Exit
	ended := false
	_ = watchPod(gctx, c, pod, func(p *corev1.Pod) (bool, error) {
		st := readPod(p)
		x, ended = st.Exit, st.Ended
		return ended || wait == 0, nil
	})
	return x, ended
}

// podListWatch lists and watches the one pod called name.
func podListWatch(c *connection, name string) *cache.ListWatch {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	return cache.NewFilteredListWatchFromClient(c.core, "pods", c.ns, func(o *metav1.ListOptions) {
		o.FieldSelector = sel
	})
}

// errPodGone ends a watch whose pod was deleted.
var errPodGone = errors.New("pod deleted")

// watchPod calls fn with every state of pod (its UID; a new pod of the same
// name is not it) until fn reports done or an error, the pod is deleted
// (errPodGone) or ctx ends (ctx's error).
func watchPod(ctx context.Context, c *connection, pod *corev1.Pod, fn func(*corev1.Pod) (bool, error)) error {
	gone := func(store cache.Store) (bool, error) {
		_, exists, err := store.GetByKey(pod.Namespace + "/" + pod.Name)
		if err == nil && !exists {
			return false, errPodGone
		}
		return false, err
	}
	_, err := watchtools.UntilWithSync(ctx, podListWatch(c, pod.Name), &corev1.Pod{}, gone, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || p.UID != pod.UID {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, errPodGone
		}
		return fn(p)
	})
	if err != nil && ctx.Err() != nil && !errors.Is(err, errPodGone) {
		return ctx.Err()
	}
	return err
}

// waitRunning waits until pod's server container runs, telling phase each
// new reason it waits for.
func waitRunning(ctx context.Context, c *connection, pod *corev1.Pod, phase func(string)) error {
	last := "waiting for a node"
	err := watchPod(ctx, c, pod, func(p *corev1.Pod) (bool, error) {
		st := readPod(p)
		switch {
		case st.Running:
			return true, nil
		case st.Failed:
			return false, errors.New(st.Reason)
		case st.Ended:
			return false, &isolation.ExitedError{Name: p.Name, Exit: st.Exit}
		}
		if st.Reason != "" && st.Reason != last {
			last = st.Reason
			phase(st.Reason)
		}
		return false, nil
	})
	switch {
	case errors.Is(err, errPodGone):
		return fmt.Errorf("pod %s was deleted before it ran", pod.Name)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("pod %s is not running (%s): %w", pod.Name, last, err)
	}
	return err
}

// attach connects to the server's stdio through the API server: WebSocket
// (remote command protocol v5, which can close stdin alone), or SPDY where
// a proxy on the way cannot upgrade to WebSocket. It returns once the
// streams exist.
func (r *Runtime) attach(ctx context.Context, c *connection, pod *corev1.Pod, opts isolation.StartOptions, objs Objects) (*podContainer, error) {
	req := c.core.Post().Resource("pods").Namespace(c.ns).Name(pod.Name).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: containerName, Stdin: true, Stdout: true, Stderr: opts.Stderr != nil}, theAPITypes().params)
	spdy, err := remotecommand.NewSPDYExecutor(c.rest, "POST", req.URL())
	if err != nil {
		return nil, fmt.Errorf("attach to pod %s: %w", pod.Name, err)
	}
	ws, err := remotecommand.NewWebSocketExecutor(c.rest, "GET", req.URL().String())
	if err != nil {
		return nil, fmt.Errorf("attach to pod %s: %w", pod.Name, err)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return nil, fmt.Errorf("attach to pod %s: %w", pod.Name, err)
	}
	p := newPodContainer(r, c, pod, opts.Name, objs.Secret != nil, objs.Notes)
	ready := make(chan struct{})
	streamOpts := remotecommand.StreamOptions{Stdin: &firstRead{r: p.stdinR, ready: ready}, Stdout: p.stdoutW}
	go p.stream(exec, streamOpts, opts.Stderr)
	select {
	case <-ready:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("attach to pod %s: %w", pod.Name, p.streamError())
	case <-ctx.Done():
		p.Kill()
		return nil, fmt.Errorf("attach to pod %s: %w", pod.Name, ctx.Err())
	}
}

// firstRead closes ready at the first Read: the remote command client
// starts copying stdin once every stream exists.
type firstRead struct {
	r     io.Reader
	ready chan struct{}
	once  bool
}

func (f *firstRead) Read(b []byte) (int, error) {
	if !f.once {
		f.once = true
		close(f.ready)
	}
	return f.r.Read(b)
}

// ensureStarted makes sure the instance's Lease exists and the background
// loop (renewal, reaping) runs, and returns the owner reference pods carry.
func (r *Runtime) ensureStarted(ctx context.Context, c *connection) (metav1.OwnerReference, error) {
	r.loopMu.Lock()
	closed := r.closed
	r.loopMu.Unlock()
	if closed {
		return metav1.OwnerReference{}, errors.New("kubernetes backend: mcpproxy is shutting down")
	}
	owner, err := r.lease.ensure(ctx, c)
	if err != nil {
		return owner, r.namingSetting(c, err)
	}
	r.startLoop(c)
	return owner, nil
}

// namingSetting adds to an API server's refusal the setting of the
// docker_isolation.kubernetes block that named what the cluster does not
// have: the namespace, the service account, the RuntimeClass.
func (r *Runtime) namingSetting(c *connection, err error) error {
	msg := err.Error()
	s := r.opts.PodSettings
	switch {
	case strings.Contains(msg, fmt.Sprintf("namespaces %q not found", c.ns)):
		return fmt.Errorf("%w (docker_isolation.kubernetes.namespace, else the kubeconfig context's: namespace %q does not exist in the cluster; create it or name another)", err, c.ns)
	case s.ServiceAccount != "" && strings.Contains(msg, fmt.Sprintf("serviceaccount %q not found", s.ServiceAccount)):
		return fmt.Errorf("%w (docker_isolation.kubernetes.service_account %q: no such service account in namespace %s; create it or remove the setting)", err, s.ServiceAccount, c.ns)
	case s.RuntimeClassName != "" && strings.Contains(msg, fmt.Sprintf("RuntimeClass %q not found", s.RuntimeClassName)):
		return fmt.Errorf("%w (docker_isolation.kubernetes.runtime_class_name %q: the cluster has no such RuntimeClass; `kubectl get runtimeclass` lists them)", err, s.RuntimeClassName)
	}
	return err
}
