package upstream

import (
	"strings"
	"testing"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

func TestExitErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  ExitError
		want string
	}{
		{"exit before initialize", ExitError{Server: "fs", When: "before initialize", Exit: isolation.Exit{Code: 1, Reason: "container mcpproxy-fs-1 exited with code 1"}, Stderr: "Error: None of the specified directories are accessible"},
			`server "fs" exited (code 1) before initialize: Error: None of the specified directories are accessible`},
		{"host process", ExitError{Server: "x", Exit: isolation.Exit{Code: 3, Reason: "process exited: exit status 3"}, Stderr: "boom"},
			`server "x" exited (code 3): boom`},
		{"silent", ExitError{Server: "x", When: "before initialize", Exit: isolation.Exit{Code: 0}},
			`server "x" exited (code 0) before initialize: nothing on stderr`},
		{"oom", ExitError{Server: "hog", Exit: isolation.Exit{Code: 137, OOMKilled: true, Reason: "container c was OOM-killed: the server exceeded its memory limit (64m)"}},
			`server "hog" exited (code 137): container c was OOM-killed: the server exceeded its memory limit (64m); nothing on stderr`},
		{"evicted", ExitError{Server: "x", Exit: isolation.Exit{Code: 2, Evicted: true, Reason: "pod p was evicted through the Eviction API (a drain or an autoscaler): Eviction API: evicting (the server exited with code 2)"}},
			`server "x" exited (code 2): pod p was evicted through the Eviction API (a drain or an autoscaler): Eviction API: evicting (the server exited with code 2); nothing on stderr`},
		{"signal", ExitError{Server: "x", Exit: isolation.Exit{Code: -1, Reason: "process exited: signal: killed"}, Stderr: "bye"},
			`server "x" exited: process exited: signal: killed; bye`},
		{"command not found", ExitError{Server: "x", When: "before initialize", Exit: isolation.Exit{Code: 127, Reason: "the command of container c was not found in the image (exit code 127)"}, Stderr: `docker: Error response from daemon: exec: "nodex": executable file not found in $PATH`},
			`server "x" exited (code 127) before initialize: the command of container c was not found in the image (exit code 127); docker: Error response from daemon: exec: "nodex": executable file not found in $PATH`},
		{"closed stdio", ExitError{Server: "x", When: "before initialize", Closed: true, Exit: isolation.Exit{Code: -1}, Stderr: "closing"},
			`server "x" closed its stdio before initialize: it was still running and has been stopped; closing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("\ngot  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestTailOf(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"filesystem server", []string{"Warning: Cannot access directory /x, skipping", "Error: None of the specified directories are accessible"},
			"Warning: Cannot access directory /x, skipping | Error: None of the specified directories are accessible"},
		{"node uncaught error", []string{"/app/index.js:3", "throw new Error('x')", "^", "", "Error: x", "    at Object.<anonymous> (/app/index.js:3:7)", "    at Module._compile (node:internal)", "", "Node.js v20.20.2"},
			"/app/index.js:3 | throw new Error('x') | Error: x"},
		{"python traceback", []string{"Traceback (most recent call last):", `  File "/app/s.py", line 1, in <module>`, "    import nothere", "ModuleNotFoundError: No module named 'nothere'"},
			"Traceback (most recent call last): | ModuleNotFoundError: No module named 'nothere'"},
		{"last lines only", []string{"1", "2", "3", "4", "5", "6"}, "3 | 4 | 5 | 6"},
		{"long line cut", []string{strings.Repeat("é", 200)}, strings.Repeat("é", tailLineMax/2) + "…"},
		{"nothing", []string{"", "   "}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tailOf(tt.lines); got != tt.want {
				t.Fatalf("\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// The ring keeps the last lines and a bounded unfinished one, whatever the
// server writes.
func TestRingBufferBounded(t *testing.T) {
	rb := &ringBuffer{max: ringLines}
	for i := 0; i < 100; i++ {
		_, _ = rb.Write([]byte("line\n"))
	}
	_, _ = rb.Write([]byte(strings.Repeat("x", 1<<20)))
	_, _ = rb.Write([]byte(strings.Repeat("y", 1<<20)))
	lines := rb.lines()
	if len(lines) != ringLines+1 {
		t.Fatalf("%d lines kept, want %d", len(lines), ringLines+1)
	}
	if last := lines[len(lines)-1]; len(last) != partialMax || !strings.HasSuffix(last, "y") {
		t.Fatalf("unfinished line: %d bytes", len(last))
	}
	_, _ = rb.Write([]byte("\n" + strings.Repeat("z", 1<<20) + "\n"))
	for _, l := range rb.lines() {
		if len(l) > partialMax {
			t.Fatalf("a kept line has %d bytes", len(l))
		}
	}
}
