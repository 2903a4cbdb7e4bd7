package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// addStream adds a PROVISIONED stream of n even open shards to the fake,
// with a few records of its own queued for the feed.
func addStream(f *fakeBackend, name string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := engine.StreamSnapshot{Name: name, Status: engine.StatusActive, Mode: engine.ModeProvisioned, RetentionHours: 48, OpenShards: n}
	for i := 0; i < n; i++ {
		s.Shards = append(s.Shards, engine.ShardSnapshot{
			Shard: engine.Shard{ShardID: shardID(i), HashKeyRange: rng(int64(i), int64(i+1), int64(n))},
			Index: i, Open: true, History: history(10, i),
		})
	}
	setCost(&s, 10, 3000, 0, 0)
	f.snap.Streams = append(f.snap.Streams, s)
	recs := sampleRecords(3, t0.Add(-time.Second))
	for i := range recs {
		recs[i].Stream = name
		recs[i].PartitionKey = name + "-key"
		recs[i].ShardID = shardID(0)
	}
	f.feed = append(f.feed, recs...)
}

// removeStream deletes a stream from the fake's snapshot.
func removeStream(f *fakeBackend, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.snap.Streams[:0]
	for _, s := range f.snap.Streams {
		if s.Name != name {
			out = append(out, s)
		}
	}
	f.snap.Streams = out
}

func header(v string) string { return strings.SplitN(v, "\n", 2)[0] }

func TestNextStreamCycles(t *testing.T) {
	h := newHarnessWith(t, 160, 48, Options{Stream: "demo"}, func(f *fakeBackend) {
		addStream(f, "orders", 2)
		addStream(f, "audit", 1)
	})
	if got := h.m.ctx.StreamNames; strings.Join(got, ",") != "audit,demo,orders" {
		t.Fatalf("stream names %v, want sorted", got)
	}
	if hd := header(h.view()); !strings.Contains(hd, "▸ demo") || !strings.Contains(hd, "stream 2/3 (w)") {
		t.Errorf("header does not name the stream and its place:\n%s", hd)
	}
	for _, want := range []string{"orders", "audit", "demo"} {
		h.press("w")
		if h.m.ctx.StreamName != want || h.m.ctx.Stream == nil || h.m.ctx.Stream.Name != want {
			t.Fatalf("after w watching %q, want %q", h.m.ctx.StreamName, want)
		}
		if hd := header(h.view()); !strings.Contains(hd, "▸ "+want) {
			t.Errorf("header does not name %s:\n%s", want, hd)
		}
		if got := h.m.events.Text(1); len(got) != 1 || !strings.HasPrefix(got[0], "watching stream "+want) {
			t.Errorf("events newest %v, want watching %s", got, want)
		}
	}
	if len(h.fake.Calls()) != 0 {
		t.Errorf("switching called the backend: %v", h.fake.Calls())
	}
}

func TestWatchedStreamDrivesPanesAndActions(t *testing.T) {
	h := newHarnessWith(t, 160, 48, Options{Stream: "demo"}, func(f *fakeBackend) { addStream(f, "orders", 2) })
	h.press("w")
	v := h.view()
	if got := len(h.m.shards.order); got != 2 {
		t.Errorf("shards pane lists %d shards, want orders' 2", got)
	}
	// the feed shows only the watched stream's records
	lines := feedLines(h)
	if len(lines) != 3 {
		t.Errorf("feed shows %d records, want orders' 3:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if !strings.Contains(l, "orders-key") {
			t.Errorf("feed line of another stream: %q", l)
		}
	}
	if !strings.Contains(header(v), "▸ orders") || !strings.Contains(header(v), "2 open") {
		t.Errorf("header does not follow the stream:\n%s", header(v))
	}
	// consumers of another stream hide; those of every stream ("") stay
	if e := h.m.consumers.entry("page-stats"); e != nil {
		t.Error("page-stats (stream demo) listed while watching orders")
	}
	if e := h.m.consumers.entry("log-stats"); e == nil {
		t.Error("log-stats (any stream) not listed while watching orders")
	}
	// actions go to the watched stream
	h.press("S", "r", "m", "a")
	want := []string{"SplitShard(orders, shardId-000000000000)", "SetRetention(orders, 168)", "ToggleCapacityMode(orders)", "AddConsumer(orders, false)"}
	if got := h.fake.Calls(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("calls %v, want %v", got, want)
	}
	// back on demo, its records come back from the ring
	h.press("w")
	if got := len(feedLines(h)); got != 22 {
		t.Errorf("feed shows %d records after switching back, want the 22 that fit", got)
	}
}

