package kube

// Tests against the real one-node cluster of ../shared/k8s (scripts/test.sh
// starts it and runs every TestKube* test in a step of its own). Each test
// works in a namespace of its own, deleted at cleanup.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// kubeEnv is one test's cluster, namespace and image.
type kubeEnv struct {
	k  *testutil.KubeCluster
	ns string
}

func newKubeEnv(t *testing.T, images ...string) *kubeEnv {
	t.Helper()
	k := testutil.RequireKube(t)
	for _, img := range images {
		k.LoadImage(t, img)
	}
	return &kubeEnv{k: k, ns: k.Namespace(t)}
}

// runtime returns a Runtime of a fresh instance in the test's namespace,
// closed at cleanup.
func (e *kubeEnv) runtime(t *testing.T, mod ...func(*Options)) *Runtime {
	t.Helper()
	o := Options{
		PodSettings: PodSettings{Namespace: e.ns, ImagePullPolicy: "Never"},
		Kubeconfig:  e.k.Kubeconfig,
		Instance:    randHex(t, 8),
	}
	for _, m := range mod {
		m(&o)
	}
	r := New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	return r
}

func randHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// hardenedPlan is a plan with the hardened profile's settings, as Decide
// makes them, for image running command.
func hardenedPlan(server, image, command string, args ...string) *isolation.Plan {
	return &isolation.Plan{
		Server: server, Runtime: "binary", Image: image, Command: command, Args: args,
		Timeout:     time.Minute,
		MemoryBytes: 256 << 20, MilliCPUs: 500, PidsLimit: 256, NoFile: 4096,
		User: "65534:65534", ReadOnlyRoot: true, CapDrop: []string{"ALL"}, NoNewPrivileges: true,
		Init: true, Home: "/home/mcp", Network: "bridge",
		Tmpfs: []isolation.Tmpfs{
			{Path: "/tmp", SizeBytes: 64 << 20, Mode: 0o1777},
			{Path: "/home/mcp", SizeBytes: 64 << 20, Mode: 0o700, Owned: true},
		},
		Hardened: true, Profile: "hardened",
	}
}

// start starts plan through r and stops the container at cleanup.
func start(t *testing.T, r *Runtime, plan *isolation.Plan, env map[string]string) (isolation.Container, *testutil.SyncBuffer) {
	t.Helper()
	stderr := &testutil.SyncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), plan.Timeout)
	defer cancel()
	name := isolation.ContainerName(plan.Server, randHex(t, 4))
	labels := map[string]string{
		isolation.LabelManaged: "true", isolation.LabelInstance: r.opts.Instance, isolation.LabelServer: plan.Server,
	}
	c, err := r.Start(ctx, plan, isolation.StartOptions{Name: name, Labels: labels, Env: env, Stderr: stderr})
	if err != nil {
		t.Fatalf("start %s: %v", plan.Server, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Stop(ctx, time.Second); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
	})
	return c, stderr
}

