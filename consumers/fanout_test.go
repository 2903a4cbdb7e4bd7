package consumers

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/storage"
)

var (
	_ FanOutSource = EngineSource(nil)
	_ FanOutSource = engineSource{}
)

// newEngineWith opens a real engine with opts over a store in a temp dir.
func newEngineWith(t *testing.T, opts engine.Options) (*storage.DB, *engine.Engine) {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "x.db"), storage.Options{Sync: storage.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e, err := engine.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return db, e
}

func createStream(t *testing.T, e *engine.Engine, shards int) {
	t.Helper()
	if err := e.CreateStream(context.Background(), engine.CreateStreamInput{StreamName: testStream, ShardCount: shards}); err != nil {
		t.Fatal(err)
	}
}

// writeSteadily puts n records every tick over 64 keys until the test
// ends; it returns how many were written so far.
func writeSteadily(t *testing.T, e *engine.Engine, n int, tick time.Duration) func() int64 {
	ctx, cancel := context.WithCancel(context.Background())
	var written atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(tick)
		defer tk.Stop()
		k := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			in := engine.PutRecordsInput{StreamRef: engine.StreamRef{StreamName: testStream}}
			for range n {
				in.Records = append(in.Records, engine.PutRecordsEntry{PartitionKey: fmt.Sprintf("key-%d", k%64), Data: fmt.Appendf(nil, "rec-%d", k)})
				k++
			}
			if out, err := e.PutRecords(ctx, in); err == nil {
				written.Add(int64(n - out.FailedRecordCount))
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return written.Load
}

// fanOutLeaseConfig is leaseConfig reading with fan-out.
func fanOutLeaseConfig(clock *engine.ManualClock, leases LeaseStore) Config {
	cfg := leaseConfig(clock, leases)
	cfg.FanOut = true
	return cfg
}

// The teaching path: five polling applications on a 2-shard stream ask
// for more than the 5 GetRecords calls/s a shard allows, get throttled and
// fall behind; the same five reading with enhanced fan-out each get their
// own pipe per shard: nothing throttled, no lag.
func TestFanOutEndsReadThrottling(t *testing.T) {
	_, e := newEngineWith(t, engine.Options{RetentionInterval: -1, ScaleInterval: -1})
	createStream(t, e, 2)
	writeSteadily(t, e, 10, 20*time.Millisecond) // ~250 records/s per shard

	base := Config{PollInterval: 200 * time.Millisecond, MinReadInterval: 10 * time.Millisecond, Limit: 50,
		ThrottleBackoff: 100 * time.Millisecond, RelistInterval: time.Second}
	group := func(prefix string, fanOut bool) (*Group, []*counter) {
		var apps []*App
		var cols []*counter
		for i := 1; i <= 5; i++ {
			cfg := base
			cfg.FanOut = fanOut
			col := &counter{seen: map[string]int{}}
			apps = append(apps, NewApp(fmt.Sprintf("%s-%d", prefix, i), testStream, col, e, nil, cfg))
			cols = append(cols, col)
		}
		return NewGroup(apps...), cols
	}

	polling, _ := group("poll", false)
	polling.Start(context.Background())
	t.Cleanup(polling.Stop)
	// Generous deadlines: under the race detector on a loaded machine the
	// lag builds more slowly; waitFor returns as soon as it holds.
	waitFor(t, waitLong, "every polling app throttled and over 1s behind", func() bool {
		for _, s := range polling.Stats() {
			if s.Throttled == 0 || s.MaxLagMillis < 1000 || s.Records == 0 {
				return false
			}
		}
		return true
	})
	for _, s := range polling.Stats() {
		if s.FanOut || s.ConsumerARN != "" || s.Subscriptions != 0 {
			t.Errorf("%s: FanOut %v, consumer %q, %d subscriptions; want a polling app", s.App, s.FanOut, s.ConsumerARN, s.Subscriptions)
		}
		t.Logf("polling %s: %d records, %d throttled, lag %dms", s.App, s.Records, s.Throttled, s.MaxLagMillis)
	}
	stopWithin(t, polling, waitLong)

	fan, cols := group("fan", true)
	fan.Start(context.Background())
	t.Cleanup(fan.Stop)
	// Nothing refused or throttled, ever: that holds however slow the
	// machine. How far behind an app is at a given instant depends on how
	// much CPU it got, so lag is a condition waited for, never a bound
	// checked at one moment.
	unthrottled := func() {
		for _, s := range fan.Stats() {
			if s.Throttled != 0 || s.SubscribeRefused != 0 || s.Errors != 0 {
				t.Fatalf("%s: %d throttled, %d subscriptions refused, %d errors (%s)", s.App, s.Throttled, s.SubscribeRefused, s.Errors, s.LastError)
			}
		}
	}
	caughtUp := func() bool {
		unthrottled()
		for _, s := range fan.Stats() {
			if s.Count(StateReading) != 2 || s.Subscriptions < 2 || s.ConsumerARN == "" || s.Records == 0 || s.MaxLagMillis > 200 {
				return false
			}
		}
		return true
	}
	waitFor(t, waitLong, "every fan-out app subscribed to both shards and caught up", caughtUp)
	// Under the same steady load every fan-out app keeps up: 500 more
	// records each, and caught up again after them.
	var from []int64
	for _, s := range fan.Stats() {
		from = append(from, s.Records)
	}
	waitFor(t, waitLong, "500 more records through every fan-out app", func() bool {
		unthrottled()
		done := true
		for i, s := range fan.Stats() {
			done = done && s.Records >= from[i]+500
		}
		return done
	})
	waitFor(t, waitLong, "every fan-out app caught up again", caughtUp)
	snap := e.Snapshot()
	for i, s := range fan.Stats() {
		if !s.FanOut || s.ConsumerName != s.App {
			t.Errorf("%s: FanOut %v, consumer %q; want a fan-out app with its own name", s.App, s.FanOut, s.ConsumerName)
		}
		cols[i].mu.Lock()
		for r, n := range cols[i].seen {
			if n != 1 {
				t.Errorf("%s got %s %d times", s.App, r, n)
				break
			}
		}
		cols[i].mu.Unlock()
		t.Logf("fan-out %s: %d records, %d throttled, lag %dms, %d subscriptions", s.App, s.Records, s.Throttled, s.MaxLagMillis, s.Subscriptions)
	}
	for _, st := range snap.Streams {
		if st.Name == testStream && len(st.Consumers) != 5 {
			t.Errorf("registered consumers: got %d, want 5", len(st.Consumers))
		}
	}
}

func TestFanOutAcrossSplitAndMergeExactlyOnce(t *testing.T) {
	ctx := context.Background()
	clock := engine.NewManualClock(t0)
	db, e := newEngine(t, clock)
	ref := engine.StreamRef{StreamName: testStream}
	createStream(t, e, 2)
	total := 0
	put := func(from, to int) {
		t.Helper()
		for r := from; r < to; r++ {
			in := engine.PutRecordsInput{StreamRef: ref}
			for k := range 12 {
				key := fmt.Sprintf("key%02d", k)
				in.Records = append(in.Records, engine.PutRecordsEntry{PartitionKey: key, Data: fmt.Appendf(nil, "%s:%d", key, r)})
			}
			out, err := e.PutRecords(ctx, in)
			if err != nil || out.FailedRecordCount != 0 {
				t.Fatalf("PutRecords: %v, %d failed", err, out.FailedRecordCount)
			}
			total += len(in.Records)
		}
	}
	rangeOf := func(id string) engine.HashKeyRange {
		t.Helper()
		out, err := e.ListShards(ctx, engine.ListShardsInput{StreamRef: ref})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.Shards {
			if s.ShardID == id {
				return s.HashKeyRange
			}
		}
		t.Fatalf("no shard %s", id)
		return engine.HashKeyRange{}
	}

	log := &lineageLog{c: newCollector(), first: map[string]int{}, last: map[string]int{}}
	app := NewApp("lineage", testStream, log, e, NewMetaCheckpoints(db), fanOutLeaseConfig(clock, NewMetaLeases(db)))
	startApp(t, app)
	put(0, 5)
	waitFor(t, waitLong, "both shards subscribed", func() bool {
		s := app.Stats()
		return s.Count(StateReading) == 2 && s.Subscriptions == 2 && log.c.distinct() == total
	})

	s0, s1 := "shardId-000000000000", "shardId-000000000001"
	if err := e.SplitShard(ctx, engine.SplitShardInput{StreamRef: ref, ShardToSplit: s0, NewStartingHashKey: engine.MidpointKey(rangeOf(s0))}); err != nil {
		t.Fatal(err)
	}
	put(5, 10)
	s2, s3 := "shardId-000000000002", "shardId-000000000003"
	if err := e.MergeShards(ctx, engine.MergeShardsInput{StreamRef: ref, ShardToMerge: s2, AdjacentShardToMerge: s3}); err != nil {
		t.Fatal(err)
	}
	put(10, 15)
	s4 := "shardId-000000000004"

	waitFor(t, waitLong, "every record", func() bool { return log.c.distinct() == total })
	waitFor(t, waitLong, "the parents' ends", func() bool {
		ls := leaseTableOf(t, app)
		for _, id := range []string{s0, s2, s3} {
			if !ls[id].Ended() || ls[id].Owner != "" {
				return false
			}
		}
		return app.Stats().Count(StateReading) == 2 // s1 and s4
	})
	log.c.check(t, total)
	log.mu.Lock()
	for child, ps := range map[string][]string{s2: {s0}, s3: {s0}, s4: {s2, s3}} {
		for _, p := range ps {
			if log.first[child] <= log.last[p] {
				t.Errorf("shard %s read (batch %d) before its parent %s ended (batch %d)", child, log.first[child], p, log.last[p])
			}
		}
	}
	log.mu.Unlock()
	s := app.Stats()
	if s.Subscriptions != 5 || s.SubscribeRefused != 0 || s.Errors != 0 || s.Throttled != 0 {
		t.Errorf("stats: %d subscriptions (want 5, one per shard), %d refused, %d throttled, %d errors (%s)",
			s.Subscriptions, s.SubscribeRefused, s.Throttled, s.Errors, s.LastError)
	}
	if cp, _ := NewMetaCheckpoints(db).Load(ctx, "lineage", s0); cp != ShardEnd {
		t.Errorf("checkpoint copy of %s: got %q, want SHARD_END", s0, cp)
	}
	if l := leaseTableOf(t, app)[s1]; !isSequenceNumber(l.Checkpoint) {
		t.Errorf("checkpoint of %s: got %q, want a sequence number", s1, l.Checkpoint)
	}
}

func TestFanOutResubscribesAfterExpiry(t *testing.T) {
	ctx := context.Background()
	clock := engine.NewManualClock(t0)
	_, e := newEngine(t, clock)
	createStream(t, e, 1)
	f := newCollector()
	app := NewApp("app", testStream, f, e, nil, fanOutLeaseConfig(clock, nil))
	startApp(t, app)
	total := 0
	put := func(from, to int) {
		t.Helper()
		for r := from; r < to; r++ {
			for _, k := range keysK {
				if _, err := e.PutRecord(ctx, engine.PutRecordInput{StreamRef: engine.StreamRef{StreamName: testStream}, PartitionKey: k, Data: fmt.Appendf(nil, "%s:%d", k, r)}); err != nil {
					t.Fatal(err)
				}
				total++
			}
		}
	}
	put(0, 3)
	waitFor(t, waitLong, "the first records", func() bool { return f.distinct() == total && app.Stats().Subscriptions == 1 })

	// Five minutes on, the subscription ends; the reader subscribes again
	// from where it stopped.
	advance(t, clock, engine.SubscriptionLifetime+time.Second, app)
	waitFor(t, waitLong, "a second subscription", func() bool { return app.Stats().Subscriptions == 2 })
	put(3, 6)
	waitFor(t, waitLong, "the records after the renewal", func() bool { return f.distinct() == total })
	advance(t, clock, engine.SubscriptionLifetime, app)
	waitFor(t, waitLong, "a third subscription", func() bool { return app.Stats().Subscriptions == 3 })
	put(6, 8)
	waitFor(t, waitLong, "the records after the second renewal", func() bool { return f.distinct() == total })
	f.check(t, total)
	s := app.Stats()
	if s.SubscribeRefused != 0 || s.Errors != 0 {
		t.Errorf("stats: %d refused, %d errors (%s)", s.SubscribeRefused, s.Errors, s.LastError)
	}
	if sh := s.Shards[0]; sh.State != StateReading || sh.LastCheckpoint == "" || sh.LastCheckpoint == CheckpointTrimHorizon {
		t.Errorf("shard: %+v", sh)
	}
}

// onceLimited refuses the first SubscribeToShard with
// LimitExceededException.
type onceLimited struct {
	FanOutSource
	refused atomic.Bool
}

func (o *onceLimited) SubscribeToShard(ctx context.Context, in engine.SubscribeToShardInput) (FanOutStream, error) {
	if o.refused.CompareAndSwap(false, true) {
		return nil, &engine.Error{Code: engine.LimitExceededException, Message: "Rate exceeded"}
	}
	return o.FanOutSource.SubscribeToShard(ctx, in)
}

func TestFanOutRegistration(t *testing.T) {
	ctx := context.Background()
	_, e := newEngineWith(t, engine.Options{RetentionInterval: -1, ScaleInterval: -1, DisableLimits: true, CreateDelay: 300 * time.Millisecond})
	createStream(t, e, 1)
	sum, err := e.DescribeStreamSummary(ctx, engine.StreamRef{StreamName: testStream})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLong, "the stream ACTIVE", func() bool {
		s, err := e.DescribeStreamSummary(ctx, engine.StreamRef{StreamName: testStream})
		return err == nil && s.StreamStatus == engine.StatusActive
	})
	// A consumer of that name exists already (CREATING): the App reuses it.
	pre, err := e.RegisterStreamConsumer(ctx, engine.RegisterConsumerInput{StreamARN: sum.StreamARN, ConsumerName: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.FanOut, cfg.ConsumerName, cfg.ThrottleBackoff = true, "mine", time.Millisecond
	col := newCollector()
	src := &onceLimited{FanOutSource: EngineSource(e)}
	app := NewApp("app", sum.StreamARN, col, src, nil, cfg) // named by ARN
	startApp(t, app)
	put := func(k string, n int) {
		t.Helper()
		if _, err := e.PutRecord(ctx, engine.PutRecordInput{StreamRef: engine.StreamRef{StreamName: testStream}, PartitionKey: k, Data: fmt.Appendf(nil, "%s:%d", k, n)}); err != nil {
			t.Fatal(err)
		}
	}
	put("a", 0)
	waitFor(t, waitLong, "the record through the reused consumer", func() bool { return col.distinct() == 1 })
	s := app.Stats()
	if s.ConsumerARN != pre.ConsumerARN || s.ConsumerName != "mine" {
		t.Errorf("consumer: got %s %q, want %s", s.ConsumerName, s.ConsumerARN, pre.ConsumerARN)
	}
	if s.SubscribeRefused != 1 || s.Subscriptions != 1 {
		t.Errorf("subscriptions: %d, refused %d; want 1 and 1", s.Subscriptions, s.SubscribeRefused)
	}

	// Deregistered from outside: the reader finds out, the App registers
	// the consumer again and reads on from its checkpoint.
	if err := e.DeregisterStreamConsumer(ctx, engine.ConsumerRef{ConsumerARN: pre.ConsumerARN}); err != nil {
		t.Fatal(err)
	}
	put("a", 1)
	waitFor(t, waitLong, "the record after the registration again", func() bool { return col.distinct() == 2 })
	s = app.Stats()
	if s.ConsumerARN == "" || s.Subscriptions != 2 {
		t.Errorf("after re-registration: consumer %q, %d subscriptions; want a new one, 2", s.ConsumerARN, s.Subscriptions)
	}
	col.check(t, 2)

	// A source without fan-out cannot run a fan-out App.
	f := newFakeSource(testStream, "A")
	bad := NewApp("bad", testStream, newCollector(), f, nil, cfg)
	if err := bad.Run(ctx); !errors.Is(err, ErrNoFanOut) {
		t.Errorf("Run over a polling-only source: got %v, want ErrNoFanOut", err)
	}
	if s := bad.Stats(); s.Errors != 1 || s.LastError == "" {
		t.Errorf("stats of the app without fan-out: %d errors (%s)", s.Errors, s.LastError)
	}
	if err := bad.Deregister(ctx); err != nil {
		t.Errorf("Deregister of an app without fan-out: %v", err)
	}
	if err := app.Deregister(ctx); !errors.Is(err, ErrRunning) {
		t.Errorf("Deregister while running: got %v, want ErrRunning", err)
	}
}

func TestGroupAddAndRemoveWhileRunning(t *testing.T) {
	ctx := context.Background()
	db, e := newEngineWith(t, engine.Options{RetentionInterval: -1, ScaleInterval: -1, DisableLimits: true})
	createStream(t, e, 2)
	written := writeSteadily(t, e, 4, 10*time.Millisecond)
	leases := NewMetaLeases(db)
	cfg := testConfig()
	cfg.Leases = leases
	fanCfg := cfg
	fanCfg.FanOut = true

	poll := NewApp("poll", testStream, &counter{seen: map[string]int{}}, e, nil, cfg)
	g := NewGroup(poll)
	g.Start(ctx)
	t.Cleanup(g.Stop)

	// The console reads the group all along.
	stopReading := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stopReading:
				return
			default:
			}
			for _, a := range g.All() {
				_ = a.Stats()
			}
			_ = g.Stats()
			_ = g.App("fan")
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stopReading); readers.Wait() }()

	fanCol := &counter{seen: map[string]int{}}
	fan := NewApp("fan", testStream, fanCol, e, nil, fanCfg)
	if err := g.Add(fan); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(NewApp("fan", testStream, newCollector(), e, nil, cfg)); !errors.Is(err, ErrDuplicateApp) {
		t.Errorf("Add of a duplicate name: got %v, want ErrDuplicateApp", err)
	}
	waitFor(t, waitLong, "the added fan-out app reading", func() bool {
		s := fan.Stats()
		return s.Running && s.Count(StateReading) == 2 && s.ConsumerARN != "" && s.Records > 100
	})
	arn := fan.ConsumerARN()
	if d, err := e.DescribeStreamConsumer(ctx, engine.ConsumerRef{ConsumerARN: arn}); err != nil || d.ConsumerName != "fan" {
		t.Fatalf("the app's consumer: %+v, %v", d, err)
	}
	if names := appNames(g); fmt.Sprint(names) != "[poll fan]" {
		t.Fatalf("apps: got %v", names)
	}

	if err := g.Remove(ctx, "fan"); err != nil {
		t.Fatal(err)
	}
	if fan.Stats().Running {
		t.Errorf("fan still running after Remove")
	}
	if names := appNames(g); fmt.Sprint(names) != "[poll]" || g.App("fan") != nil {
		t.Errorf("apps after Remove: got %v", names)
	}
	if _, err := e.DescribeStreamConsumer(ctx, engine.ConsumerRef{ConsumerARN: arn}); !engine.IsCode(err, engine.ResourceNotFoundException) {
		t.Errorf("the consumer after Remove: got %v, want ResourceNotFoundException", err)
	}
	// Leases handed back, each with the checkpoint of the last record
	// processed.
	got := fan.Stats().Records
	ls, err := fan.Leases()
	if err != nil || len(ls) != 2 {
		t.Fatalf("leases: %v, %v", ls, err)
	}
	for _, l := range ls {
		if l.Owner != "" || !isSequenceNumber(l.Checkpoint) {
			t.Errorf("lease %s after Remove: owner %q, checkpoint %q; want free, a sequence number", l.ShardID, l.Owner, l.Checkpoint)
		}
	}
	if err := g.Remove(ctx, "fan"); !errors.Is(err, ErrNoApp) {
		t.Errorf("Remove again: got %v, want ErrNoApp", err)
	}

	// Added again, it reads on from its checkpoints with a new consumer:
	// nothing twice.
	if err := g.Add(fan); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLong, "the app back", func() bool {
		s := fan.Stats()
		return s.ConsumerARN != "" && s.Records > got+100
	})
	// Removing the polling app leaves the other one running.
	if err := g.Remove(ctx, "poll"); err != nil {
		t.Fatal(err)
	}
	if poll.Stats().Running || !fan.Stats().Running {
		t.Errorf("after removing poll: poll running %v, fan running %v", poll.Stats().Running, fan.Stats().Running)
	}
	stopWithin(t, g, waitLong)
	if fan.Stats().Running {
		t.Errorf("fan running after Stop")
	}
	// Stopped, not removed: the consumer stays registered.
	if _, err := e.DescribeStreamConsumer(ctx, engine.ConsumerRef{StreamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/" + testStream, ConsumerName: "fan"}); err != nil {
		t.Errorf("the consumer after Stop: %v", err)
	}
	fanCol.mu.Lock()
	for r, n := range fanCol.seen {
		if n != 1 {
			t.Errorf("fan got %s %d times", r, n)
		}
	}
	fanCol.mu.Unlock()
	if w := written(); w == 0 {
		t.Errorf("nothing written")
	}

	// A stopped group's apps can be removed too; Start runs the rest.
	if err := g.Remove(ctx, "fan"); err != nil {
		t.Fatal(err)
	}
	if len(g.All()) != 0 {
		t.Errorf("apps: got %v", appNames(g))
	}
}

