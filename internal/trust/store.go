package trust

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/atomicfile"
)

// StateFile is the trust state's file name in the data directory.
const StateFile = "trust.json"

// stateVersion is the format of StateFile.
const stateVersion = 1

// Store is one data directory's trust state, kept in StateFile: why each
// quarantined server waits, and each server's pinned (approved) tool
// definitions. Every change is written at once, atomically (mode 0600); a
// newer state is never overwritten by an older one. It is safe for
// concurrent use.
type Store struct {
	path string

	mu    sync.Mutex
	st    fileState
	gen   uint64 // generation of st
	saveM sync.Mutex
	saved uint64 // generation on disk
}

type fileState struct {
	Version int                     `json:"version"`
	Servers map[string]*serverState `json:"servers"`
}

// serverState is what the store knows about one server.
type serverState struct {
	// Quarantine says why the server was quarantined; nil when it was not
	// (or was approved since).
	Quarantine *QuarantineNote `json:"quarantine,omitempty"`
	// Pinned is set once the server's tools were first pinned; Tools are
	// the approved definitions by name.
	Pinned bool            `json:"pinned,omitempty"`
	Tools  map[string]*Pin `json:"tools,omitempty"`
}

// QuarantineNote records why a server was quarantined.
type QuarantineNote struct {
	// Operation is the upstream_servers operation: "add" or "update".
	Operation string `json:"operation"`
	// Changed are the launch fields it set or changed.
	Changed []string  `json:"changed,omitempty"`
	At      time.Time `json:"at"`
}

// Open reads the trust state of dataDir (an absent file is an empty
// state). A file that cannot be read is an error: starting without it
// would approve every tool anew.
func Open(dataDir string) (*Store, error) {
	s := &Store{path: filepath.Join(dataDir, StateFile), st: fileState{Version: stateVersion, Servers: map[string]*serverState{}}}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trust state: %w", err)
	}
	var st fileState
	if err := json.Unmarshal(b, &st); err != nil || st.Version != stateVersion {
		if err == nil {
			err = fmt.Errorf("version %d, want %d", st.Version, stateVersion)
		}
		return nil, fmt.Errorf("trust state %s is unreadable (%v); move it away to start over (every server's tools are then pinned again as they are now)", s.path, err)
	}
	if st.Servers == nil {
		st.Servers = map[string]*serverState{}
	}
	s.st = st
	return s, nil
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// serverLocked returns server's state, creating it (s.mu held).
func (s *Store) serverLocked(server string) *serverState {
	ss := s.st.Servers[server]
	if ss == nil {
		ss = &serverState{}
		s.st.Servers[server] = ss
	}
	return ss
}

// change applies f to the state under the lock and writes the result.
func (s *Store) change(f func()) error {
	s.mu.Lock()
	f()
	for name, ss := range s.st.Servers {
		if ss.Quarantine == nil && !ss.Pinned && len(ss.Tools) == 0 {
			delete(s.st.Servers, name)
		}
	}
	b, err := json.MarshalIndent(s.st, "", "  ")
	s.gen++
	gen := s.gen
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("trust state: %w", err)
	}
	// Writes are serialised apart from the state lock, so readers never
	// wait for the disk; a write older than what is on disk is dropped.
	s.saveM.Lock()
	defer s.saveM.Unlock()
	if gen <= s.saved {
		return nil
	}
	if err := atomicfile.Write(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("trust state: %w", err)
	}
	s.saved = gen
	return nil
}

// NoteQuarantine records why server was quarantined.
func (s *Store) NoteQuarantine(server string, n QuarantineNote) error {
	return s.change(func() { s.serverLocked(server).Quarantine = &n })
}

// Quarantine returns why server was quarantined, if recorded.
func (s *Store) Quarantine(server string) (QuarantineNote, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.st.Servers[server]; ss != nil && ss.Quarantine != nil {
		return *ss.Quarantine, true
	}
	return QuarantineNote{}, false
}

// ServerApproved forgets why server was quarantined. Its pinned tools
// stay: a tool that differs from them still waits for its own approval.
func (s *Store) ServerApproved(server string) error {
	return s.change(func() {
		if ss := s.st.Servers[server]; ss != nil {
			ss.Quarantine = nil
		}
	})
}

// Forget drops everything known about server (it was removed).
func (s *Store) Forget(server string) error {
	return s.change(func() { delete(s.st.Servers, server) })
}

// QuarantineView is the list view's answer to "why does this server wait".
type QuarantineView struct {
	// Reason says what put the server in quarantine.
	Reason string `json:"reason"`
	// Since is when, if known.
	Since time.Time `json:"since,omitzero"`
	// Approve says how a person lets it run.
	Approve string `json:"approve"`
}

// DescribeQuarantine explains why server waits, from its note if any.
func DescribeQuarantine(server string, n QuarantineNote, known bool) *QuarantineView {
	v := &QuarantineView{Approve: fmt.Sprintf("mcpproxy upstream approve %s (or POST /api/v1/servers/%s/approve, or the web UI)", server, server)}
	switch {
	case !known:
		v.Reason = `"quarantined": true in the config file; not started until a person approves it`
	case n.Operation == "add":
		v.Reason = "added by an MCP client (upstream_servers add); not started and no tools shown until a person approves it"
	default:
		v.Reason = fmt.Sprintf("%s changed by an MCP client (upstream_servers %s); not started and no tools shown until a person approves it",
			strings.Join(n.Changed, ", "), n.Operation)
	}
	if known {
		v.Since = n.At
	}
	return v
}

// ServerApproval is the answer to a server's approval.
type ServerApproval struct {
	Name string `json:"name"`
	// WasQuarantined is false when the server did not wait (nothing changed).
	WasQuarantined bool `json:"was_quarantined"`
}
