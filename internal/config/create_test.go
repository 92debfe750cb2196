package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreate(t *testing.T) {
	yes := func(context.Context) bool { return true }
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	no := func(context.Context) bool { return false }
	tests := []struct {
		name        string
		probe       func(context.Context) bool
		wantEnabled bool
	}{
		{"docker available", yes, true},
		{"docker unavailable", no, false},
		{"no probe", nil, false},
		{"probe honours the deadline", func(ctx context.Context) bool {
			<-ctx.Done()
			return true // too late: a probe that needed the whole budget is a no
		}, false},
		{"probe ignores the deadline", func(context.Context) bool {
			<-stuck
			return true
		}, false},
	}
	old := probeTimeout
	probeTimeout = 50 * time.Millisecond
	t.Cleanup(func() { probeTimeout = old })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data", ".mcpproxy")
			path := filepath.Join(dir, FileName)
			cfg, created, err := LoadOrCreate(path, tt.probe)
			if err != nil {
				t.Fatal(err)
			}
			if !created {
				t.Error("created = false for a new file")
			}
			if cfg.DockerIsolation.Enabled != tt.wantEnabled {
				t.Errorf("docker_isolation.enabled = %v, want %v", cfg.DockerIsolation.Enabled, tt.wantEnabled)
			}
			if err := Validate(cfg); err != nil || cfg.DockerIsolation.MemoryLimit != "512m" || len(cfg.Servers) != 0 {
				t.Errorf("config = %+v (%v), want defaults", cfg, err)
			}
			loaded, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.DockerIsolation.Enabled != tt.wantEnabled {
				t.Error("the file on disk disagrees with the returned config")
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("file mode = %v, want 0600", fi.Mode().Perm())
			}
			di, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if di.Mode().Perm() != 0o700 {
				t.Errorf("dir mode = %v, want 0700", di.Mode().Perm())
			}
			assertOnlyConfig(t, path)
		})
	}
}

func TestLoadOrCreateKeepsExistingFile(t *testing.T) {
	content := "// mine\n{\"docker_isolation\": {\"enabled\": false}}\n"
	path := writeConfig(t, content, 0o644)
	probed := false
	cfg, created, err := LoadOrCreate(path, func(context.Context) bool { probed = true; return true })
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created = true for an existing file")
	}
	if cfg.DockerIsolation.Enabled {
		t.Error("existing enabled=false became true")
	}
	if probed {
		t.Error("docker was probed although the file exists")
	}
	if got := readFile(t, path); got != content {
		t.Errorf("existing file changed:\n%s", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("existing file's mode changed to %v", fi.Mode().Perm())
	}
}

func TestLoadOrCreateInvalidExistingFile(t *testing.T) {
	content := `{"docker_isolation": {"enabled": "yes"}}`
	path := writeConfig(t, content, 0o600)
	_, created, err := LoadOrCreate(path, func(context.Context) bool { return true })
	if err == nil || created {
		t.Fatalf("LoadOrCreate = created %v, err %v; want the validation error", created, err)
	}
	if !strings.HasPrefix(err.Error(), path+":1:34: docker_isolation.enabled:") {
		t.Errorf("error = %v", err)
	}
	if got := readFile(t, path); got != content {
		t.Error("invalid existing file was overwritten")
	}
}

func TestCreateFileDoesNotClobber(t *testing.T) {
	path := writeConfig(t, "{}", 0o600)
	created, err := createFile(path, []byte(`{"x": 1}`))
	if err != nil || created {
		t.Fatalf("createFile over an existing file = %v, %v", created, err)
	}
	if got := readFile(t, path); got != "{}" {
		t.Errorf("existing file clobbered: %s", got)
	}
	assertOnlyConfig(t, path)
}

func TestDefaultDataDir(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	if got, want := DefaultDataDir(), filepath.Join(home, ".mcpproxy"); got != want {
		t.Errorf("DefaultDataDir() = %s, want %s", got, want)
	}
}
