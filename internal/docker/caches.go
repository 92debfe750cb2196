package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// Package cache volumes outlive containers (isolation/cache.go). They go
// when their server leaves the configuration (SweepCaches, after every
// applied configuration and at start) and with `mcpproxy upstream prune`
// (Runtime.PruneCaches). Only volumes labelled with the data dir and host
// in question are ever considered, and only package caches.

// CachesOf returns the package cache volumes of host's data dir among vols,
// by name.
func CachesOf(vols []isolation.Volume, host isolation.Host) []isolation.Volume {
	var out []isolation.Volume
	for _, v := range vols {
		l := v.Labels
		if l[isolation.LabelManaged] == "true" && l[isolation.LabelCache] != "" &&
			l[isolation.LabelDataDir] == host.DataDirID && l[isolation.LabelHost] == host.HostID {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SweepCaches removes the package cache volumes of host's data dir whose
// server is not in servers. A volume still in use is left for the next
// sweep; every removal and failure is logged.
func SweepCaches(ctx context.Context, v isolation.Volumes, host isolation.Host, servers map[string]bool, log *slog.Logger) {
	vols, err := v.ListVolumes(ctx)
	if err != nil {
		log.Debug("docker isolation: listing cache volumes failed", "error", err)
		return
	}
	for _, vol := range CachesOf(vols, host) {
		server := vol.Labels[isolation.LabelServer]
		if servers[server] {
			continue
		}
		if err := v.RemoveVolume(ctx, vol.Name); err != nil {
			log.Warn("docker isolation: cache volume of a removed server not removed", "server", server, "volume", vol.Name, "error", err)
			continue
		}
		log.Info("docker isolation: removed the cache volume of a removed server", "server", server, "volume", vol.Name, "cache", vol.Labels[isolation.LabelCache])
	}
}

// PruneOptions say what `mcpproxy upstream prune` removes.
type PruneOptions struct {
	// Host names the data dir (and machine) whose caches are pruned.
	Host isolation.Host
	// Server, when set, limits the prune to that server's caches.
	Server string
	// DryRun lists what would be removed without removing it.
	DryRun bool
	// Out receives one line per volume or image.
	Out io.Writer
}

// ErrVolumesKept says that some volumes were in use and kept.
var ErrVolumesKept = errors.New("some cache volumes are in use by running servers and were kept; stop those servers (or the proxy) and prune again")

// PruneCaches removes the package cache volumes of a data dir (of one
// server, with opts.Server) directly on the engine, by label; it needs no
// running proxy. Volumes a running server uses are kept and reported
// (ErrVolumesKept). The images that set up a cache volume's owner, left
// behind when a proxy ended in the middle of it, go too (by their labels:
// this data dir's and host's only).
func (r *Runtime) PruneCaches(ctx context.Context, opts PruneOptions) error {
	if st := r.Probe(ctx, true); !st.Available {
		return fmt.Errorf("docker is not available: %s", st.Error)
	}
	vols, err := r.ListVolumes(ctx)
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	kept, n := 0, 0
	for _, v := range CachesOf(vols, opts.Host) {
		server, cache := v.Labels[isolation.LabelServer], v.Labels[isolation.LabelCache]
		if opts.Server != "" && server != opts.Server {
			continue
		}
		n++
		what := fmt.Sprintf("%s (server %q, %s cache)", v.Name, server, cache)
		if opts.DryRun {
			fmt.Fprintf(opts.Out, "would remove %s\n", what)
			continue
		}
		switch err := r.RemoveVolume(ctx, v.Name); {
		case errors.Is(err, isolation.ErrVolumeInUse):
			kept++
			fmt.Fprintf(opts.Out, "kept %s: in use by a running container\n", what)
		case err != nil:
			return fmt.Errorf("remove %s: %w", what, err)
		default:
			fmt.Fprintf(opts.Out, "removed %s\n", what)
		}
	}
	if opts.Server == "" {
		m, err := r.pruneVolumeInitImages(ctx, opts)
		if err != nil {
			return err
		}
		n += m
	}
	if n == 0 {
		fmt.Fprintf(opts.Out, "no package cache volumes of %s\n", opts.Host.DataDir)
	}
	if kept > 0 {
		return ErrVolumesKept
	}
	return nil
}

// pruneVolumeInitImages removes the volume set-up images of opts.Host's data
// dir (chownVolume removes each at once; one is left only when its proxy
// ended in between) and returns how many there were.
func (r *Runtime) pruneVolumeInitImages(ctx context.Context, opts PruneOptions) (int, error) {
	cli, _, _ := r.cli(ctx)
	refs, err := cli.ImagesLabelled(ctx, isolation.LabelManaged+"=true", isolation.LabelVolumeInit,
		isolation.LabelHost+"="+opts.Host.HostID, isolation.LabelDataDir+"="+opts.Host.DataDirID)
	if err != nil {
		return 0, fmt.Errorf("list images: %w", err)
	}
	for _, ref := range refs {
		what := fmt.Sprintf("image %s (left by a cache volume's set-up)", ref)
		if opts.DryRun {
			fmt.Fprintf(opts.Out, "would remove %s\n", what)
			continue
		}
		if err := cli.RemoveImage(ctx, ref); err != nil {
			return 0, fmt.Errorf("remove %s: %w", what, err)
		}
		fmt.Fprintf(opts.Out, "removed %s\n", what)
	}
	return len(refs), nil
}
