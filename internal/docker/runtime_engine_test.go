package docker

// The Docker Runtime against the real engine: start a Plan with and without
// the stdio shim, talk MCP to the server, see its labels and env, stop and
// kill it, and learn an OOM kill's reason. Containers are removed by ID.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/shim"
	"github.com/mcpproxy/mcpproxy/internal/testutil"
)

// engineRuntime is a Runtime of the real engine, exec'ing docker directly.
func engineRuntime(t *testing.T, withShim bool) *Runtime {
	t.Helper()
	requireEngine(t)
	var b [8]byte
	_, _ = rand.Read(b[:])
	r := &Runtime{Resolver: NewResolver(), Prober: &Prober{}, RunDir: t.TempDir(), Instance: hex.EncodeToString(b[:])}
	r.SetEnviron(Environ{LoginShellLoaded: true})
	if withShim {
		bin, err := shim.Install(filepath.Join(t.TempDir(), "bin"))
		if err != nil {
			t.Fatal(err)
		}
		r.SetShimBinary(bin)
	}
	t.Cleanup(func() { r.Close(30 * time.Second) })
	return r
}

// syncBuf is a goroutine-safe stderr sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startFixture starts the MCP fixture server under plan settings and
// connects an MCP client to it.
func startFixture(t *testing.T, r *Runtime, memory int64, env map[string]string) (isolation.Container, *mcp.ClientSession, *syncBuf) {
	t.Helper()
	image := testutil.FixtureImage(t)
	plan := &isolation.Plan{Server: "rt", Image: image, Command: "/mcpfixture", Network: "none", MemoryBytes: memory, MilliCPUs: 1000}
	for k := range env {
		plan.EnvNames = append(plan.EnvNames, k)
	}
	var phases []string
	stderr := &syncBuf{}
	name := isolation.ContainerName("rt", strconv.FormatInt(time.Now().UnixNano(), 36))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := r.Start(ctx, plan, isolation.StartOptions{
		Name: name, Env: env, Stderr: stderr, Phase: func(p string) { phases = append(phases, p) },
		Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: r.Instance, isolation.LabelServer: "rt"},
	})
	if err != nil {
		t.Fatalf("Start: %v; stderr: %s", err, stderr.String())
	}
	t.Cleanup(c.Kill)
	if c.ID() == "" || c.Name() != name {
		t.Fatalf("container ID %q, name %q", c.ID(), c.Name())
	}
	if c.Facts().Stdio == "socket" && (len(phases) != 1 || phases[0] != "connecting stdio") {
		t.Fatalf("phases %q", phases)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "rt-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.IOTransport{Reader: c.Stdout(), Writer: c.Stdin()}, nil)
	if err != nil {
		t.Fatalf("initialize: %v; stderr: %s", err, stderr.String())
	}
	t.Cleanup(func() { cs.Close() })
	return c, cs, stderr
}

func callText(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			sb.WriteString(tc.Text)
		}
	}
	return sb.String(), nil
}

