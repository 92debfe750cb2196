package trust

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/atomicfile"
	"github.com/mcpproxy/mcpproxy/internal/config"
)

// StateFile is the trust state's file name in the data directory.
const StateFile = "trust.json"

// stateVersion is the format of StateFile.
const stateVersion = 1

// Store is one data directory's trust state, kept in StateFile: why each
// quarantined server waits, and each server's pinned (approved) tool
// definitions. A person's decision (an approval, a note) is on disk when
// the call returns; a first connect's pins are written by the store's own
// writer a moment later, so that publishing a server's tools never waits
// for the disk. Writes are atomic (mode 0600) and a newer state is never
// overwritten by an older one. It is safe for concurrent use; Close ends
// the writer after a last write.
type Store struct {
	path string
	log  *slog.Logger

	mu     sync.Mutex
	st     fileState
	gen    uint64 // generation of st
	closed bool
	kick   chan struct{} // wakes the writer
	done   chan struct{} // closed when the writer has ended

	saveM   sync.Mutex
	saved   uint64 // generation on disk
	saveErr error  // the last write's error
}

type fileState struct {
	Version int                     `json:"version"`
	Servers map[string]*serverState `json:"servers"`
}

// serverState is what the store knows about one server. Its Quarantine
// and Tools are replaced, never changed in place, so that a reader (the
// gate, the writer) may hold them without the lock.
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
// would approve every tool anew. log receives the writer's failures (nil
// discards).
func Open(dataDir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: filepath.Join(dataDir, StateFile), log: log, st: fileState{Version: stateVersion, Servers: map[string]*serverState{}},
		kick: make(chan struct{}, 1), done: make(chan struct{})}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		go s.writer()
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
	for _, ss := range st.Servers {
		for _, p := range ss.Tools {
			p.sum = parseDigest(p.Hash)
		}
	}
	s.st = st
	go s.writer()
	return s, nil
}

// writer writes the state whenever a change that did not write it itself
// asks, until Close.
func (s *Store) writer() {
	defer close(s.done)
	for range s.kick {
		if err := s.flush(); err != nil {
			s.log.Error("tool pins not written; they are in force until mcpproxy stops", "error", err)
		}
	}
	if err := s.flush(); err != nil {
		s.log.Error("tool pins not written", "error", err)
	}
}

// Close writes what is pending and ends the writer. The store must not be
// changed afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.kick)
	}
	s.mu.Unlock()
	<-s.done
	s.saveM.Lock()
	defer s.saveM.Unlock()
	return s.saveErr
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

// change applies f to the state under the lock and writes the result
// before it returns.
func (s *Store) change(f func()) error {
	s.update(f)
	return s.flush()
}

// changeSoon applies f to the state and has the writer write it.
func (s *Store) changeSoon(f func()) {
	s.update(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.kick <- struct{}{}:
	default: // a write is already due
	}
}

func (s *Store) update(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	for name, ss := range s.st.Servers {
		if ss.Quarantine == nil && !ss.Pinned && len(ss.Tools) == 0 {
			delete(s.st.Servers, name)
		}
	}
	s.gen++
}

// flush writes the current state unless it (or a newer one) is on disk.
// Writes are serialised apart from the state lock, so readers never wait
// for the disk: the lock is held only to take a snapshot (the servers'
// states, whose pins are never changed in place), which is then written
// to the file one pin at a time (see writeState).
func (s *Store) flush() error {
	s.mu.Lock()
	snap := make(map[string]serverState, len(s.st.Servers))
	for name, ss := range s.st.Servers {
		snap[name] = *ss
	}
	gen := s.gen
	s.mu.Unlock()
	s.saveM.Lock()
	defer s.saveM.Unlock()
	if gen <= s.saved {
		return nil
	}
	err := atomicfile.WriteFunc(s.path, 0o600, func(w io.Writer) error { return writeState(w, snap) })
	if err != nil {
		s.saveErr = fmt.Errorf("trust state: %w", err)
		return s.saveErr
	}
	s.saved, s.saveErr = gen, nil
	return nil
}

