// Package logging sets up mcpproxy's structured logs: one text line per event
// to a rotated main.log and to stderr, with every configured secret value
// redacted by the handler itself, plus the per-upstream stderr log files.
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"
)

// MainLogName is the name of the proxy's own log file inside the logs folder.
const MainLogName = "main.log"

// Rotation limits shared by main.log and the per-server logs.
const (
	maxSizeMB  = 10
	maxBackups = 5
)

// Options configures New.
type Options struct {
	// Level is the minimum level written; the zero value is info.
	Level slog.Level
	// Dir is the logs folder (e.g. ~/.mcpproxy/logs), created 0700 when
	// missing. Empty means stderr only.
	Dir string
	// Stderr receives a copy of every line; nil means os.Stderr.
	Stderr io.Writer
}

// New returns a logger writing text lines to <Dir>/main.log (rotated at
// 10 MB, 5 backups, mode 0600) and to stderr, with secret redaction: every
// value registered in r, now or later, is replaced by "***" wherever it
// appears in a record (a nil r redacts nothing). The closer closes main.log.
func New(opts Options, r *Redactor) (*slog.Logger, io.Closer, error) {
	stderr := opts.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	var w io.Writer = stderr
	var closer io.Closer = nopCloser{}
	if opts.Dir != "" {
		f, err := openRotated(filepath.Join(opts.Dir, MainLogName))
		if err != nil {
			return nil, nil, err
		}
		w = tee{f, stderr}
		closer = f
	}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: opts.Level})
	return slog.New(NewRedactingHandler(h, r)), closer, nil
}

// ParseLevel parses the --log-level flag: debug, info, warn or error, in any
// case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--log-level: invalid value %q (allowed: debug, info, warn, error)", s)
}

// openRotated opens path for appending through a rotating writer. The folder
// is created 0700 and the file 0600; an existing file is narrowed to 0600 so
// a log written by an older, laxer version stops being readable by others.
// Rotated files keep the mode (lumberjack copies it).
func openRotated(path string) (*lumberjack.Logger, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create logs folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	err = f.Chmod(0o600)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	return newRotator(path), nil
}

// newRotator is the rotation policy of every mcpproxy log file.
func newRotator(path string) *lumberjack.Logger {
	return &lumberjack.Logger{
		Filename:   path,
		MaxSize:    maxSizeMB,
		MaxBackups: maxBackups,
	}
}

// tee writes every line to the log file and to stderr. Unlike
// io.MultiWriter it still writes to stderr when the file write fails (a full
// disk must not silence the console).
type tee struct {
	file, stderr io.Writer
}

func (t tee) Write(p []byte) (int, error) {
	_, ferr := t.file.Write(p)
	_, serr := t.stderr.Write(p)
	return len(p), errors.Join(ferr, serr)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
