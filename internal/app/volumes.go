package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/docker"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// Package cache volumes outlive containers (isolation/cache.go). They go
// when their server leaves the configuration (sweepVolumes, after every
// applied configuration and at start) and with `mcpproxy upstream prune`
// (PruneCaches). Only volumes labelled with this data dir and host are ever
// considered, and only package caches.

// cachesOf returns the package cache volumes of host's data dir among vols.
func cachesOf(vols []isolation.Volume, host isolation.Host) []isolation.Volume {
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

// sweepTimeout bounds one sweep of the cache volumes.
const sweepTimeout = time.Minute

// requestSweep removes, in the background, the cache volumes of servers cfg
// no longer has, once docker has been prepared (a proxy that never used
// docker leaves that to the next start that does). Sweeps run one at a
// time; the last request wins.
func (i *Isolation) requestSweep(cfg *config.Config) {
	if !i.ready.finished() {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closing {
		return
	}
	i.sweepCfg = cfg
	if i.sweeping {
		return
	}
	i.sweeping = true
	// Started under i.mu, so never after Close began waiting for wg.
	i.wg.Go(func() {
		for {
			i.mu.Lock()
			cfg := i.sweepCfg
			i.sweepCfg = nil
			if cfg == nil || i.ctx.Err() != nil {
				i.sweeping = false
				i.mu.Unlock()
				return
			}
			i.mu.Unlock()
			i.sweepVolumes(i.ctx, cfg)
		}
	})
}

// sweepVolumes removes the package cache volumes of this data dir whose
// server is not in cfg. A volume still in use is left for the next sweep.
func (i *Isolation) sweepVolumes(ctx context.Context, cfg *config.Config) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	vols, err := i.runtime.ListVolumes(ctx)
	if err != nil {
		i.a.log.Debug("docker isolation: listing cache volumes failed", "error", err)
		return
	}
	configured := map[string]bool{}
	for _, s := range cfg.Servers {
		configured[s.Name] = true
	}
	for _, v := range cachesOf(vols, i.host) {
		server := v.Labels[isolation.LabelServer]
		if configured[server] {
			continue
		}
		if err := i.runtime.RemoveVolume(ctx, v.Name); err != nil {
			i.a.log.Warn("docker isolation: cache volume of a removed server not removed", "server", server, "volume", v.Name, "error", err)
			continue
		}
		i.a.log.Info("docker isolation: removed the cache volume of a removed server", "server", server, "volume", v.Name, "cache", v.Labels[isolation.LabelCache])
	}
}

// PruneOptions say what `mcpproxy upstream prune` removes.
type PruneOptions struct {
	// DataDir is the data dir whose volumes are pruned.
	DataDir string
	// Server, when set, limits the prune to that server's caches.
	Server string
	// DryRun lists what would be removed without removing it.
	DryRun bool
	// Out receives one line per volume.
	Out io.Writer
}

// ErrVolumesKept says that some volumes were in use and kept.
var ErrVolumesKept = errors.New("some cache volumes are in use by running servers and were kept; stop those servers (or the proxy) and prune again")

// PruneCaches removes the package cache volumes of a data dir (of one
// server, with opts.Server) directly on the Docker engine, by label; it
// needs no running proxy. Volumes a running server uses are kept and
// reported (ErrVolumesKept).
func PruneCaches(ctx context.Context, opts PruneOptions) error {
	host := MachineHost(opts.DataDir)
	rt := &docker.Runtime{Resolver: docker.NewResolver(), Prober: &docker.Prober{}}
	if st := rt.Probe(ctx, true); !st.Available {
		return fmt.Errorf("docker is not available: %s", st.Error)
	}
	vols, err := rt.ListVolumes(ctx)
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	kept, n := 0, 0
	for _, v := range cachesOf(vols, host) {
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
		switch err := rt.RemoveVolume(ctx, v.Name); {
		case errors.Is(err, isolation.ErrVolumeInUse):
			kept++
			fmt.Fprintf(opts.Out, "kept %s: in use by a running container\n", what)
		case err != nil:
			return fmt.Errorf("remove %s: %w", what, err)
		default:
			fmt.Fprintf(opts.Out, "removed %s\n", what)
		}
	}
	if n == 0 {
		fmt.Fprintf(opts.Out, "no package cache volumes of %s\n", host.DataDir)
	}
	if kept > 0 {
		return ErrVolumesKept
	}
	return nil
}
