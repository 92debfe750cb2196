package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Heartbeat is how often an SSE stream sends a comment line when nothing
// happens, so that a client notices a proxy that went away (and proxies in
// between do not time the stream out).
var Heartbeat = 15 * time.Second

// sseWriter writes one Server-Sent Events stream.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	id int
}

// startSSE answers r as an event stream.
func startSSE(w http.ResponseWriter) (*sseWriter, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	// A first comment flushes the headers: the client knows the stream is
	// open before the first event.
	if _, err := fmt.Fprint(w, ": mcpproxy events\n\n"); err != nil {
		return nil, err
	}
	return s, s.rc.Flush()
}

// send writes one event with v as its JSON data.
func (s *sseWriter) send(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.id++
	if _, err := fmt.Fprintf(s.w, "id: %d\nevent: %s\ndata: %s\n\n", s.id, event, b); err != nil {
		return err
	}
	return s.rc.Flush()
}

// ping writes a comment line.
func (s *sseWriter) ping() error {
	if _, err := fmt.Fprint(s.w, ": ping\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// events streams the Service's events until the client goes away or the
// proxy shuts down.
func (a *restAPI) events(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	ctx := r.Context()
	ch := a.svc.Subscribe(ctx)
	s, err := startSSE(w)
	if err != nil {
		return nil // the client is gone
	}
	tick := time.NewTicker(Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-ch:
			if !ok {
				return nil
			}
			if s.send(string(e.Kind), e.Payload()) != nil {
				return nil
			}
		case <-tick.C:
			if s.ping() != nil {
				return nil
			}
		}
	}
}

// followLog streams the last n lines of the server's log, then every line the server writes, as
// "log" events, until the client goes away.
func (a *restAPI) followLog(w http.ResponseWriter, r *http.Request, name string, n int) error {
	ctx := r.Context()
	tail, lines, err := a.svc.FollowLog(ctx, name, n)
	if err != nil {
		return err
	}
	s, err := startSSE(w)
	if err != nil {
		return nil
	}
	for _, l := range tail.Lines {
		if s.send("log", LogLine{Server: tail.Server, Line: l}) != nil {
			return nil
		}
	}
	tick := time.NewTicker(Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case l, ok := <-lines:
			if !ok {
				return nil
			}
			l.Line = strings.TrimRight(l.Line, "\r\n")
			if s.send("log", l) != nil {
				return nil
			}
		case <-tick.C:
			if s.ping() != nil {
				return nil
			}
		}
	}
}
