package docker

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
)

// shimReports is the proxy's end of the shim's report connection (see
// shimbin/reports.go). Once the server has ended, the shim sends how many
// times the container's PID limit refused a process, as it read it from
// the container's pids.events: "pids N" ("pids -" when it could not read
// the file). The values are untrusted numbers (the shim shares the
// container with a possibly hostile server): anything that is not such a
// line ends the reading, and a count only ever adds a diagnostic to a
// message.
type shimReports struct {
	conn *net.UnixConn
	// seen is called with each new, higher count above 0 (a hit).
	seen func(hits int64)

	mu    sync.Mutex
	hits  int64         // highest count read; -1 none yet
	ended chan struct{} // closed at EOF
}

// maxReportLine bounds a report line.
const maxReportLine = 64

func newShimReports(conn *net.UnixConn, seen func(hits int64)) *shimReports {
	r := &shimReports{conn: conn, seen: seen, hits: -1, ended: make(chan struct{})}
	go r.read()
	return r
}

func (r *shimReports) read() {
	defer close(r.ended)
	defer r.conn.Close()
	br := bufio.NewReaderSize(r.conn, maxReportLine)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return // EOF, or a line too long
		}
		n, ok := parsePidsReport(string(line))
		if !ok {
			return
		}
		r.mu.Lock()
		higher := n > r.hits
		if higher {
			r.hits = n
		}
		r.mu.Unlock()
		if higher && n > 0 && r.seen != nil {
			r.seen(n)
		}
	}
}

// parsePidsReport reads "pids N\n" (N a decimal count of at most 18
// digits) or "pids -\n" (unknown: -1).
func parsePidsReport(line string) (int64, bool) {
	v, ok := strings.CutPrefix(line, "pids ")
	if !ok {
		return 0, false
	}
	v, ok = strings.CutSuffix(v, "\n")
	if !ok {
		return 0, false
	}
	if v == "-" {
		return -1, true
	}
	if v == "" || len(v) > 18 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// Final waits (until ctx ends) for the connection's end, which follows the
// count the shim sends once the server has ended, and returns the highest
// count read (-1: none).
func (r *shimReports) Final(ctx context.Context) int64 {
	select {
	case <-r.ended:
	case <-ctx.Done():
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits
}

// close ends the connection (the reader then ends).
func (r *shimReports) close() { r.conn.Close() }
