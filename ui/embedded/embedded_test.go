package embedded

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
	"github.com/shardscope/shardscope/storage"
	"github.com/shardscope/shardscope/ui"
)

// env is a real engine on a temporary store with a stream "demo".
type env struct {
	t     testing.TB
	ctx   context.Context
	db    *storage.DB
	e     *engine.Engine
	clock *engine.OffsetClock
	tap   *engine.Tap
}

func newEnv(t testing.TB, shards int) *env {
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

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gate is a processor that counts records and, while closed, holds every
// batch (so nothing is checkpointed).
type gate struct {
	open chan struct{}
	mu   sync.Mutex
	n    int
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gate) Process(shardID string, recs []engine.Record) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	<-open
	g.mu.Lock()
	g.n += len(recs)
	g.mu.Unlock()
	return nil
}

func (g *gate) close() { g.mu.Lock(); g.open = make(chan struct{}); g.mu.Unlock() }
func (g *gate) release() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

// fastConfig reads often and moves leases within a second, by the real
// clock: the engine's clock is the one the tests skip.
func fastConfig(v *env, workers int) consumers.Config {
	return consumers.Config{
		Clock: engine.SystemClock{}, Workers: workers, Leases: consumers.NewMetaLeases(v.db),
		PollInterval: 20 * time.Millisecond, MinReadInterval: -1, RelistInterval: 100 * time.Millisecond,
		LeaseDuration: 600 * time.Millisecond, RenewInterval: 100 * time.Millisecond, TakeInterval: 150 * time.Millisecond,
	}
}

func (v *env) put(n int, key string) {
	v.t.Helper()
	for i := 0; i < n; i++ {
		if _, err := v.e.PutRecord(v.ctx, engine.PutRecordInput{StreamRef: engine.StreamRef{StreamName: "demo"}, PartitionKey: key, Data: []byte(`{"n":1}`)}); err != nil {
			v.t.Fatal(err)
		}
	}
}

func view(b *Backend, name string) ui.ConsumerView {
	b.Snapshot()
	for _, c := range b.Consumers() {
		if c.Name == name {
			return c
		}
	}
	return ui.ConsumerView{}
}

// TestConsumerLagIsHonest checks lag against the engine: a reader that has
// caught up is 0 records and under a second behind and counts as done; one
// whose processor holds a batch stays behind by every record written since
// its checkpoint, by the hours those records are newer, and is not done;
// once it goes on it catches up again.
func TestConsumerLagIsHonest(t *testing.T) {
	v := newEnv(t, 1)
	g := newGate()
	app := consumers.NewApp("reader", "demo", g, v.e, nil, fastConfig(v, 1))
	cons := consumers.NewGroup(app)
	cons.Start(v.ctx)
	defer cons.Stop()
	b := v.backend(nil, cons)

	v.put(10, "k")
	waitFor(t, "the reader to catch up", 10*time.Second, func() bool {
		c := view(b, "reader")
		return c.Records == 10 && c.Behind == 0 && c.ShardsDone == 1 && c.Shards == 1 && c.Lag < CaughtUp
	})

	g.close()
	v.clock.Skip(2 * time.Hour) // the next records arrive two hours later by the engine's clock
	v.put(20, "k")
	waitFor(t, "20 records behind", 10*time.Second, func() bool { return view(b, "reader").Behind == 20 })
	c := view(b, "reader")
	if c.Lag < 2*time.Hour || c.ShardsDone != 0 {
		t.Fatalf("held reader: lag %v, %d/%d done; want ≥ 2h, 0/1", c.Lag, c.ShardsDone, c.Shards)
	}
	if len(c.PerShard) != 1 || c.PerShard[0].Behind != 20 || c.PerShard[0].Lag != c.Lag || c.PerShardLag[c.PerShard[0].ShardID] != c.Lag {
		t.Fatalf("per shard: %+v, %v", c.PerShard, c.PerShardLag)
	}

	g.release()
	waitFor(t, "the reader to catch up again", 10*time.Second, func() bool {
		c := view(b, "reader")
		return c.Records == 30 && c.Behind == 0 && c.Lag < CaughtUp && c.ShardsDone == 1
	})
}

