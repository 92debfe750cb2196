package testutil

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEverythingImage runs the reference server from its scratch image under
// `docker run -i --rm` and has it answer initialize and a tool call.
func TestEverythingImage(t *testing.T) {
	docker := RequireDocker(t)
	image := EverythingImage(t)
	if !strings.HasPrefix(image, ImagePrefix+"everything:") {
		t.Errorf("image tag %q", image)
	}
	if again := EverythingImage(t); again != image {
		t.Errorf("second call gave %q, first %q", again, image)
	}
	for _, proto := range protocols {
		t.Run("proto="+proto.name, func(t *testing.T) {
			cs := connectProto(t, dockerRun(t, docker, "--network", "none", image, "/everything-server"), nil, proto.version)
			if got := cs.InitializeResult().ServerInfo.Name; got != "mcp-conformance-test-server" {
				t.Errorf("server name = %q", got)
			}
			if got, isErr := call(t, cs, "test_simple_text", nil); got == "" || isErr {
				t.Errorf("test_simple_text = %q, isError %v", got, isErr)
			}
		})
	}
}

// TestFixtureImage runs the fixture in its scratch image and checks that its
// tools report the container's view: its own PID namespace, the memory limit,
// no host files, the env it was given; and that alloc past the limit gets it
// OOM-killed.
func TestFixtureImage(t *testing.T) {
	docker := RequireDocker(t)
	image := FixtureImage(t)

	t.Run("view", func(t *testing.T) {
		canary := filepath.Join(t.TempDir(), "canary")
		if err := os.WriteFile(canary, []byte("host-only"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := dockerRun(t, docker, "--network", "none", "--memory", "64m", "-e", "FIXTURE_SECRET", image, "/mcpfixture")
		cmd.Env = append(os.Environ(), "FIXTURE_SECRET=from-docker-env")
		cs := connect(t, cmd, nil)

		pids, _ := call(t, cs, "list_pids", nil)
		if pids != `[{"pid":1,"cmdline":"/mcpfixture"}]` {
			t.Errorf("list_pids = %s, want only the fixture as pid 1", pids)
		}
		var id FixtureIdentity
		who, _ := call(t, cs, "whoami", nil)
		if err := json.Unmarshal([]byte(who), &id); err != nil {
			t.Fatalf("%v: %s", err, who)
		}
		if host, _ := os.Hostname(); id.Hostname == host || id.PID != 1 || id.MemoryLimit != "67108864" {
			t.Errorf("whoami = %s; want pid 1, a container hostname, memory limit 67108864", who)
		}
		if got, isErr := call(t, cs, "read_file", map[string]any{"path": canary}); !isErr {
			t.Errorf("read_file of the host canary = %q", got)
		}
		if got, _ := call(t, cs, "getenv", map[string]any{"name": "FIXTURE_SECRET"}); got != "from-docker-env" {
			t.Errorf("getenv = %q", got)
		}
	})

	t.Run("oom", func(t *testing.T) {
		cmd := dockerRun(t, docker, "--network", "none", "--memory", "32m", "--memory-swap", "32m", image, "/mcpfixture")
		cs := connect(t, cmd, nil)
		if res, err := callErr(cs, "alloc", map[string]any{"mb": 128}); err == nil {
			t.Fatalf("alloc past the limit answered: %v", res.Content)
		}
		cs.Close()
		if code := cmd.ProcessState.ExitCode(); code != 137 {
			t.Errorf("docker run exit code = %d, want 137 (OOM-killed)", code)
		}
	})
}

// TestNodeImage checks that the host's node runs in the image and that the
// reference filesystem server serves a mounted directory from inside it.
func TestNodeImage(t *testing.T) {
	docker := RequireDocker(t)
	image := NodeImage(t)

	want, err := exec.Command(RequireNode(t), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	out, err := dockerRun(t, docker, "--network", "none", image, "node", "-e", "console.log(process.version)").CombinedOutput()
	if err != nil || string(out) != string(want) {
		t.Fatalf("node in the image: %q, %v; want %q", out, err, want)
	}

	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "hello.txt"), []byte("hello from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	cs := connect(t, dockerRun(t, docker, "--network", "none", "-v", data+":/data:ro", image,
		"node", "/peers/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js", "/data"), nil)
	if got, isErr := call(t, cs, "read_text_file", map[string]any{"path": "/data/hello.txt"}); got != "hello from the host" || isErr {
		t.Errorf("read_text_file = %q, isError %v", got, isErr)
	}
	if got, isErr := call(t, cs, "read_text_file", map[string]any{"path": "/etc/hostname"}); !isErr {
		t.Errorf("read_text_file outside /data = %q, want an error", got)
	}
}
