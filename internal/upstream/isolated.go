package upstream

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/docker"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// IsolatingLauncher starts each stdio server the way isolation.Decide says:
// in its own container (docker run -i --rm …), or on the host. Servers whose
// command is docker itself run as given, through the resolved docker binary.
// If a server must be isolated and Docker is unavailable, it is not started
// at all (fail closed).
type IsolatingLauncher struct {
	Host     Launcher
	Resolver *docker.Resolver
	Prober   *docker.Prober
	Instance string // this proxy's instance ID (container label)
	RunDir   string // where cidfiles go
	Logger   *slog.Logger
	// Environ decides direct exec vs login-shell wrap of the docker CLI.
	Environ docker.Environ

	mu         sync.Mutex
	cfg        *config.Config
	containers map[string]*container // by container name
	oom        map[string]bool       // container IDs that were OOM-killed
	events     bool                  // events watcher running
}

type container struct {
	name, id string
	idReady  chan struct{}
}

var _ ConfigAware = (*IsolatingLauncher)(nil)

// SetConfig implements ConfigAware.
func (l *IsolatingLauncher) SetConfig(cfg *config.Config) {
	l.mu.Lock()
	l.cfg = cfg
	l.mu.Unlock()
}

func (l *IsolatingLauncher) global() config.DockerIsolation {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg == nil {
		return config.DefaultDockerIsolation()
	}
	return l.cfg.DockerIsolation
}

// Key implements ConfigAware: it changes when the decision or plan changes.
func (l *IsolatingLauncher) Key(s *config.Server) string {
	d := isolation.Decide(l.global(), s, l.Resolver.Resolve(context.Background()).Path)
	b, _ := json.Marshal(struct {
		Isolated bool
		Plan     *isolation.Plan
	}{d.Isolated, d.Plan})
	return string(b)
}

func (l *IsolatingLauncher) log() *slog.Logger {
	if l.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Logger
}

