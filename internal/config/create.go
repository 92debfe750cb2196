package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// DefaultDataDir returns mcpproxy's data directory, ~/.mcpproxy (or
// .mcpproxy in the working directory when there is no home directory).
func DefaultDataDir() string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ".mcpproxy"
	}
	return filepath.Join(home, ".mcpproxy")
}

// probeTimeout bounds the first-run docker probe.
var probeTimeout = 2 * time.Second

// LoadOrCreate loads the configuration file at path. If there is none it
// creates its directory (0700) and writes the initial configuration (0600,
// atomically), with docker_isolation.enabled set to what probeDocker reports
// within 2 seconds: a new install isolates stdio servers when Docker is
// reachable. probeDocker may be nil (isolation off). An existing file is
// never changed. created reports whether the file was written.
func LoadOrCreate(path string, probeDocker func(ctx context.Context) bool) (cfg *Config, created bool, err error) {
	cfg, err = Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return cfg, false, err
	}
	data := initialConfig(probe(probeDocker))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create config: %w", err)
	}
	created, err = createFile(path, data)
	if err != nil {
		return nil, false, err
	}
	if !created {
		// Someone else created it meanwhile; theirs wins.
		cfg, err = Load(path)
		return cfg, false, err
	}
	cfg, err = Parse(data)
	if err != nil {
		return nil, true, withFile(err, path)
	}
	return cfg, true, nil
}

// probe runs probeDocker with a deadline and treats a probe that does not
// answer in time as "no docker".
func probe(probeDocker func(ctx context.Context) bool) bool {
	if probeDocker == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	answer := make(chan bool, 1)
	// Not waited for past the deadline, on purpose: a probe that ignores
	// its context must not hold up the first start (mcpproxy's own probe
	// honours it and returns at the deadline too).
	go func() { answer <- probeDocker(ctx) }()
	select {
	case ok := <-answer:
		return ok
	case <-ctx.Done():
		return false
	}
}

// initialConfig is the content of a newly created configuration file.
func initialConfig(dockerIsolation bool) []byte {
	return fmt.Appendf(nil, `{
  "mcpServers": [],
  "docker_isolation": {
    "enabled": %t
  }
}
`, dockerIsolation)
}

// createFile writes data to path atomically unless path exists; it reports
// whether it wrote. The new content is linked into place, which fails
// rather than replacing a file created in the meantime.
func createFile(path string, data []byte) (bool, error) {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	switch {
	case err == nil:
		syncDir(filepath.Dir(path))
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, nil
	}
	// No hard links on this file system: fall back to an exclusive create.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create config: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return false, fmt.Errorf("create config: %w", err)
	}
	return true, nil
}
