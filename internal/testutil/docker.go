package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ImagePrefix starts the name of every image the tests build. Such images are
// a cache: built when missing, never removed by tests.
const ImagePrefix = "mcpproxy-test/"

// imageLayout is part of every image key; bump it when an image's layout changes.
const imageLayout = "1"

// RequireDocker returns the absolute path of the docker CLI once the engine
// has answered `docker info`, or skips the test (fails it in CI) when there is
// no CLI or no engine.
func RequireDocker(t testing.TB) string {
	t.Helper()
	path, err := memo.do("docker", probeDocker)
	if err != nil {
		skipOrFatal(t, "%s needs a Docker engine: %v", t.Name(), err)
	}
	return path
}

func probeDocker() (string, error) {
	path, err := exec.LookPath("docker")
	if err != nil {
		return "", err
	}
	if path, err = filepath.Abs(path); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return "", fmt.Errorf("docker info: %v: %s", err, bytes.TrimSpace(out))
	}
	return path, nil
}

// EverythingImage returns the tag of a local FROM-scratch image holding the
// conformance reference server at /everything-server (and an empty /tmp). It
// has no entrypoint: give the command at run time, e.g.
// `docker run -i --rm TAG /everything-server`.
func EverythingImage(t testing.TB) string {
	t.Helper()
	return staticImage(t, "everything", "/everything-server", buildEverything)
}

// FixtureImage returns the tag of a local FROM-scratch image holding the
// fixture server at /mcpfixture (and an empty /tmp), without an entrypoint.
func FixtureImage(t testing.TB) string {
	t.Helper()
	return staticImage(t, "mcpfixture", "/mcpfixture", buildFixture)
}

// NodeImage returns the tag of a local image with the host's node at
// /usr/bin/node, every library `ldd` lists for it at the same path (the
// dynamic loader included), the Node peers at /peers/node_modules and an empty
// /tmp, so that e.g.
// `node /peers/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js /data`
// runs inside. A new image must pass `node -e 1` before it is kept.
func NodeImage(t testing.TB) string {
	t.Helper()
	docker := requireImageHost(t)
	node := RequireNode(t)
	peers := NodePeers(t)
	tag, err := memo.do("image/node", func() (string, error) {
		nodeBin, err := filepath.EvalSymlinks(node)
		if err != nil {
			return "", err
		}
		libs, err := ldd(nodeBin)
		if err != nil {
			return "", err
		}
		h := newHasher()
		h.str("layout", imageLayout)
		h.str("peers", filepath.Base(filepath.Dir(peers))) // node-peers-<archive hash>
		if err := h.file("/usr/bin/node", nodeBin); err != nil {
			return "", err
		}
		tree := rootfs{}
		tree.dir("/tmp", 0o1777)
		tree.file("/usr/bin/node", nodeBin, 0o755)
		if err := addHostFiles(h, &tree, libs); err != nil {
			return "", err
		}
		tree.tree("/peers/node_modules", filepath.Join(peers, "node_modules"))
		return ensureImage(docker, "node", h.key(), tree, func(tag string) error {
			return smokeRun(docker, tag, "node", "-e", "1")
		})
	})
	fatalIf(t, err, "NodeImage")
	return tag
}

// addHostFiles copies each host file (symlinks followed) to the same path
// in tree and hashes it into h, in the order given (a path given twice is
// taken once), so that the image key is the same on every run.
func addHostFiles(h *hasher, tree *rootfs, paths []string) error {
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		src, err := filepath.EvalSymlinks(p)
		if err != nil {
			return err
		}
		if err := h.file(p, src); err != nil {
			return err
		}
		tree.file(p, src, 0o755)
	}
	return nil
}