func appNames(g *Group) []string {
	var out []string
	for _, a := range g.All() {
		out = append(out, a.Name())
	}
	return out
}

// A lease moving to another worker moves the subscription: the service
// refuses a second subscription of the consumer to the shard within 5 s of
// the first, so the new reader backs off and takes over once it may.
func TestFanOutLeaseMoveTakesTheSubscriptionOver(t *testing.T) {
	ctx := context.Background()
	clock := engine.NewManualClock(t0)
	_, e := newEngine(t, clock)
	createStream(t, e, 2)
	col := newCollector()
	app := NewApp("app", testStream, col, e, nil, fanOutLeaseConfig(clock, nil))
	startApp(t, app)
	total := 0
	last := map[string]string{} // shard → last sequence number
	put := func(from, to int) {
		t.Helper()
		for r := from; r < to; r++ {
			for _, k := range keysK {
				out, err := e.PutRecord(ctx, engine.PutRecordInput{StreamRef: engine.StreamRef{StreamName: testStream}, PartitionKey: k, Data: fmt.Appendf(nil, "%s:%d", k, r)})
				if err != nil {
					t.Fatal(err)
				}
				last[out.ShardID] = out.SequenceNumber
				total++
			}
		}
	}
	put(0, 3)
	waitFor(t, waitLong, "both shards read and checkpointed", func() bool {
		ls := leaseTableOf(t, app)
		for id, seq := range last {
			if ls[id].Checkpoint != seq {
				return false
			}
		}
		return col.distinct() == total && app.Stats().Subscriptions == 2
	})

	// w1 hands its leases to a new worker at the same instant: the
	// consumer's subscriptions to both shards are not 5 s old.
	w2, err := app.AddWorker()
	if err != nil {
		t.Fatal(err)
	}
	if err := app.StopWorker("w1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLong, w2+" to hold both leases", func() bool {
		w, _ := app.Stats().Worker("w1")
		return holdings(t, app)[w2] == 2 && w.State == WorkerStopped
	})
	waitFor(t, waitLong, "refused subscriptions", func() bool { return app.Stats().SubscribeRefused >= 2 })
	advance(t, clock, engine.SubscribeTakeover+time.Second, app)
	waitFor(t, waitLong, "the new subscriptions", func() bool { return app.Stats().Subscriptions == 4 })
	put(3, 6)
	waitFor(t, waitLong, "the records after the move", func() bool { return col.distinct() == total })
	col.check(t, total)
	if s := app.Stats(); s.Errors != 0 {
		t.Errorf("errors: %d (%s)", s.Errors, s.LastError)
	}
}
