package httpapi

import (
	"context"
	"sync"
)

// EventKind names an event of GET /api/v1/events (the SSE "event:" field).
type EventKind string

// The events of the stream. Each carries one payload (Event's field of the
// same name).
const (
	// EventServer: a server's state or configuration changed; payload
	// Server (its list view).
	EventServer EventKind = "server"
	// EventServerRemoved: a server left the configuration; payload Removed
	// {"name"}.
	EventServerRemoved EventKind = "server_removed"
	// EventTools: a server's tool list changed; payload Tools.
	EventTools EventKind = "tools"
	// EventConfig: the configuration file was applied, or an edit of it
	// was invalid and kept out; payload Config.
	EventConfig EventKind = "config"
	// EventDocker: the docker status changed; payload Docker.
	EventDocker EventKind = "docker"
	// EventResync: events were dropped for this subscriber (it fell
	// behind); fetch the state again. Payload {}.
	EventResync EventKind = "resync"
)

// Event is one change of state. Exactly the field named by Kind is set.
type Event struct {
	Kind    EventKind     `json:"-"`
	Server  *ServerView   `json:"server,omitempty"`
	Removed *RemovedEvent `json:"removed,omitempty"`
	Tools   *ToolsEvent   `json:"tools,omitempty"`
	Config  *ConfigStatus `json:"config,omitempty"`
	Docker  *DockerStatus `json:"docker,omitempty"`
}

// Payload is the JSON object sent as the event's data.
func (e Event) Payload() any {
	switch e.Kind {
	case EventServer:
		return e.Server
	case EventServerRemoved:
		return e.Removed
	case EventTools:
		return e.Tools
	case EventConfig:
		return e.Config
	case EventDocker:
		return e.Docker
	}
	return struct{}{}
}

// RemovedEvent names a removed server.
type RemovedEvent struct {
	Name string `json:"name"`
}

// ToolsEvent says a server's tool list changed.
type ToolsEvent struct {
	Server    string `json:"server"`
	ToolCount int    `json:"tool_count"`
	// Withheld are the tools held back until a person approves them.
	Withheld []string `json:"withheld,omitempty"`
}

// subscriberBuffer is how many events a subscriber may have pending before
// it is told to resync.
const subscriberBuffer = 64

// Hub fans events out to subscribers; Publish never blocks. The zero value
// is ready to use.
type Hub struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	ch chan Event
}

// Subscribe implements Events.
func (h *Hub) Subscribe(ctx context.Context) <-chan Event {
	s := &subscriber{ch: make(chan Event, subscriberBuffer)}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[*subscriber]struct{}{}
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		delete(h.subs, s)
		close(s.ch)
		h.mu.Unlock()
	})
	return s.ch
}

// Publish sends e to every subscriber. A subscriber whose buffer is full
// loses what is pending and gets one EventResync in its place.
func (h *Hub) Publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.ch <- e:
		default:
			for len(s.ch) > 0 {
				select {
				case <-s.ch:
				default:
				}
			}
			s.ch <- Event{Kind: EventResync}
		}
	}
}

// Subscribers is the number of live subscribers.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
