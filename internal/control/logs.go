package control

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/logging"
)

// Log reading limits.
const (
	// tailMaxBytes bounds how far back from the end a tail reads.
	tailMaxBytes = 8 << 20
	// lineMax cuts longer lines (a server may write anything).
	lineMax = 16 << 10
)

// logPoll is how often a followed log is looked at for new lines.
var logPoll = 250 * time.Millisecond

func (s *Service) logFile(name string) (string, error) {
	if s.Config().Server(name) == nil && s.mgr.Get(name) == nil {
		return "", notFound(name)
	}
	return logging.ServerLogPath(s.opts.LogDir, name), nil
}

// LogTail implements httpapi.Logs.
func (s *Service) LogTail(ctx context.Context, name string, n int) (httpapi.LogTail, error) {
	path, err := s.logFile(name)
	if err != nil {
		return httpapi.LogTail{}, err
	}
	lines, _, err := tailFile(path, n)
	if err != nil {
		return httpapi.LogTail{}, err
	}
	return httpapi.LogTail{Server: name, File: path, Lines: s.redactLines(lines)}, nil
}

func (s *Service) redactLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = s.opts.Redact(cutLine(l))
	}
	return out
}

func cutLine(l string) string {
	l = strings.TrimRight(l, "\r")
	if len(l) > lineMax {
		return l[:lineMax] + "…"
	}
	return l
}

// tailFile returns the last n complete lines of path and the offset just
// after them (where a follower goes on). A missing file has no lines.
func tailFile(path string, n int) ([]string, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := st.Size()
	start := max(0, size-tailMaxBytes)
	buf := make([]byte, size-start)
	if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	// Only complete lines: the offset stays before a line being written.
	end := bytes.LastIndexByte(buf, '\n') + 1
	buf = buf[:end]
	if start > 0 {
		// The first line read may be cut: drop it.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	lines := []string{}
	if len(buf) > 0 {
		lines = strings.Split(strings.TrimSuffix(string(buf), "\n"), "\n")
	}
	if n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	return lines, start + int64(end), nil
}

// FollowLog implements httpapi.Logs: the last n lines, then each line
// written after them (the file is looked at every 250 ms; a rotated file is
// followed from its start).
func (s *Service) FollowLog(ctx context.Context, name string, n int) (httpapi.LogTail, <-chan httpapi.LogLine, error) {
	path, err := s.logFile(name)
	if err != nil {
		return httpapi.LogTail{}, nil, err
	}
	lines, off, err := tailFile(path, n)
	if err != nil {
		return httpapi.LogTail{}, nil, err
	}
	ch := make(chan httpapi.LogLine, 64)
	s.wg.Go(func() {
		defer close(ch)
		f := &follower{path: path, off: off}
		defer f.close()
		tick := time.NewTicker(logPoll)
		defer tick.Stop()
		for {
			for _, l := range f.read() {
				select {
				case ch <- httpapi.LogLine{Server: name, Line: s.opts.Redact(cutLine(l))}:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return httpapi.LogTail{Server: name, File: path, Lines: s.redactLines(lines)}, ch, nil
}

// follower reads what is appended to a file, line by line.
type follower struct {
	path string
	f    *os.File
	off  int64
	part []byte
}

func (f *follower) close() {
	if f.f != nil {
		f.f.Close()
	}
}

// read returns the complete lines appended since the last read.
func (f *follower) read() []string {
	st, err := os.Stat(f.path)
	if err != nil {
		return nil // not there (yet, or between a rotation's steps)
	}
	if f.f != nil {
		if cur, err := f.f.Stat(); err != nil || !os.SameFile(cur, st) || st.Size() < f.off {
			// Rotated or truncated: the new file from its start.
			f.close()
			f.f, f.off, f.part = nil, 0, nil
		}
	}
	if f.f == nil {
		if f.f, err = os.Open(f.path); err != nil {
			f.f = nil
			return nil
		}
		if st.Size() < f.off {
			f.off = 0
		}
	}
	var lines []string
	buf := make([]byte, 64<<10)
	for {
		k, err := f.f.ReadAt(buf, f.off)
		f.off += int64(k)
		data := append(f.part, buf[:k]...)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			lines = append(lines, string(data[:i]))
			data = data[i+1:]
		}
		if len(data) > lineMax {
			data = data[:lineMax]
		}
		f.part = append([]byte(nil), data...)
		if err != nil || k < len(buf) {
			return lines
		}
	}
}
