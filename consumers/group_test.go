package consumers

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

func TestDefaultsGroup(t *testing.T) {
	clock := engine.NewManualClock(t0)
	f := newFakeSource(testStream, "A", "B")
	f.clock = clock
	f.put("A", "u1", `{"event":"page_view","user":"u1","session":"s1","page":"/cart","ts":"2025-03-01T12:00:00Z"}`)
	f.put("B", "sensor-0042", `{"device":"sensor-0042","temp":71.3,"humidity":40,"battery":80,"ts":"2025-03-01T12:00:00Z"}`)
	f.put("A", "checkout", `{"service":"checkout","level":"ERROR","status":500,"latency_ms":310,"ts":"2025-03-01T12:00:00Z"}`)
	g := Defaults(f, NewMemoryCheckpoints(), testStream, clock)

	var names []string
	for _, a := range g.All() {
		names = append(names, a.Name())
		if a.Stream() != testStream {
			t.Errorf("%s reads %q, want %q", a.Name(), a.Stream(), testStream)
		}
	}
	if len(names) != 3 || names[0] != PageStatsApp || names[1] != IoTAlertsApp || names[2] != LogStatsApp {
		t.Fatalf("apps: got %v", names)
	}
	if g.App("nope") != nil || g.App(IoTAlertsApp) == nil {
		t.Fatalf("lookup by name failed")
	}
	pages := g.App(PageStatsApp).Processor().(*PageStats)
	alerts := g.App(IoTAlertsApp).Processor().(*IoTAlerts)
	logs := g.App(LogStatsApp).Processor().(*LogStats)

	baseline := runtime.NumGoroutine()
	g.Start(context.Background())
	g.Start(context.Background()) // no-op while running
	// Each app reads both shards; wait until each has read all three
	// records (page-stats counts the two that are not page views as other).
	waitFor(t, waitLong, "all three processed", func() bool {
		p := pages.Result()
		return p.Total == 1 && p.Other == 2 && alerts.Result().Readings == 1 && logs.Result().Total == 1
	})
	if got, want := g.App(PageStatsApp).Summary(), "top: /cart 100%"; got != want {
		t.Errorf("page-stats summary: got %q, want %q", got, want)
	}
	if got, want := g.App(IoTAlertsApp).Summary(), "⚠ sensor-0042 temp 71.3 (> 60)"; got != want {
		t.Errorf("iot-alerts summary: got %q, want %q", got, want)
	}
	if got, want := g.App(LogStatsApp).Summary(), "checkout err 100.0% p99 310ms"; got != want {
		t.Errorf("log-stats summary: got %q, want %q", got, want)
	}
	// A shard's reader can still be taking its lease when the other
	// shard's record has been processed: wait for both.
	waitFor(t, waitLong, "every app reading both shards", func() bool {
		for _, s := range g.Stats() {
			if !s.Running || s.Count(StateReading) != 2 {
				return false
			}
		}
		return true
	})

	stopWithin(t, g, waitLong)
	for _, s := range g.Stats() {
		if s.Running {
			t.Errorf("%s still running after Stop", s.App)
		}
	}
	waitFor(t, waitLong, "goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
	g.Stop() // again: no-op
}

// waitLong bounds the tests' waits for a condition. It is a deadline, not
// a duration: a wait returns as soon as its condition holds, so it can be
// generous enough for the race detector on a loaded machine.
const waitLong = 60 * time.Second

func stopWithin(t *testing.T, g *Group, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { g.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("Stop did not return within %v", d)
	}
}

func TestStopInterruptsWaits(t *testing.T) {
	f := newFakeSource(testStream, "idle", "hot", "gone")
	f.put("hot", "k", "k:0")
	f.set("hot", func(s *fakeShard) { s.throttle = true })
	f.set("gone", func(s *fakeShard) { s.notFound = true })
	cfg := Config{PollInterval: time.Hour, RelistInterval: time.Hour, ThrottleBackoff: time.Hour, MinReadInterval: time.Hour}
	app := NewApp("app", testStream, newCollector(), f, NewMemoryCheckpoints(), cfg)
	g := NewGroup(app)

	baseline := runtime.NumGoroutine()
	g.Start(context.Background())
	waitFor(t, waitLong, "every reader waiting", func() bool {
		s := app.Stats()
		gone, _ := shardStats(s, "gone")
		return f.count("GetRecords:idle") == 1 && s.Throttled == 1 && gone.State == StateStopped
	})
	// Every wait above is an hour long: Stop returning at all within
	// waitLong shows it interrupts them. (A bound of a second on it failed
	// under -race on two busy cores.)
	stopWithin(t, g, waitLong)
	waitFor(t, waitLong, "goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })

	// A stopped group starts again, from its checkpoints.
	f.set("hot", func(s *fakeShard) { s.throttle = false })
	g.Start(context.Background())
	t.Cleanup(g.Stop)
	waitFor(t, waitLong, "restart reads hot", func() bool { return app.Stats().Records == 1 })
}

func TestGroupStopsWithContext(t *testing.T) {
	f := newFakeSource(testStream, "A")
	app := NewApp("app", testStream, newCollector(), f, NewMemoryCheckpoints(), testConfig())
	g := NewGroup(app)
	ctx, cancel := context.WithCancel(context.Background())
	g.Start(ctx)
	waitFor(t, waitLong, "reading", func() bool { return app.Stats().Count(StateReading) == 1 })
	cancel()
	waitFor(t, waitLong, "stopped by ctx", func() bool { return !app.Stats().Running })
	g.Start(context.Background()) // ended by its context: starts again
	waitFor(t, waitLong, "running again", func() bool { return app.Stats().Count(StateReading) == 1 })
	stopWithin(t, g, waitLong)
	if app.Stats().Running {
		t.Errorf("running after Stop")
	}
}

type memMeta struct {
	mu sync.Mutex
	m  map[string]map[string][]byte
}

func (m *memMeta) GetMeta(bucket, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[bucket][key]
	if !ok {
		return nil, nil
	}
	return append([]byte(nil), v...), nil
}

func (m *memMeta) PutMeta(bucket, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[string]map[string][]byte)
	}
	if m.m[bucket] == nil {
		m.m[bucket] = make(map[string][]byte)
	}
	m.m[bucket][key] = append([]byte(nil), value...)
	return nil
}

func TestCheckpointStores(t *testing.T) {
	meta := &memMeta{}
	stores := map[string]CheckpointStore{"memory": NewMemoryCheckpoints(), "zero memory": &MemoryCheckpoints{}, "meta": NewMetaCheckpoints(meta)}
	ctx := context.Background()
	for name, s := range stores {
		t.Run(name, func(t *testing.T) {
			if cp, err := s.Load(ctx, "app", "shard-1"); cp != "" || err != nil {
				t.Fatalf("empty Load: got %q, %v; want \"\", nil", cp, err)
			}
			if err := s.Save(ctx, "app", "shard-1", "0042"); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, "other", "shard-1", ShardEnd); err != nil {
				t.Fatal(err)
			}
			if cp, _ := s.Load(ctx, "app", "shard-1"); cp != "0042" {
				t.Errorf("Load: got %q, want 0042", cp)
			}
			if cp, _ := s.Load(ctx, "other", "shard-1"); cp != ShardEnd {
				t.Errorf("Load other app: got %q, want %q", cp, ShardEnd)
			}
		})
	}
	if v := meta.m["checkpoints/app"]["shard-1"]; string(v) != "0042" {
		t.Errorf("meta bucket checkpoints/app: got %q, want 0042", v)
	}
}
