package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// ErrNotFound is wrapped by errors about a container that does not exist.
var ErrNotFound = errors.New("no such container")

// CLI runs docker commands. Containers are always addressed by ID (or an
// exact name); mcpproxy finds its own by label.
type CLI struct {
	// Path is the docker binary; "" means "docker" looked up in PATH.
	Path string
	// Env is the environment of docker; nil means os.Environ().
	Env []string
	// Spawn, when set, decides the argv for each call (see NewCLI); nil
	// means exec Path directly.
	Spawn func(args []string) Spawn
}

// NewCLI returns a CLI that runs docker the same way spawns do: PlanSpawn
// decides direct exec or the login-shell wrap, and ChildEnv(base, res) is
// its environment (base nil means os.Environ()).
func NewCLI(res Resolution, env Environ, base []string) *CLI {
	if base == nil {
		base = os.Environ()
	}
	return &CLI{
		Path:  res.Path,
		Env:   ChildEnv(base, res),
		Spawn: func(args []string) Spawn { return PlanSpawn(res, args, env) },
	}
}

// Error is a failed docker command.
type Error struct {
	// Args are docker's arguments (never secrets: mcpproxy passes env
	// values through the environment only).
	Args []string
	// Stderr is what docker printed on stderr, trimmed.
	Stderr string
	// Err is the exec error (often an *exec.ExitError).
	Err error
}

