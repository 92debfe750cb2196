package upstream

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

func cfgOf(servers ...*config.Server) *config.Config {
	c := config.Default()
	c.Servers = servers
	return c
}

func stdio(name string, args ...string) *config.Server {
	return &config.Server{Name: name, Command: "/fake/" + name, Args: args}
}

// stateChanges is an OnStateChanged that wakes waitState.
type stateChanges struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *stateChanges) changed(Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// next returns a channel closed at the next state change.
func (s *stateChanges) next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

var testChanges = map[*Manager]*stateChanges{}
var testChangesMu sync.Mutex

func newTestManager(t *testing.T, l Launcher, opts ...func(*Options)) *Manager {
	t.Helper()
	sc := &stateChanges{}
	o := Options{Launcher: l, Backoff: Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}, StopGrace: time.Millisecond, OnEvent: sc.changed}
	for _, f := range opts {
		f(&o)
	}
	m := NewManager(o)
	testChangesMu.Lock()
	testChanges[m] = sc
	testChangesMu.Unlock()
	t.Cleanup(m.Shutdown)
	return m
}

// waitState waits (for a state change, never a sleep) until server name
// is in state want.
func waitState(t *testing.T, m *Manager, name string, want State) Status {
	t.Helper()
	return waitStatus(t, m, name, "state "+string(want), func(st Status) bool { return st.State == want })
}

// waitStatus waits (for a state change, never a sleep) until the status of
// server name satisfies cond.
func waitStatus(t *testing.T, m *Manager, name, what string, cond func(Status) bool) Status {
	t.Helper()
	testChangesMu.Lock()
	sc := testChanges[m]
	testChangesMu.Unlock()
	u := m.Get(name)
	if u == nil {
		t.Fatalf("no upstream %q", name)
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		next := sc.next()
		st := u.Status()
		if cond(st) {
			return st
		}
		select {
		case <-next:
		case <-timeout.C:
			t.Fatalf("server %q: state %q (error %q, restarts %d), want %s", name, st.State, st.Error, st.Restarts, what)
		}
	}
}

// Apply starts new servers, stops removed ones, restarts changed ones and
// leaves unchanged ones alone.
func TestApplyReconciles(t *testing.T) {
	l := &fakeLauncher{}
	m := newTestManager(t, l)
	m.Apply(cfgOf(stdio("a"), stdio("b"), stdio("keep")))
	for _, n := range []string{"a", "b", "keep"} {
		waitState(t, m, n, StateReady)
	}
	keep := m.Get("keep")

	m.Apply(cfgOf(stdio("a", "--changed"), stdio("keep"), stdio("c")))
	if m.Get("b") != nil {
		t.Fatal("removed server b still managed")
	}
	waitState(t, m, "a", StateReady)
	waitState(t, m, "c", StateReady)
	if got := l.count("a"); got != 2 {
		t.Fatalf("changed server a launched %d times, want 2 (restarted)", got)
	}
	if got := l.count("keep"); got != 1 || m.Get("keep") != keep {
		t.Fatalf("unchanged server launched %d times (want 1) or replaced", got)
	}
	var names []string
	for _, u := range m.List() {
		names = append(names, u.Name())
	}
	if strings.Join(names, ",") != "a,keep,c" {
		t.Fatalf("List order %v, want the config's", names)
	}
	if st := m.Get("a").Status(); st.ToolCount != 1 || st.Transport != "stdio" || !st.Enabled {
		t.Fatalf("status %+v", st)
	}
}