// TestUnreadShardFallsBehind checks that a shard nobody reads (its only
// worker stopped) is not shown as caught up: its lag grows with every
// record written.
func TestUnreadShardFallsBehind(t *testing.T) {
	v := newEnv(t, 1)
	app := consumers.NewApp("reader", "demo", newGate(), v.e, nil, fastConfig(v, 1))
	cons := consumers.NewGroup(app)
	cons.Start(v.ctx)
	defer cons.Stop()
	b := v.backend(nil, cons)
	v.put(3, "k")
	waitFor(t, "the reader to catch up", 10*time.Second, func() bool { c := view(b, "reader"); return c.Records == 3 && c.Behind == 0 })

	msg, err := b.StopWorker("reader", "w1")
	if err != nil || !strings.Contains(msg, "stopped renewing") {
		t.Fatalf("StopWorker: %q, %v", msg, err)
	}
	if _, err := b.StopWorker("nobody", "w1"); err == nil {
		t.Error("stopping a worker of an unknown application did not fail")
	}
	v.clock.Skip(time.Hour)
	v.put(5, "k")
	c := view(b, "reader")
	if c.Behind != 5 || c.Lag < time.Hour || c.ShardsDone != 0 {
		t.Fatalf("unread shard: %d behind, lag %v, %d/%d done; want 5, ≥ 1h, 0/1", c.Behind, c.Lag, c.ShardsDone, c.Shards)
	}
	v.put(5, "k")
	if c := view(b, "reader"); c.Behind != 10 {
		t.Fatalf("unread shard after 5 more: %d behind, want 10", c.Behind)
	}
}

// TestConsumerEvents checks the events pane's consumer lines: a lease
// taken over from a stopped worker, and a parent shard read to its end
// whose children start.
func TestConsumerEvents(t *testing.T) {
	v := newEnv(t, 1)
	app := consumers.NewApp("reader", "demo", newGate(), v.e, nil, fastConfig(v, 2))
	cons := consumers.NewGroup(app)
	cons.Start(v.ctx)
	defer cons.Stop()
	b := v.backend(nil, cons)
	var events []string
	collect := func() ui.ConsumerView {
		c := view(b, "reader")
		events = append(events, c.Events...)
		return c
	}
	v.put(3, "k")
	var owner string
	waitFor(t, "a worker to read the shard", 10*time.Second, func() bool {
		c := collect()
		if c.Records == 3 && len(c.PerShard) == 1 {
			owner = c.PerShard[0].Owner
		}
		return owner != ""
	})
	if _, err := b.StopWorker("reader", owner); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lease to move", 10*time.Second, func() bool {
		c := collect()
		return len(c.PerShard) == 1 && c.PerShard[0].Owner != "" && c.PerShard[0].Owner != owner
	})
	if !hasEvent(events, "took over the lease of shardId-000000000000 from "+owner+" (stopped)") {
		t.Fatalf("no takeover event: %q", events)
	}

	shard := "shardId-000000000000"
	if _, err := b.SplitShard("demo", shard); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the parent to end", 10*time.Second, func() bool {
		collect()
		return hasEvent(events, "finished "+shard+" (SHARD_END) → its children shardId-000000000001, shardId-000000000002 start")
	})
}

func hasEvent(events []string, sub string) bool {
	for _, e := range events {
		if strings.Contains(e, sub) {
			return true
		}
	}
	return false
}

// TestThrottleRate checks reads refused per second: measured over windows
// of at least a second, per application.
func TestThrottleRate(t *testing.T) {
	b := New(context.Background(), Config{})
	t0 := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		app   string
		total int64
		at    time.Duration
		want  int64
	}{
		{"a", 100, 0, 0},
		{"a", 130, 500 * time.Millisecond, 0}, // under a second: no new figure yet
		{"b", 7, 600 * time.Millisecond, 0},
		{"a", 160, 2 * time.Second, 30}, // 60 in 2 s
		{"a", 170, 2500 * time.Millisecond, 30},
		{"a", 170, 4 * time.Second, 5}, // 10 in 2 s
		{"b", 27, 2600 * time.Millisecond, 10},
	} {
		if got := b.throttleRate(c.app, c.total, t0.Add(c.at)); got != c.want {
			t.Errorf("%s at %v with %d: %d/s, want %d/s", c.app, c.at, c.total, got, c.want)
		}
	}
}

