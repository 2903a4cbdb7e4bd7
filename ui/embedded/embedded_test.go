package embedded

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
	"github.com/shardscope/shardscope/storage"
)

// env is a real engine on a temporary store with a stream "demo".
type env struct {
	t     *testing.T
	ctx   context.Context
	db    *storage.DB
	e     *engine.Engine
	clock *engine.OffsetClock
	tap   *engine.Tap
}

func newEnv(t *testing.T, shards int) *env {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "console.db"), storage.Options{Sync: storage.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	clock := engine.NewOffsetClock(nil)
	e, err := engine.New(db, engine.Options{Clock: clock})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tap := e.NewTap(4096)
	t.Cleanup(func() {
		cancel()
		tap.Close()
		e.Close()
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := e.CreateStream(ctx, engine.CreateStreamInput{StreamName: "demo", ShardCount: shards}); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, db: db, e: e, clock: clock, tap: tap}
}

func (v *env) backend(prods *producers.Set, cons *consumers.Group) *Backend {
	return New(v.ctx, Config{Engine: v.e, DB: v.db, Clock: v.clock, Tap: v.tap, Producers: prods, Consumers: cons})
}

// TestTogglesAggregation checks the adapter behind g: it
// really switches the producer's KPL aggregation (aggregated records reach
// the engine, several user records each), the producers pane sees the
// state, and a second press switches it back.
func TestTogglesAggregation(t *testing.T) {
	env := newEnv(t, 4)
	ctx, e, tap := env.ctx, env.e, env.tap
	prods := producers.DefaultsWith(e, "demo", producers.Config{Seed: 1})
	b := env.backend(prods, nil)

	aggregating := func() map[string]bool {
		m := map[string]bool{}
		for _, v := range b.Producers() {
			m[v.Name] = v.Aggregating
		}
		return m
	}
	if _, err := b.ProducerToggleAggregate("nope"); err == nil {
		t.Error("toggling an unknown producer did not fail")
	}
	msg, err := b.ProducerToggleAggregate(producers.DemoIoT)
	if err != nil || !strings.Contains(msg, "iot KPL aggregation on") {
		t.Fatalf("toggle on: %q, %v", msg, err)
	}
	if got := aggregating(); !got[producers.DemoIoT] || got[producers.DemoClickstream] || got[producers.DemoLogs] {
		t.Fatalf("producers pane's aggregation states %v, want only iot", got)
	}

	if err := prods.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer prods.Stop()
	// Wait, with a deadline, for an aggregate of several user records.
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	var recs []engine.TapRecord
	for packed := false; !packed; {
		select {
		case <-deadline.C:
			p, _ := prods.Get(producers.DemoIoT)
			t.Fatalf("no aggregated record of several user records reached the engine; iot stats %+v", p.Stats())
		case <-poll.C:
		}
		recs = tap.Drain(recs[:0])
		for _, r := range recs {
			if !consumers.IsAggregated(r.Data) {
				continue
			}
			if users, _ := consumers.Deaggregate([]engine.Record{r.Record}, nil); len(users) > 1 {
				packed = true
			}
		}
	}

	msg, err = b.ProducerToggleAggregate(producers.DemoIoT)
	if err != nil || !strings.Contains(msg, "iot KPL aggregation off") {
		t.Fatalf("toggle off: %q, %v", msg, err)
	}
	if p, _ := prods.Get(producers.DemoIoT); p.Stats().Aggregating || aggregating()[producers.DemoIoT] {
		t.Error("aggregation still on after the second toggle")
	}
}
