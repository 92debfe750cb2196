//go:build linux

package process

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestMergeEnv(t *testing.T) {
	tests := []struct {
		base  []string
		extra map[string]string
		want  []string
	}{
		{[]string{"A=1", "B=2"}, nil, []string{"A=1", "B=2"}},
		{[]string{"A=1", "B=2"}, map[string]string{"B": "x", "C": "y"}, []string{"A=1", "B=x", "C=y"}},
		{[]string{"PATH=/bin", "A=1", "A=2"}, map[string]string{"A": "3"}, []string{"PATH=/bin", "A=3"}},
		{[]string{"NOVALUE", "E="}, map[string]string{"Z": "", "E": "e"}, []string{"NOVALUE", "E=e", "Z="}},
		{nil, map[string]string{"b": "2", "a": "1"}, []string{"a=1", "b=2"}},
	}
	for _, tt := range tests {
		if got := MergeEnv(tt.base, tt.extra); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("MergeEnv(%q, %v) = %q, want %q", tt.base, tt.extra, got, tt.want)
		}
	}
}

// lockedBuffer is a goroutine-safe stderr sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t *testing.T, script string, stderr io.Writer) *Process {
	t.Helper()
	p, err := Start(exec.Command("/bin/sh", "-c", script), stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func waitDone(t *testing.T, p *Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("process not done")
	}
}

// The last output is read, and stdout ends only once the exit (code and
// stderr) is known.
func TestStdoutEndsAfterExitIsKnown(t *testing.T) {
	var stderr lockedBuffer
	p := start(t, `read line; echo "got $line"; echo last words >&2; exit 3`, &stderr)
	if _, err := io.WriteString(p.Stdin, "hello\n"); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(p.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("stdout reported its end before Done")
	}
	if string(out) != "got hello\n" || p.ExitCode() != 3 || !strings.Contains(stderr.String(), "last words") {
		t.Fatalf("out %q, code %d, stderr %q", out, p.ExitCode(), stderr.String())
	}
	var ee *exec.ExitError
	if !errorsAs(p.ExitError(), &ee) {
		t.Fatalf("ExitError = %v", p.ExitError())
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// Stop escalates: a process that ignores EOF and SIGTERM is killed, with the
// children of its group.
func TestStopEscalatesToKill(t *testing.T) {
	p := start(t, `trap '' TERM; sleep 60 & child=$!; echo $child; while :; do sleep 1; done`, nil)
	var pid int
	if _, err := fmtSscan(p.Stdout, &pid); err != nil {
		t.Fatal(err)
	}
	if p.ExitCode() != -1 {
		t.Fatal("running process has an exit code")
	}
	begin := time.Now()
	p.Stop(100 * time.Millisecond)
	waitDone(t, p)
	if el := time.Since(begin); el > 5*time.Second {
		t.Fatalf("Stop took %s", el)
	}
	if p.ExitCode() != -1 { // killed by a signal
		t.Fatalf("exit code %d, want -1 (signal)", p.ExitCode())
	}
	if !gone(pid) {
		t.Fatalf("child %d of the group survived", pid)
	}
}

// A process that leaves on EOF stops without any signal.
func TestStopByEOF(t *testing.T) {
	p := start(t, `cat >/dev/null; exit 0`, nil)
	p.Stop(5 * time.Second)
	waitDone(t, p)
	if p.ExitCode() != 0 {
		t.Fatalf("exit code %d", p.ExitCode())
	}
}

// When the leader exits, its group goes too, so a child holding the pipes
// cannot hide the exit.
func TestExitKillsTheGroup(t *testing.T) {
	p := start(t, `sleep 60 & echo $!; exit 0`, nil)
	var pid int
	if _, err := fmtSscan(p.Stdout, &pid); err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)
	if !gone(pid) {
		t.Fatalf("child %d outlived its leader", pid)
	}
}

// A process outside the group that keeps the pipes open does not delay
// Done beyond the drain bound.
func TestDrainIsBounded(t *testing.T) {
	p := start(t, `setsid sleep 5 & exit 0`, nil)
	begin := time.Now()
	waitDone(t, p)
	if el := time.Since(begin); el > 3*time.Second {
		t.Fatalf("Done after %s with an outsider holding the pipes", el)
	}
	if _, err := io.ReadAll(p.Stdout); err == nil {
		// ReadAll returns nil at EOF; a closed pipe gives an error: either
		// way it returns.
		return
	}
}

func TestStartFailure(t *testing.T) {
	if _, err := Start(exec.Command("/nonexistent/binary"), nil); err == nil || !strings.Contains(err.Error(), "/nonexistent/binary") {
		t.Fatalf("Start = %v", err)
	}
}

// fmtSscan reads one integer line from r.
func fmtSscan(r io.Reader, v *int) (int, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := r.Read(b); err != nil {
			return 0, err
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	n := 0
	for _, c := range line {
		n = n*10 + int(c-'0')
	}
	*v = n
	return 1, nil
}

// gone reports whether pid has ended (a zombie waiting for its new parent
// to reap it counts as ended), waiting up to 5 s for the kill to land.
func gone(pid int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if syscall.Kill(pid, 0) != nil {
			return true
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == 'Z' {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// chunkWriter records the largest write it got and all the bytes.
type chunkWriter struct {
	max int
	all bytes.Buffer
}

func (w *chunkWriter) Write(b []byte) (int, error) {
	w.max = max(w.max, len(b))
	return w.all.Write(b)
}

// A server's stderr reaches its writer whole, through a small buffer: a
// proxy keeps one per stdio server for as long as it runs (io.Copy's
// would be 32 KiB).
func TestStderrCopiedThroughSmallBuffer(t *testing.T) {
	var w chunkWriter
	p := start(t, `head -c 100000 /dev/zero | tr '\0' x >&2`, &w)
	<-p.Done()
	if w.all.Len() != 100000 || strings.Trim(w.all.String(), "x") != "" {
		t.Fatalf("stderr arrived with %d bytes", w.all.Len())
	}
	if w.max > stderrBuffer {
		t.Errorf("a write of %d bytes: the copy's buffer is larger than %d", w.max, stderrBuffer)
	}
}
