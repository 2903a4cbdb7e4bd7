package consumers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
	"github.com/shardscope/shardscope/storage"
)

// *storage.DB keeps lease tables: NewMetaLeases(db) infers the transaction
// type from its UpdateMeta.
var (
	_ MetaTxStore[storage.MetaTx] = (*storage.DB)(nil)
	_ MetaStore                   = (*storage.DB)(nil)
	_                             = func(db *storage.DB) LeaseStore { return NewMetaLeases(db) }
)

// newEngine opens a real engine over a store in a temp dir, on clock.
func newEngine(t *testing.T, clock engine.Clock) (*storage.DB, *engine.Engine) {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "x.db"), storage.Options{Sync: storage.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e, err := engine.New(db, engine.Options{Clock: clock, RetentionInterval: -1, ScaleInterval: -1, DisableLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return db, e
}

// lineageLog records, per shard, the first and last delivery in one global
// order, to check that children are read only after their parents.
type lineageLog struct {
	c     *collector
	mu    sync.Mutex
	n     int
	first map[string]int
	last  map[string]int
}

func (l *lineageLog) Process(shardID string, records []engine.Record) error {
	// One lock around both: otherwise a test can see a batch in the
	// collector before it is in first/last, and report a child as unread.
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.c.Process(shardID, records); err != nil {
		return err
	}
	l.n++
	if _, ok := l.first[shardID]; !ok {
		l.first[shardID] = l.n
	}
	l.last[shardID] = l.n
	return nil
}

func TestSplitAndMergeExactlyOnceOnTheEngine(t *testing.T) {
	ctx := context.Background()
	clock := engine.NewManualClock(t0)
	db, e := newEngine(t, clock)
	ref := engine.StreamRef{StreamName: testStream}
	if err := e.CreateStream(ctx, engine.CreateStreamInput{StreamName: testStream, ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 12)
	for i := range keys {
		keys[i] = fmt.Sprintf("key%02d", i)
	}
	total := 0
	put := func(from, to int) {
		t.Helper()
		for r := from; r < to; r++ {
			in := engine.PutRecordsInput{StreamRef: ref}
			for _, k := range keys {
				in.Records = append(in.Records, engine.PutRecordsEntry{PartitionKey: k, Data: fmt.Appendf(nil, "%s:%d", k, r)})
			}
			out, err := e.PutRecords(ctx, in)
			if err != nil || out.FailedRecordCount != 0 {
				t.Fatalf("PutRecords: %v, %d failed", err, out.FailedRecordCount)
			}
			total += len(keys)
		}
	}
	open := func() map[string]engine.Shard {
		t.Helper()
		out, err := e.ListShards(ctx, engine.ListShardsInput{StreamRef: ref})
		if err != nil {
			t.Fatal(err)
		}
		m := make(map[string]engine.Shard)
		for _, s := range out.Shards {
			if s.Open() {
				m[s.ShardID] = s
			}
		}
		return m
	}

	log := &lineageLog{c: newCollector(), first: map[string]int{}, last: map[string]int{}}
	cfg := leaseConfig(clock, NewMetaLeases(db))
	cfg.Workers = 2
	app := NewApp("lineage", testStream, log, e, NewMetaCheckpoints(db), cfg)
	startApp(t, app)
	waitFor(t, 5*time.Second, "both shards read", func() bool {
		h := holdings(t, app)
		return app.Stats().Count(StateReading) == 2 && h[""] == 0
	})
	// A worker robbed while starting learns it at its next renewal; after
	// that the clock stands still: no renewal, expiry or steal can move a
	// lease, so the delivery must be exactly once.
	advance(t, clock, testRenew, app)
	settle(t, clock, app)

	s0, s1 := "shardId-000000000000", "shardId-000000000001"
	put(0, 5)
	if err := e.SplitShard(ctx, engine.SplitShardInput{StreamRef: ref, ShardToSplit: s0, NewStartingHashKey: engine.MidpointKey(open()[s0].HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	put(5, 10)
	s2, s3 := "shardId-000000000002", "shardId-000000000003"
	if err := e.MergeShards(ctx, engine.MergeShardsInput{StreamRef: ref, ShardToMerge: s2, AdjacentShardToMerge: s3}); err != nil {
		t.Fatal(err)
	}
	put(10, 15)
	s4 := "shardId-000000000004"
	if err := e.MergeShards(ctx, engine.MergeShardsInput{StreamRef: ref, ShardToMerge: s4, AdjacentShardToMerge: s1}); err != nil {
		t.Fatal(err)
	}
	put(15, 20)
	s5 := "shardId-000000000005"

	waitFor(t, 20*time.Second, "every record", func() bool { return log.c.distinct() == total })
	waitFor(t, 5*time.Second, "the last checkpoint", func() bool {
		l := leaseTableOf(t, app)[s5]
		if l.Checkpoint == CheckpointTrimHorizon || l.Checkpoint == "" || app.Stats().Count(StateEnded) != 5 {
			return false
		}
		// A worker hands an ended lease back once it sees its reader return.
		for _, l := range leaseTableOf(t, app) {
			if l.Ended() && l.Owner != "" {
				return false
			}
		}
		return true
	})
	if st := app.Stats(); log.c.dupCount() != 0 {
		for _, w := range st.Workers {
			t.Logf("worker %s: taken %d stolen %d lost %d", w.ID, w.Taken, w.Stolen, w.Lost)
		}
		t.Logf("lease moves %d", st.LeaseMoves)
	}
	log.c.check(t, total)

	ls := leaseTableOf(t, app)
	for _, id := range []string{s0, s1, s2, s3, s4} {
		if !ls[id].Ended() || ls[id].Owner != "" {
			t.Errorf("lease %s: checkpoint %q owner %q, want SHARD_END and free", id, ls[id].Checkpoint, ls[id].Owner)
		}
		if cp, _ := NewMetaCheckpoints(db).Load(ctx, "lineage", id); cp != ShardEnd {
			t.Errorf("checkpoint copy of %s: got %q, want SHARD_END", id, cp)
		}
	}
	parents := map[string][]string{s2: {s0}, s3: {s0}, s4: {s2, s3}, s5: {s4, s1}}
	log.mu.Lock()
	for child, ps := range parents {
		if got := ls[child].ParentShardIDs; fmt.Sprint(got) != fmt.Sprint(ps) {
			t.Errorf("lease %s parents: got %v, want %v", child, got, ps)
		}
		for _, p := range ps {
			if log.first[child] <= log.last[p] {
				t.Errorf("shard %s read (batch %d) before its parent %s ended (batch %d)", child, log.first[child], p, log.last[p])
			}
		}
	}
	log.mu.Unlock()
	for id, l := range ls {
		if l.StartingHashKey == "" || l.EndingHashKey == "" {
			t.Errorf("lease %s has no hash range", id)
		}
	}
	if s := app.Stats(); s.Errors != 0 {
		t.Errorf("Stats.Errors: got %d (%s), want 0", s.Errors, s.LastError)
	}
	n := 0
	if err := db.ForEachMeta(LeaseBucket("lineage"), func(string, []byte) error { n++; return nil }); err != nil || n != 6 {
		t.Errorf("lease rows in the store: got %d (%v), want 6", n, err)
	}
}

// numGen is a producers.Generator of distinct records over 64 keys.
type numGen struct{ n int }

func (*numGen) Kind() string     { return "num" }
func (*numGen) Entities() int    { return 64 }
func (*numGen) Key(i int) string { return fmt.Sprintf("key-%d", i) }
func (g *numGen) Next(r *rand.Rand, _ time.Time, keys producers.KeyPicker) (string, []byte) {
	g.n++
	return g.Key(keys.Pick(r, 64)), fmt.Appendf(nil, "rec-%d", g.n)
}

// counter counts deliveries by record data.
type counter struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *counter) Process(_ string, records []engine.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range records {
		c.seen[string(r.Data)]++
	}
	return nil
}

func (c *counter) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func TestAggregatedProducerToConsumerAcrossASplit(t *testing.T) {
	ctx := context.Background()
	_, e := newEngine(t, engine.SystemClock{})
	ref := engine.StreamRef{StreamName: testStream}
	if err := e.CreateStream(ctx, engine.CreateStreamInput{StreamName: testStream, ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	// The producer keeps its first shard map until a record lands in a
	// shard it did not predict.
	p := producers.New("p", &numGen{}, e, testStream, producers.Config{Rate: 3000, Aggregate: true, Seed: 1, ShardMapRefresh: time.Hour})
	pctx, stopProducer := context.WithCancel(ctx)
	defer stopProducer()
	pdone := make(chan struct{})
	go func() { _ = p.Run(pctx); close(pdone) }()
	col := &counter{seen: map[string]int{}}
	app := NewApp("c", testStream, col, e, nil, testConfig())
	startApp(t, app)

	waitFor(t, 10*time.Second, "records before the split", func() bool { return col.distinct() >= 500 })
	out, err := e.ListShards(ctx, engine.ListShardsInput{StreamRef: ref})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SplitShard(ctx, engine.SplitShardInput{StreamRef: ref, ShardToSplit: out.Shards[0].ShardID, NewStartingHashKey: engine.MidpointKey(out.Shards[0].HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "aggregates after the split", func() bool {
		s := p.Stats()
		return s.Misrouted > 0 && s.Aggregates > 0 && s.Sent > 2000
	})
	p.SetOn(false)
	waitFor(t, 10*time.Second, "the producer to drain", func() bool { return p.Stats().Pending == 0 })
	stopProducer()
	<-pdone
	s := p.Stats()
	if s.GivenUp != 0 || s.Sent != s.Generated {
		t.Fatalf("producer: generated %d, sent %d, given up %d (%s)", s.Generated, s.Sent, s.GivenUp, s.LastError)
	}
	waitFor(t, 10*time.Second, "every user record", func() bool { return col.distinct() == int(s.Generated) })
	col.mu.Lock()
	for r, n := range col.seen {
		if n != 1 {
			t.Errorf("record %s delivered %d times", r, n)
		}
	}
	col.mu.Unlock()
	as := app.Stats()
	if as.DroppedAggregates < int64(s.Misrouted) || as.DroppedAggregates == 0 {
		t.Errorf("consumer dropped %d aggregates, producer misrouted %d: every misrouted one must be dropped", as.DroppedAggregates, s.Misrouted)
	}
	if as.Errors != 0 {
		t.Errorf("consumer errors: %d (%s)", as.Errors, as.LastError)
	}
	t.Logf("producer: %d user records in %d Kinesis records (%d aggregates, %d misrouted); consumer dropped %d",
		s.Sent, s.KinesisRecords, s.Aggregates, s.Misrouted, as.DroppedAggregates)
}
