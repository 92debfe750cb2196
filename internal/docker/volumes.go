package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// Package cache volumes (isolation/cache.go) on the Docker engine: Start
// creates each volume of a Plan, labelled, before `docker run` (docker would
// create a missing one itself, unlabelled), and gives its root to the
// container's user; a volume of that name that is not this server's is
// never used or touched. The Runtime also implements isolation.Volumes.

var _ isolation.Volumes = (*Runtime)(nil)

// ListVolumes implements isolation.Volumes.
func (r *Runtime) ListVolumes(ctx context.Context) ([]isolation.Volume, error) {
	cli, _, _ := r.cli(ctx)
	return cli.ListVolumes(ctx)
}

// RemoveVolume implements isolation.Volumes.
func (r *Runtime) RemoveVolume(ctx context.Context, name string) error {
	cli, _, _ := r.cli(ctx)
	return cli.RemoveVolume(ctx, name)
}

// volumeLabels are the labels of a plan's volume m: the container's labels
// that outlive an instance (managed, server, host, data dir; not the
// instance), the cache it holds and the owner of its root.
func volumeLabels(containerLabels map[string]string, m isolation.Mount, owner string) map[string]string {
	l := map[string]string{isolation.LabelManaged: "true", isolation.LabelCache: m.Cache, isolation.LabelOwner: owner}
	for _, k := range []string{isolation.LabelServer, isolation.LabelHost, isolation.LabelDataDir} {
		l[k] = containerLabels[k]
	}
	return l
}

// volumeOwner is the "uid:gid" a plan's volumes belong to: its numeric
// non-root user, else "" (the engine's default, root).
func volumeOwner(plan *isolation.Plan) string {
	uid, gid, ok := numericUser(plan.User)
	if !ok || uid == "0" {
		return ""
	}
	return uid + ":" + gid
}

// ensureVolumes makes every volume of plan exist, labelled for this server
// and owned by the container's user. A volume of that name that is not this
// server's (other labels, or none) is an error: it is never used or
// changed. A volume of an earlier owner (the profile's user changed) is
// removed and made again: a cache is only a cache.
func (r *Runtime) ensureVolumes(ctx context.Context, cli *CLI, plan *isolation.Plan, labels map[string]string) error {
	owner := volumeOwner(plan)
	for _, m := range plan.Mounts {
		if m.Type != isolation.MountVolume {
			continue
		}
		want := volumeLabels(labels, m, owner)
		got, found, err := cli.VolumeLabels(ctx, m.Source)
		if err != nil {
			return fmt.Errorf("package cache volume %s: %w", m.Source, err)
		}
		if found {
			if !sameVolume(got, want) {
				return fmt.Errorf("volume %s exists but is not this server's %s cache (its labels say otherwise); mcpproxy never uses or removes a volume it did not make: remove or rename it, or set docker_isolation.cache_volumes to false", m.Source, m.Cache)
			}
			if got[isolation.LabelOwner] == owner {
				continue
			}
			if err := cli.RemoveVolume(ctx, m.Source); err != nil {
				return fmt.Errorf("package cache volume %s belongs to %q, not %q, and cannot be made again: %w", m.Source, got[isolation.LabelOwner], owner, err)
			}
		}
		if err := cli.CreateVolume(ctx, m.Source, want); err != nil {
			return fmt.Errorf("package cache volume %s: %w", m.Source, err)
		}
		if owner != "" {
			if err := r.chownVolume(ctx, cli, m.Source, owner, labels); err != nil {
				_ = cli.RemoveVolume(ctx, m.Source)
				return fmt.Errorf("package cache volume %s: giving it to %s: %w", m.Source, owner, err)
			}
		}
		r.log().Info("docker isolation: package cache volume created", "server", plan.Server, "volume", m.Source, "cache", m.Cache, "owner", owner)
	}
	return nil
}

// sameVolume reports whether an existing volume's labels are those of the
// volume wanted (its owner aside).
func sameVolume(got, want map[string]string) bool {
	for _, k := range []string{isolation.LabelManaged, isolation.LabelServer, isolation.LabelHost, isolation.LabelDataDir, isolation.LabelCache} {
		if got[k] != want[k] {
			return false
		}
	}
	return true
}

// volumeInitRepo is the repository of the images chownVolume makes; each
// has a tag of its own and lives only while its volume is set up.
const volumeInitRepo = "mcpproxy.local/volume-init"

// chownVolume gives the fresh volume's root to owner ("uid:gid") without
// running anything: a local image whose only content is the directory
// /cache, owned by owner, is imported; a container of it is created with
// the volume mounted at /cache, which makes the engine copy that
// directory's owner and mode to the volume's root (docker's copy-up); then
// the container and the image are removed again. Both carry this instance's
// labels (the image also LabelVolumeInit), so that a crash in between
// leaves nothing `mcpproxy upstream prune` and the reaper cannot find.
func (r *Runtime) chownVolume(ctx context.Context, cli *CLI, volume, owner string, labels map[string]string) error {
	uid, gid, _ := numericUser(owner)
	image := volumeInitRepo + ":" + uid + "-" + gid + "-" + randomHex(6)
	imageLabels := maps.Clone(labels)
	imageLabels[isolation.LabelVolumeInit] = volume
	if err := cli.ImportDir(ctx, image, "cache", uid, gid, imageLabels); err != nil {
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := cli.RemoveImage(rctx, image); err != nil {
			r.log().Warn("docker isolation: the image that set up a cache volume was not removed (mcpproxy upstream prune removes it)", "image", image, "error", err)
		}
	}()
	args := append([]string{"create", "--network", "none"}, labelFlags(labels)...)
	args = append(args, "--mount", mountValue(isolation.Mount{Type: isolation.MountVolume, Source: volume, Target: "/cache"}), image, "/none")
	out, err := cli.output(ctx, args...)
	if err != nil {
		return err
	}
	id := strings.TrimSpace(string(out))
	if err := checkID(id); err != nil {
		return fmt.Errorf("docker create printed no container ID: %q", out)
	}
	return cli.Remove(ctx, id)
}