// TestConsumerLines checks the built-in processors' lines, in words.
func TestConsumerLines(t *testing.T) {
	clock := engine.NewManualClock(time.Unix(1_700_000_000, 0))
	if got := consumerLines(consumers.NewIoTAlerts(clock, consumers.IoTThresholds{}, 5)); len(got) != 1 || got[0] != "0 alerts · 0 devices in the last minute" {
		t.Errorf("iot: %q", got)
	}
	if got := consumerLines(consumers.NewLogStats(clock)); len(got) != 2 || got[1] != "0 requests in the last minute" {
		t.Errorf("logs: %q", got)
	}
	if got := consumerLines(consumers.NewPageStats(clock, 3)); len(got) != 2 || !strings.HasPrefix(got[1], "active sessions 0") {
		t.Errorf("pages: %q", got)
	}
	if got := consumerLines(newGate()); got != nil {
		t.Errorf("a processor without a summary: %q", got)
	}
	for n, want := range map[int64]string{0: "0 alerts", 1: "1 alert", 2: "2 alerts"} {
		if got := count(n, "alert"); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestStreamActions runs the stream-wide actions on the engine and checks
// what they did there, not only what they say.
func TestStreamActions(t *testing.T) {
	v := newEnv(t, 2)
	b := v.backend(nil, nil)
	stream := func() *engine.StreamSnapshot { s := b.Snapshot(); return s.Stream("demo") }

	msg, err := b.SetRetention("demo", 48)
	if err != nil || msg != "retention 24h → 48h" || stream().RetentionHours != 48 {
		t.Fatalf("retention up: %q, %v, now %dh", msg, err, stream().RetentionHours)
	}
	if msg, err = b.SetRetention("demo", 48); err != nil || msg != "retention is already 48h" {
		t.Fatalf("same retention: %q, %v", msg, err)
	}
	// A record 30 h old stays under 48 h and goes at once when it drops to 24 h.
	v.put(1, "aged")
	v.clock.Skip(30 * time.Hour)
	if n := stream().Shards[0].Records + stream().Shards[1].Records; n != 1 {
		t.Fatalf("%d records under 48 h retention, want 1", n)
	}
	if msg, err = b.SetRetention("demo", 24); err != nil || stream().RetentionHours != 24 {
		t.Fatalf("retention down: %q, %v", msg, err)
	}
	if s := stream(); s.Shards[0].Records+s.Shards[1].Records != 0 || !s.Shards[0].Oldest.IsZero() || !s.Shards[1].Oldest.IsZero() {
		t.Fatalf("after retention 24h: %d+%d records, oldest %v %v", s.Shards[0].Records, s.Shards[1].Records, s.Shards[0].Oldest, s.Shards[1].Oldest)
	}
	if _, err = b.SetRetention("demo", 1); err == nil || !strings.Contains(err.Error(), "InvalidArgumentException") {
		t.Fatalf("retention 1h: %v, want InvalidArgumentException", err)
	}

	// Time-lapse: the engine's clock moves, a record past retention goes.
	v.put(1, "old")
	if n := stream().Shards[0].Records + stream().Shards[1].Records; n != 1 {
		t.Fatalf("%d records before the time-lapse", n)
	}
	msg, err = b.TimeLapse(25 * time.Hour)
	if err != nil || !strings.Contains(msg, "+25h") || v.clock.Offset() != 55*time.Hour {
		t.Fatalf("time-lapse: %q, %v, offset %v", msg, err, v.clock.Offset())
	}
	if n := stream().Shards[0].Records + stream().Shards[1].Records; n != 0 {
		t.Fatalf("%d records left after 25 h with 24 h retention", n)
	}
	if msg, err = b.TimeLapse(6 * time.Hour); err != nil || !strings.Contains(msg, "now 61h ahead") {
		t.Fatalf("second time-lapse: %q, %v", msg, err)
	}

	msg, err = b.ToggleCapacityMode("demo")
	if err != nil || !strings.Contains(msg, "ON_DEMAND now") || stream().Mode != engine.ModeOnDemand {
		t.Fatalf("to on-demand: %q, %v, mode %s", msg, err, stream().Mode)
	}
	msg, err = b.ToggleCapacityMode("demo")
	if err != nil || !strings.Contains(msg, "PROVISIONED now") || stream().Mode != engine.ModeProvisioned {
		t.Fatalf("back to provisioned: %q, %v, mode %s", msg, err, stream().Mode)
	}
	if _, err = b.ToggleCapacityMode("nope"); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("unknown stream: %v", err)
	}

	msg, err = b.SplitShard("demo", "shardId-000000000000")
	if err != nil || stream().OpenShards != 3 {
		t.Fatalf("split: %q, %v, %d open", msg, err, stream().OpenShards)
	}
	if _, err = b.SplitShard("demo", "shardId-000000000000"); err == nil {
		t.Fatal("splitting a closed shard did not fail")
	}
}

// TestAddAndRemoveConsumers adds a polling and a fan-out application,
// sees them run, and removes them: the fan-out one's registration goes too.
func TestAddAndRemoveConsumers(t *testing.T) {
	v := newEnv(t, 1)
	cons := consumers.NewGroup()
	cons.Start(v.ctx)
	defer cons.Stop()
	b := v.backend(nil, cons)
	v.put(4, "k")

	msg, err := b.AddConsumer("demo", false)
	if err != nil || !strings.HasPrefix(msg, "started poll-1: a polling consumer") {
		t.Fatalf("add polling: %q, %v", msg, err)
	}
	msg, err = b.AddConsumer("demo", true)
	if err != nil || !strings.HasPrefix(msg, "started fanout-2: an enhanced fan-out consumer") {
		t.Fatalf("add fan-out: %q, %v", msg, err)
	}
	waitFor(t, "both to read the 4 records", 15*time.Second, func() bool {
		p, f := view(b, "poll-1"), view(b, "fanout-2")
		return p.Records == 4 && f.Records == 4 && p.Kind == ui.KindPolling && f.Kind == ui.KindFanOut && p.Added && f.Added
	})
	snap := b.Snapshot()
	if cs := snap.Stream("demo").Consumers; len(cs) != 1 || cs[0].Name != "fanout-2" {
		t.Fatalf("registered consumers %+v, want fanout-2", cs)
	}

	if msg, err = b.RemoveConsumer("demo", "fanout-2"); err != nil || !strings.HasPrefix(msg, "stopped fanout-2") {
		t.Fatalf("remove fan-out: %q, %v", msg, err)
	}
	if cons.App("fanout-2") != nil {
		t.Fatal("fanout-2 still in the group")
	}
	waitFor(t, "the registration to go", 10*time.Second, func() bool {
		s := b.Snapshot()
		return len(s.Stream("demo").Consumers) == 0
	})
	if msg, err = b.RemoveConsumer("demo", "poll-1"); err != nil || cons.App("poll-1") != nil {
		t.Fatalf("remove polling: %q, %v", msg, err)
	}
	if _, err = b.RemoveConsumer("demo", "nobody"); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("remove unknown: %v, want ResourceNotFoundException", err)
	}
}

