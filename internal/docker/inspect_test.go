package docker

// Engine queries the tests use to check what docker did; mcpproxy itself
// never needs them.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Version returns the daemon's version.
func (c *CLI) Version(ctx context.Context) (string, error) {
	out, err := c.output(ctx, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(out))
	if v == "" {
		return "", fmt.Errorf("docker version: no server version")
	}
	return v, nil
}

// ContainerState is the run state of a container.
type ContainerState struct {
	Status     string // "created", "running", "exited", …
	Running    bool
	OOMKilled  bool
	Dead       bool
	ExitCode   int
	Pid        int
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
}

// ContainerInfo is what Inspect reports about a container.
type ContainerInfo struct {
	ID      string
	Name    string // without docker's leading "/"
	Image   string // the image reference it was started from
	ImageID string
	Created time.Time
	Labels  map[string]string
	State   ContainerState
	// MemoryBytes is the memory limit (--memory), 0 when unlimited.
	MemoryBytes int64
	// NanoCPUs is the CPU limit (--cpus × 1e9), 0 when unlimited.
	NanoCPUs int64
	// NetworkMode is "bridge", "none", "host", a network name, ….
	NetworkMode string
}

// Inspect returns the container's state and settings. A missing container
// yields an error wrapping ErrNotFound.
func (c *CLI) Inspect(ctx context.Context, id string) (*ContainerInfo, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	out, err := c.output(ctx, "container", "inspect", id)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("inspect container %s: %w", id, ErrNotFound)
		}
		return nil, err
	}
	var raw []struct {
		ID      string `json:"Id"`
		Name    string
		Created time.Time
		Image   string
		State   ContainerState
		Config  struct {
			Image  string
			Labels map[string]string
		}
		HostConfig struct {
			Memory      int64
			NanoCpus    int64
			NetworkMode string
		}
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("inspect container %s: decode: %w", id, err)
	}
	if len(raw) != 1 {
		return nil, fmt.Errorf("inspect container %s: %w", id, ErrNotFound)
	}
	r := raw[0]
	return &ContainerInfo{
		ID:          r.ID,
		Name:        strings.TrimPrefix(r.Name, "/"),
		Image:       r.Config.Image,
		ImageID:     r.Image,
		Created:     r.Created,
		Labels:      r.Config.Labels,
		State:       r.State,
		MemoryBytes: r.HostConfig.Memory,
		NanoCPUs:    r.HostConfig.NanoCpus,
		NetworkMode: r.HostConfig.NetworkMode,
	}, nil
}

// Stop stops the container, giving it grace before docker kills it. A
// container that no longer exists counts as stopped.
func (c *CLI) Stop(ctx context.Context, id string, grace time.Duration) error {
	if err := checkID(id); err != nil {
		return err
	}
	secs := int(math.Ceil(grace.Seconds()))
	if secs < 0 {
		secs = 0
	}
	_, err := c.output(ctx, "stop", "--time", strconv.Itoa(secs), id)
	if err != nil && (isNotFound(err) || isRemovalInProgress(err)) {
		return nil
	}
	return err
}
