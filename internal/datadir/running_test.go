package datadir

import (
	"os"
	"testing"
)

func TestRunning(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := Running(dir); ok || err != nil {
		t.Fatalf("nobody holds it: %v %v", ok, err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok, err := Running(dir); !ok || err != nil || o.PID != os.Getpid() || o.Listen != "" {
		t.Fatalf("held, not listening: %+v %v %v", o, ok, err)
	}
	if err := l.SetListen("127.0.0.1:18181"); err != nil {
		t.Fatal(err)
	}
	if o, ok, _ := Running(dir); !ok || o.Listen != "127.0.0.1:18181" {
		t.Fatalf("listening: %+v %v", o, ok)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := Running(dir); ok {
		t.Fatal("released, still running")
	}
}