// writeState writes servers as the state file: the JSON encoding/json
// would write for fileState (keys sorted, compact, a final newline), made
// one server and one pin at a time so that a state of many thousands of
// pins is never held in memory as one text.
func writeState(w io.Writer, servers map[string]serverState) error {
	bw := &errWriter{w: w}
	bw.str(`{"version":` + strconv.Itoa(stateVersion) + `,"servers":{`)
	for i, name := range slices.Sorted(maps.Keys(servers)) {
		ss := servers[name]
		if i > 0 {
			bw.str(",")
		}
		bw.json(name)
		sep := ""
		bw.str(":{")
		if ss.Quarantine != nil {
			bw.str(`"quarantine":`)
			bw.json(ss.Quarantine)
			sep = ","
		}
		if ss.Pinned {
			bw.str(sep + `"pinned":true`)
			sep = ","
		}
		if len(ss.Tools) > 0 {
			bw.str(sep + `"tools":{`)
			for j, tool := range slices.Sorted(maps.Keys(ss.Tools)) {
				if j > 0 {
					bw.str(",")
				}
				bw.buf = appendString(bw.buf[:0], tool)
				bw.buf = append(bw.buf, ':')
				bw.buf = appendPin(bw.buf, ss.Tools[tool])
				bw.bytes(bw.buf)
			}
			bw.str("}")
		}
		bw.str("}")
	}
	bw.str("}}\n")
	return bw.err
}

// appendPin writes p as encoding/json would (its JSON fields are
// canonical already, so they are written as they are).
func appendPin(b []byte, p *Pin) []byte {
	b = append(b, `{"hash":`...)
	b = appendString(b, p.Hash)
	if p.Title != "" {
		b = append(b, `,"title":`...)
		b = appendString(b, p.Title)
	}
	if p.Description != "" {
		b = append(b, `,"description":`...)
		b = appendString(b, p.Description)
	}
	if len(p.InputSchema) > 0 {
		b = append(b, `,"input_schema":`...)
		b = append(b, p.InputSchema...)
	}
	if len(p.Annotations) > 0 {
		b = append(b, `,"annotations":`...)
		b = append(b, p.Annotations...)
	}
	b = append(b, `,"approved_at":"`...)
	b = p.ApprovedAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// errWriter writes until the first error, which it keeps.
type errWriter struct {
	w   io.Writer
	err error
	buf []byte // scratch for one value
}

func (e *errWriter) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *errWriter) str(s string) {
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
}

func (e *errWriter) json(v any) {
	if e.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		e.err = err
		return
	}
	_, e.err = e.w.Write(b)
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
	// Launch is what the server would run, for the person approving it.
	Launch Launch `json:"launch"`
	// Approve says how a person lets it run.
	Approve string `json:"approve"`
	// Fingerprint identifies the server's entry as shown here. An approval
	// that carries it approves exactly this entry: once an MCP client has
	// changed the server, it is refused (Fingerprint).
	Fingerprint string `json:"fingerprint"`
}

// Launch is what a server runs or where it connects, as a person deciding
// on it needs to see it: env and header names, never their values; the
// URL without user info or query.
type Launch struct {
	Command     string   `json:"command,omitempty"`
	Args        []string `json:"args,omitempty"`
	EnvNames    []string `json:"env_names,omitempty"`
	URL         string   `json:"url,omitempty"`
	HeaderNames []string `json:"header_names,omitempty"`
	// HostPaths are the host paths its container would see ("/data (ro,
	// args[1])"): the folders of its args and working_dir are mounted
	// automatically once it runs isolated. Filled by the caller that knows
	// the plan.
	HostPaths []string `json:"host_paths,omitempty"`
}

// LaunchOf describes what s runs.
func LaunchOf(s *config.Server) Launch {
	l := Launch{Command: s.Command, Args: s.Args, EnvNames: slices.Sorted(maps.Keys(s.Env)), HeaderNames: slices.Sorted(maps.Keys(s.Headers))}
	if s.URL != "" {
		if u, err := url.Parse(s.URL); err == nil {
			u.User, u.RawQuery, u.Fragment = nil, "", ""
			l.URL = u.String()
		}
	}
	return l
}

// DescribeQuarantine explains why server s waits, from its note if any.
func DescribeQuarantine(s *config.Server, n QuarantineNote, known bool) *QuarantineView {
	v := &QuarantineView{Launch: LaunchOf(s), Fingerprint: Fingerprint(s),
		Approve: fmt.Sprintf("mcpproxy upstream approve %s (or POST /api/v1/servers/%s/approve, or the web UI)", s.Name, s.Name)}
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

// fingerprintKey keys Fingerprint, so that a fingerprint (which MCP clients
// see in the list view) reveals nothing about the env and header values it
// covers. It lives as long as the process: fingerprints shown before a
// restart no longer approve anything.
var fingerprintKey = func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("trust: no randomness for the fingerprint key: " + err.Error())
	}
	return k
}()

// Fingerprint identifies everything of server entry s (what it runs, its
// env and header values, its isolation block): any change gives another.
func Fingerprint(s *config.Server) string {
	b, err := json.Marshal(s)
	if err != nil {
		b = []byte(err.Error())
	}
	m := hmac.New(sha256.New, fingerprintKey)
	m.Write(b)
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))[:32]
}
