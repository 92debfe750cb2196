package kube

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// Events implements isolation.Runtime: the lifecycle of this instance's
// pods, read from their status (one watch for all of them): start when the
// server runs, oom and die when it ends, failed when it cannot start (image
// not present or not pullable, refused configuration, no node fits). The
// channel is closed once ctx has ended.
func (r *Runtime) Events(ctx context.Context) (<-chan isolation.Event, error) {
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	sel := instanceSelector(r.opts.Instance).String()
	lw := cache.NewFilteredListWatchFromClient(c.core, "pods", c.ns, func(o *metav1.ListOptions) {
		o.LabelSelector = sel
	})
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{})
	out := make(chan isolation.Event, 64)
	t := &eventTracker{out: out, ctx: ctx, last: map[types.UID]string{}}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.observe(obj) },
		UpdateFunc: func(_, obj any) { t.observe(obj) },
		DeleteFunc: func(obj any) { t.forget(obj) },
	}); err != nil {
		return nil, err
	}
	go func() {
		inf.RunWithContext(ctx)
		close(out)
	}()
	return out, nil
}

// eventTracker turns pod states into events, each transition once. It runs
// on the informer's goroutine only.
type eventTracker struct {
	out  chan<- isolation.Event
	ctx  context.Context
	last map[types.UID]string // the last state reported per pod
}

func (t *eventTracker) observe(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	st := readPod(pod)
	ev := isolation.Event{ContainerID: string(pod.UID), Server: restoreLabels(pod.Labels, pod.Annotations)[isolation.LabelServer], At: time.Now()}
	var key string
	switch {
	case st.Ended:
		key = "ended"
		if st.Exit.OOMKilled && t.last[pod.UID] != key {
			oom := ev
			oom.Kind, oom.ExitCode, oom.Reason = isolation.EventOOM, st.Exit.Code, st.Exit.Reason
			if !t.send(oom) {
				return
			}
		}
		ev.Kind, ev.ExitCode, ev.Reason = isolation.EventDie, st.Exit.Code, st.Exit.Reason
	case st.Running:
		key, ev.Kind = "running", isolation.EventStart
	case st.Failed:
		key, ev.Kind, ev.Reason = "failed: "+st.Reason, isolation.EventFailed, st.Reason
	case unschedulable(pod):
		key, ev.Kind, ev.Reason = "unschedulable: "+st.Reason, isolation.EventFailed, st.Reason
	default:
		return
	}
	if t.last[pod.UID] == key {
		return
	}
	if t.send(ev) {
		t.last[pod.UID] = key
	}
}

func (t *eventTracker) send(ev isolation.Event) bool {
	select {
	case t.out <- ev:
		return true
	case <-t.ctx.Done():
		return false
	}
}

func (t *eventTracker) forget(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		delete(t.last, pod.UID)
	}
}

// unschedulable reports whether the scheduler found no node for pod.
func unschedulable(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}