func TestWatchedStreamGoneFallsBack(t *testing.T) {
	h := newHarnessWith(t, 80, 24, Options{Stream: "demo"}, func(f *fakeBackend) { addStream(f, "orders", 2) })
	h.press("w") // orders
	removeStream(h.fake, "orders")
	h.tick()
	if h.m.ctx.StreamName != "demo" || h.m.ctx.Stream == nil {
		t.Fatalf("watching %q after orders went, want demo", h.m.ctx.StreamName)
	}
	if got := h.m.events.Text(1); got[0] != "stream orders is gone: now watching demo" {
		t.Errorf("events newest %q", got[0])
	}
	if got := len(h.m.shards.order); got != 5 {
		t.Errorf("shards pane lists %d rows, want demo's 5", got)
	}
	h.view() // the frame keeps its shape after the layout changed
}

func TestPickedStreamStaysPicked(t *testing.T) {
	h := newHarnessWith(t, 80, 24, Options{Stream: "demo"}, func(f *fakeBackend) { addStream(f, "orders", 2) })
	h.press("w")
	h.tick()
	if h.m.ctx.StreamName != "orders" {
		t.Errorf("watching %q after a tick, want the picked orders", h.m.ctx.StreamName)
	}
}

func TestAskedForStreamIsFollowedOnceItExists(t *testing.T) {
	h := newHarnessWith(t, 80, 24, Options{Stream: "orders"}, nil)
	if h.m.ctx.StreamName != "demo" {
		t.Fatalf("watching %q, want the fallback demo", h.m.ctx.StreamName)
	}
	addStream(h.fake, "orders", 2)
	h.tick()
	if h.m.ctx.StreamName != "orders" {
		t.Fatalf("watching %q, want orders once it exists", h.m.ctx.StreamName)
	}
	if got := h.m.events.Text(1); got[0] != "stream orders exists now: watching it" {
		t.Errorf("events newest %q", got[0])
	}
}

func TestNextStreamRefused(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("w")
	if h.m.pinned || h.m.ctx.StreamName != "demo" {
		t.Errorf("w with one stream moved the watch")
	}
	if v := h.view(); !strings.Contains(v, "only one stream: demo") {
		t.Errorf("no explanation:\n%s", v)
	}
	e := newHarnessWith(t, 80, 24, Options{Stream: "demo"}, func(f *fakeBackend) { f.snap.Streams = nil })
	e.press("w")
	if v := e.view(); !strings.Contains(v, "no streams yet: see the Shards pane") {
		t.Errorf("no explanation without streams:\n%s", v)
	}
}

func TestEmptyState(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     Options
		w, h     int
		want     []string
		wantNone string
	}{
		{"served", Options{Stream: "demo", Endpoint: "http://127.0.0.1:4567"}, 80, 24,
			[]string{"no streams yet — create one with the AWS CLI", "aws kinesis create-stream --stream-name demo --shard-count 2 \\", "--endpoint-url http://127.0.0.1:4567"}, ""},
		{"served wide", Options{Endpoint: "http://127.0.0.1:4567"}, 160, 48,
			[]string{"aws kinesis create-stream --stream-name orders --shard-count 2 --endpoint-url http://127.0.0.1:4567"}, ""},
		{"not served", Options{Stream: "demo"}, 80, 24,
			[]string{"--endpoint-url http://<address>", "start shardscope with --listen"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, tc.w, tc.h, tc.opts, func(f *fakeBackend) {
				f.snap.Streams, f.snap.Events, f.feed, f.consumers = nil, nil, nil, nil
			})
			v := h.view()
			if !strings.Contains(header(v), "no streams yet") {
				t.Errorf("header does not say there are no streams:\n%s", header(v))
			}
			for _, w := range tc.want {
				if !strings.Contains(v, w) {
					t.Errorf("empty state lacks %q:\n%s", w, v)
				}
			}
			// keys that need a stream say so instead of calling the backend
			h.press("m", "a", "r")
			if calls := h.fake.Calls(); len(calls) != 0 {
				t.Errorf("backend called without a stream: %v", calls)
			}
		})
	}
}

