package kube

import (
	"context"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// crash stops r the way kill -9 stops a proxy: its Lease is no longer
// renewed (and not deleted), and its attach streams drop.
func crash(r *Runtime, cs ...isolation.Container) {
	r.stopLoop()
	for _, c := range cs {
		c.(*podContainer).cancel()
	}
}

func podExists(t *testing.T, r *Runtime, name string) bool {
	t.Helper()
	cl, err := r.client()
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.typed(t).CoreV1().Pods(cl.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// TestKubeReapLapsedInstances: the pods of an instance that stopped
// renewing its Lease survive while the Lease is valid, and are removed by
// another proxy's reaper once it has lapsed; the pods of a live instance, a
// pod without mcpproxy's labels and one without an instance label are never
// touched.
func TestKubeReapLapsedInstances(t *testing.T) {
	img := testutil.FixtureImage(t)
	e := newKubeEnv(t, img)
	short := func(o *Options) { o.LeaseDuration = 3 * time.Second }
	dead, live, reaper := e.runtime(t, short), e.runtime(t, short), e.runtime(t, short)
	cDead, _ := start(t, dead, hardenedPlan("doomed", img, "/mcpfixture"), nil)
	cLive, _ := start(t, live, hardenedPlan("alive", img, "/mcpfixture"), nil)
	csLive := connectMCP(t, cLive)
	e.k.Kubectl(t, "-n", e.ns, "run", "bystander", "--image", img, "--image-pull-policy", "Never", "--restart", "Never", "--command", "--", "/mcpfixture")
	e.k.Kubectl(t, "-n", e.ns, "run", "no-instance", "--labels", isolation.LabelManaged+"=true", "--image", img, "--image-pull-policy", "Never", "--restart", "Never", "--command", "--", "/mcpfixture")
	deadPod, livePod := cDead.(*podContainer).PodName(), cLive.(*podContainer).PodName()

	crash(dead, cDead)
	ctx := context.Background()
	removed, err := reaper.Reap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) > 0 || !podExists(t, reaper, deadPod) {
		t.Fatalf("reaped %v while the dead instance's Lease was still valid", removed)
	}
	began := time.Now()
	var all []string
	waitFor(t, 30*time.Second, "the lapsed instance's pod reaped", func() bool {
		removed, err := reaper.Reap(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, removed...)
		return slices.Contains(all, deadPod)
	})
	t.Logf("reaped %v %v after the crash (lease duration 3s)", all, time.Since(began).Round(100*time.Millisecond))
	if len(all) != 1 {
		t.Errorf("reaped %v, want only %s", all, deadPod)
	}
	for _, p := range []string{livePod, "bystander", "no-instance"} {
		if !podExists(t, reaper, p) {
			t.Errorf("pod %s was removed", p)
		}
	}
	if got := callText(t, csLive, "echo", map[string]any{"text": "still here"}); got != "still here" {
		t.Errorf("live server answered %q", got)
	}
	cl, _ := reaper.client()
	if _, err := cl.typed(t).CoordinationV1().Leases(e.ns).Get(ctx, leaseName(dead.opts.Instance), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dead instance's Lease is still there: %v", err)
	}
}

// TestKubeOpenReapsLongDeadInstances: a proxy starting after another one
// died long ago (its Lease renewed more than twice its duration ago)
// removes that instance's pods at once, in Open.
func TestKubeOpenReapsLongDeadInstances(t *testing.T) {
	img := testutil.FixtureImage(t)
	e := newKubeEnv(t, img)
	dead := e.runtime(t)
	c, _ := start(t, dead, hardenedPlan("old", img, "/mcpfixture"), nil)
	crash(dead, c)
	cl, _ := dead.client()
	ctx := context.Background()
	l, err := cl.typed(t).CoordinationV1().Leases(e.ns).Get(ctx, leaseName(dead.opts.Instance), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	long := metav1.NewMicroTime(time.Now().Add(-time.Hour))
	l.Spec.RenewTime = &long
	if _, err := cl.typed(t).CoordinationV1().Leases(e.ns).Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	next := e.runtime(t)
	if err := next.Open(ctx); err != nil {
		t.Fatal(err)
	}
	pod, err := cl.typed(t).CoreV1().Pods(e.ns).Get(ctx, c.(*podContainer).PodName(), metav1.GetOptions{})
	if err == nil && pod.DeletionTimestamp == nil {
		t.Error("Open left the pod of an instance dead for an hour")
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}
