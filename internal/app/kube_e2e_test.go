package app

// End-to-end proof of the kubernetes backend (issue 12) against the real
// one-node cluster of ../shared/k8s: mcpproxy runs each isolated server as a
// pod of a namespace of the test's own. These tests are named TestKube* and
// run in the kube step of scripts/test.sh, which starts the cluster.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/kube"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// kubeIsoConfig is a config whose isolated servers run as pods in namespace
// ns of the test cluster.
func kubeIsoConfig(t testing.TB, k *testutil.KubeCluster, ns string, global map[string]any, servers ...map[string]any) string {
	g := map[string]any{"backend": "kubernetes", "kubernetes": map[string]any{
		"kubeconfig": k.Kubeconfig, "namespace": ns, "image_pull_policy": "Never",
	}}
	for key, v := range global {
		g[key] = v
	}
	return isoConfig(t, g, servers...)
}

// podsOf lists the names of the pods in ns labelled with selector.
func podsOf(t testing.TB, k *testutil.KubeCluster, ns, selector string) []string {
	t.Helper()
	out := k.Kubectl(t, "-n", ns, "get", "pods", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}")
	return strings.Fields(out)
}

// TestKubeConformanceThroughProxy: the conformance suite through
// /mcp/everything, with the server in a pod (network none); the list view
// names the backend, the cluster and what the cluster enforces
// differently; shutdown removes the pod and the instance's Lease.
func TestKubeConformanceThroughProxy(t *testing.T) {
	image := testutil.EverythingImage(t)
	testutil.RequireShared(t)
	k := testutil.RequireKube(t)
	k.LoadImage(t, image)
	ns := k.Namespace(t)
	h := startApp(t, kubeIsoConfig(t, k, ns, nil, isoServer("everything", image, map[string]any{"network_mode": "none"}, "/everything-server")))
	cs := h.connect("/mcp", nil)
	v := readyInContainer(t, cs, "everything", 2*time.Minute)
	inst := h.app.iso.instance.ID
	pods := podsOf(t, k, ns, "com.mcpproxy.instance="+inst+",com.mcpproxy.server=everything")
	if len(pods) != 1 {
		t.Fatalf("pods of the server: %v", pods)
	}
	uid := strings.TrimSpace(k.Kubectl(t, "-n", ns, "get", "pod", pods[0], "-o", "jsonpath={.metadata.uid}"))
	if v.Isolation.ContainerID != uid || v.Isolation.Stdio != "attach" || v.Isolation.Secrets != "" && v.Isolation.Secrets != "orchestrator" {
		t.Errorf("isolation view: %+v (pod uid %s)", v.Isolation, uid)
	}
	if !slices.Contains(v.Isolation.Notes, kube.NoteNetworkPolicy) {
		t.Errorf("the list view does not say NetworkPolicy enforcement depends on the network plugin: %q", v.Isolation.Notes)
	}
	l := listServers(t, cs)
	if ds := l.DockerStatus; ds.Backend != "kubernetes" || !ds.Available || !strings.HasPrefix(ds.DockerPath, "https://127.0.0.1:") {
		t.Errorf("docker_status = %+v", ds)
	}

	res := testutil.Conformance(t, h.url("/mcp/everything"))
	if res.Failed != 0 || res.Passed != 40 {
		t.Fatalf("conformance through /mcp/everything (server in a pod): %d passed, %d failed, want 40/0\n%s", res.Passed, res.Failed, res.Output)
	}
	if after, _ := findServer(listServers(t, cs), "everything"); after.Isolation == nil || after.Isolation.ContainerID != uid || after.Restarts != 0 {
		t.Fatalf("the server was restarted or left its pod during the suite: %+v", after)
	}

	h.stop()
	if left := podsOf(t, k, ns, "com.mcpproxy.instance="+inst); len(left) != 0 {
		t.Errorf("pods left after shutdown: %v", left)
	}
	if out, _ := k.KubectlErr("-n", ns, "get", "lease", "-o", "name"); strings.Contains(out, inst) {
		t.Errorf("the instance Lease is left after shutdown: %s", out)
	}
}

