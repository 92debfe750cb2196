package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// The instance's Lease (coordination.k8s.io) says "this proxy is alive": it
// is created before the instance's first pod, renewed every third of its
// duration while the proxy lives, and deleted when it shuts down. Every pod,
// Secret and NetworkPolicy of the instance is its dependent (an owner
// reference), so deleting the Lease deletes them all. Other proxies in the
// namespace judge the instance dead when its Lease lapses (see Reap).

// leaseName is the Lease of instance.
func leaseName(instance string) string { return objectName("mcpproxy-instance-" + instance) }

// leaseHolder keeps this instance's Lease.
type leaseHolder struct {
	r      *Runtime
	create singleflight.Group

	mu  sync.Mutex
	cur *coordinationv1.Lease // as last written; nil before the first
}

func (h *leaseHolder) current() *coordinationv1.Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

func (h *leaseHolder) set(l *coordinationv1.Lease) {
	h.mu.Lock()
	h.cur = l
	h.mu.Unlock()
}

// ownerRef makes an object a dependent of the Lease l.
func ownerRef(l *coordinationv1.Lease) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Name: l.Name, UID: l.UID}
}

// ensure returns the owner reference of the instance's Lease, creating the
// Lease when there is none yet (one creation for concurrent callers).
func (h *leaseHolder) ensure(ctx context.Context, c *connection) (metav1.OwnerReference, error) {
	if l := h.current(); l != nil {
		return ownerRef(l), nil
	}
	if h.r.opts.Instance == "" {
		return metav1.OwnerReference{}, errors.New("kubernetes backend: no instance ID")
	}
	ch := h.create.DoChan("lease", func() (any, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		l, err := h.acquire(cctx, c)
		if err != nil {
			return nil, err
		}
		h.set(l)
		return l, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return metav1.OwnerReference{}, res.Err
		}
		return ownerRef(res.Val.(*coordinationv1.Lease)), nil
	case <-ctx.Done():
		return metav1.OwnerReference{}, ctx.Err()
	}
}

// acquire creates the Lease, or takes over one of this instance's name that
// exists already (only this instance holds its random ID).
func (h *leaseHolder) acquire(ctx context.Context, c *connection) (*coordinationv1.Lease, error) {
	o := h.r.opts
	now := metav1.NewMicroTime(time.Now())
	secs := int32(o.LeaseDuration / time.Second)
	lbl := map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: o.Instance}
	for k, v := range o.LeaseLabels {
		lbl[k] = v
	}
	labels, annotations, err := objectLabels(lbl, "")
	if err != nil {
		return nil, err
	}
	delete(labels, labelPod)
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: leaseName(o.Instance), Namespace: c.ns, Labels: labels, Annotations: annotations},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr(o.Instance), LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now,
		},
	}
	created, err := c.leases().Create(ctx, l)
	if apierrors.IsAlreadyExists(err) {
		old, gerr := c.leases().Get(ctx, l.Name)
		if gerr != nil {
			return nil, fmt.Errorf("instance Lease %s: %w", l.Name, gerr)
		}
		if old.Spec.HolderIdentity == nil || *old.Spec.HolderIdentity != o.Instance {
			return nil, fmt.Errorf("instance Lease %s is held by someone else", l.Name)
		}
		old.Spec = l.Spec
		created, err = c.leases().Update(ctx, old.Name, old)
	}
	if err != nil {
		return nil, fmt.Errorf("create the instance Lease in namespace %s: %w", c.ns, err)
	}
	h.r.log.Debug("kubernetes backend: instance Lease acquired", "lease", created.Name, "namespace", c.ns, "duration", o.LeaseDuration)
	return created, nil
}

// renew writes a new renewTime. A Lease that vanished (another proxy judged
// this instance dead, or someone deleted it) is created anew: from then on
// new pods depend on the new one.
func (h *leaseHolder) renew(ctx context.Context, c *connection) error {
	cur := h.current()
	if cur == nil {
		return nil
	}
	next := cur.DeepCopy()
	now := metav1.NewMicroTime(time.Now())
	next.Spec.RenewTime = &now
	upd, err := c.leases().Update(ctx, next.Name, next)
	switch {
	case err == nil:
		h.set(upd)
		return nil
	case apierrors.IsConflict(err):
		latest, gerr := c.leases().Get(ctx, cur.Name)
		if gerr != nil {
			return gerr
		}
		latest.Spec.RenewTime = &now
		upd, err = c.leases().Update(ctx, latest.Name, latest)
		if err == nil {
			h.set(upd)
		}
		return err
	case apierrors.IsNotFound(err):
		h.r.log.Warn("kubernetes backend: the instance Lease was removed (by another proxy that judged it expired, or by hand); its pods went with it; creating a new one", "lease", cur.Name)
		l, err := h.acquire(ctx, c)
		if err == nil {
			h.set(l)
		}
		return err
	}
	return err
}

// release deletes the Lease (and with it, through the garbage collector,
// whatever of the instance is left).
func (h *leaseHolder) release(ctx context.Context, c *connection) error {
	cur := h.current()
	if cur == nil {
		return nil
	}
	err := c.leases().Delete(ctx, cur.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete the instance Lease %s: %w", cur.Name, err)
	}
	h.set(nil)
	return nil
}
