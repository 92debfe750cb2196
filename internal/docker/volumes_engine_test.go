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
