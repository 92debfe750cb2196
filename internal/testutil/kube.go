package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// KubeDirEnv names the variable holding the test cluster's folder: the
// K8S_DIR that ../shared/k8s/up.sh started it in (scripts/test.sh sets it).
const KubeDirEnv = "K8S_DIR"

// KubeCluster is the one-node test cluster of ../shared/k8s.
type KubeCluster struct {
	// Dir is K8S_DIR; Kubeconfig its admin kubeconfig.
	Dir, Kubeconfig string
	// Scripts is ../shared/k8s (up.sh, load-image.sh, down.sh).
	Scripts string
}

// RequireKube returns the running test cluster, or skips the test (fails it
// in CI) saying what is missing: K8S_DIR, its admin kubeconfig, kubectl, or
// an API server that answers /readyz.
func RequireKube(t testing.TB) *KubeCluster {
	t.Helper()
	shared := requireShared(t, t.Name())
	dir := os.Getenv(KubeDirEnv)
	_, err := memo.do("kube", func() (string, error) {
		if dir == "" {
			return "", fmt.Errorf("%s is not set (scripts/test.sh builds and starts the cluster; by hand: %s=<dir> %s/k8s/build.sh && %s/k8s/up.sh)",
				KubeDirEnv, KubeDirEnv, shared, shared)
		}
		kc := filepath.Join(dir, "admin.kubeconfig")
		if _, err := os.Stat(kc); err != nil {
			return "", fmt.Errorf("no admin kubeconfig in %s=%s: start the cluster with %s/k8s/up.sh", KubeDirEnv, dir, shared)
		}
		if _, err := exec.LookPath("kubectl"); err != nil {
			return "", fmt.Errorf("kubectl is not installed (apt-get install kubernetes-client)")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "kubectl", "--kubeconfig", kc, "get", "--raw", "/readyz").CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("the cluster in %s does not answer: %v: %s", dir, err, bytes.TrimSpace(out))
		}
		return kc, nil
	})
	if err != nil {
		skipOrFatal(t, "%s needs the Kubernetes test cluster: %v", t.Name(), err)
	}
	return &KubeCluster{Dir: dir, Kubeconfig: filepath.Join(dir, "admin.kubeconfig"), Scripts: filepath.Join(shared, "k8s")}
}

// Kubectl runs kubectl against the cluster and returns its stdout; it
// fails t when kubectl fails.
func (k *KubeCluster) Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := k.KubectlErr(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// KubectlErr runs kubectl against the cluster and returns its stdout, or
// an error holding its stderr.
func (k *KubeCluster) KubectlErr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", k.Kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// Namespace creates a namespace of its own for the test and deletes it
// (with everything in it) at cleanup.
func (k *KubeCluster) Namespace(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	ns := "mcpproxy-test-" + hex.EncodeToString(b[:])
	k.Kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() {
		if _, err := k.KubectlErr("delete", "namespace", ns, "--wait=false"); err != nil {
			t.Logf("delete namespace %s: %v", ns, err)
		}
	})
	return ns
}

// LoadImage copies the local Docker image into the cluster's containerd
// (pods then run it with imagePullPolicy Never or IfNotPresent), once per
// test process and image.
func (k *KubeCluster) LoadImage(t testing.TB, image string) {
	t.Helper()
	_, err := memo.do("kube-image/"+image, func() (string, error) {
		if k.hasImage(image) {
			return "", nil
		}
		return "", withLock("kube-image", func() error {
			if k.hasImage(image) {
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(k.Scripts, "load-image.sh"), image)
			cmd.Env = append(os.Environ(), KubeDirEnv+"="+k.Dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("load-image.sh %s: %w: %s", image, err, bytes.TrimSpace(out))
			}
			return nil
		})
	})
	fatalIf(t, err, "load image "+image+" into the cluster")
}

// hasImage reports whether the cluster's containerd has image.
func (k *KubeCluster) hasImage(image string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ctr", "-a", filepath.Join(k.Dir, "containerd", "containerd.sock"),
		"-n", "k8s.io", "images", "ls", "-q", "name=="+NormalizeImage(image)).Output()
	return err == nil && strings.TrimSpace(string(out)) != ""
}

// NormalizeImage writes a Docker image reference the way containerd (and
// the kubelet) name it: "python:3.11" → "docker.io/library/python:3.11",
// "mcpproxy-test/x:1" → "docker.io/mcpproxy-test/x:1".
func NormalizeImage(image string) string {
	first, _, hasSlash := strings.Cut(image, "/")
	switch {
	case !hasSlash:
		return "docker.io/library/" + image
	case strings.ContainsAny(first, ".:") || first == "localhost":
		return image
	}
	return "docker.io/" + image
}

// ProxyImage returns the tag of mcpproxy's own container image, built the
// way users build it (scripts/build-image.sh: deploy/kubernetes/Dockerfile,
// FROM scratch) around ProxyBinary (static), tagged by the binary's hash:
// mcpproxy-test/mcpproxy:<hash>.
func ProxyImage(t testing.TB) string {
	t.Helper()
	docker := requireImageHost(t)
	bin := ProxyBinary(t)
	tag, err := memo.do("image/mcpproxy", func() (string, error) {
		root, err := ModuleRoot()
		if err != nil {
			return "", err
		}
		h := newHasher()
		h.str("layout", imageLayout)
		if err := h.file("/mcpproxy", bin); err != nil {
			return "", err
		}
		tag := ImagePrefix + "mcpproxy:" + h.key()
		if imageExists(docker, tag) {
			return tag, nil
		}
		return tag, withLock("image-mcpproxy", func() error {
			if imageExists(docker, tag) {
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "build-image.sh"), tag)
			cmd.Env = append(os.Environ(), "BINARY="+bin)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("scripts/build-image.sh: %w: %s", err, bytes.TrimSpace(out))
			}
			return nil
		})
	})
	fatalIf(t, err, "ProxyImage")
	return tag
}
