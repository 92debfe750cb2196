package control

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTailFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "server-x.log")
	if lines, off, err := tailFile(p, 10); err != nil || len(lines) != 0 || off != 0 {
		t.Fatalf("missing file: %v %d %v", lines, off, err)
	}
	content := "one\ntwo\nthree\nfour\npartial"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{2, []string{"three", "four"}},
		{10, []string{"one", "two", "three", "four"}},
		{0, []string{}},
	} {
		lines, off, err := tailFile(p, tc.n)
		if err != nil || !slices.Equal(lines, tc.want) {
			t.Errorf("n=%d: %q %v, want %q", tc.n, lines, err, tc.want)
		}
		// A follower goes on from before the line still being written.
		if off != int64(strings.LastIndex(content, "\n")+1) {
			t.Errorf("n=%d: offset %d", tc.n, off)
		}
	}
}

// A follower reads appended lines, waits for a line's end, and follows a
// rotated or truncated file from its start.
func TestFollower(t *testing.T) {
	p := filepath.Join(t.TempDir(), "server-x.log")
	write := func(flag int, s string) {
		t.Helper()
		f, err := os.OpenFile(p, flag|os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	f := &follower{path: p}
	defer f.close()
	if got := f.read(); len(got) != 0 {
		t.Fatalf("no file: %q", got)
	}
	write(os.O_APPEND, "a\nb")
	if got := f.read(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("first read: %q", got)
	}
	write(os.O_APPEND, "c\nd\n")
	if got := f.read(); !slices.Equal(got, []string{"bc", "d"}) {
		t.Fatalf("the line's end: %q", got)
	}
	// Rotated: renamed away and a new file in its place.
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	write(os.O_APPEND, "new\n")
	if got := f.read(); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("after rotation: %q", got)
	}
	// Truncated in place.
	write(os.O_TRUNC, "x\n")
	if got := f.read(); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("after truncation: %q", got)
	}
}

// Many changes of one server between two rounds make one event.
func TestEventQueueCoalesces(t *testing.T) {
	q := newEventQueue()
	for range 5 {
		q.server("a")
		q.tools("a")
	}
	q.server("b")
	q.config()
	select {
	case <-q.wake:
	default:
		t.Fatal("not woken")
	}
	p := q.take()
	if !slices.Equal(p.servers, []string{"a", "b"}) || !slices.Equal(p.tools, []string{"a"}) || !p.config || p.docker {
		t.Fatalf("%+v", p)
	}
	if p := q.take(); len(p.servers) != 0 || p.config {
		t.Fatalf("taken twice: %+v", p)
	}
}
