package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// ManagedContainers is what Reap needs of a backend; every
// isolation.Runtime (and *CLI) has it.
type ManagedContainers interface {
	ListManaged(ctx context.Context) ([]isolation.Managed, error)
	Remove(ctx context.Context, id string) error
}

// Owner is who reaps: this machine, this data directory and this instance.
// The caller must hold the data directory's lock (datadir.Acquire): then no
// other live mcpproxy uses the data directory, so every other instance that
// labelled a container with this host and this data directory is dead.
type Owner struct {
	// Host is this machine's LabelHost value (datadir.HostID).
	Host string
	// DataDir is this data directory's LabelDataDir value (Lock.ID).
	DataDir string
	// Instance is this instance's LabelInstance value.
	Instance string
}

// Reap removes the containers left behind by dead mcpproxy instances of
// this host and data directory (a crash or kill -9) and returns their IDs.
// Call it at start, while holding the data directory's lock.
//
// A container is removed only when it carries LabelManaged=true, our
// LabelHost, our LabelDataDir and a LabelInstance other than ours: its
// instance is provably dead, since we hold the lock only one live instance
// of a data directory can hold. Never touched, and logged with the reason:
// containers of another host (a shared engine), of another data directory
// (another proxy, alive or not: its own next start reaps them), ours, and
// managed ones missing a label (started by an older mcpproxy, or not by
// mcpproxy at all: there is no proof).
func Reap(ctx context.Context, cli ManagedContainers, me Owner, log *slog.Logger) (removed []string, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if me.Host == "" || me.DataDir == "" || me.Instance == "" {
		return nil, errors.New("reap orphaned containers: this instance's host, data dir or instance label is unknown")
	}
	list, err := cli.ListManaged(ctx)
	if err != nil {
		return nil, fmt.Errorf("reap orphaned containers: %w", err)
	}
	var errs []error
	for _, c := range list {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		inst, host, dir := c.Labels[isolation.LabelInstance], c.Labels[isolation.LabelHost], c.Labels[isolation.LabelDataDir]
		server := c.Labels[isolation.LabelServer]
		switch {
		case inst == me.Instance:
			continue
		case inst == "" || host == "" || dir == "":
			log.Info("docker isolation: reaper keeps a managed container it cannot prove orphaned (no instance, host or data dir label)",
				"container_id", c.ID, "name", c.Name, "server", server)
			continue
		case host != me.Host:
			log.Debug("docker isolation: reaper keeps a container of another host", "container_id", c.ID, "name", c.Name, "server", server)
			continue
		case dir != me.DataDir:
			log.Debug("docker isolation: reaper keeps a container of another data dir (its owner reaps it)", "container_id", c.ID, "name", c.Name, "server", server)
			continue
		}
		if err := cli.Remove(ctx, c.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s of dead instance %s: %w", c.ID, inst, err))
			log.Warn("docker isolation: reaper could not remove an orphaned container",
				"container_id", c.ID, "instance", inst, "server", server, "error", err)
			continue
		}
		removed = append(removed, c.ID)
		log.Info("docker isolation: removed orphaned container of a dead instance",
			"container_id", c.ID, "name", c.Name, "instance", inst, "server", server)
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("reap orphaned containers: %w", errors.Join(errs...))
	}
	return removed, nil
}