// TestProducerScaleFloor checks that halving stops at 1 record/s and says so.
func TestProducerScaleFloor(t *testing.T) {
	v := newEnv(t, 1)
	prods := producers.DefaultsWith(v.e, "demo", producers.Config{Seed: 1})
	b := v.backend(prods, nil)
	var msg string
	for i := 0; i < 20; i++ {
		m, err := b.ProducerScale(producers.DemoIoT, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		msg = m
	}
	p, _ := prods.Get(producers.DemoIoT)
	if r := p.Stats().BaseRate; r != MinRate || !strings.Contains(msg, "stays at the floor of 1 record/s") {
		t.Fatalf("after 20 halvings: rate %v, %q", r, msg)
	}
	if msg, _ := b.ProducerScale(producers.DemoIoT, 2); msg != "iot rate → 2 records/s" {
		t.Fatalf("doubling from the floor: %q", msg)
	}
}

// TestReadPaceMakesLag is the mechanism of README experiment 3: the
// console's polling readers take at most ReadLimit records per
// ReadInterval from a shard, so a shard filled at its write limit (a
// burst) leaves them seconds and thousands of records behind, and they
// drain it. The records are written before the reader starts, so what is
// asserted does not depend on how fast this machine is.
func TestReadPaceMakesLag(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 3,000 records at the shard limit")
	}
	v := newEnv(t, 1)
	const n = 3000 // three seconds at the 1,000 records/s limit
	entries := make([]engine.PutRecordsEntry, 500)
	for i := range entries {
		entries[i] = engine.PutRecordsEntry{PartitionKey: "k" + string(rune('a'+i%26)), Data: []byte(`{"service":"cart","ms":3}`)}
	}
	for written := 0; written < n; {
		out, err := v.e.PutRecords(v.ctx, engine.PutRecordsInput{StreamRef: engine.StreamRef{StreamName: "demo"}, Records: entries})
		if err != nil {
			t.Fatal(err)
		}
		written += len(entries) - out.FailedRecordCount
		if out.FailedRecordCount > 0 {
			time.Sleep(50 * time.Millisecond) // throttled: the limit refills
		}
	}
	cfg := ConsumerConfig(v.db, v.clock)
	cfg.Workers = 1
	app := consumers.NewApp("reader", "demo", newGate(), v.e, nil, cfg)
	cons := consumers.NewGroup(app)
	cons.Start(v.ctx)
	defer cons.Stop()
	b := v.backend(nil, cons)

	var first ui.ConsumerView
	waitFor(t, "the first batch", 10*time.Second, func() bool { first = view(b, "reader"); return first.Records > 0 })
	// One call reads at most ReadLimit; the next comes ReadInterval later.
	if first.Behind < n-2*ReadLimit || first.Lag < 2*time.Second || first.ShardsDone != 0 {
		t.Fatalf("after the first read: %d behind, lag %v, %d/%d done; want ≥ %d, ≥ 2 s, 0/1", first.Behind, first.Lag, first.ShardsDone, first.Shards, n-2*ReadLimit)
	}
	start := time.Now()
	waitFor(t, "the reader to drain the backlog", 60*time.Second, func() bool {
		c := view(b, "reader")
		return c.Records >= n && c.Behind == 0 && c.Lag < CaughtUp && c.ShardsDone == 1
	})
	// Never faster than the pace allows: (n - ReadLimit) records need
	// that many ReadIntervals.
	if took, least := time.Since(start), time.Duration((n-2*ReadLimit)/ReadLimit)*ReadInterval; took < least {
		t.Fatalf("drained %d records in %v, faster than the pace allows (%v)", n, took, least)
	}
}

