package app

import (
	"context"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/docker"
)

// Package cache volumes go when their server leaves the configuration: the
// app sweeps them (docker.SweepCaches) in the background after every
// applied configuration and at start.

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
// server is not in cfg.
func (i *Isolation) sweepVolumes(ctx context.Context, cfg *config.Config) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	configured := map[string]bool{}
	for _, s := range cfg.Servers {
		configured[s.Name] = true
	}
	docker.SweepCaches(ctx, i.runtime, i.host, configured, i.a.log)
}
