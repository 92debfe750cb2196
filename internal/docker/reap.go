package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// ManagedContainers is what Reap needs of a backend; every
// isolation.Runtime (and *CLI) has it.
type ManagedContainers interface {
	ListManaged(ctx context.Context) ([]isolation.Managed, error)
	Remove(ctx context.Context, id string) error
}

// staleAcquireAge is how old an unlocked temporary lock file must be before
// Reap deletes it (AcquireInstance locks it within microseconds).
const staleAcquireAge = time.Minute

// Reap removes the containers left behind by dead mcpproxy instances (a
// crash or kill -9) and returns their IDs. Call it at start, after
// AcquireInstance; self is this instance's ID.
//
// A container is removed only when it carries LabelManaged=true and a
// LabelInstance whose lock file exists in lockDir and is held by nobody —
// proof that the instance that started it is dead. Never touched: containers
// without the managed label, managed ones without an instance label, self's,
// those of live instances, and those whose instance has no lock file in
// lockDir (another user's, another host's on a shared engine, or another
// TMPDIR's: their liveness cannot be known here). Skips are logged.
//
// Afterwards the lock files of dead instances are deleted, except for an
// instance whose container could not be removed (so the next start retries).
func Reap(ctx context.Context, cli ManagedContainers, lockDir, self string, log *slog.Logger) (removed []string, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	list, err := cli.ListManaged(ctx)
	if err != nil {
		return nil, fmt.Errorf("reap orphaned containers: %w", err)
	}
	seen := map[string]liveness{}
	failed := map[string]bool{}
	var errs []error
	for _, m := range list {
		c := struct{ ID, Name, Instance, Server string }{m.ID, m.Name, m.Labels[isolation.LabelInstance], m.Labels[isolation.LabelServer]}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if c.Instance == "" {
			log.Warn("docker isolation: reaper keeps a managed container without an instance label",
				"container_id", c.ID, "name", c.Name, "server", c.Server)
			continue
		}
		if c.Instance == self {
			continue
		}
		lv, ok := seen[c.Instance]
		if !ok {
			lv = instanceLiveness(lockDir, c.Instance)
			seen[c.Instance] = lv
		}
		switch lv {
		case livenessAlive:
			log.Debug("docker isolation: reaper keeps a container of a live instance",
				"container_id", c.ID, "instance", c.Instance, "server", c.Server)
		case livenessUnknown:
			log.Info("docker isolation: reaper keeps a container of an instance it cannot check (no lock file here)",
				"container_id", c.ID, "name", c.Name, "instance", c.Instance, "server", c.Server, "lock_dir", lockDir)
		case livenessDead:
			if err := cli.Remove(ctx, c.ID); err != nil {
				failed[c.Instance] = true
				errs = append(errs, fmt.Errorf("remove container %s of dead instance %s: %w", c.ID, c.Instance, err))
				log.Warn("docker isolation: reaper could not remove an orphaned container",
					"container_id", c.ID, "instance", c.Instance, "server", c.Server, "error", err)
				continue
			}
			removed = append(removed, c.ID)
			log.Info("docker isolation: removed orphaned container of a dead instance",
				"container_id", c.ID, "name", c.Name, "instance", c.Instance, "server", c.Server)
		}
	}

	ids, stale := lockFiles(lockDir, staleAcquireAge)
	for _, id := range ids {
		if id == self || failed[id] || seen[id] == livenessAlive {
			continue
		}
		removeDeadLock(filepath.Join(lockDir, id+lockSuffix)) // no-op if the lock is held
	}
	for _, p := range stale {
		removeDeadLock(p)
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("reap orphaned containers: %w", errors.Join(errs...))
	}
	return removed, nil
}
