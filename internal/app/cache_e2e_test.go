package app

// Package caches (issue 10, item 2) against the real engine: an `npx -y`
// server fetches its package from a registry the test serves once; its
// second start fetches nothing from it; a second server of the same package
// has a cache of its own; removing a server from the configuration removes
// its cache volume, and `mcpproxy upstream prune` removes the rest.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/docker"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/machine"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// npxServer is an isolated `npx -y` server of the tiny package from reg,
// by name (the latest version), as people write them.
func npxServer(name, image string, reg *testutil.NpmRegistry, marker string) map[string]any {
	s := isoServer(name, image, nil, "npx", "-y", "--registry", reg.URL, testutil.NpmPackageName)
	s["env"] = map[string]string{testutil.NpmMarkerEnv: marker}
	return s
}

// cacheVolumeOf returns the list view's package cache mount of a server.
func cacheVolumeOf(t testing.TB, v ServerView) upstream.MountView {
	t.Helper()
	if v.Isolation != nil {
		for _, m := range v.Isolation.Mounts {
			if m.Type == string(isolation.MountVolume) {
				return m
			}
		}
	}
	t.Fatalf("server %q has no cache volume: %+v", v.Name, v.Isolation)
	return upstream.MountView{}
}

// volumeExists reports whether docker knows the volume.
func volumeExists(name string) bool {
	_, err := dockerRun("volume", "inspect", "--format", "{{.Name}}", name)
	return err == nil
}

// markers calls the tiny server's tool: the marker files in its npm cache.
func markers(t testing.TB, h *harness, server string) []string {
	t.Helper()
	res := callTool(t, h.connect("/mcp/"+server, nil), "markers", map[string]any{})
	var names []string
	if res.IsError || json.Unmarshal([]byte(resultText(res)), &names) != nil {
		t.Fatalf("%s markers: %s", server, resultText(res))
	}
	return names
}

func TestNpxCacheVolume(t *testing.T) {
	t.Parallel()
	image := testutil.NpmImage(t)
	reg := testutil.StartNpmRegistry(t, testutil.BridgeGateway(t))
	dataDir := t.TempDir()
	cfgPath := dataDir + "/mcp_config.json"
	write := func(servers ...map[string]any) string {
		cfg := isoConfig(t, nil, servers...)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	first := npxServer("tiny", image, reg, "first")
	h := startAppWith(t, write(first), func(o *Options) { o.DataDir, o.ConfigPath = dataDir, cfgPath })
	cs := h.connect("/mcp", nil)

	// First start: the package comes from the registry.
	start := time.Now()
	v := readyInContainer(t, cs, "tiny", 120*time.Second)
	firstStart := time.Since(start)
	vol := cacheVolumeOf(t, v)
	if vol.Target != isolation.HardenedHome+"/.npm" || vol.Mode != "rw" || vol.Reason != "package cache (npm)" {
		t.Fatalf("cache mount %+v", vol)
	}
	got := reg.Requests()
	if got["tarball"] != 1 || got["packument"] < 1 {
		t.Fatalf("first start: registry requests %v, want the tarball once", got)
	}
	t.Logf("first start: %s, registry requests %v", firstStart.Round(time.Millisecond), got)

	// Second start of the same server: nothing from the registry.
	before := reg.Total()
	if res := callTool(t, cs, "upstream_servers", map[string]any{"operation": "restart", "name": "tiny"}); res.IsError {
		t.Fatalf("restart: %s", resultText(res))
	}
	start = time.Now()
	again := waitServer(t, cs, "tiny", 120*time.Second, "ready in a new container", func(s ServerView) bool {
		return s.State == upstream.StateReady && s.Isolation != nil && s.Isolation.ContainerID != "" && s.Isolation.ContainerID != v.Isolation.ContainerID
	})
	secondStart := time.Since(start)
	if n := reg.Total() - before; n != 0 {
		t.Fatalf("second start: %d registry request(s) (%v), want none", n, reg.Requests())
	}
	if cacheVolumeOf(t, again).Source != vol.Source {
		t.Fatalf("the second start has another volume: %s, first %s", cacheVolumeOf(t, again).Source, vol.Source)
	}
	t.Logf("second start: %s (first %s), no registry request", secondStart.Round(time.Millisecond), firstStart.Round(time.Millisecond))
	if got := markers(t, h, "tiny"); !slices.Equal(got, []string{"marker-first"}) {
		t.Fatalf("tiny's cache holds markers %q", got)
	}
	labels := dockerOut(t, "volume", "inspect", "--format", "{{json .Labels}}", vol.Source)
	for _, want := range []string{`"` + isolation.LabelServer + `":"tiny"`, `"` + isolation.LabelCache + `":"npm"`, `"` + isolation.LabelDataDir + `":"` + machine.Host(dataDir, "").DataDirID + `"`} {
		mustContain(t, labels, want)
	}

	// A second server of the same package: a cache of its own, empty.
	before = reg.Requests()["tarball"]
	write(first, npxServer("tiny2", image, reg, "second"))
	v2 := readyInContainer(t, cs, "tiny2", 120*time.Second)
	vol2 := cacheVolumeOf(t, v2)
	if vol2.Source == vol.Source {
		t.Fatalf("tiny and tiny2 share the volume %s", vol.Source)
	}
	if n := reg.Requests()["tarball"] - before; n != 1 {
		t.Fatalf("tiny2 fetched the tarball %d times, want once (its own cache starts empty)", n)
	}
	if got := markers(t, h, "tiny2"); !slices.Equal(got, []string{"marker-second"}) {
		t.Fatalf("tiny2 sees markers %q: another server's cache", got)
	}

	// tiny leaves the configuration: its volume goes, tiny2's stays.
	write(npxServer("tiny2", image, reg, "second"))
	deadline := time.Now().Add(60 * time.Second)
	for volumeExists(vol.Source) {
		if time.Now().After(deadline) {
			t.Fatalf("the cache volume %s of the removed server is still there", vol.Source)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !volumeExists(vol2.Source) {
		t.Fatalf("tiny2's volume %s went too", vol2.Source)
	}
	mustContain(t, mainLog(t, h), `msg="docker isolation: removed the cache volume of a removed server" server=tiny volume=`+vol.Source)

	// prune: a volume in use is kept; once the proxy stopped, it goes.
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prune := func() error {
		rt := &docker.Runtime{Resolver: docker.NewResolver(), Prober: &docker.Prober{}}
		return rt.PruneCaches(ctx, docker.PruneOptions{Host: machine.Host(dataDir, ""), Out: &out})
	}
	err := prune()
	if !errors.Is(err, docker.ErrVolumesKept) || !strings.Contains(out.String(), "kept "+vol2.Source+` (server "tiny2", npm cache): in use`) {
		t.Fatalf("prune while tiny2 runs: %v\n%s", err, out.String())
	}
	h.stop()
	out.Reset()
	if err := prune(); err != nil || !strings.Contains(out.String(), "removed "+vol2.Source) {
		t.Fatalf("prune after the stop: %v\n%s", err, out.String())
	}
	if volumeExists(vol2.Source) {
		t.Fatalf("%s survived prune", vol2.Source)
	}
}
