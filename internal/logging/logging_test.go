package logging

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const secret = "sk-live-0123456789"

// newTestLogger returns a logger writing to a temp logs folder and a buffer,
// and a function that returns what main.log and stderr hold.
func newTestLogger(t *testing.T, level slog.Level, r *Redactor) (*slog.Logger, func() (file, stderr string)) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "logs")
	var buf syncBuffer
	logger, closer, err := New(Options{Level: level, Dir: dir, Stderr: &buf}, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	return logger, func() (string, string) {
		b, err := os.ReadFile(filepath.Join(dir, MainLogName))
		if err != nil {
			t.Fatal(err)
		}
		return string(b), buf.String()
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type secretStringer struct{}

func (secretStringer) String() string { return "token=" + secret }

type lazySecret struct{}

func (lazySecret) LogValue() slog.Value { return slog.StringValue("lazy " + secret) }

type config struct{ Env map[string]string }

func TestRedaction(t *testing.T) {
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want string // a fragment the line must still hold
	}{
		{"message", func(l *slog.Logger) { l.Info("starting with key " + secret) }, `msg="starting with key ***"`},
		{"string attr", func(l *slog.Logger) { l.Info("event", "header", "Bearer "+secret) }, `header="Bearer ***"`},
		{"error attr", func(l *slog.Logger) {
			l.Error("call failed", "error", fmt.Errorf("upstream said %s: %w", secret, io.EOF))
		}, `error="upstream said ***: EOF"`},
		{"[]string attr", func(l *slog.Logger) {
			l.Debug("docker argv", "argv", []string{"docker", "run", "-e", "KEY=" + secret})
		}, `argv="[docker run -e KEY=***]"`},
		{"nested group", func(l *slog.Logger) {
			l.Info("server", slog.Group("env", slog.String("API_KEY", secret), slog.Group("inner", "v", secret)))
		}, `env.API_KEY=*** env.inner.v=***`},
		{"stringer", func(l *slog.Logger) { l.Info("event", "s", secretStringer{}) }, `s="token=***"`},
		{"map", func(l *slog.Logger) { l.Info("event", "cfg", config{Env: map[string]string{"K": secret}}) }, `cfg={Env:map[K:***]}`},
		{"LogValuer", func(l *slog.Logger) { l.Info("event", "v", lazySecret{}) }, `v="lazy ***"`},
		{"With attrs", func(l *slog.Logger) { l.With("server", "gh", "token", secret).Info("ready") }, `server=gh token=***`},
		{"With group", func(l *slog.Logger) { l.WithGroup("up").With("token", secret).Info("ready", "k", secret) }, `up.token=*** up.k=***`},
		{"key", func(l *slog.Logger) { l.Info("event", secret, 1) }, `***=1`},
		{"substring", func(l *slog.Logger) { l.Info("event", "url", "https://x.test/?k="+secret+"&a=1") }, `url="https://x.test/?k=***&a=1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Redactor
			r.Set([]string{secret, "abc"})
			logger, read := newTestLogger(t, slog.LevelDebug, &r)
			tt.log(logger)
			file, stderr := read()
			for where, out := range map[string]string{"main.log": file, "stderr": stderr} {
				if strings.Contains(out, secret) {
					t.Errorf("%s holds the secret: %s", where, out)
				}
				if !strings.Contains(out, tt.want) {
					t.Errorf("%s = %q, want it to contain %q", where, out, tt.want)
				}
			}
		})
	}
}

func TestRedactorSetAtRuntime(t *testing.T) {
	var r Redactor
	logger, read := newTestLogger(t, slog.LevelInfo, &r)
	child := logger.With("token", "first-secret")
	child.Info("before") // no secrets registered yet: logged as is

	r.Set([]string{"first-secret", "second-secret"})
	child.Info("after set")
	logger.Info("msg second-secret")

	r.Set([]string{"second-secret"}) // config reload dropped the first
	child.Info("after reload")

	_, out := read()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("lines: %q", lines)
	}
	checks := []struct{ line, want string }{
		{lines[0], "token=first-secret"},
		{lines[1], "token=***"},
		{lines[2], `msg="msg ***"`},
		{lines[3], "token=first-secret"},
	}
	for _, c := range checks {
		if !strings.Contains(c.line, c.want) {
			t.Errorf("line %q, want %q", c.line, c.want)
		}
	}
}

func TestRedactorRules(t *testing.T) {
	var nilR *Redactor
	if got := nilR.Redact("x " + secret); got != "x "+secret {
		t.Errorf("nil redactor changed text: %q", got)
	}
	var r Redactor
	if got := r.Redact(secret); got != secret {
		t.Errorf("empty redactor changed text: %q", got)
	}
	r.Set([]string{"", "a", "abc", "abcd", "abcdefgh", "abcd"})
	tests := []struct{ in, want string }{
		{"abc is short", "abc is short"}, // shorter than MinSecretLen: ignored
		{"abcd", "***"},
		{"abcdefgh", "***"}, // the longer secret wins, not "***efgh"
		{"xabcdefghabcdy", "x******y"},
	}
	for _, tt := range tests {
		if got := r.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	r.Set(nil)
	if got := r.Redact("abcd"); got != "abcd" {
		t.Errorf("after Set(nil): %q", got)
	}
}

func TestLevelFiltering(t *testing.T) {
	logger, read := newTestLogger(t, slog.LevelWarn, nil)
	logger.Debug("debug line")
	logger.Info("info line")
	logger.Warn("warn line")
	logger.Error("error line")
	file, stderr := read()
	for where, out := range map[string]string{"main.log": file, "stderr": stderr} {
		if strings.Contains(out, "debug line") || strings.Contains(out, "info line") {
			t.Errorf("%s holds lines below warn: %s", where, out)
		}
		if !strings.Contains(out, "level=WARN msg=\"warn line\"") || !strings.Contains(out, "level=ERROR msg=\"error line\"") {
			t.Errorf("%s lacks warn/error lines: %s", where, out)
		}
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
	}{
		{"debug", slog.LevelDebug}, {"info", slog.LevelInfo}, {"warn", slog.LevelWarn},
		{"error", slog.LevelError}, {"DEBUG", slog.LevelDebug}, {" Info ", slog.LevelInfo},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "verbose", "warning", "trace"} {
		_, err := ParseLevel(in)
		if err == nil {
			t.Errorf("ParseLevel(%q): no error", in)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "--log-level") || !strings.Contains(msg, "debug, info, warn, error") {
			t.Errorf("ParseLevel(%q) error %q does not name the flag and allowed values", in, msg)
		}
	}
}

func TestFilePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "logs")
	logger, closer, err := New(Options{Dir: dir, Stderr: io.Discard}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	logger.Info("hello")
	assertMode(t, dir, 0o700|os.ModeDir)
	assertMode(t, filepath.Join(dir, MainLogName), 0o600)

	// An existing, laxer main.log is narrowed.
	dir2 := t.TempDir()
	path := filepath.Join(dir2, MainLogName)
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, c2, err := New(Options{Dir: dir2, Stderr: io.Discard}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	assertMode(t, path, 0o600)
}

func TestRotation(t *testing.T) {
	r := newRotator("/x/main.log")
	if r.MaxSize != 10 || r.MaxBackups != 5 || r.Filename != "/x/main.log" {
		t.Errorf("rotation policy %+v, want 10 MB, 5 backups", r)
	}

	// A rotated file and its successor stay 0600.
	dir := t.TempDir()
	f, err := openRotated(filepath.Join(dir, MainLogName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("before\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.Rotate(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("after\n")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("files after rotation: %v", entries)
	}
	for _, e := range entries {
		assertMode(t, filepath.Join(dir, e.Name()), 0o600)
	}
}

func TestServerLogPath(t *testing.T) {
	dir := t.TempDir()
	tests := []string{
		"github", "my-server_1.0", "../x", "../../etc/passwd", "a/b", `a\b`, "..", ".", "",
		"/abs", "name with spaces", "ünïcode", strings.Repeat("x", 300), "a\x00b",
	}
	seen := map[string]string{}
	for _, name := range tests {
		p := ServerLogPath(dir, name)
		if filepath.Dir(p) != dir {
			t.Errorf("ServerLogPath(%q) = %q escapes %q", name, p, dir)
		}
		base := filepath.Base(p)
		if !strings.HasPrefix(base, "server-") || !strings.HasSuffix(base, ".log") || len(base) > 100 {
			t.Errorf("ServerLogPath(%q) = %q", name, base)
		}
		if other, dup := seen[base]; dup {
			t.Errorf("%q and %q share %s", name, other, base)
		}
		seen[base] = name
	}
	if got := filepath.Base(ServerLogPath(dir, "github")); got != "server-github.log" {
		t.Errorf("plain name: %s", got)
	}
	// Names that differ only in unsafe characters get different files.
	if ServerLogPath(dir, "a/b") == ServerLogPath(dir, "a_b") || ServerLogPath(dir, "a/b") == ServerLogPath(dir, "a:b") {
		t.Error("sanitized names collide")
	}
}

func TestServerLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	w, err := ServerLog(dir, "../evil")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "stderr line\n"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("logs folder holds %v", entries)
	}
	path := filepath.Join(dir, entries[0].Name())
	assertMode(t, path, 0o600)
	assertMode(t, dir, 0o700|os.ModeDir)
	if b, _ := os.ReadFile(path); string(b) != "stderr line\n" {
		t.Errorf("content %q", b)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file written outside the logs folder: %v", err)
	}
}

func TestStderrOnly(t *testing.T) {
	var buf syncBuffer
	logger, closer, err := New(Options{Stderr: &buf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("no file")
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `msg="no file"`) {
		t.Errorf("stderr %q", buf.String())
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != want {
		t.Errorf("%s mode %v, want %v", path, got, want)
	}
}
