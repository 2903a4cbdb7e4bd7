package producers

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

func TestDefaults(t *testing.T) {
	s := Defaults(newFakeSink(engine.SystemClock{}, 1), "demo", 1)
	var total float64
	var names []string
	for _, p := range s.All() {
		st := p.Stats()
		names = append(names, st.Name)
		total += st.Rate
		if !st.On || st.Stream != "demo" || st.Kind != st.Name {
			t.Errorf("%+v", st)
		}
	}
	if len(names) != 3 || names[0] != DemoClickstream || names[1] != DemoIoT || names[2] != DemoLogs {
		t.Fatalf("names %v", names)
	}
	// Busy but under a 4-shard stream's 4,000 records/s.
	if total < 1000 || total > 2000 {
		t.Errorf("total rate %v", total)
	}
	if p, ok := s.Get(DemoIoT); !ok || p.Name() != DemoIoT {
		t.Error("Get")
	}
	if _, ok := s.Get("nope"); ok {
		t.Error("Get of a missing name")
	}
	if err := s.Add(New(DemoLogs, NewLogs(LogsConfig{}), nil, "x", Config{})); err == nil {
		t.Error("duplicate name accepted")
	}
}

// stopWithin calls s.Stop and fails if it does not return in time.
func stopWithin(t *testing.T, s *Set) {
	t.Helper()
	done := make(chan struct{})
	go func() { s.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
}

func TestSetStartStop(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newFakeSink(engine.SystemClock{}, 2)
	f.throttle = 0.05
	s := DefaultsWith(f, "demo", Config{Seed: 3, BatchMax: 100})
	for _, p := range s.All() {
		p.tick = time.Millisecond
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrSetRunning) {
		t.Errorf("second Start: %v", err)
	}
	extra := New("extra", NewIoT(IoTConfig{Devices: 3}), f, "demo", Config{Rate: 200})
	if err := s.Add(extra); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every producer to send", func() bool {
		for _, st := range s.Stats() {
			if st.Sent == 0 {
				return false
			}
		}
		return len(s.Stats()) == 4
	})
	stopWithin(t, s)
	if s.Running() {
		t.Error("Running after Stop")
	}
	for _, p := range s.All() {
		if p.running.Load() {
			t.Errorf("%s still running after Stop", p.Name())
		}
		if st := p.Stats(); st.Sent+st.GivenUp != st.Generated || st.Pending != 0 {
			t.Errorf("%s after Stop: %+v", p.Name(), st)
		}
	}
	_, _, _, bad := f.snapshot()
	if len(bad) > 0 {
		t.Errorf("bad input: %v", bad[:min(5, len(bad))])
	}

	// Restart, and stop through the parent context.
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sent := extra.Stats().Sent
	waitFor(t, "sending after restart", func() bool { return extra.Stats().Sent > sent })
	cancel()
	stopWithin(t, s)
	stopWithin(t, s) // idempotent

	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}
