package httpapi

import (
	"context"
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

// startSSE answers with an event stream.
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

// pump sends what ch carries, each as the event name of makes, with a
// heartbeat while nothing comes, until ctx ends, ch is closed or the client
// is gone.
func pump[T any](ctx context.Context, s *sseWriter, ch <-chan T, name func(T) (string, any)) {
	tick := time.NewTicker(Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case v, ok := <-ch:
			if !ok {
				return
			}
			if s.send(name(v)) != nil {
				return
			}
		case <-tick.C:
			if s.ping() != nil {
				return
			}
		}
	}
}

// eventsRoute streams the Service's events until the client goes away or
// the proxy shuts down.
func eventsRoute(svc Service) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := query(r); err != nil {
			return err
		}
		ch := svc.Subscribe(r.Context())
		s, err := startSSE(w)
		if err != nil {
			return nil // the client is gone
		}
		pump(r.Context(), s, ch, func(e Event) (string, any) { return string(e.Kind), e.Payload() })
		return nil
	}
}

// followLog streams the last n lines of the server's log, then every line
// the server writes, as "log" events, until the client goes away.
func followLog(w http.ResponseWriter, r *http.Request, svc Service, name string, n int) error {
	ctx := r.Context()
	tail, lines, err := svc.FollowLog(ctx, name, n)
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
	pump(ctx, s, lines, func(l LogLine) (string, any) {
		l.Line = strings.TrimRight(l.Line, "\r\n")
		return "log", l
	})
	return nil
}
