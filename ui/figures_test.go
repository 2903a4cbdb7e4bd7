package ui

import (
	"strings"
	"testing"
	"time"

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

// TestHotKeyLine checks the hot-key lesson: one partition key carrying
// 960 records/s of one shard is named with its figures, once, and a key
// at a tenth of that is not.
func TestHotKeyLine(t *testing.T) {
	h := newHarness(t, 160, 48)
	rec := func(key string, n int) []engine.TapRecord {
		out := make([]engine.TapRecord, n)
		for i := range out {
			out[i] = engine.TapRecord{Stream: "demo", ShardID: shardID(0), Record: engine.Record{PartitionKey: key, Data: []byte("0123456789")}}
		}
		return out
	}
	at := h.clock.Now()
	for sec := 1; sec <= 4; sec++ {
		h.fake.push(rec("user-1", 960)...)
		h.fake.push(rec("user-2", 96)...)
		h.clock.Set(at.Add(time.Duration(sec) * time.Second))
		h.tick()
	}
	var hot []string
	for _, l := range h.m.events.Text(20) {
		if strings.HasPrefix(l, "hot key") {
			hot = append(hot, l)
		}
	}
	want := `hot key "user-1": 960 rec/s = 96 % of one shard's write limit (000000000000) — a split cannot spread one key`
	if len(hot) != 1 || hot[0] != want {
		t.Fatalf("hot-key lines %q, want [%q]", hot, want)
	}
}

// TestOneShardPlurals checks the cost box and bill of a one-shard stream
// speak of 1 shard, not "1 shards".
func TestOneShardPlurals(t *testing.T) {
	s := &engine.StreamSnapshot{OpenShards: 1}
	setCost(s, 0, 0, 0, 0)
	if got := costTeach(s); !strings.Contains(got, "provisioned its 1 shard-hour;") {
		t.Errorf("idle lesson: %q", got)
	}
	setCost(s, 100, 10_000, 10_000, 0)
	if got := s.Cost.Lines[0].Item; !strings.HasPrefix(got, "1 shard-hour × ") {
		t.Errorf("bill line %q", got)
	}
	if got := s.Cost.Basis; !strings.Contains(got, "; 1 shard;") {
		t.Errorf("basis %q", got)
	}
	if got := costTeach(s); strings.Contains(got, "1 shards") {
		t.Errorf("lesson %q", got)
	}
}

// TestBehindStaysOnNarrowConsumers checks that in the 48-column consumers
// pane the records behind stay and the total read goes first.
func TestBehindStaysOnNarrowConsumers(t *testing.T) {
	h := newHarnessWith(t, 160, 48, Options{Stream: "demo"}, func(f *fakeBackend) { f.consumers[0].Behind = 395 })
	if v := h.view(); !strings.Contains(v, "thr 0/s  395 behind") {
		t.Errorf("records behind cut:\n%s", v)
	}
}