// Disabled and quarantined servers are never launched; enabling one starts
// it.
func TestDisabledAndQuarantinedNeverStart(t *testing.T) {
	l := &fakeLauncher{}
	m := newTestManager(t, l)
	off := false
	d := stdio("d")
	d.Enabled = &off
	q := stdio("q")
	q.Quarantined = true
	m.Apply(cfgOf(d, q))
	waitState(t, m, "d", StateDisabled)
	waitState(t, m, "q", StateQuarantined)
	if _, err := m.Get("q").WaitReady(context.Background()); err == nil || !strings.Contains(err.Error(), "quarantined") {
		t.Fatalf("WaitReady of a quarantined server = %v", err)
	}
	if l.count("d")+l.count("q") != 0 {
		t.Fatal("a disabled or quarantined server was launched")
	}
	m.Apply(cfgOf(stdio("d"), q))
	waitState(t, m, "d", StateReady)
}

// A server that ends is reconnected with backoff; the restart is counted
// and the state says why it ended meanwhile. The test ends each connection
// itself once it is ready (a server that exited on a timer could end before
// its tools were listed on a loaded machine, which is another failure).
func TestReconnectsAfterExit(t *testing.T) {
	var mu sync.Mutex
	var exits []chan struct{} // one per launch: closed to end that server
	l := &fakeLauncher{act: func(*config.Server) behaviour {
		mu.Lock()
		defer mu.Unlock()
		exits = append(exits, make(chan struct{}))
		return behaviour{tools: []string{"echo"}, exit: exits[len(exits)-1]}
	}}
	var errs []string
	var m *Manager
	m = newTestManager(t, l, func(o *Options) {
		changed := o.OnEvent
		o.OnEvent = func(ev Event) {
			// Called on the upstream's own goroutine as the state is set.
			if u := m.Get(ev.Server); ev.Kind == EventState && u != nil {
				if st := u.Status(); st.State == StateError {
					mu.Lock()
					errs = append(errs, st.Error)
					mu.Unlock()
				}
			}
			changed(ev)
		}
	})
	m.Apply(cfgOf(stdio("flaky")))
	const ends = 3
	for i := 0; i < ends; i++ {
		waitStatus(t, m, "flaky", fmt.Sprintf("ready after %d restarts", i), func(st Status) bool {
			return st.State == StateReady && st.Restarts == i
		})
		mu.Lock()
		close(exits[len(exits)-1])
		mu.Unlock()
	}
	waitStatus(t, m, "flaky", fmt.Sprintf("ready after %d restarts", ends), func(st Status) bool {
		return st.State == StateReady && st.Restarts == ends
	})
	if n := l.count("flaky"); n != ends+1 {
		t.Fatalf("launched %d times, want %d", n, ends+1)
	}
	mu.Lock()
	defer mu.Unlock()
	exited := 0
	for _, e := range errs {
		switch e {
		case `server "flaky" exited (code 3): nothing on stderr`:
			exited++
		case "connection closed": // the moment the session ends, before the reason is known
		default:
			t.Fatalf("error while reconnecting: %q", e)
		}
	}
	if exited != ends {
		t.Fatalf("the state said why the server ended %d times, want %d: %q", exited, ends, errs)
	}
}

func TestBackoffNext(t *testing.T) {
	b := Backoff{Min: 250 * time.Millisecond, Max: 2 * time.Second, Reset: time.Minute}
	tests := []struct {
		prev, ranFor, want time.Duration
	}{
		{0, 0, 250 * time.Millisecond},
		{250 * time.Millisecond, time.Second, 500 * time.Millisecond},
		{time.Second, time.Second, 2 * time.Second},
		{2 * time.Second, time.Second, 2 * time.Second},
		{1500 * time.Millisecond, 0, 2 * time.Second},
		{2 * time.Second, 2 * time.Minute, 250 * time.Millisecond}, // a long connection resets it
	}
	for _, tt := range tests {
		if got := b.next(tt.prev, tt.ranFor); got != tt.want {
			t.Errorf("next(%s, ran %s) = %s, want %s", tt.prev, tt.ranFor, got, tt.want)
		}
	}
	m := NewManager(Options{})
	if m.backoff != DefaultBackoff {
		t.Fatalf("zero Options backoff = %+v", m.backoff)
	}
}

