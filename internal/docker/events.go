package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// eventsArgs is the `docker events` argv for the containers of instance,
// limited to the given actions ("start", "die", "oom"), since the given time.
func eventsArgs(instance string, since time.Time, actions ...string) []string {
	args := []string{"events", "--since", strconv.FormatInt(since.Unix(), 10),
		"--filter", "type=container", "--filter", "label=" + isolation.LabelInstance + "=" + instance}
	for _, a := range actions {
		args = append(args, "--filter", "event="+a)
	}
	return append(args, "--format", "{{json .}}")
}

// wireEvent is the part of a `docker events --format '{{json .}}'` line
// mcpproxy reads.
type wireEvent struct {
	Action string `json:"Action"`
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
	TimeNano int64 `json:"timeNano"`
}

// parseEvent turns one line of `docker events` into an Event; ok is false
// for lines that are not a container start, die or oom.
func parseEvent(line []byte) (isolation.Event, bool) {
	var w wireEvent
	if json.Unmarshal(line, &w) != nil || w.Actor.ID == "" {
		return isolation.Event{}, false
	}
	ev := isolation.Event{ContainerID: w.Actor.ID, Server: w.Actor.Attributes[isolation.LabelServer], ExitCode: -1, At: time.Unix(0, w.TimeNano)}
	switch w.Action {
	case "start":
		ev.Kind = isolation.EventStart
	case "die":
		ev.Kind = isolation.EventDie
		if c, err := strconv.Atoi(w.Actor.Attributes["exitCode"]); err == nil {
			ev.ExitCode = c
		}
		ev.Reason = fmt.Sprintf("exited with code %d", ev.ExitCode)
	case "oom":
		ev.Kind = isolation.EventOOM
		ev.Reason = "OOM-killed: the server exceeded its memory limit"
	default:
		return isolation.Event{}, false
	}
	return ev, true
}

// startEvents starts `docker events` with args; its stdout carries one
// event per line until ctx ends (or docker exits).
func startEvents(ctx context.Context, cli *CLI, args []string) (*exec.Cmd, io.Reader, error) {
	cmd := cli.command(ctx, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("docker events: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("docker events: %w", err)
	}
	return cmd, stdout, nil
}

// scanEvents calls f with each event read from r until r ends.
func scanEvents(r io.Reader, f func(isolation.Event)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if ev, ok := parseEvent([]byte(strings.TrimSpace(sc.Text()))); ok {
			f(ev)
		}
	}
	_, _ = io.Copy(io.Discard, r)
}