// connectMCP runs an MCP client session over the container's stdio.
func connectMCP(t *testing.T, c isolation.Container) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "kube-test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.IOTransport{Reader: c.Stdout(), Writer: c.Stdin()}, nil)
	if err != nil {
		t.Fatalf("MCP initialize over attach: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func TestKubeStartAttachEverything(t *testing.T) {
	img := testutil.EverythingImage(t)
	e := newKubeEnv(t, img)
	r := e.runtime(t)
	c, _ := start(t, r, hardenedPlan("everything", img, "/everything-server"), map[string]string{"SECRET_TOKEN": "canary-" + randHex(t, 8)})
	cs := connectMCP(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	if len(tools.Tools) == 0 {
		t.Fatal("no tools from the everything server in a pod")
	}
	if f := c.Facts(); f.Stdio != "attach" || f.Secrets != isolation.SecretsOrchestrator || !slices.ContainsFunc(f.Notes, func(n string) bool {
		return strings.HasPrefix(n, "pids_limit 256: the node's podPidsLimit")
	}) {
		t.Errorf("facts = %+v, want attach, orchestrator secrets and the PID limit note", f)
	}
}

// callText calls a tool and returns its text; an error result fails t.
func callText(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	if res.IsError {
		t.Fatalf("%s: error result: %s", name, b.String())
	}
	return b.String()
}

// waitFor polls cond (every 100 ms) until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKubePodSpecReadBack starts a server with a secret and network none and
// reads its objects back from the API: the hardened securityContext, the
// limits, the secretKeyRef, the deny-all policy, and no secret value in the
// pod or in any event of the namespace. Stopping it removes the pod, and the
// garbage collector its Secret and policy.
func TestKubePodSpecReadBack(t *testing.T) {
	img := testutil.EverythingImage(t)
	e := newKubeEnv(t, img)
	r := e.runtime(t)
	canary := "canary-secret-" + randHex(t, 8)
	plan := hardenedPlan("everything", img, "/everything-server")
	plan.Network = "none"
	c, _ := start(t, r, plan, map[string]string{"API_TOKEN": canary})
	connectMCP(t, c)

	cl, _ := r.client()
	ctx := context.Background()
	pod, err := cl.typed(t).CoreV1().Pods(e.ns).Get(ctx, c.(*podContainer).PodName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(pod.UID) != c.ID() {
		t.Errorf("container ID %s is not the pod's UID %s", c.ID(), pod.UID)
	}
	ctr := pod.Spec.Containers[0]
	sc := ctr.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("no securityContext")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot, sc.RunAsUser == nil || *sc.RunAsUser != 65534:
		t.Errorf("runAsNonRoot/runAsUser = %v/%v", sc.RunAsNonRoot, sc.RunAsUser)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("root filesystem not read-only")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation allowed")
	case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL":
		t.Errorf("capabilities = %+v", sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("seccomp = %+v", sc.SeccompProfile)
	}
	if m := ctr.Resources.Limits.Memory().String(); m != "256Mi" {
		t.Errorf("memory limit = %s", m)
	}
	if cpu := ctr.Resources.Limits.Cpu().String(); cpu != "500m" {
		t.Errorf("cpu limit = %s", cpu)
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("service account token mounted")
	}
	// /tmp and the home: memory-backed emptyDirs capped at the plan's size.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	for _, tmp := range plan.Tmpfs {
		var found bool
		for _, m := range ctr.VolumeMounts {
			if m.MountPath != tmp.Path {
				continue
			}
			found = true
			ed := vols[m.Name].EmptyDir
			if ed == nil || ed.Medium != corev1.StorageMediumMemory || ed.SizeLimit == nil || ed.SizeLimit.Value() != tmp.SizeBytes {
				t.Errorf("%s: volume %+v, want a memory emptyDir of %d bytes", tmp.Path, vols[m.Name].VolumeSource, tmp.SizeBytes)
			}
		}
		if !found {
			t.Errorf("no volume at %s: %+v", tmp.Path, ctr.VolumeMounts)
		}
	}
	var ref *corev1.SecretKeySelector
	for _, ev := range ctr.Env {
		if ev.Name == "API_TOKEN" && ev.ValueFrom != nil {
			ref = ev.ValueFrom.SecretKeyRef
		}
	}
	if ref == nil {
		t.Fatalf("API_TOKEN has no secretKeyRef: %+v", ctr.Env)
	}
	podJSON, _ := json.Marshal(pod)
	if strings.Contains(string(podJSON), canary) {
		t.Error("the secret value appears in the pod read back from the API")
	}
	events := e.k.Kubectl(t, "-n", e.ns, "get", "events", "-o", "json")
	if strings.Contains(events, canary) {
		t.Error("the secret value appears in an event")
	}
	if !strings.Contains(events, pod.Name) {
		t.Errorf("no event of pod %s to check", pod.Name)
	}
	sec, err := cl.typed(t).CoreV1().Secrets(e.ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data[ref.Key]) != canary {
		t.Error("the Secret does not hold the value")
	}
	if len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != pod.UID {
		t.Errorf("Secret owners = %+v, want the pod", sec.OwnerReferences)
	}
	pol, err := cl.typed(t).NetworkingV1().NetworkPolicies(e.ns).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("network none: %v", err)
	}
	if len(pol.Spec.Ingress) != 0 || len(pol.Spec.Egress) != 0 || len(pol.Spec.PolicyTypes) != 2 || pol.Spec.PodSelector.MatchLabels[labelPod] != pod.Name {
		t.Errorf("policy is not deny-all for the pod: %+v", pol.Spec)
	}
	if len(pol.OwnerReferences) != 1 || pol.OwnerReferences[0].UID != pod.UID {
		t.Errorf("policy owners = %+v, want the pod", pol.OwnerReferences)
	}

	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.Stop(sctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.typed(t).CoreV1().Pods(e.ns).Get(ctx, pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod still there after Stop: %v", err)
	}
	waitFor(t, time.Minute, "Secret and NetworkPolicy removed with their pod", func() bool {
		_, e1 := cl.typed(t).CoreV1().Secrets(e.ns).Get(ctx, sec.Name, metav1.GetOptions{})
		_, e2 := cl.typed(t).NetworkingV1().NetworkPolicies(e.ns).Get(ctx, pol.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(e1) && apierrors.IsNotFound(e2)
	})
	if x := c.Exit(sctx); !strings.Contains(x.Reason, "stopped by mcpproxy") {
		t.Errorf("exit after Stop = %+v", x)
	}
}

// TestKubeFixtureInsideHardenedPod asks the fixture server what it sees from
// inside its pod: not root, no capabilities, no new privileges, seccomp on,
// a read-only root, the memory limit, and the secret in its environment.
func TestKubeFixtureInsideHardenedPod(t *testing.T) {
	img := testutil.FixtureImage(t)
	e := newKubeEnv(t, img)
	r := e.runtime(t)
	canary := "canary-" + randHex(t, 8)
	c, _ := start(t, r, hardenedPlan("fixture", img, "/mcpfixture"), map[string]string{"FIXTURE_SECRET": canary})
	cs := connectMCP(t, c)

	var id testutil.FixtureIdentity
	if err := json.Unmarshal([]byte(callText(t, cs, "whoami", nil)), &id); err != nil {
		t.Fatal(err)
	}
	if id.UID == 0 || id.UID != 65534 || id.GID != 65534 {
		t.Errorf("uid:gid = %d:%d, want 65534:65534", id.UID, id.GID)
	}
	if id.MemoryLimit != "268435456" {
		t.Errorf("cgroup memory limit = %q, want 268435456", id.MemoryLimit)
	}
	status := callText(t, cs, "read_file", map[string]any{"path": "/proc/self/status"})
	for _, want := range []string{"CapEff:\t0000000000000000", "CapPrm:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(status, want) {
			t.Errorf("/proc/self/status lacks %q:\n%s", want, status)
		}
	}
	mounts := callText(t, cs, "read_file", map[string]any{"path": "/proc/self/mounts"})
	root := ""
	for _, line := range strings.Split(mounts, "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[1] == "/" {
			root = f[3]
		}
	}
	if !strings.HasPrefix(root, "ro,") && root != "ro" {
		t.Errorf("root mount options %q, want read-only", root)
	}
	for _, m := range []string{" /tmp tmpfs ", " /home/mcp tmpfs "} {
		if !strings.Contains(mounts, m) {
			t.Errorf("no %q mount:\n%s", m, mounts)
		}
	}
	if got := callText(t, cs, "getenv", map[string]any{"name": "FIXTURE_SECRET"}); got != canary {
		t.Errorf("FIXTURE_SECRET inside = %q", got)
	}
}

// TestKubeOOMKilledReported lets the fixture allocate past its limit: the
// call fails, the container ends, and Exit and Events say it was OOM-killed.
func TestKubeOOMKilledReported(t *testing.T) {
	img := testutil.FixtureImage(t)
	e := newKubeEnv(t, img)
	r := e.runtime(t)
	evctx, evcancel := context.WithCancel(context.Background())
	defer evcancel()
	events, err := r.Events(evctx)
	if err != nil {
		t.Fatal(err)
	}
	plan := hardenedPlan("oom", img, "/mcpfixture")
	plan.MemoryBytes = 64 << 20
	c, _ := start(t, r, plan, nil)
	cs := connectMCP(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "alloc", Arguments: map[string]any{"mb": 512}}); err == nil {
		t.Fatal("a 512 MiB allocation under a 64 MiB limit succeeded")
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the container did not end")
	}
	ended := time.Now()
	x := c.Exit(ctx)
	t.Logf("exit known %v after the stream ended", time.Since(ended).Round(time.Millisecond))
	if !x.OOMKilled || !strings.Contains(x.Reason, "OOM-killed") || !strings.Contains(x.Reason, "64Mi") {
		t.Errorf("exit = %+v, want OOM-killed at 64Mi", x)
	}
	for {
		select {
		case ev := <-events:
			if ev.Kind == isolation.EventOOM {
				if ev.Server != "oom" || ev.ContainerID != c.ID() {
					t.Errorf("oom event = %+v", ev)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no oom event")
		}
	}
}

// TestKubeImageNotPresent starts an image the node does not have with pull
// policy Never: a clear error naming the image and the fix, long before
// the start timeout, and no pod left behind.
func TestKubeImageNotPresent(t *testing.T) {
	e := newKubeEnv(t)
	r := e.runtime(t)
	plan := hardenedPlan("absent", "mcpproxy-test/not-present:"+randHex(t, 4), "/srv")
	plan.Timeout = 60 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), plan.Timeout)
	defer cancel()
	began := time.Now()
	_, err := r.Start(ctx, plan, isolation.StartOptions{Name: isolation.ContainerName("absent", randHex(t, 4)),
		Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: r.opts.Instance, isolation.LabelServer: "absent"}})
	took := time.Since(began)
	if err == nil {
		t.Fatal("started a server whose image is not present")
	}
	for _, want := range []string{plan.Image, "is not present", "image_pull_policy"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if took > plan.Timeout/2 {
		t.Errorf("the error took %v of a %v start timeout", took, plan.Timeout)
	}
	waitFor(t, 30*time.Second, "the failed start's pod removed", func() bool {
		m, err := r.ListManaged(context.Background())
		return err == nil && len(m) == 0
	})
}

