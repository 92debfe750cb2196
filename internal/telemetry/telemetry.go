// Package telemetry builds and sends mcpproxy's anonymous daily report: a
// random install ID, the version and platform, and counts of configured
// servers. It is off unless telemetry.enabled is set, and it never includes
// server names, commands, URLs, paths or any other configured value.
package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

// SchemaVersion is the version of Payload's shape; bump it on any change.
const SchemaVersion = 1

// DefaultEndpoint receives reports when telemetry.endpoint is empty.
const DefaultEndpoint = "https://telemetry.mcpproxy.invalid/v1/report"

// InstallIDFile is the file in the data folder that holds the install ID.
const InstallIDFile = "telemetry_id"

// Payload is the report, exactly as sent.
type Payload struct {
	SchemaVersion int `json:"schema_version"`
	// InstallID is random, generated once per data folder; it identifies
	// nothing but the installation.
	InstallID string `json:"install_id"`
	Version   string `json:"version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	// ServerCount counts every configured server, enabled or not.
	ServerCount      int `json:"server_count"`
	StdioServerCount int `json:"server_stdio_count"`
	HTTPServerCount  int `json:"server_http_count"`
	// DockerAvailable is the cached docker availability probe.
	DockerAvailable bool `json:"server_docker_available_bool"`
	// DockerIsolatedCount counts the configured stdio servers the isolation
	// decision isolates — a configuration figure, not running containers.
	DockerIsolatedCount int `json:"server_docker_isolated_count"`
	// DockerIsolationEnabled is the global docker_isolation.enabled flag.
	DockerIsolationEnabled bool `json:"docker_isolation_enabled"`
}

// Sources is where a report's figures come from.
type Sources struct {
	// Config returns the current configuration; it is called for every
	// report so that edits (including telemetry.enabled) take effect.
	Config func() *config.Config
	// DockerAvailable is the cached docker availability prober. Nil means
	// docker is reported unavailable.
	DockerAvailable func(ctx context.Context) bool
	// IsIsolated is the isolation decision function, the same one spawn
	// uses; it must return false for every server when the global flag is
	// off.
	IsIsolated func(global config.DockerIsolation, s *config.Server) bool
	// Version is mcpproxy's version.
	Version string
	// DataDir is the data folder holding the install ID and last-sent time.
	DataDir string
}

// Build assembles the report from src, creating the install ID on first use.
func Build(ctx context.Context, src Sources) (Payload, error) {
	if src.Config == nil || src.IsIsolated == nil {
		return Payload{}, errors.New("build telemetry report: Sources.Config and Sources.IsIsolated are required")
	}
	cfg := src.Config()
	if cfg == nil {
		cfg = config.Default()
	}
	id, err := InstallID(src.DataDir)
	if err != nil {
		return Payload{}, err
	}
	p := Payload{
		SchemaVersion:          SchemaVersion,
		InstallID:              id,
		Version:                src.Version,
		OS:                     runtime.GOOS,
		Arch:                   runtime.GOARCH,
		DockerIsolationEnabled: cfg.DockerIsolation.Enabled,
	}
	for _, s := range cfg.Servers {
		if s == nil {
			continue
		}
		p.ServerCount++
		if s.IsHTTP() {
			p.HTTPServerCount++
			continue
		}
		p.StdioServerCount++
		if src.IsIsolated(cfg.DockerIsolation, s) {
			p.DockerIsolatedCount++
		}
	}
	if src.DockerAvailable != nil {
		p.DockerAvailable = src.DockerAvailable(ctx)
	}
	return p, nil
}

// InstallID returns the install ID stored in dataDir, creating it (32 random
// hex digits, file mode 0600) when it is missing or malformed.
func InstallID(dataDir string) (string, error) {
	if dataDir == "" {
		return "", errors.New("telemetry install id: no data folder")
	}
	path := filepath.Join(dataDir, InstallIDFile)
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); validID(id) {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("telemetry install id: %w", err)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("telemetry install id: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	if err := writeFileAtomic(path, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("telemetry install id: %w", err)
	}
	return id, nil
}

func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// writeFileAtomic writes data to path through a temporary file and a rename,
// so a reader never sees a partial file; the folder is created 0700 and the
// file is 0600.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