// A launch failure is the server's error state; it is retried.
func TestLaunchFailureIsTheState(t *testing.T) {
	l := &fakeLauncher{fail: errBoom}
	m := newTestManager(t, l)
	m.Apply(cfgOf(stdio("x")))
	st := waitState(t, m, "x", StateError)
	if st.Error != "boom" {
		t.Fatalf("error %q", st.Error)
	}
	if _, err := m.Get("x").WaitReady(context.Background()); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("WaitReady = %v", err)
	}
}

// A server that does not answer initialize fails after the init timeout,
// and one that ends during initialize fails at once with why.
func TestInitializeFailures(t *testing.T) {
	l := &fakeLauncher{act: func(s *config.Server) behaviour {
		if s.Name == "dies" {
			return behaviour{silent: true, dies: true}
		}
		return behaviour{silent: true}
	}}
	m := newTestManager(t, l, func(o *Options) { o.Backoff = Backoff{Min: time.Hour} })
	c := cfgOf(stdio("silent"), stdio("dies"))
	c.InitTimeout = config.Duration(200 * time.Millisecond)
	m.Apply(c)
	if st := waitState(t, m, "silent", StateError); !strings.Contains(st.Error, "no answer to MCP initialize within 200ms") {
		t.Fatalf("silent: error %q", st.Error)
	}
	if st := waitState(t, m, "dies", StateError); st.Error != `server "dies" exited (code 3) before initialize: nothing on stderr` {
		t.Fatalf("dies: error %q", st.Error)
	}
}

// secondLaunchWaits fails its first launch and holds the second until
// released, then launches a working server.
type secondLaunchWaits struct {
	fakeLauncher
	n       atomic.Int32
	release chan struct{}
}

func (l *secondLaunchWaits) Launch(ctx context.Context, s *config.Server, stderr io.Writer) (*Launched, error) {
	switch l.n.Add(1) {
	case 1:
		return nil, errBoom
	case 2:
		select {
		case <-l.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return l.fakeLauncher.Launch(ctx, s, stderr)
}

// While a server reconnects after a failure, last_error still says why it
// is not ready; once it is, there is no error.
func TestLastErrorKeptWhileReconnecting(t *testing.T) {
	l := &secondLaunchWaits{release: make(chan struct{})}
	m := newTestManager(t, l)
	m.Apply(cfgOf(stdio("s")))
	st := waitStatus(t, m, "s", "connecting again after the first failure", func(st Status) bool {
		return st.State == StateConnecting && st.Restarts == 1
	})
	if st.Error != "boom" {
		t.Fatalf("last_error while reconnecting = %q, want the failure's reason", st.Error)
	}
	close(l.release)
	if st := waitState(t, m, "s", StateReady); st.Error != "" {
		t.Fatalf("last_error once ready = %q", st.Error)
	}
}

// blockingKeys is a ConfigAware launcher whose Key blocks until released.
type blockingKeys struct {
	fakeLauncher
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingKeys) SetConfig(*config.Config) {}
func (b *blockingKeys) Key(s *config.Server) string {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return "k"
}

// Apply computes launch keys before it takes the manager's lock: while a
// key is slow (a launcher resolving docker), requests read the manager.
func TestApplyKeysOutsideTheLock(t *testing.T) {
	l := &blockingKeys{entered: make(chan struct{}), release: make(chan struct{})}
	m := newTestManager(t, l)
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		m.Apply(cfgOf(stdio("slow")))
	}()
	<-l.entered
	read := make(chan struct{})
	go func() {
		defer close(read)
		_ = m.List()
		_ = m.Get("slow")
		_ = m.Config()
	}()
	select {
	case <-read:
	case <-time.After(5 * time.Second):
		t.Fatal("the manager's readers waited for a launch key")
	}
	close(l.release)
	<-applied
	waitState(t, m, "slow", StateReady)
}
