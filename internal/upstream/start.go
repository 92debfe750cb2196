package upstream

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// An isolated start runs in named steps ("checking docker", "pulling
// image", "starting container", …) published as the server's phase, so
// the list view shows where a slow start is and a start that times out
// names the step it was in.

// isolationOf names the isolation that backend provides in messages:
// "docker isolation" (the feature's name, docker_isolation in the file),
// "docker isolation (backend kubernetes)" for another backend.
func isolationOf(backend string) string {
	if backend == "docker" {
		return "docker isolation"
	}
	return "docker isolation (backend " + backend + ")"
}

// backendNoun names backend as the thing that is available or not:
// "Docker", "the Kubernetes cluster".
func backendNoun(backend string) string {
	switch backend {
	case "docker":
		return "Docker"
	case "kubernetes":
		return "the Kubernetes cluster"
	}
	return "the " + backend + " backend"
}

// start is one isolated start: its current step, published as the
// server's phase.
type start struct {
	l       *IsolatingLauncher
	server  string
	info    *IsolationInfo
	timeout time.Duration
	current string
}

// step begins a named step of the start.
func (s *start) step(name string) {
	s.current = name
	s.info.Phase = name
	s.l.setPhase(s.server, name)
}

// live shows progress within the current step (pull progress).
func (s *start) live(phase string) { s.l.setPhase(s.server, phase) }

// stalled explains a failed start: when the start's deadline
// (docker_isolation.timeout) is what ended it, the message says so and
// names the step.
func (s *start) stalled(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("start timed out after %s (docker_isolation.timeout) during %s: %v", s.timeout, s.current, err)
	}
	return err
}