// TestKubeFailuresReported: an image the node does not have fails its
// server's start at once with the node's reason, in last_error and in the
// error of a call to it; an OOM kill fails the
// call with its reason (the client is told the pod was OOM-killed, as with
// Docker) and reaches the list view, and the server comes back in a new
// pod.
func TestKubeFailuresReported(t *testing.T) {
	image := testutil.FixtureImage(t)
	k := testutil.RequireKube(t)
	k.LoadImage(t, image)
	ns := k.Namespace(t)
	missing := "mcpproxy-test/not-present:" + randomHex(t, 4)
	h := startApp(t, kubeIsoConfig(t, k, ns, map[string]any{"timeout": "60s"},
		isoServer("hog", image, map[string]any{"memory_limit": "64m"}, "/mcpfixture"),
		isoServer("ghost", missing, nil, "/srv")))
	cs := h.connect("/mcp", nil)
	began := time.Now()
	ghost := waitServer(t, cs, "ghost", 60*time.Second, "failed with the node's reason", func(v ServerView) bool {
		return strings.Contains(v.LastError, "is not present")
	})
	mustContain(t, ghost.LastError, missing)
	mustContain(t, ghost.LastError, "image_pull_policy")
	if took := time.Since(began); took > 30*time.Second {
		t.Errorf("the missing image was reported after %v (start timeout 60s)", took)
	}
	// A call to it fails with the same reason.
	why := clientError(t, cs, "ghost", "echo")
	mustContain(t, why, missing)
	mustContain(t, why, "is not present")

	first := readyInContainer(t, cs, "hog", 2*time.Minute)
	oomErr := watchLastError(t, h, "hog", "OOM-killed")
	res := callTool(t, cs, "call_tool", map[string]any{"name": "hog:alloc", "args": map[string]any{"mb": 200}})
	if !res.IsError {
		t.Fatalf("alloc 200 MiB under a 64m limit succeeded: %s", resultText(res))
	}
	// The client whose call failed is told why, as with Docker: the pod's
	// status (read by Container.Exit once the stream ended) names the kill.
	mustContain(t, resultText(res), `server "hog" ended during the call`)
	mustContain(t, resultText(res), "OOM-killed")
	mustContain(t, resultText(res), "64Mi")
	v := waitServer(t, cs, "hog", time.Minute, "reported OOM-killed", func(v ServerView) bool {
		return v.LastExit != nil && v.LastExit.OOMKilled
	})
	mustContain(t, v.LastExit.Reason, "OOM-killed")
	mustContain(t, v.LastExit.Reason, "64Mi")
	select {
	case e := <-oomErr:
		mustContain(t, e, "64Mi")
	case <-time.After(time.Minute):
		t.Error("last_error never named the OOM kill")
	}
	again := readyInContainer(t, cs, "hog", 2*time.Minute)
	if again.Isolation.ContainerID == first.Isolation.ContainerID {
		t.Errorf("hog did not come back in a new pod")
	}
}