// ImportDir makes image, with labels, from a root filesystem holding only
// the directory dir, owned by uid:gid with mode 0700 (`docker import`: no
// registry, no builder).
func (c *CLI) ImportDir(ctx context.Context, image, dir, uid, gid string, labels map[string]string) error {
	if err := checkRef(image); err != nil {
		return err
	}
	u, g := 0, 0
	if _, err := fmt.Sscan(uid, &u); err != nil {
		return fmt.Errorf("uid %q: %w", uid, err)
	}
	if _, err := fmt.Sscan(gid, &g); err != nil {
		return fmt.Errorf("gid %q: %w", gid, err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o700, Uid: u, Gid: g}); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	args := []string{"import"}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		args = append(args, "--change", "LABEL "+strconv.Quote(k)+"="+strconv.Quote(labels[k]))
	}
	cmd := c.command(ctx, append(args, "-", image)...)
	cmd.Stdin = &b
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	if err := cmd.Run(); err != nil {
		return &Error{Args: []string{"import", image}, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return nil
}

// RemoveImage removes the local image ref (its tag; the image goes with
// its last tag). Gone already is not an error.
func (c *CLI) RemoveImage(ctx context.Context, ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	_, err := c.output(ctx, "image", "rm", ref)
	var de *Error
	if err != nil && errors.As(err, &de) && strings.Contains(strings.ToLower(de.Stderr), "no such image") {
		return nil
	}
	return err
}

// ImagesLabelled lists the local images (as repository:tag) that carry
// every one of labels (key=value, or key alone for any value).
func (c *CLI) ImagesLabelled(ctx context.Context, labels ...string) ([]string, error) {
	args := []string{"image", "ls", "--format", "{{.Repository}}:{{.Tag}}"}
	for _, l := range labels {
		args = append(args, "--filter", "label="+l)
	}
	out, err := c.output(ctx, args...)
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, ref := range strings.Fields(string(out)) {
		if !strings.HasSuffix(ref, ":<none>") {
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

// VolumeLabels returns the labels of volume name and whether it exists.
func (c *CLI) VolumeLabels(ctx context.Context, name string) (map[string]string, bool, error) {
	if err := checkID(name); err != nil {
		return nil, false, err
	}
	out, err := c.output(ctx, "volume", "inspect", "--format", "{{json .Labels}}", name)
	if err != nil {
		if isNoSuchVolume(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	labels := map[string]string{}
	if s := strings.TrimSpace(string(out)); s != "" && s != "null" {
		if err := json.Unmarshal([]byte(s), &labels); err != nil {
			return nil, false, fmt.Errorf("docker volume inspect %s: decode: %w", name, err)
		}
	}
	return labels, true, nil
}

// CreateVolume creates volume name with labels (in sorted order).
func (c *CLI) CreateVolume(ctx context.Context, name string, labels map[string]string) error {
	if err := checkID(name); err != nil {
		return err
	}
	args := append([]string{"volume", "create"}, labelFlags(labels)...)
	_, err := c.output(ctx, append(args, name)...)
	return err
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// labelFlags are "--label k=v" for each label, in sorted key order.
func labelFlags(labels map[string]string) []string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	flags := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		flags = append(flags, "--label", k+"="+labels[k])
	}
	return flags
}

// RemoveVolume removes volume name: gone already is not an error, in use
// is isolation.ErrVolumeInUse.
func (c *CLI) RemoveVolume(ctx context.Context, name string) error {
	if err := checkID(name); err != nil {
		return err
	}
	_, err := c.output(ctx, "volume", "rm", name)
	var de *Error
	switch {
	case err == nil || isNoSuchVolume(err):
		return nil
	case errors.As(err, &de) && strings.Contains(strings.ToLower(de.Stderr), "in use"):
		return fmt.Errorf("remove volume %s: %w (%s)", name, isolation.ErrVolumeInUse, de.Stderr)
	}
	return err
}

// ListVolumes lists the volumes labelled com.mcpproxy.managed=true with
// their labels.
func (c *CLI) ListVolumes(ctx context.Context) ([]isolation.Volume, error) {
	out, err := c.output(ctx, "volume", "ls", "-q", "--filter", "label="+isolation.LabelManaged+"=true")
	if err != nil {
		return nil, err
	}
	names := strings.Fields(string(out))
	if len(names) == 0 {
		return nil, nil
	}
	out, err = c.output(ctx, append([]string{"volume", "inspect"}, names...)...)
	if err != nil && !isNoSuchVolume(err) { // one removed meanwhile: the others are listed
		return nil, err
	}
	var raw []struct {
		Name   string
		Labels map[string]string
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("docker volume inspect: decode: %w", err)
	}
	vols := make([]isolation.Volume, 0, len(raw))
	for _, v := range raw {
		if v.Labels[isolation.LabelManaged] == "true" {
			vols = append(vols, isolation.Volume{Name: v.Name, Labels: v.Labels})
		}
	}
	return vols, nil
}

func isNoSuchVolume(err error) bool {
	var de *Error
	return errors.As(err, &de) && strings.Contains(strings.ToLower(de.Stderr), "no such volume")
}
