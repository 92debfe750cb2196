package docker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// volumeOwnerInside reports the uid:gid and mode of a volume's root as a
// container sees it.
func volumeOwnerInside(t *testing.T, cli *CLI, image, volume string) string {
	t.Helper()
	out, err := cli.output(ctxT(t, time.Minute), "run", "--rm", "--network", "none", "--mount", "type=volume,src="+volume+",dst=/v", image,
		"node", "-e", `const s=require("fs").statSync("/v"); console.log(s.uid+":"+s.gid+" "+(s.mode&0o777).toString(8))`)
	if err != nil {
		t.Fatalf("stat the volume: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// A plan's cache volume is created labelled and given to the container's
// user; a volume of that name that is not this server's is refused and left
// alone; a change of user makes it again; one in use is not removed.
func TestEngineCacheVolume(t *testing.T) {
	r := engineRuntime(t, false)
	image := testutil.NodeImage(t)
	cli, _, _ := r.cli(context.Background())
	name := "mcpproxy-enginetest-npm-" + r.Instance
	foreign := "mcpproxy-enginetest-foreign-" + r.Instance
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = cli.RemoveVolume(ctx, name)
		_ = cli.RemoveVolume(ctx, foreign)
	})
	labels := testLabels(r.Instance, "vt")
	labels[isolation.LabelHost], labels[isolation.LabelDataDir] = "h-test", "d-test"
	plan := &isolation.Plan{Server: "vt", User: "4321:4322", Mounts: []isolation.Mount{
		{Type: isolation.MountVolume, Source: name, Target: "/home/x/.npm", Reason: "package cache (npm)", Cache: "npm"},
	}}
	if err := r.ensureVolumes(ctxT(t, time.Minute), cli, plan, labels); err != nil {
		t.Fatal(err)
	}
	got, found, err := cli.VolumeLabels(ctxT(t, 10*time.Second), name)
	if err != nil || !found {
		t.Fatalf("volume %s: found %v, %v", name, found, err)
	}
	want := map[string]string{isolation.LabelManaged: "true", isolation.LabelServer: "vt", isolation.LabelHost: "h-test",
		isolation.LabelDataDir: "d-test", isolation.LabelCache: "npm", isolation.LabelOwner: "4321:4322"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got[isolation.LabelInstance]; ok {
		t.Error("a cache volume carries the instance label (it must outlive the instance)")
	}
	if o := volumeOwnerInside(t, cli, image, name); o != "4321:4322 700" {
		t.Fatalf("volume root inside a container: %s, want 4321:4322 700", o)
	}
	// The image that set the owner up is gone again.
	noInitImageLeft := func() {
		t.Helper()
		if refs, err := cli.ImagesLabelled(ctxT(t, 10*time.Second), isolation.LabelVolumeInit+"="+name); err != nil || len(refs) != 0 {
			t.Fatalf("volume set-up images left on the engine: %v %v", refs, err)
		}
	}
	noInitImageLeft()
	// Again: kept as it is.
	if err := r.ensureVolumes(ctxT(t, time.Minute), cli, plan, labels); err != nil {
		t.Fatal(err)
	}
	vols, err := r.ListVolumes(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, v := range vols {
		listed = listed || v.Name == name && v.Labels[isolation.LabelServer] == "vt"
	}
	if !listed {
		t.Fatalf("ListVolumes does not list %s: %+v", name, vols)
	}

	// A volume of that name that is not ours is refused and left alone.
	if err := cli.CreateVolume(ctxT(t, 10*time.Second), foreign, map[string]string{"someone.else": "yes"}); err != nil {
		t.Fatal(err)
	}
	bad := &isolation.Plan{Server: "vt", Mounts: []isolation.Mount{{Type: isolation.MountVolume, Source: foreign, Target: "/c", Cache: "npm"}}}
	err = r.ensureVolumes(ctxT(t, time.Minute), cli, bad, labels)
	if err == nil || !strings.Contains(err.Error(), "is not this server's npm cache") {
		t.Fatalf("a foreign volume: %v", err)
	}
	if l, found, _ := cli.VolumeLabels(ctxT(t, 10*time.Second), foreign); !found || l["someone.else"] != "yes" || l[isolation.LabelManaged] != "" {
		t.Fatalf("the foreign volume was changed: %v %v", found, l)
	}

	// Another user: made again, theirs.
	plan.User = "5000:5001"
	if err := r.ensureVolumes(ctxT(t, time.Minute), cli, plan, labels); err != nil {
		t.Fatal(err)
	}
	if o := volumeOwnerInside(t, cli, image, name); o != "5000:5001 700" {
		t.Fatalf("after a change of user: %s", o)
	}
	noInitImageLeft()

	// In use: not removed; then removed; then gone is fine.
	out, err := cli.output(ctxT(t, 30*time.Second), "create", "--label", isolation.LabelManaged+"=true", "--label", isolation.LabelInstance+"="+r.Instance,
		"--mount", "type=volume,src="+name+",dst=/v", image, "node")
	if err != nil {
		t.Fatal(err)
	}
	user := strings.TrimSpace(string(out))
	err = r.RemoveVolume(ctxT(t, 10*time.Second), name)
	if !errors.Is(err, isolation.ErrVolumeInUse) {
		t.Fatalf("RemoveVolume of a volume in use = %v", err)
	}
	if err := cli.Remove(ctxT(t, 30*time.Second), user); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := r.RemoveVolume(ctxT(t, 10*time.Second), name); err != nil {
			t.Fatalf("RemoveVolume #%d: %v", i+1, err)
		}
	}
	if _, found, _ := cli.VolumeLabels(ctxT(t, 10*time.Second), name); found {
		t.Fatal("the volume is still there")
	}
}

// prune removes the volume set-up images a proxy of its data dir left
// behind (it ended between making one and removing it), by their labels:
// never one of another data dir, nor an image without them.
func TestEnginePruneRemovesLeftSetUpImages(t *testing.T) {
	r := engineRuntime(t, false)
	cli, _, _ := r.cli(context.Background())
	mine := isolation.Host{DataDir: "/test/data", DataDirID: "d-" + r.Instance, HostID: "h-" + r.Instance}
	image := func(what, dataDir string, labelled bool) string {
		ref := volumeInitRepo + ":test-" + what + "-" + r.Instance
		labels := map[string]string{}
		if labelled {
			labels = map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: "0123456789abcdef", isolation.LabelServer: "s",
				isolation.LabelHost: mine.HostID, isolation.LabelDataDir: dataDir, isolation.LabelVolumeInit: "mcpproxy-s-npm-x"}
		}
		if err := cli.ImportDir(ctxT(t, time.Minute), ref, "cache", "1000", "1000", labels); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cli.RemoveImage(context.Background(), ref) })
		return ref
	}
	left := image("left", mine.DataDirID, true)
	theirs := image("theirs", "d-other-"+r.Instance, true)
	plain := image("plain", mine.DataDirID, false)
	exists := func(ref string) bool {
		ok, err := cli.ImageExists(ctxT(t, 10*time.Second), ref)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	var out strings.Builder
	if err := r.PruneCaches(ctxT(t, time.Minute), PruneOptions{Host: mine, DryRun: true, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if want := "would remove image " + left + " (left by a cache volume's set-up)\n"; out.String() != want || !exists(left) {
		t.Fatalf("dry run: %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := r.PruneCaches(ctxT(t, time.Minute), PruneOptions{Host: mine, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if want := "removed image " + left + " (left by a cache volume's set-up)\n"; out.String() != want || exists(left) {
		t.Fatalf("prune: %q, want %q (still there: %v)", out.String(), want, exists(left))
	}
	if !exists(theirs) || !exists(plain) {
		t.Fatalf("prune removed an image of another data dir (%v) or one without mcpproxy's labels (%v)", !exists(theirs), !exists(plain))
	}
}