// Launch implements Launcher.
func (l *IsolatingLauncher) Launch(ctx context.Context, s *config.Server, stderr io.Writer) (*Process, error) {
	res := l.Resolver.Resolve(ctx)
	d := isolation.Decide(l.global(), s, res.Path)
	log := l.log()
	log.Debug("docker isolation decision", "server", s.Name, "isolated", d.Isolated, "reason", d.Reason)
	if isolation.IsDockerCommand(s.Command, res.Path) {
		return l.launchUserDocker(ctx, s, res, stderr, d)
	}
	if !d.Isolated {
		p, err := l.Host.Launch(ctx, s, stderr)
		if p != nil {
			p.Isolation = &IsolationInfo{Isolated: false, Reason: d.Reason}
		}
		return p, err
	}
	plan := d.Plan
	info := &IsolationInfo{
		Isolated: true, Reason: d.Reason, Image: plan.Image, NetworkMode: plan.NetworkMode,
		MemoryLimit: plan.MemoryLimit, CPULimit: plan.CPULimit, Runtime: plan.Runtime, Phase: "checking docker",
	}
	fail := func(err error) (*Process, error) {
		return &Process{Isolation: info}, err
	}
	deadline := time.Now().Add(plan.Timeout)
	sctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	step := func(name string) { info.Phase = name }

	st := l.Prober.Probe(sctx, false)
	if !st.Available {
		// Fail closed: this server must not run on the host.
		reason := st.Error
		if reason == "" {
			reason = "docker is not available"
		}
		return fail(fmt.Errorf("docker isolation is required for this server but Docker is unavailable (%s); not starting it on the host", reason))
	}
	cli := docker.NewCLI(res, l.Environ, nil)
	step("checking image")
	ok, err := cli.ImageExists(sctx, plan.Image)
	if err != nil {
		return fail(stalled(sctx, "image check", plan.Timeout, err))
	}
	if !ok {
		step("pulling image " + plan.Image)
		log.Info("docker isolation: pulling image", "server", s.Name, "image", plan.Image)
		err := cli.Pull(sctx, plan.Image, func(line string) {
			info.Phase = "pulling image " + plan.Image + ": " + line
			log.Info("docker isolation: pull progress", "server", s.Name, "image", plan.Image, "progress", line)
		})
		if err != nil {
			return fail(stalled(sctx, "image pull", plan.Timeout, err))
		}
	}
	step("starting container")
	name := isolation.ContainerName(s.Name, shortID())
	if err := os.MkdirAll(l.RunDir, 0o700); err != nil {
		return fail(fmt.Errorf("run dir: %w", err))
	}
	cidfile := filepath.Join(l.RunDir, name+".cid")
	_ = os.Remove(cidfile)
	labels := map[string]string{
		docker.LabelManaged:  "true",
		docker.LabelInstance: l.Instance,
		docker.LabelServer:   s.Name,
	}
	args := plan.RunArgs(name, cidfile, labels)
	spawn := docker.PlanSpawn(res, args, l.Environ)
	info.SpawnMode = spawn.Mode
	info.ContainerName = name
	// Only variable NAMES are in argv; the values reach docker through its
	// own environment.
	log.Debug("docker isolation: docker run", "server", s.Name, "mode", spawn.Mode, "argv", strings.Join(spawn.Argv, " "))
	cmd := exec.Command(spawn.Argv[0], spawn.Argv[1:]...)
	cmd.Env = docker.ChildEnv(MergeEnv(os.Environ(), s.Env), res)
	l.ensureEvents(cli)
	p, err := StartProcess(cmd, stderr)
	if err != nil {
		return fail(err)
	}
	c := &container{name: name, idReady: make(chan struct{})}
	l.mu.Lock()
	if l.containers == nil {
		l.containers = map[string]*container{}
	}
	l.containers[name] = c
	l.mu.Unlock()
	go func() {
		id := waitCIDFile(cidfile, deadline, p.Done())
		l.mu.Lock()
		c.id = id
		l.mu.Unlock()
		info.ContainerID = id
		close(c.idReady)
		if id != "" {
			log.Info("docker isolation: container started", "server", s.Name, "container", name, "id", short(id), "image", plan.Image)
		}
	}()
	p.Isolation = info
	p.Deadline = deadline
	p.InitTimeout = plan.Timeout
	p.Cleanup = func(ctx context.Context) error {
		defer os.Remove(cidfile)
		defer func() {
			l.mu.Lock()
			delete(l.containers, name)
			l.mu.Unlock()
		}()
		select {
		case <-c.idReady:
		case <-time.After(5 * time.Second):
		}
		l.mu.Lock()
		id := c.id
		l.mu.Unlock()
		if id == "" {
			return nil
		}
		// Stopped by ID, never by name pattern.
		return cli.Remove(ctx, id)
	}
	p.Describe = func(ctx context.Context) string {
		select {
		case <-c.idReady:
		case <-time.After(2 * time.Second):
		}
		l.mu.Lock()
		id := c.id
		l.mu.Unlock()
		// The oom event can trail the exit slightly.
		for i := 0; i < 20 && id != ""; i++ {
			if l.wasOOM(id) {
				return fmt.Sprintf("container %s was OOM-killed: the server exceeded its memory limit (%s)", name, plan.MemoryLimit)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if ee := (&exec.ExitError{}); errors.As(p.ExitError(), &ee) {
			return fmt.Sprintf("container %s exited with code %d", name, ee.ExitCode())
		}
		return ""
	}
	return p, nil
}

// launchUserDocker runs a server whose command is docker itself (a
// user-supplied `docker run …`): never wrapped again, but spawned through the
// resolved binary so it works where docker is not on PATH.
func (l *IsolatingLauncher) launchUserDocker(ctx context.Context, s *config.Server, res docker.Resolution, stderr io.Writer, d isolation.Decision) (*Process, error) {
	spawn := docker.PlanSpawn(res, s.Args, l.Environ)
	l.log().Debug("docker isolation: command is docker; not wrapped", "server", s.Name, "mode", spawn.Mode)
	cmd := exec.Command(spawn.Argv[0], spawn.Argv[1:]...)
	cmd.Env = docker.ChildEnv(MergeEnv(os.Environ(), s.Env), res)
	cmd.Dir = s.WorkingDir
	p, err := StartProcess(cmd, stderr)
	if err != nil {
		return &Process{Isolation: &IsolationInfo{Isolated: false, Reason: d.Reason}}, err
	}
	p.Isolation = &IsolationInfo{Isolated: false, Reason: d.Reason, SpawnMode: spawn.Mode}
	return p, nil
}

// RemoveAll removes every container this launcher started (shutdown and
// second-signal paths), by ID, concurrently.
func (l *IsolatingLauncher) RemoveAll(timeout time.Duration) {
	l.mu.Lock()
	var ids []string
	for _, c := range l.containers {
		if c.id != "" {
			ids = append(ids, c.id)
		}
	}
	l.mu.Unlock()
	if len(ids) == 0 || l.Resolver == nil {
		return
	}
	res := l.Resolver.Resolve(context.Background())
	cli := docker.NewCLI(res, l.Environ, nil)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			_ = cli.Remove(ctx, id)
		}(id)
	}
	wg.Wait()
}

func (l *IsolatingLauncher) wasOOM(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.oom[id]
}

// ensureEvents starts one `docker events` watcher for this instance's
// containers, so an OOM kill is known even after --rm removed the container.
func (l *IsolatingLauncher) ensureEvents(cli *docker.CLI) {
	l.mu.Lock()
	if l.events {
		l.mu.Unlock()
		return
	}
	l.events = true
	if l.oom == nil {
		l.oom = map[string]bool{}
	}
	l.mu.Unlock()
	ready := make(chan struct{})
	go func() {
		defer func() {
			l.mu.Lock()
			l.events = false
			l.mu.Unlock()
		}()
		cmd := exec.Command(cli.Path, "events",
			"--filter", "type=container",
			"--filter", "event=oom",
			"--filter", "label="+docker.LabelInstance+"="+l.Instance,
			"--format", "{{.Actor.ID}}")
		cmd.Env = cli.Env
		out, err := cmd.StdoutPipe()
		if err != nil {
			close(ready)
			return
		}
		setProcAttrsCmd(cmd)
		if err := cmd.Start(); err != nil {
			close(ready)
			return
		}
		close(ready)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			id := strings.TrimSpace(sc.Text())
			if id != "" {
				l.mu.Lock()
				l.oom[id] = true
				l.mu.Unlock()
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case <-ready:
	case <-time.After(time.Second):
	}
}

func stalled(ctx context.Context, step string, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("start timed out after %s (docker_isolation.timeout) during %s: %v", timeout, step, err)
	}
	return fmt.Errorf("%s: %w", step, err)
}

func waitCIDFile(path string, deadline time.Time, exited <-chan struct{}) string {
	for {
		if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 12 {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			return ""
		}
		select {
		case <-exited:
			if b, err := os.ReadFile(path); err == nil {
				return strings.TrimSpace(string(b))
			}
			return ""
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func shortID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