// TestKubeCrashedProxyPodsReapedByLease: kill -9 of a proxy leaves its
// pods (their Lease is still valid); another proxy in the namespace removes
// them once the Lease has lapsed, and its own pods, and those of a third
// running proxy, survive.
func TestKubeCrashedProxyPodsReapedByLease(t *testing.T) {
	image := testutil.FixtureImage(t)
	k := testutil.RequireKube(t)
	k.LoadImage(t, image)
	ns := k.Namespace(t)
	cfg := func(server string) string {
		return kubeIsoConfig(t, k, ns, nil, isoServer(server, image, nil, "/mcpfixture"))
	}
	doomed := startProxyProc(t, cfg("doomed"))
	doomed.waitReady("doomed")
	survivor := startProxyProc(t, cfg("survivor"))
	survivor.waitReady("survivor")
	doomedPods := podsOf(t, k, ns, "com.mcpproxy.server=doomed")
	survivorPods := podsOf(t, k, ns, "com.mcpproxy.server=survivor")
	if len(doomedPods) != 1 || len(survivorPods) != 1 {
		t.Fatalf("pods: doomed %v survivor %v", doomedPods, survivorPods)
	}

	if err := doomed.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-doomed.done
	killed := time.Now()
	if got := podsOf(t, k, ns, "com.mcpproxy.server=doomed"); !slices.Equal(got, doomedPods) {
		t.Fatalf("right after kill -9 the crashed proxy's pods are %v, want %v (its Lease is still valid)", got, doomedPods)
	}
	third := startProxyProc(t, cfg("third"))
	third.waitReady("third")
	deadline := time.Now().Add(3 * kube.DefaultLeaseDuration)
	for len(podsOf(t, k, ns, "com.mcpproxy.server=doomed")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the crashed proxy's pods are still there %v after kill -9", time.Since(killed))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("the crashed proxy's pods were reaped %v after kill -9 (Lease duration %v)", time.Since(killed).Round(100*time.Millisecond), kube.DefaultLeaseDuration)
	for _, p := range []*proxyProc{survivor, third} {
		for _, s := range p.servers().Servers {
			if s.State != upstream.StateReady || s.Restarts != 0 {
				b, _ := json.Marshal(s)
				t.Errorf("a running proxy's server was disturbed: %s", b)
			}
		}
	}
	if got := podsOf(t, k, ns, "com.mcpproxy.server=survivor"); !slices.Equal(got, survivorPods) {
		t.Errorf("the survivor's pods are %v, want %v", got, survivorPods)
	}
}

// TestKubeUnschedulableReported: a server no node can take — its memory
// request is larger than the node, or the kubernetes block's node_selector
// matches no node — fails its start at the start timeout (not later, and
// it does not hang) with the scheduler's reason, in last_error and in the
// error of a call to it; its pod is removed.
func TestKubeUnschedulableReported(t *testing.T) {
	image := testutil.FixtureImage(t)
	k := testutil.RequireKube(t)
	k.LoadImage(t, image)
	ns := k.Namespace(t)
	const timeout = 8 * time.Second
	began := time.Now()
	huge := startApp(t, kubeIsoConfig(t, k, ns, map[string]any{"timeout": "8s"},
		isoServer("huge", image, map[string]any{"memory_limit": "64t"}, "/mcpfixture")))
	nowhere := startApp(t, kubeIsoConfig(t, k, ns, map[string]any{"timeout": "8s", "kubernetes": map[string]any{
		"kubeconfig": k.Kubeconfig, "namespace": ns, "image_pull_policy": "Never",
		"node_selector": map[string]any{"mcpproxy-test/no-such-pool": "x"},
	}}, isoServer("nowhere", image, nil, "/mcpfixture")))
	for _, c := range []struct {
		h      *harness
		server string
		want   []string
	}{
		{huge, "huge", []string{"waiting for a node: 0/1 nodes are available", "Insufficient memory"}},
		{nowhere, "nowhere", []string{"waiting for a node: 0/1 nodes are available", "didn't match Pod's node affinity/selector"}},
	} {
		st := c.h.waitState(c.server, upstream.StateError, 3*timeout)
		took := time.Since(began)
		t.Logf("%s: failed %v after the proxy started (start timeout %v): %s", c.server, took.Round(100*time.Millisecond), timeout, st.Error)
		if took > timeout+5*time.Second {
			t.Errorf("%s: the failure took %v with a start timeout of %v", c.server, took, timeout)
		}
		failsWith(t, c.h, c.server, "echo", c.want...)
		if left := podsOf(t, k, ns, "com.mcpproxy.instance="+c.h.app.iso.instance.ID+",com.mcpproxy.server="+c.server); len(left) > 1 {
			t.Errorf("%s: pods of failed starts left: %v", c.server, left)
		}
	}
}

// TestKubeEvictionReported: a running server's pod evicted through the
// Eviction API (a drain, an autoscaler) fails the call in flight with the
// eviction named, last_exit and last_error say so, and the server comes
// back in a new pod.
func TestKubeEvictionReported(t *testing.T) {
	image := testutil.FixtureImage(t)
	k := testutil.RequireKube(t)
	k.LoadImage(t, image)
	ns := k.Namespace(t)
	h := startApp(t, kubeIsoConfig(t, k, ns, nil, isoServer("evictee", image, nil, "/mcpfixture")))
	cs := h.connect("/mcp", nil)
	first := readyInContainer(t, cs, "evictee", 2*time.Minute)
	pods := podsOf(t, k, ns, "com.mcpproxy.server=evictee")
	if len(pods) != 1 {
		t.Fatalf("pods of the server: %v", pods)
	}
	// The error of the server's connection is last_error while it
	// reconnects.
	seen := watchLastError(t, h, "evictee", "evicted")
	// The call is in flight once the server's first progress notification
	// arrives (through /mcp/evictee).
	progressed := make(chan struct{})
	var once sync.Once
	pcs := h.connect("/mcp/evictee", &mcp.ClientOptions{ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) {
		once.Do(func() { close(progressed) })
	}})
	type result struct {
		text string
		err  bool
	}
	call := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		p := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"ms": 60000}}
		p.SetProgressToken("evict")
		res, err := pcs.CallTool(ctx, p)
		switch {
		case err != nil:
			call <- result{err.Error(), true}
		default:
			call <- result{resultText(res), res.IsError}
		}
	}()
	select {
	case <-progressed:
	case r := <-call:
		t.Fatalf("the call ended before the eviction: %+v", r)
	case <-time.After(time.Minute):
		t.Fatal("no progress from the call")
	}
	eviction := `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"` + pods[0] + `","namespace":"` + ns + `"}}`
	evf := filepath.Join(t.TempDir(), "eviction.json")
	if err := os.WriteFile(evf, []byte(eviction), 0o600); err != nil {
		t.Fatal(err)
	}
	k.Kubectl(t, "create", "--raw", "/api/v1/namespaces/"+ns+"/pods/"+pods[0]+"/eviction", "-f", evf)
	var res result
	select {
	case res = <-call:
	case <-time.After(time.Minute):
		t.Fatal("the call in flight did not end after its pod was evicted")
	}
	if !res.err {
		t.Fatalf("the call in flight succeeded: %s", res.text)
	}
	t.Logf("call: %s", res.text)
	mustContain(t, res.text, "ended during the call")
	mustContain(t, res.text, "evicted through the Eviction API")
	select {
	case e := <-seen:
		t.Logf("last_error: %s", e)
		mustContain(t, e, pods[0]+" was evicted through the Eviction API")
	case <-time.After(time.Minute):
		t.Errorf("last_error never named the eviction")
	}
	v := waitServer(t, cs, "evictee", 2*time.Minute, "back in a new pod", func(v ServerView) bool {
		return v.Isolation != nil && v.Isolation.ContainerID != first.Isolation.ContainerID && v.LastExit != nil
	})
	mustContain(t, v.LastExit.Reason, "evicted through the Eviction API")
}