func TestEngineRuntimeStartStop(t *testing.T) {
	for _, withShim := range []bool{true, false} {
		stdio := map[bool]string{true: "socket", false: "attach"}[withShim]
		t.Run(stdio, func(t *testing.T) {
			r := engineRuntime(t, withShim)
			secret := "rt-secret-" + r.Instance
			c, cs, _ := startFixture(t, r, 64<<20, map[string]string{"RT_TOKEN": secret})
			secrets := map[bool]isolation.SecretDelivery{true: isolation.SecretsShim, false: isolation.SecretsEnv}[withShim]
			if f := c.Facts(); f.Stdio != stdio || f.Secrets != secrets || f.SpawnMode != ModeDirect || (len(f.Notes) > 0) == withShim {
				t.Fatalf("facts %+v", f)
			}
			// With the shim, docker never learns the value.
			if inspect, err := exec.Command("docker", "inspect", c.ID()).Output(); err != nil || bytes.Contains(inspect, []byte(secret)) != !withShim {
				t.Fatalf("secret in docker inspect = %v (%v), want %v", bytes.Contains(inspect, []byte(secret)), err, !withShim)
			}
			if got, err := callText(t, cs, "getenv", map[string]any{"name": "RT_TOKEN"}); err != nil || got != secret {
				t.Fatalf("getenv inside = %q, %v", got, err)
			}
			list, err := r.ListManaged(ctxT(t, 10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, m := range list {
				if m.ID == c.ID() {
					found = m.Labels[isolation.LabelInstance] == r.Instance && m.Labels[isolation.LabelServer] == "rt" && m.State != ""
				}
			}
			if !found {
				t.Fatalf("ListManaged does not list %s with its labels: %+v", c.ID(), list)
			}

			if err := c.Stop(ctxT(t, 30*time.Second), time.Second); err != nil {
				t.Fatal(err)
			}
			select {
			case <-c.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("Done not closed after Stop")
			}
			cli, _, _ := r.cli(context.Background())
			if _, err := cli.Inspect(ctxT(t, 10*time.Second), c.ID()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("container still there after Stop: %v", err)
			}
			if e := c.Exit(ctxT(t, 5*time.Second)); e.Code < 0 || e.OOMKilled || e.Reason == "" {
				t.Fatalf("Exit after Stop = %+v", e)
			}
			if entries, _ := os.ReadDir(r.RunDir); len(entries) != 0 {
				t.Fatalf("run dir not cleaned: %v", entries)
			}
			// Stop is idempotent.
			if err := c.Stop(ctxT(t, 10*time.Second), time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// An allocation past the memory limit ends the container; Exit says it was
// OOM-killed and names the limit.
func TestEngineRuntimeOOM(t *testing.T) {
	r := engineRuntime(t, true)
	c, cs, _ := startFixture(t, r, 32<<20, nil)
	if _, err := callText(t, cs, "alloc", map[string]any{"mb": 200}); err == nil {
		t.Fatal("alloc past the limit answered")
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the container did not end")
	}
	e := c.Exit(ctxT(t, 10*time.Second))
	if !e.OOMKilled || e.Code != 137 || !strings.Contains(e.Reason, "OOM-killed") || !strings.Contains(e.Reason, "(32m)") {
		t.Fatalf("Exit = %+v", e)
	}
}

// waitContainerGone waits until container id no longer exists (what removed
// it: after).
func waitContainerGone(t *testing.T, cli *CLI, id, after string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cli.Inspect(ctxT(t, 10*time.Second), id)
		if errors.Is(err, ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container still there 30s after %s: %v", after, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close while starts are under way (a shutdown during a server's start):
// each start either completes, and Close or the start's own abort removes
// its container, or fails with errClosed; none panics (RemoveAll used to
// find a tracked container whose docker CLI had not started yet), and no
// container of this runtime is left.
func TestEngineRuntimeCloseDuringStart(t *testing.T) {
	r := engineRuntime(t, false)
	image := testutil.FixtureImage(t)
	cli, _, _ := r.cli(context.Background())
	const starts = 4
	errs := make(chan error, starts)
	for i := range starts {
		go func() {
			plan := &isolation.Plan{Server: "race", Image: image, Command: "/mcpfixture", Network: "none", MemoryBytes: 64 << 20, MilliCPUs: 1000}
			c, err := r.Start(ctxT(t, 60*time.Second), plan, isolation.StartOptions{
				Name: isolation.ContainerName("race", fmt.Sprintf("%d-%d", i, time.Now().UnixNano())), Stderr: io.Discard,
				Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: r.Instance, isolation.LabelServer: "race"},
			})
			if err == nil {
				c.Kill()
			}
			errs <- err
		}()
	}
	// Close once the engine has created a container of this runtime: the
	// starts are then between their docker run and their end.
	mine := func() []isolation.Managed {
		all, err := cli.ListManaged(ctxT(t, 10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var out []isolation.Managed
		for _, m := range all {
			if m.Labels[isolation.LabelInstance] == r.Instance {
				out = append(out, m)
			}
		}
		return out
	}
	for deadline := time.Now().Add(60 * time.Second); len(mine()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no container was created within 60 s")
		}
	}
	r.Close(30 * time.Second)
	for range starts {
		if err := <-errs; err != nil && !errors.Is(err, errClosed) {
			t.Logf("a start ended by the shutdown: %v", err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := mine()
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers of the closed runtime left: %+v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill removes the container at once; Close removes what is left and
// refuses new starts.
func TestEngineRuntimeKillAndClose(t *testing.T) {
	r := engineRuntime(t, false)
	c, _, _ := startFixture(t, r, 64<<20, nil)
	c.Kill()
	cli, _, _ := r.cli(context.Background())
	// Kill's `docker rm --force` has returned (or, on a machine slow enough
	// to use up its bound, reached the daemon, which finishes it): the
	// container is gone, or goes without anything else asking.
	waitContainerGone(t, cli, c.ID(), "Kill")
	left, _, _ := startFixture(t, r, 64<<20, nil)
	r.Close(30 * time.Second)
	waitContainerGone(t, cli, left.ID(), "Close")
	_, err := r.Start(context.Background(), &isolation.Plan{Image: "x", Command: "y"}, isolation.StartOptions{Name: "mcpproxy-closed"})
	if !errors.Is(err, errClosed) {
		t.Fatalf("Start after Close = %v", err)
	}
}