// TestKubeUnschedulable asks for a node that does not exist: the start
// fails at its timeout with the scheduler's reason, and Events reports it.
func TestKubeUnschedulable(t *testing.T) {
	img := testutil.FixtureImage(t)
	e := newKubeEnv(t, img)
	r := e.runtime(t, func(o *Options) { o.NodeSelector = map[string]string{"mcpproxy-test/no-such-pool": "x"} })
	evctx, evcancel := context.WithCancel(context.Background())
	defer evcancel()
	events, err := r.Events(evctx)
	if err != nil {
		t.Fatal(err)
	}
	plan := hardenedPlan("nowhere", img, "/mcpfixture")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var phases []string
	_, err = r.Start(ctx, plan, isolation.StartOptions{Name: isolation.ContainerName("nowhere", randHex(t, 4)),
		Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: r.opts.Instance, isolation.LabelServer: "nowhere"},
		Phase:  func(p string) { phases = append(phases, p) }})
	if err == nil || !strings.Contains(err.Error(), "didn't match Pod's node affinity/selector") {
		t.Fatalf("err = %v, want the scheduler's reason", err)
	}
	if !strings.Contains(strings.Join(phases, "\n"), "waiting for a node: 0/1 nodes are available") {
		t.Errorf("phases = %q", phases)
	}
	tctx, tcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer tcancel()
	for {
		select {
		case ev := <-events:
			if ev.Kind == isolation.EventFailed && ev.Server == "nowhere" && strings.Contains(ev.Reason, "0/1 nodes are available") {
				return
			}
		case <-tctx.Done():
			t.Fatal("no failed event for the unschedulable pod")
		}
	}
}

