package datadir

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A helper process: with DATADIR_TEST_HOLD set, TestMain acquires that data
// directory, records a listen address, says "held" and waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("DATADIR_TEST_HOLD"); dir != "" {
		l, err := Acquire(dir)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		if err := l.SetListen("127.0.0.1:18080"); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("held")
		select {}
	}
	os.Exit(m.Run())
}

func TestSecondAcquireRefused(t *testing.T) {
	dir := t.TempDir()
	first, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.SetListen("127.0.0.1:9999"); err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("second Acquire = %v, want *InUseError", err)
	}
	if inUse.Owner.PID != os.Getpid() || inUse.Owner.Listen != "127.0.0.1:9999" {
		t.Errorf("owner = %+v", inUse.Owner)
	}
	msg := err.Error()
	for _, want := range []string{dir, fmt.Sprintf("pid %d", os.Getpid()), "it listens on 127.0.0.1:9999", "--data-dir"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if held, err := Held(dir); err != nil || !held {
		t.Errorf("Held = %v, %v; want true", held, err)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if err := first.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if held, err := Held(dir); err != nil || held {
		t.Errorf("Held after Release = %v, %v; want false", held, err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after Release: %v", err)
	}
	again, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	again.Release()
}

func TestNotYetListening(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, err = Acquire(dir)
	if err == nil || !strings.Contains(err.Error(), "it has not started listening yet") {
		t.Errorf("err = %v", err)
	}
}

// TestKilledOwnerReleases: the lock of a process killed with SIGKILL can be
// taken at once, and its file names the dead owner until then.
func TestKilledOwnerReleases(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DATADIR_TEST_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "held" {
		t.Fatalf("helper said %q", line)
	}
	_, err = Acquire(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.Owner.PID != cmd.Process.Pid || inUse.Owner.Listen != "127.0.0.1:18080" {
		t.Fatalf("Acquire while the helper holds it = %v (%+v)", err, inUse)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after the owner was killed: %v", err)
	}
	l.Release()
}

func TestClearStale(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	run := filepath.Join(dir, "run")
	for _, p := range []string{"bin/shim-abc", "io-x/stdio.sock", "x.cid"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(run, p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(run, p), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := l.ClearStale(run, "bin")
	if err != nil || len(removed) != 2 {
		t.Fatalf("ClearStale = %v, %v", removed, err)
	}
	left, _ := os.ReadDir(run)
	if len(left) != 1 || left[0].Name() != "bin" {
		t.Errorf("left: %v", left)
	}
	if _, err := l.ClearStale(filepath.Dir(dir)); err == nil {
		t.Error("ClearStale outside the data directory succeeded")
	}
	if _, err := l.ClearStale(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("ClearStale of a missing dir: %v", err)
	}
}

func TestLockFileIsNotASymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, LockName)); err != nil {
		t.Fatal(err)
	}
	if l, err := Acquire(dir); err == nil {
		l.Release()
		t.Fatal("Acquire followed a symlinked lock file")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the symlink's target was changed: %q", b)
	}
}