// BenchmarkBurstLag is README experiment 3 with the console's own
// producers and consumers on a real engine: b on clickstream, then the
// worst lag of the three applications and how long they take to drain.
// It measures; the figures depend on the machine.
//
//	go test ./ui/embedded/ -run '^$' -bench BurstLag -benchtime 1x
func BenchmarkBurstLag(b *testing.B) {
	for i := 0; i < b.N; i++ {
		peak, drain := burstLag(b)
		b.ReportMetric(peak.Seconds(), "peak-lag-s")
		b.ReportMetric(drain.Seconds(), "drain-s")
	}
}

func burstLag(b *testing.B) (peak, drain time.Duration) {
	v := newEnv(b, 4)
	prods := producers.DefaultsWith(v.e, "demo", producers.Config{Seed: 1, Clock: v.clock})
	cons := consumers.DefaultsWith(v.e, nil, "demo", ConsumerConfig(v.db, v.clock))
	if err := prods.Start(v.ctx); err != nil {
		b.Fatal(err)
	}
	cons.Start(v.ctx)
	defer func() { prods.Stop(); cons.Stop() }()
	be := v.backend(prods, cons)
	worst := func() (lag time.Duration) {
		be.Snapshot()
		for _, c := range be.Consumers() {
			lag = max(lag, c.Lag)
		}
		return
	}
	waitFor(b, "the applications to keep up", 60*time.Second, func() bool { return worst() < CaughtUp })
	b.ResetTimer()
	if _, err := be.ProducerBurst(producers.DemoClickstream); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	waitFor(b, "lag to grow", 30*time.Second, func() bool { peak = max(peak, worst()); return peak >= 2*time.Second })
	waitFor(b, "lag to drain", 120*time.Second, func() bool { l := worst(); peak = max(peak, l); return l < CaughtUp })
	return peak, time.Since(start) - 5*time.Second // after the burst's 5 s
}
