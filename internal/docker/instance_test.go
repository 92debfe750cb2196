package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

const helperEnv = "MCPPROXY_DOCKER_TEST_HELPER"

// TestMain doubles as a helper process: with helperEnv=hold-lock it
// acquires an instance in $LOCKDIR, prints its ID and holds it until stdin
// closes or it is killed.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "hold-lock" {
		inst, err := AcquireInstance(os.Getenv("LOCKDIR"))
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println(inst.ID)
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	code := m.Run()
	cleanupEngine()
	os.Exit(code)
}

// lockHolder is another process holding an instance lock.
type lockHolder struct {
	ID  string
	cmd *exec.Cmd
}

func startLockHolder(t *testing.T, lockDir string) *lockHolder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=hold-lock", "LOCKDIR="+lockDir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "ERR") {
		t.Fatalf("helper: %q %v", line, err)
	}
	h := &lockHolder{ID: strings.TrimSpace(line), cmd: cmd}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return h
}

// kill9 kills the holder with SIGKILL, as a crash would.
func (h *lockHolder) kill9(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = h.cmd.Wait()
}

func TestAcquireInstance(t *testing.T) {
	lockDir := filepath.Join(t.TempDir(), "nested", "instances")
	inst, err := AcquireInstance(lockDir)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Release()
	if len(inst.ID) != 16 || strings.Trim(inst.ID, "0123456789abcdef") != "" {
		t.Fatalf("ID %q", inst.ID)
	}
	if inst.LockPath != filepath.Join(lockDir, inst.ID+".lock") {
		t.Fatalf("LockPath %q", inst.LockPath)
	}
	fi, err := os.Stat(inst.LockPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file mode %v, %v", fi.Mode(), err)
	}
	di, err := os.Stat(lockDir)
	if err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("lock dir mode %v, %v", di.Mode(), err)
	}
	// Held, also against this same process (a separate open), and
	// checking does not release it.
	if !held(t, inst.LockPath) {
		t.Fatal("the instance's lock is not held")
	}
	if !held(t, inst.LockPath) {
		t.Fatal("checking released the lock")
	}
	other, err := AcquireInstance(lockDir)
	if err != nil {
		t.Fatal(err)
	}
	if other.ID == inst.ID {
		t.Fatal("IDs collide")
	}
	other.Release()

	if err := inst.Release(); err != nil {
		t.Fatal(err)
	}
	if err := inst.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if _, err := os.Stat(inst.LockPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock file left after Release: %v", err)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(lockDir)
	if len(entries) != 0 {
		t.Fatalf("lock dir not empty: %v", entries)
	}
}

func TestAcquireInstanceTightensAndRejects(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "instances")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	inst, err := AcquireInstance(dir)
	if err != nil {
		t.Fatal(err)
	}
	inst.Release()
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode not tightened: %v", fi.Mode())
	}

	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireInstance(link); err == nil {
		t.Fatal("a symlinked lock dir must be refused")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireInstance(file); err == nil {
		t.Fatal("a file as lock dir must be refused")
	}
}

// The lock is held by the process that acquired it for as long as it
// lives, and no longer once it is killed.
func TestInstanceLockAcrossProcesses(t *testing.T) {
	lockDir := t.TempDir()
	h := startLockHolder(t, lockDir)
	path := filepath.Join(lockDir, h.ID+lockSuffix)
	if !held(t, path) {
		t.Fatal("the lock of an instance held by another process is free")
	}
	h.kill9(t)
	if held(t, path) {
		t.Fatal("the lock is still held after kill -9")
	}
}

// held reports whether some open file holds the lock of path.
func held(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = lockFile(f)
	if err != nil && !errors.Is(err, errLocked) {
		t.Fatal(err)
	}
	return errors.Is(err, errLocked)
}

func TestDefaultLockDir(t *testing.T) {
	d := DefaultLockDir()
	if !strings.HasPrefix(d, os.TempDir()) || !strings.HasSuffix(d, filepath.Join(fmt.Sprintf("mcpproxy-%d", os.Getuid()), "instances")) {
		t.Fatalf("DefaultLockDir = %q", d)
	}
}

// fakeContainers is an in-memory ManagedContainers.
type fakeContainers struct {
	list      []isolation.Managed
	removed   []string
	failOn    map[string]bool
	listError error
}

func (f *fakeContainers) ListManaged(context.Context) ([]isolation.Managed, error) {
	return f.list, f.listError
}

func (f *fakeContainers) Remove(_ context.Context, id string) error {
	if f.failOn[id] {
		return errors.New("daemon said no")
	}
	f.removed = append(f.removed, id)
	return nil
}

// managed is a listed container with the managed, instance (when not "")
// and server labels.
func managed(id, instance, server string) isolation.Managed {
	m := isolation.Managed{ID: id, Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelServer: server}}
	if instance != "" {
		m.Labels[isolation.LabelInstance] = instance
	}
	return m
}

// labelled is a managed container with the given instance, host and data
// dir labels ("" leaves a label out).
func labelled(id, instance, host, dir string) isolation.Managed {
	m := managed(id, instance, "a")
	if host != "" {
		m.Labels[isolation.LabelHost] = host
	}
	if dir != "" {
		m.Labels[isolation.LabelDataDir] = dir
	}
	return m
}

func TestReapDecisions(t *testing.T) {
	me := Owner{Host: "h1", DataDir: "d1", Instance: "1111111111111111"}
	f := &fakeContainers{
		list: []isolation.Managed{
			labelled("c-dead-1", "2222222222222222", "h1", "d1"),
			labelled("c-dead-2", "3333333333333333", "h1", "d1"),
			labelled("c-self", me.Instance, "h1", "d1"),
			labelled("c-other-dir", "4444444444444444", "h1", "d2"),
			labelled("c-other-host", "5555555555555555", "h2", "d1"),
			labelled("c-no-host", "6666666666666666", "", "d1"),
			labelled("c-no-dir", "7777777777777777", "h1", ""),
			labelled("c-no-instance", "", "h1", "d1"),
			labelled("c-dead-failing", "8888888888888888", "h1", "d1"),
		},
		failOn: map[string]bool{"c-dead-failing": true},
	}
	removed, err := Reap(context.Background(), f, me, nil)
	if err == nil || !strings.Contains(err.Error(), "c-dead-failing") {
		t.Fatalf("Reap error = %v, want the failed removal reported", err)
	}
	sort.Strings(removed)
	if want := []string{"c-dead-1", "c-dead-2"}; strings.Join(removed, ",") != strings.Join(want, ",") {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	if strings.Join(f.removed, ",") != "c-dead-1,c-dead-2" {
		t.Fatalf("Remove called for %v", f.removed)
	}
}

func TestReapListError(t *testing.T) {
	_, err := Reap(context.Background(), &fakeContainers{listError: errors.New("daemon down")}, Owner{Host: "h", DataDir: "d", Instance: "i"}, nil)
	if err == nil || !strings.Contains(err.Error(), "daemon down") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Reap(context.Background(), &fakeContainers{}, Owner{Host: "h"}, nil); err == nil {
		t.Fatal("Reap without knowing its own labels did not refuse")
	}
}
