package httpapi

import (
	"context"
	"testing"
)

// A subscriber gets the events in order; one that falls behind loses what
// is pending and gets one resync in its place; a publisher never blocks;
// the channel closes when the subscription's context ends.
func TestHub(t *testing.T) {
	var h Hub
	ctx, cancel := context.WithCancel(context.Background())
	slow := h.Subscribe(ctx)
	fast := h.Subscribe(ctx)
	if h.Subscribers() != 2 {
		t.Fatalf("%d subscribers", h.Subscribers())
	}
	for i := range subscriberBuffer + 10 { // more than a buffer: never blocks
		h.Publish(Event{Kind: EventServerRemoved, Removed: &RemovedEvent{Name: string(rune('a' + i%26))}})
		if i < 3 {
			if e := <-fast; e.Kind != EventServerRemoved || e.Removed.Name != string(rune('a'+i)) {
				t.Fatalf("fast got %+v", e)
			}
		}
	}
	var kinds []EventKind
	for len(slow) > 0 {
		kinds = append(kinds, (<-slow).Kind)
	}
	resyncs := 0
	for _, k := range kinds {
		if k == EventResync {
			resyncs++
		}
	}
	if resyncs != 1 || len(kinds) > subscriberBuffer {
		t.Fatalf("slow subscriber got %d events with %d resyncs: %v", len(kinds), resyncs, kinds)
	}
	cancel()
	for range slow {
	}
	for range fast {
	}
	if h.Subscribers() != 0 {
		t.Fatalf("%d subscribers after cancel", h.Subscribers())
	}
}
