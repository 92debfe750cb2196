package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// leaseSeen is another instance's Lease as this proxy last saw it, by its
// own clock: a Lease whose resourceVersion has not changed for longer than
// its duration has lapsed, whatever the clocks of the two proxies say.
type leaseSeen struct {
	rv    string
	since time.Time
}

// Open makes the instance known to the cluster (its Lease), removes the pods
// of instances whose Lease has lapsed (Reap), and starts the background loop
// that renews the Lease and reaps again every LeaseDuration, until Close.
func (r *Runtime) Open(ctx context.Context) error {
	c, err := r.client()
	if err != nil {
		return fmt.Errorf("kubernetes backend: %w", err)
	}
	if _, err := r.ensureStarted(ctx, c); err != nil {
		return err
	}
	removed, err := r.Reap(ctx)
	if len(removed) > 0 {
		r.log.Info("kubernetes backend: removed pods of mcpproxy instances whose Lease had lapsed", "pods", removed)
	}
	return err
}

// startLoop starts the background loop once.
func (r *Runtime) startLoop(c *connection) {
	r.loopMu.Lock()
	defer r.loopMu.Unlock()
	if r.loopDone != nil || r.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.loopCancel, r.loopDone = cancel, make(chan struct{})
	go r.loop(ctx, c, r.loopDone)
}

// loop renews the Lease every third of its duration and reaps every
// duration, until ctx ends.
func (r *Runtime) loop(ctx context.Context, c *connection, done chan struct{}) {
	defer close(done)
	d := r.opts.LeaseDuration
	renew := time.NewTicker(d / 3)
	defer renew.Stop()
	reap := time.NewTicker(d)
	defer reap.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			rctx, cancel := context.WithTimeout(ctx, d/3)
			if err := r.lease.renew(rctx, c); err != nil && ctx.Err() == nil {
				r.log.Warn("kubernetes backend: renewing the instance Lease failed", "error", err)
			}
			cancel()
		case <-reap.C:
			rctx, cancel := context.WithTimeout(ctx, d)
			removed, err := r.Reap(rctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				r.log.Warn("kubernetes backend: reaping pods of dead instances failed", "error", err)
			}
			if len(removed) > 0 {
				r.log.Info("kubernetes backend: removed pods of mcpproxy instances whose Lease had lapsed", "pods", removed)
			}
		}
	}
}

// Close stops the background loop and deletes the instance's Lease (the
// garbage collector then deletes whatever pods of the instance are left).
// Start fails from then on. Remove the instance's containers first.
func (r *Runtime) Close(ctx context.Context) error {
	r.stopLoop()
	r.connMu.Lock()
	c := r.conn
	r.connMu.Unlock()
	if c == nil {
		return nil
	}
	return r.lease.release(ctx, c)
}

// stopLoop refuses further starts and stops the background loop, waiting
// for it; the Lease is left as it is.
func (r *Runtime) stopLoop() {
	r.loopMu.Lock()
	r.closed = true
	cancel, done := r.loopCancel, r.loopDone
	r.loopMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Reap removes the pods of other mcpproxy instances whose Lease has lapsed,
// and their Leases: the instance is dead. A Lease has lapsed when its
// renewTime is older than twice its duration (so clocks may disagree by a
// whole duration), or when this proxy has watched it unchanged for longer
// than its duration. Pods without a Lease are removed once they are older
// than twice the duration (a live instance creates its Lease before its
// pods, and recreates it within a third of the duration). Pods of this
// instance, of a live one, or without mcpproxy's labels are never touched;
// deletions carry the pod's UID (and the Lease's resourceVersion: a Lease
// renewed meanwhile is kept, and so are its pods). It returns the names of
// the pods removed.
func (r *Runtime) Reap(ctx context.Context) ([]string, error) {
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	pods, err := c.pods().List(ctx, managedSelector().String())
	if err != nil {
		return nil, fmt.Errorf("list mcpproxy pods in namespace %s: %w", c.ns, err)
	}
	leases, err := c.leases().List(ctx, managedSelector().String())
	if err != nil {
		return nil, fmt.Errorf("list mcpproxy instance Leases in namespace %s: %w", c.ns, err)
	}
	self := labelValue(r.opts.Instance)
	byInstance := map[string][]corev1.Pod{}
	for _, p := range pods.Items {
		inst := p.Labels[isolation.LabelInstance]
		if inst == "" || inst == self {
			continue
		}
		byInstance[inst] = append(byInstance[inst], p)
	}
	leaseOf := map[string]*coordinationv1.Lease{}
	for i := range leases.Items {
		l := &leases.Items[i]
		if inst := l.Labels[isolation.LabelInstance]; inst != "" && inst != self {
			leaseOf[inst] = l
			if _, ok := byInstance[inst]; !ok {
				byInstance[inst] = nil // a Lease without pods: still judged, and removed when lapsed
			}
		}
	}
	now := time.Now()
	r.forgetLeases(leaseOf)
	var removed []string
	var errs []error
	instances := make([]string, 0, len(byInstance))
	for inst := range byInstance {
		instances = append(instances, inst)
	}
	sort.Strings(instances)
	for _, inst := range instances {
		ps, l := byInstance[inst], leaseOf[inst]
		if !r.lapsed(inst, l, ps, now) {
			continue
		}
		if l != nil {
			// Deleting the Lease first is the claim: it fails if the
			// instance renewed it since it was listed.
			err := c.leases().Delete(ctx, l.Name, metav1.DeleteOptions{
				Preconditions: &metav1.Preconditions{UID: &l.UID, ResourceVersion: &l.ResourceVersion},
			})
			if apierrors.IsConflict(err) {
				continue
			}
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete lapsed Lease %s: %w", l.Name, err))
				continue
			}
			r.log.Info("kubernetes backend: removed the lapsed Lease of a dead mcpproxy instance", "lease", l.Name, "instance", inst)
		}
		for _, p := range ps {
			if err := r.deletePod(ctx, c, p.Name, p.UID, 0); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, p.Name)
		}
	}
	return removed, errors.Join(errs...)
}

// lapsed judges whether instance inst is dead (see Reap).
func (r *Runtime) lapsed(inst string, l *coordinationv1.Lease, pods []corev1.Pod, now time.Time) bool {
	d := r.opts.LeaseDuration
	if l == nil {
		for _, p := range pods {
			if now.Sub(p.CreationTimestamp.Time) < 2*d {
				return false
			}
		}
		return true
	}
	if l.Spec.LeaseDurationSeconds != nil && *l.Spec.LeaseDurationSeconds > 0 {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	renewed := l.CreationTimestamp.Time
	if l.Spec.RenewTime != nil {
		renewed = l.Spec.RenewTime.Time
	}
	if now.Sub(renewed) > 2*d {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.seen[inst]
	if !ok || s.rv != l.ResourceVersion {
		r.seen[inst] = leaseSeen{rv: l.ResourceVersion, since: now}
		return false
	}
	return now.Sub(s.since) > d
}

// forgetLeases drops what was seen of Leases that no longer exist.
func (r *Runtime) forgetLeases(current map[string]*coordinationv1.Lease) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for inst := range r.seen {
		if _, ok := current[inst]; !ok {
			delete(r.seen, inst)
		}
	}
}
