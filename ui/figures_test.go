package ui

import (
	"strings"
	"testing"

	"github.com/shardscope/shardscope/engine"
)

// TestOutCountsFanOutReads checks that the header's "out" and a shard's
// "read" are every read: shared (GetRecords) and enhanced fan-out.
func TestOutCountsFanOutReads(t *testing.T) {
	h := newHarnessWith(t, 200, 60, Options{Stream: "demo"}, func(f *fakeBackend) {
		s := &f.snap.Streams[0]
		s.Shards[0].Rate.BytesOut = 1_000_000
		s.Shards[0].FanOut = engine.Rate{BytesOut: 2_000_000}
	})
	v := h.view()
	// 3.9 MB/s shared + 1.382 MB/s fan-out in the fake.
	if !strings.Contains(v, "out  5.28 MB/s") {
		t.Errorf("header out lacks the fan-out reads:\n%s", strings.SplitN(v, "\n", 2)[0])
	}
	if !strings.Contains(v, "3.0 MB/s") {
		t.Errorf("shard 0 read lacks its fan-out reads:\n%s", v)
	}
}

// TestConsumerEventsReachTheEventsPane checks that what the backend says
// happened to an application (a lease taken over, a parent finished)
// shows in the events pane, once.
func TestConsumerEventsReachTheEventsPane(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.fake.mu.Lock()
	h.fake.consumers[0].Events = []string{"page-stats: worker-2 took over the lease of shardId-000000000001 from worker-1"}
	h.fake.mu.Unlock()
	h.tick()
	h.fake.mu.Lock()
	h.fake.consumers[0].Events = nil
	h.fake.mu.Unlock()
	h.tick()
	got := h.m.events.Text(3)
	n := 0
	for _, l := range got {
		if strings.Contains(l, "took over the lease") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("takeover lines in the events pane: %d, want 1: %q", n, got)
	}
	if v := h.view(); !strings.Contains(v, "consumer") || !strings.Contains(v, "took over the lease of") {
		t.Errorf("not on screen:\n%s", v)
	}
}