func (e *Error) Error() string {
	verb := "docker"
	if len(e.Args) > 0 {
		verb += " " + e.Args[0]
		if len(e.Args) > 1 && !strings.HasPrefix(e.Args[1], "-") {
			verb += " " + e.Args[1]
		}
	}
	if e.Stderr != "" {
		return verb + ": " + e.Stderr
	}
	return verb + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// PullError is a failed image pull.
type PullError struct {
	// Image is the reference that was pulled.
	Image string
	// Message is docker's (or the registry's) error message.
	Message string
	// Err is the underlying error.
	Err error
}

func (e *PullError) Error() string { return fmt.Sprintf("pull image %q: %s", e.Image, e.Message) }

func (e *PullError) Unwrap() error { return e.Err }

// ImageExists reports whether the image ref is present locally. It never
// contacts a registry.
func (c *CLI) ImageExists(ctx context.Context, ref string) (bool, error) {
	if err := checkRef(ref); err != nil {
		return false, err
	}
	_, err := c.output(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	if err == nil {
		return true, nil
	}
	var de *Error
	if errors.As(err, &de) && strings.Contains(strings.ToLower(de.Stderr), "no such image") {
		return false, nil
	}
	return false, err
}

// Pull pulls ref. Each line docker prints about the progress is passed to
// progress (when non-nil) as it arrives. A failure is a *PullError naming the
// image and carrying docker's message; when ctx ends first the message says
// so.
func (c *CLI) Pull(ctx context.Context, ref string, progress func(line string)) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	cmd := c.command(ctx, "pull", ref)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return &PullError{Image: ref, Message: err.Error(), Err: err}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	if err := cmd.Start(); err != nil {
		return &PullError{Image: ref, Message: err.Error(), Err: err}
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && progress != nil {
			progress(line)
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(stderr.String())
	if ctx.Err() != nil {
		cause := "timed out"
		if errors.Is(ctx.Err(), context.Canceled) {
			cause = "canceled"
		}
		if msg != "" {
			msg = cause + ": " + msg
		} else {
			msg = cause
		}
		return &PullError{Image: ref, Message: msg, Err: ctx.Err()}
	}
	if msg == "" {
		msg = err.Error()
	}
	return &PullError{Image: ref, Message: msg, Err: err}
}

// managedLabels are the labels ListManaged reads, one key at a time.
var managedLabels = []string{isolation.LabelManaged, isolation.LabelInstance, isolation.LabelServer, isolation.LabelHost, isolation.LabelDataDir}

// psFormat makes `docker ps` print one JSON object per container. Label
// values are read one key at a time, so commas or '=' in a value (a server
// name) cannot be confused with docker's "k=v,k=v" Labels column.
var psFormat = func() string {
	var b strings.Builder
	b.WriteString(`{"id":{{json .ID}},"names":{{json .Names}},"image":{{json .Image}},"state":{{json .State}},"labels":[`)
	for i, k := range managedLabels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{{json (.Label "` + k + `")}}`)
	}
	b.WriteString("]}")
	return b.String()
}()

// ListManaged lists all containers (running or not) labelled
// LabelManaged=true, of every instance, with their mcpproxy labels (absent
// ones left out).
func (c *CLI) ListManaged(ctx context.Context) ([]isolation.Managed, error) {
	out, err := c.output(ctx, "ps", "-a", "--no-trunc", "--filter", "label="+isolation.LabelManaged+"=true", "--format", psFormat)
	if err != nil {
		return nil, err
	}
	var list []isolation.Managed
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var r struct {
			ID, Names, Image, State string
			Labels                  []string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("docker ps: decode %q: %w", line, err)
		}
		if len(r.Labels) != len(managedLabels) || r.Labels[0] != "true" {
			continue
		}
		m := isolation.Managed{ID: r.ID, Name: r.Names, Image: r.Image, State: r.State, Labels: map[string]string{}}
		for i, k := range managedLabels {
			if r.Labels[i] != "" {
				m.Labels[k] = r.Labels[i]
			}
		}
		list = append(list, m)
	}
	return list, nil
}

// OOMKilled reports whether the engine's state of container id says it was
// OOM-killed.
func (c *CLI) OOMKilled(ctx context.Context, id string) (bool, error) {
	if err := checkID(id); err != nil {
		return false, err
	}
	out, err := c.output(ctx, "container", "inspect", "--format", "{{.State.OOMKilled}}", id)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) == "true", nil
}

// Remove force-removes the container (killing it if running) and its
// anonymous volumes. A container that no longer exists, or whose removal is
// already under way (another Remove, or `docker run --rm` of a server whose
// command is docker), counts as removed.
func (c *CLI) Remove(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	_, err := c.output(ctx, "rm", "--force", "--volumes", id)
	switch {
	case err == nil || isNotFound(err):
		return nil
	case isRemovalInProgress(err):
		// Someone is removing it already: gone means gone, so wait for
		// that removal to finish.
		return c.waitGone(ctx, id)
	}
	return err
}

// waitGone polls until container id no longer exists or ctx ends.
func (c *CLI) waitGone(ctx context.Context, id string) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		_, err := c.output(ctx, "container", "inspect", "--format", "{{.Id}}", id)
		if err != nil && isNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("remove container %s: its removal did not finish: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

func (c *CLI) command(ctx context.Context, args ...string) *exec.Cmd {
	var argv []string
	if c.Spawn != nil {
		argv = c.Spawn(args).Argv
	} else {
		bin := c.Path
		if bin == "" {
			bin = "docker"
		}
		argv = append([]string{bin}, args...)
	}
	cmd := command(ctx, argv[0], argv[1:]...)
	cmd.Env = c.Env
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

func (c *CLI) output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := c.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	if err := cmd.Run(); err != nil {
		e := &Error{Args: args, Stderr: strings.TrimSpace(stderr.String()), Err: err}
		if ctx.Err() != nil {
			e.Err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			if e.Stderr == "" {
				e.Stderr = ctx.Err().Error()
			}
		}
		return stdout.Bytes(), e
	}
	return stdout.Bytes(), nil
}

func isNotFound(err error) bool {
	var de *Error
	if !errors.As(err, &de) {
		return false
	}
	s := strings.ToLower(de.Stderr)
	return strings.Contains(s, "no such container") || strings.Contains(s, "no such object")
}

func isRemovalInProgress(err error) bool {
	var de *Error
	return errors.As(err, &de) && strings.Contains(strings.ToLower(de.Stderr), "removal of container") &&
		strings.Contains(strings.ToLower(de.Stderr), "already in progress")
}

// checkID rejects values that docker could read as a flag or that are not a
// container ID or name.
func checkID(id string) error {
	if id == "" {
		return errors.New("docker: empty container ID")
	}
	for i, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && (r == '_' || r == '.' || r == '-')
		if !ok {
			return fmt.Errorf("docker: invalid container ID %q", id)
		}
	}
	return nil
}

// checkRef rejects image references that docker could read as a flag.
func checkRef(ref string) error {
	if ref == "" || strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, " \t\r\n") {
		return fmt.Errorf("docker: invalid image reference %q", ref)
	}
	return nil
}

// limitedWriter keeps the first n bytes and discards the rest.
type limitedWriter struct {
	mu sync.Mutex
	w  io.Writer
	n  int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
