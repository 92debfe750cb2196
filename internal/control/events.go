package control

import (
	"context"
	"sync"

	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// UpstreamEvent is the manager's one event route (upstream.Options.OnEvent):
// the proxy learns of it at once (index, list_changed, subscriptions) and
// live views through the event loop. It never blocks.
func (s *Service) UpstreamEvent(e upstream.Event) {
	switch e.Kind {
	case upstream.EventTools:
		if s.proxy != nil {
			s.proxy.ToolsChanged(e.Server, s.gate.VisibleTools(e.Server, e.Tools))
		}
		s.events.tools(e.Server)
	case upstream.EventState:
		if s.proxy != nil {
			s.proxy.StateChanged(e.Server)
		}
		s.events.server(e.Server)
	}
}

// DockerChanged tells live views the docker status may have changed (the
// background resolution or preparation ended).
func (s *Service) DockerChanged() { s.events.docker() }

// Subscribe implements httpapi.Events.
func (s *Service) Subscribe(ctx context.Context) <-chan httpapi.Event { return s.hub.Subscribe(ctx) }

// Run turns the changes noted since the last round into events for the
// subscribers, until ctx ends. The views are built here, on Run's
// goroutine, never on the manager's.
func (s *Service) Run(ctx context.Context) {
	var lastDocker httpapi.DockerStatus
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.events.wake:
		}
		p := s.events.take()
		if p.config {
			st, _ := s.ConfigStatus(ctx)
			s.hub.Publish(httpapi.Event{Kind: httpapi.EventConfig, Config: &st})
		}
		ds := s.iso.LastDockerStatus()
		for _, name := range p.servers {
			if v, ok := s.serverView(name, ds); ok {
				s.hub.Publish(httpapi.Event{Kind: httpapi.EventServer, Server: &v})
			} else {
				s.hub.Publish(httpapi.Event{Kind: httpapi.EventServerRemoved, Removed: &httpapi.RemovedEvent{Name: name}})
			}
		}
		for _, name := range p.tools {
			if u := s.mgr.Get(name); u != nil {
				s.hub.Publish(httpapi.Event{Kind: httpapi.EventTools, Tools: &httpapi.ToolsEvent{
					Server: name, ToolCount: len(u.Tools()), Withheld: s.gate.Withheld(name)}})
			}
		}
		if p.docker && ds != lastDocker {
			lastDocker = ds
			s.hub.Publish(httpapi.Event{Kind: httpapi.EventDocker, Docker: &ds})
		}
	}
}

// eventQueue collects what changed until the event loop takes it: many
// changes of one server between two rounds make one event.
type eventQueue struct {
	wake chan struct{}

	mu      sync.Mutex
	pending pendingEvents
}

type pendingEvents struct {
	servers, tools []string
	config, docker bool
}

func newEventQueue() *eventQueue { return &eventQueue{wake: make(chan struct{}, 1)} }

func (q *eventQueue) note(f func(p *pendingEvents)) {
	q.mu.Lock()
	f(&q.pending)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func addOnce(list []string, name string) []string {
	for _, n := range list {
		if n == name {
			return list
		}
	}
	return append(list, name)
}

func (q *eventQueue) server(name string) {
	q.note(func(p *pendingEvents) { p.servers = addOnce(p.servers, name) })
}
func (q *eventQueue) tools(name string) {
	q.note(func(p *pendingEvents) { p.tools = addOnce(p.tools, name) })
}
func (q *eventQueue) config() { q.note(func(p *pendingEvents) { p.config = true }) }
func (q *eventQueue) docker() { q.note(func(p *pendingEvents) { p.docker = true }) }

func (q *eventQueue) take() pendingEvents {
	q.mu.Lock()
	defer q.mu.Unlock()
	p := q.pending
	q.pending = pendingEvents{}
	return p
}