func TestEventKindLabels(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.fake.mu.Lock()
	h.fake.snap.Events = append(h.fake.snap.Events,
		engine.Event{Seq: 4, At: t0, Kind: engine.EventMode, Stream: "demo", Message: "demo is ON_DEMAND now"},
		engine.Event{Seq: 5, At: t0, Kind: engine.EventFanOut, Stream: "demo", Message: "registered enhanced fan-out consumer x on demo: a dedicated 2 MiB/s per shard"},
		engine.Event{Seq: 6, At: t0, Kind: engine.EventReshard, Stream: "orders", Message: "split 000000000000"},
		engine.Event{Seq: 7, At: t0, Kind: engine.EventAccess, Stream: "demo", Message: "denied kinesis:PutRecord to bob"},
	)
	h.fake.mu.Unlock()
	h.tick()
	v := h.view()
	for _, want := range []string{"capacity  demo is ON_DEMAND now", "fan-out   registered enhanced fan-out consumer x", "reshard   orders: split 000000000000", "access    denied kinesis:PutRecord to bob"} {
		if !strings.Contains(v, want) {
			t.Errorf("events pane lacks %q:\n%s", want, v)
		}
	}
}

func TestFeedShowsWatchedStreamOnly(t *testing.T) {
	h := newHarness(t, 80, 24)
	recs := sampleRecords(4, t0)
	for i := range recs {
		recs[i].Stream, recs[i].PartitionKey = "other", "other-key"
	}
	h.fake.push(recs...)
	h.tick()
	if v := h.view(); strings.Contains(v, "other-key") {
		t.Errorf("the feed shows another stream's records:\n%s", v)
	}
	if got := h.m.feed.all.Len(); got != 28 {
		t.Errorf("ring holds %d records, want all 28", got)
	}
	// a filter narrows within the watched stream
	h.m.feed.apply("sensor")
	for _, l := range feedLines(h) {
		if !strings.Contains(l, "sensor") {
			t.Errorf("filtered line %q", l)
		}
	}
}

// TestFrameShapeSweep renders every new state at sizes from the minimum
// up: each frame must be exactly the window, whatever is on it.
func TestFrameShapeSweep(t *testing.T) {
	states := map[string]func(f *fakeBackend){
		"default": nil,
		"empty":   func(f *fakeBackend) { f.snap.Streams, f.feed, f.consumers = nil, nil, nil },
		"on-demand, two streams": func(f *fakeBackend) {
			s := &f.snap.Streams[0]
			s.Mode = engine.ModeOnDemand
			s.Scaling = &engine.ScalingStatus{HotShards: 2, ColdShards: 1, CooldownUntil: t0.Add(time.Hour)}
			setCost(s, 1750, 1_052_000, 3_900_000, 2)
			addStream(f, "orders-with-a-rather-long-name", 3)
		},
		"idle, many leases": func(f *fakeBackend) {
			s := &f.snap.Streams[0]
			s.Utilisation = engine.Utilisation{}
			setCost(s, 0, 0, 0, 0)
			var leases []string
			for i := 0; i < 40; i++ {
				leases = append(leases, shardID(i))
			}
			f.consumers[0].Workers[0].Leases = leases
			f.consumers[0].Workers[0].ID = "ip-10-0-0-17.ec2.internal:6f1c2a"
		},
	}
	for name, prep := range states {
		for _, sz := range [][2]int{{60, 16}, {80, 24}, {100, 30}, {139, 40}, {140, 30}, {160, 48}, {200, 60}} {
			h := newHarnessWith(t, sz[0], sz[1], Options{Stream: "demo", Endpoint: "http://127.0.0.1:4567"}, prep)
			for _, keys := range [][]string{nil, {"tab", "tab", "tab", "down"}, {"?"}} {
				h.press(keys...)
				h.view()
				if t.Failed() {
					t.Fatalf("%s at %v after %v", name, sz, keys)
				}
				h.press("esc")
			}
		}
	}
}