// TestKubeStartErrorExplained runs a command the image does not have.
func TestKubeStartErrorExplained(t *testing.T) {
	img := testutil.FixtureImage(t)
	e := newKubeEnv(t, img)
	r := e.runtime(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := r.Start(ctx, hardenedPlan("nocmd", img, "/no-such-binary"), isolation.StartOptions{Name: isolation.ContainerName("nocmd", randHex(t, 4)),
		Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: r.opts.Instance, isolation.LabelServer: "nocmd"}})
	if err == nil || !strings.Contains(err.Error(), "/no-such-binary") {
		t.Fatalf("err = %v, want it to name the missing command", err)
	}
}

// TestKubeImagePullFailure: an image whose registry refuses it (a listener
// of the test's own on 127.0.0.1) fails the start at once with the node's
// pull error, naming the image.
func TestKubeImagePullFailure(t *testing.T) {
	e := newKubeEnv(t)
	var hits atomic.Int64
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no such image here", http.StatusNotFound)
	}))
	defer reg.Close()
	r := e.runtime(t, func(o *Options) { o.ImagePullPolicy = "Always" })
	plan := hardenedPlan("unpullable", strings.TrimPrefix(reg.URL, "http://")+"/mcpproxy-test/absent:1", "/srv")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := r.Start(ctx, plan, isolation.StartOptions{Name: isolation.ContainerName("unpullable", randHex(t, 4)),
		Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: r.opts.Instance, isolation.LabelServer: "unpullable"}})
	if err == nil || !strings.Contains(err.Error(), "could not pull image") || !strings.Contains(err.Error(), plan.Image) {
		t.Fatalf("err = %v, want the node's pull failure naming the image", err)
	}
	if hits.Load() == 0 {
		t.Error("the node never asked the registry")
	}
}