// staticImage builds (once) a FROM-scratch image holding one static linux
// binary at path.
func staticImage(t testing.TB, name, path string, build func(goos, goarch string) (string, error)) string {
	t.Helper()
	docker := requireImageHost(t)
	tag, err := memo.do("image/"+name, func() (string, error) {
		bin, err := build("linux", runtime.GOARCH)
		if err != nil {
			return "", err
		}
		h := newHasher()
		h.str("layout", imageLayout)
		if err := h.file(path, bin); err != nil {
			return "", err
		}
		tree := rootfs{}
		tree.dir("/tmp", 0o1777)
		tree.file(path, bin, 0o755)
		return ensureImage(docker, name, h.key(), tree, nil)
	})
	fatalIf(t, err, name+" image")
	return tag
}

// requireImageHost returns docker's path when images can be built here: the
// images are made of host binaries, so the host must be linux.
func requireImageHost(t testing.TB) string {
	t.Helper()
	docker := RequireDocker(t)
	if runtime.GOOS != "linux" {
		skipOrFatal(t, "%s: test images are built from host binaries and need a linux host, not %s", t.Name(), runtime.GOOS)
	}
	return docker
}

// ensureImage returns mcpproxy-test/name:key, importing tree as that image
// unless the engine has it already. A new image that fails smoke is removed
// again (it was created a moment ago by this call) and reported.
func ensureImage(docker, name, key string, tree rootfs, smoke func(tag string) error) (string, error) {
	tag := ImagePrefix + name + ":" + key
	if imageExists(docker, tag) {
		return tag, nil
	}
	err := withLock("image-"+name, func() error {
		if imageExists(docker, tag) {
			return nil
		}
		if err := importImage(docker, tag, tree); err != nil {
			return err
		}
		if smoke == nil {
			return nil
		}
		if err := smoke(tag); err != nil {
			_ = exec.Command(docker, "image", "rm", tag).Run()
			return fmt.Errorf("smoke test of new image %s: %w", tag, err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return tag, nil
}

func imageExists(docker, tag string) bool {
	return exec.Command(docker, "image", "inspect", "--format", "{{.Id}}", tag).Run() == nil
}

// importImage streams tree as a tar to `docker import`, which needs no
// registry and no builder.
func importImage(docker, tag string, tree rootfs) error {
	cmd := exec.Command(docker, "import", "-", tag)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	werr := tree.writeTar(stdin)
	if cerr := stdin.Close(); werr == nil {
		werr = cerr
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("docker import %s: %w: %s", tag, errors.Join(err, werr), bytes.TrimSpace(out.Bytes()))
	}
	if werr != nil {
		return fmt.Errorf("docker import %s: writing the root filesystem: %w", tag, werr)
	}
	return nil
}

// smokeRun runs args in a throwaway, network-less container of tag.
func smokeRun(docker, tag string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := append([]string{"run", "--rm", "--network", "none", tag}, args...)
	out, err := exec.CommandContext(ctx, docker, argv...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker %s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// BridgeGateway is the host side of the default docker bridge (docker0):
// what `docker network inspect bridge` reports as its gateway, or the
// address of the bridge's interface when the engine leaves it out. A
// listener the test opens there is reachable from containers on the
// default bridge network.
func BridgeGateway(t testing.TB) string {
	t.Helper()
	docker := RequireDocker(t)
	inspect := func(format string) string {
		out, err := exec.Command(docker, "network", "inspect", "bridge", "--format", format).Output()
		fatalIf(t, err, "docker network inspect bridge")
		return strings.TrimSpace(string(out))
	}
	if gw := inspect("{{range .IPAM.Config}}{{.Gateway}}{{end}}"); net.ParseIP(gw) != nil {
		return gw
	}
	ifname := inspect(`{{index .Options "com.docker.network.bridge.name"}}`)
	if ifname == "" {
		ifname = "docker0"
	}
	iface, err := net.InterfaceByName(ifname)
	fatalIf(t, err, "default bridge interface "+ifname)
	addrs, _ := iface.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	t.Fatalf("default bridge interface %q has no IPv4 address", ifname)
	return ""
}