// TestKubeConfigBlockHonoured: every key of docker_isolation.kubernetes,
// written in the config file, is what the server's pod runs with, read back
// from the API: the kubeconfig and its context (a second context whose
// namespace is the test's; the block names no namespace), the service
// account, the RuntimeClass, the node selector and the pull policy.
func TestKubeConfigBlockHonoured(t *testing.T) {
	image := testutil.FixtureImage(t)
	k := testutil.RequireKube(t)
	k.LoadImage(t, image)
	ns := k.Namespace(t)
	sa := "mcp-servers"
	k.Kubectl(t, "-n", ns, "create", "serviceaccount", sa)
	rc := "mcpproxy-test-" + randomHex(t, 4)
	rcFile := filepath.Join(t.TempDir(), "runtimeclass.json")
	if err := os.WriteFile(rcFile, []byte(`{"apiVersion":"node.k8s.io/v1","kind":"RuntimeClass","metadata":{"name":"`+rc+`"},"handler":"runc"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	k.Kubectl(t, "create", "-f", rcFile)
	t.Cleanup(func() { _, _ = k.KubectlErr("delete", "runtimeclass", rc, "--wait=false") })
	node := strings.TrimSpace(k.Kubectl(t, "get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"))
	// A copy of the admin kubeconfig with a second context, not the
	// current one, whose namespace is the test's.
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	b, err := os.ReadFile(k.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kc, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cluster := strings.TrimSpace(k.Kubectl(t, "--kubeconfig", kc, "config", "view", "-o", "jsonpath={.contexts[0].context.cluster}"))
	user := strings.TrimSpace(k.Kubectl(t, "--kubeconfig", kc, "config", "view", "-o", "jsonpath={.contexts[0].context.user}"))
	k.Kubectl(t, "--kubeconfig", kc, "config", "set-context", "team", "--cluster", cluster, "--user", user, "--namespace", ns)

	h := startApp(t, isoConfig(t, map[string]any{"backend": "kubernetes", "kubernetes": map[string]any{
		"kubeconfig": kc, "context": "team", "service_account": sa, "runtime_class_name": rc,
		"node_selector": map[string]any{"kubernetes.io/hostname": node}, "image_pull_policy": "Never",
	}}, isoServer("honoured", image, nil, "/mcpfixture")))
	cs := h.connect("/mcp", nil)
	readyInContainer(t, cs, "honoured", 2*time.Minute)
	pods := podsOf(t, k, ns, "com.mcpproxy.server=honoured")
	if len(pods) != 1 {
		t.Fatalf("pods of the server in the context's namespace %s: %v", ns, pods)
	}
	var pod struct {
		Spec struct {
			ServiceAccountName string            `json:"serviceAccountName"`
			RuntimeClassName   string            `json:"runtimeClassName"`
			NodeSelector       map[string]string `json:"nodeSelector"`
			NodeName           string            `json:"nodeName"`
			AutomountToken     *bool             `json:"automountServiceAccountToken"`
			Containers         []struct {
				ImagePullPolicy string `json:"imagePullPolicy"`
			} `json:"containers"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(k.Kubectl(t, "-n", ns, "get", "pod", pods[0], "-o", "json")), &pod); err != nil {
		t.Fatal(err)
	}
	s := pod.Spec
	if s.ServiceAccountName != sa || s.AutomountToken == nil || *s.AutomountToken {
		t.Errorf("serviceAccountName %q, automount %v: want %q without its token", s.ServiceAccountName, s.AutomountToken, sa)
	}
	if s.RuntimeClassName != rc {
		t.Errorf("runtimeClassName %q, want %q", s.RuntimeClassName, rc)
	}
	if len(s.NodeSelector) != 1 || s.NodeSelector["kubernetes.io/hostname"] != node || s.NodeName != node {
		t.Errorf("nodeSelector %v on node %q, want kubernetes.io/hostname=%s", s.NodeSelector, s.NodeName, node)
	}
	if len(s.Containers) != 1 || s.Containers[0].ImagePullPolicy != "Never" {
		t.Errorf("containers %+v, want imagePullPolicy Never", s.Containers)
	}
	if l := listServers(t, cs); !strings.Contains(l.DockerStatus.Source, "(context team)") {
		t.Errorf("docker_status.source %q does not name the context", l.DockerStatus.Source)
	}
}

// watchLastError polls the server's last_error (as the list view shows it)
// from now on and sends the first one containing want: it holds the reason
// only between the failure and the next ready, too short a window for the
// list view's polling through MCP.
func watchLastError(t *testing.T, h *harness, server, want string) <-chan string {
	t.Helper()
	u := h.app.Manager().Get(server)
	if u == nil {
		t.Fatalf("no server %q", server)
	}
	seen := make(chan string, 1)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if e := u.Status().Error; strings.Contains(e, want) {
				seen <- e
				return
			}
		}
	}()
	return seen
}