// typed is client-go's full clientset for the connection's cluster, for the
// tests' own reads (the backend itself does without it).
func (c *connection) typed(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.rest)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestKubeEndedEarlyExplained: a server that writes to stderr and exits at
// once (a flag it does not know) is explained by how it ended, and its
// stderr reaches StartOptions.Stderr: from the container's log when it
// ended before the attach (an *isolation.ExitedError), from the attach
// stream otherwise.
func TestKubeEndedEarlyExplained(t *testing.T) {
	img := testutil.HostileImage(t)
	e := newKubeEnv(t, img)
	r := e.runtime(t)
	stderr := &testutil.SyncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := r.Start(ctx, hardenedPlan("early", img, "/hostile", "-no-such-flag"), isolation.StartOptions{
		Name: isolation.ContainerName("early", randHex(t, 4)), Stderr: stderr,
		Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: r.opts.Instance, isolation.LabelServer: "early"}})
	var x isolation.Exit
	if err != nil {
		var ex *isolation.ExitedError
		if !errors.As(err, &ex) {
			t.Fatalf("err = %v (%T), want an *isolation.ExitedError", err, err)
		}
		x = ex.Exit
	} else {
		defer c.Kill()
		<-c.Done()
		x = c.Exit(ctx)
	}
	if x.Code != 2 || !strings.Contains(x.Reason, "exited with code 2") {
		t.Errorf("exit = %+v, want code 2", x)
	}
	if !strings.Contains(stderr.String(), "flag provided but not defined: -no-such-flag") {
		t.Errorf("the server's stderr did not reach the caller: %q (start: %v)", stderr.String(), err)
	}
}

// TestKubeEvictedReported evicts a running server's pod through the
// Eviction API (what a drain or an autoscaler does): a call in flight
// fails, and the server's end names the eviction, not just an exit code
// or "deleted".
func TestKubeEvictedReported(t *testing.T) {
	img := testutil.FixtureImage(t)
	e := newKubeEnv(t, img)
	r := e.runtime(t)
	c, _ := start(t, r, hardenedPlan("evictee", img, "/mcpfixture"), nil)
	cs := connectMCP(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"ms": 50000}})
		call <- err
	}()
	cl, _ := r.client()
	pod := c.(*podContainer).PodName()
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: e.ns}}
	if err := cl.typed(t).PolicyV1().Evictions(e.ns).Evict(ctx, ev); err != nil {
		t.Fatalf("evict %s: %v", pod, err)
	}
	evicted := time.Now()
	select {
	case err := <-call:
		if err == nil {
			t.Fatal("the call in flight succeeded although its pod was evicted")
		}
	case <-ctx.Done():
		t.Fatal("the call in flight did not end after the eviction")
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the container did not end")
	}
	x := c.Exit(ctx)
	t.Logf("exit %v after the eviction: %+v", time.Since(evicted).Round(time.Millisecond), x)
	if !strings.Contains(x.Reason, "evicted through the Eviction API") || !strings.Contains(x.Reason, pod) {
		t.Errorf("exit = %+v, want the eviction named", x)
	}
}

// TestKubeTooLargeForAnyNode asks for more memory than the node has: the
// start fails at its timeout with the scheduler's reason.
func TestKubeTooLargeForAnyNode(t *testing.T) {
	img := testutil.FixtureImage(t)
	e := newKubeEnv(t, img)
	r := e.runtime(t)
	plan := hardenedPlan("huge", img, "/mcpfixture")
	plan.MemoryBytes = 1 << 50 // 1 PiB
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began := time.Now()
	_, err := r.Start(ctx, plan, isolation.StartOptions{Name: isolation.ContainerName("huge", randHex(t, 4)),
		Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: r.opts.Instance, isolation.LabelServer: "huge"}})
	if err == nil || !strings.Contains(err.Error(), "0/1 nodes are available") || !strings.Contains(err.Error(), "Insufficient memory") {
		t.Fatalf("err = %v, want the scheduler's reason", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("the start took %v with a 5s timeout", took)
	}
}
