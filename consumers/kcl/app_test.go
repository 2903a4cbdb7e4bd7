package kcl

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/storage"
)

// deliveries records every batch a consumers.App hands over: the records
// seen (by shard and sequence number) and, per shard, the first and last
// delivery in one global order.
type deliveries struct {
	mu          sync.Mutex
	n           int
	first, last map[string]int
	seen        map[string]bool
	newest      map[string]engine.Record
}

// waitLong bounds every wait: generous, as the machine running the tests
// may be loaded; a wait that ends early costs nothing.
const waitLong = 60 * time.Second

func newDeliveries() *deliveries {
	return &deliveries{first: map[string]int{}, last: map[string]int{}, seen: map[string]bool{}, newest: map[string]engine.Record{}}
}

func (d *deliveries) Process(shardID string, records []engine.Record) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	if _, ok := d.first[shardID]; !ok {
		d.first[shardID] = d.n
	}
	d.last[shardID] = d.n
	for _, r := range records {
		d.seen[shardID+"/"+r.SequenceNumber] = true
	}
	return nil
}

func (d *deliveries) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

// waitUntil polls cond until it holds or d passes; then it fails the
// test with what diag, when given, says of the state.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool, diag ...func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			for _, f := range diag {
				t.Log(f())
			}
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until every running worker has looked at its leases at the
// clock's current time.
func settle(t *testing.T, clock *engine.ManualClock, app *consumers.App) {
	t.Helper()
	now := clock.Now()
	waitUntil(t, waitLong, "workers to catch up with the clock", func() bool {
		for _, w := range app.Stats().Workers {
			if w.State == consumers.WorkerRunning && w.LastCycle.Before(now) {
				return false
			}
		}
		return true
	})
}

// shardRecords reads a whole shard from the engine: the tip a console
// would have seen.
func shardRecords(t *testing.T, e *engine.Engine, stream, shard string) []engine.Record {
	t.Helper()
	ctx := context.Background()
	it, err := e.GetShardIterator(ctx, engine.GetShardIteratorInput{StreamRef: engine.StreamRef{StreamName: stream}, ShardID: shard, ShardIteratorType: engine.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	var out []engine.Record
	for i := 0; it != "" && i < 1000; i++ {
		got, err := e.GetRecords(ctx, engine.GetRecordsInput{ShardIterator: it})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got.Records...)
		if len(got.Records) == 0 && got.MillisBehindLatest == 0 {
			break
		}
		it = got.NextShardIterator
	}
	return out
}

// TestAppSharesAKCLLeaseTable runs a consumers.App of three workers on the
// in-process engine with its leases in dynalite, and reads the table back
// as a KCL lease table throughout.
func TestAppSharesAKCLLeaseTable(t *testing.T) {
	ctx := context.Background()
	client := dynamo(t)
	table := newTable(t, client, "orders-app")

	clock := engine.NewManualClock(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
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
	const stream = "orders"
	ref := engine.StreamRef{StreamName: stream}
	if err := e.CreateStream(ctx, engine.CreateStreamInput{StreamName: stream, ShardCount: 3}); err != nil {
		t.Fatal(err)
	}
	total := 0
	put := func(round int) {
		t.Helper()
		in := engine.PutRecordsInput{StreamRef: ref}
		for k := range 24 {
			in.Records = append(in.Records, engine.PutRecordsEntry{PartitionKey: fmt.Sprintf("key%02d", k), Data: fmt.Appendf(nil, "%d:%d", k, round)})
		}
		out, err := e.PutRecords(ctx, in)
		if err != nil || out.FailedRecordCount != 0 {
			t.Fatalf("PutRecords: %v, %d failed", err, out.FailedRecordCount)
		}
		total += len(in.Records)
	}
	for r := range 3 {
		put(r)
	}

	log := newDeliveries()
	app := consumers.NewApp("orders-app", stream, log, e, nil, consumers.Config{
		PollInterval:       2 * time.Millisecond,
		MinReadInterval:    -1,
		Limit:              7,
		RelistInterval:     20 * time.Millisecond,
		ThrottleBackoff:    10 * time.Millisecond,
		Clock:              clock,
		Workers:            3,
		LeaseTable:         NewLeaseTable(client, table),
		LeaseDuration:      10 * time.Second,
		RenewInterval:      3 * time.Second,
		TakeInterval:       5 * time.Second,
		LeaseCheckInterval: 5 * time.Millisecond,
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitLong):
			t.Errorf("Run did not return within %v of cancel", waitLong)
		}
	})
	read := func() []Lease {
		t.Helper()
		ls, err := ReadLeases(ctx, client, table)
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	owners := func(ls []Lease) map[string][]string {
		m := map[string][]string{}
		for _, l := range ls {
			if !l.Ended() {
				m[l.Owner] = append(m[l.Owner], l.Key)
			}
		}
		return m
	}

	diag := func() string {
		st := app.Stats()
		return fmt.Sprintf("%d of %d records; app errors %d, last %q\nshards %+v\nworkers %+v\nleases %+v",
			log.count(), total, st.Errors, st.LastError, st.Shards, st.Workers, read())
	}
	waitUntil(t, waitLong, "every record", func() bool { return log.count() == total }, diag)

	// Balance: with the clock moving, idle workers steal until each of the
	// three holds one of the three leases.
	waitUntil(t, waitLong, "one lease per worker", func() bool {
		clock.Advance(5 * time.Second)
		settle(t, clock, app)
		o := owners(read())
		return len(o) == 3 && len(o["w1"]) == 1 && len(o["w2"]) == 1 && len(o["w3"]) == 1
	}, diag)
	before := read()

	// A worker stops: its lease is handed back and taken by another.
	if err := app.StopWorker("w2"); err != nil {
		t.Fatal(err)
	}
	var after []Lease
	waitUntil(t, waitLong, "w2's lease taken by another worker", func() bool {
		after = read()
		o := owners(after)
		return len(o["w2"]) == 0 && len(o[""]) == 0
	}, diag)
	moved := owners(before)["w2"][0]
	if ms := Moves(before, after); !slices.ContainsFunc(ms, func(m Move) bool {
		return m.Key == moved && m.Kind == MoveOwnerChanged && m.From == "w2" && m.To != "" && m.CounterTo > m.CounterFrom
	}) {
		t.Errorf("moves after w2 stopped: got %+v, want %s moved from w2", ms, moved)
	}

	// A split: the parent is read to its end before its children, whose
	// leases name it.
	s0 := "shardId-000000000000"
	shards, err := e.ListShards(ctx, engine.ListShardsInput{StreamRef: ref})
	if err != nil {
		t.Fatal(err)
	}
	var rng engine.HashKeyRange
	for _, s := range shards.Shards {
		if s.ShardID == s0 {
			rng = s.HashKeyRange
		}
	}
	if err := e.SplitShard(ctx, engine.SplitShardInput{StreamRef: ref, ShardToSplit: s0, NewStartingHashKey: engine.MidpointKey(rng)}); err != nil {
		t.Fatal(err)
	}
	for r := 3; r < 6; r++ {
		put(r)
	}
	children := []string{"shardId-000000000003", "shardId-000000000004"}
	waitUntil(t, waitLong, "every record after the split", func() bool { return log.count() == total }, diag)

	// Checkpoints reach every shard's last record, in the table as a KCL
	// application would read it.
	tips := map[string]ShardTip{}
	last := map[string]string{}
	for _, id := range []string{s0, "shardId-000000000001", "shardId-000000000002", children[0], children[1]} {
		var tip ShardTip
		for _, r := range shardRecords(t, e, stream, id) {
			tip.Recent = append(tip.Recent, Mark{SequenceNumber: r.SequenceNumber, Arrival: r.ApproximateArrivalTimestamp})
			last[id] = r.SequenceNumber
		}
		tips[id] = tip
	}
	var final []Lease
	waitUntil(t, waitLong, "checkpoints at every shard's last record", func() bool {
		final = read()
		for _, l := range final {
			want := last[l.Key]
			if l.Key == s0 {
				want = "SHARD_END"
			}
			if l.Checkpoint != want {
				return false
			}
		}
		return len(final) == 5
	}, diag)
	for _, l := range final {
		if slices.Contains(children, l.Key) {
			if !slices.Equal(l.ParentShardIDs, []string{s0}) || l.StartingHashKey == "" || l.EndingHashKey == "" || l.Owner == "" {
				t.Errorf("child lease %s: got %+v, want parent %s, a hash range and an owner", l.Key, l, s0)
			}
		}
	}
	log.mu.Lock()
	for _, c := range children {
		if log.first[c] <= log.last[s0] {
			t.Errorf("child %s first read at delivery %d, before its parent's last at %d", c, log.first[c], log.last[s0])
		}
	}
	log.mu.Unlock()

	v := Summarize(final, tips, clock.Now())
	for _, sv := range v.Shards {
		if !sv.Lag.Known || sv.Lag.Records != 0 {
			t.Errorf("lag of %s: got %+v, want none", sv.Lease.Key, sv.Lag)
		}
	}
	if len(v.Unowned) != 0 {
		t.Errorf("unowned leases: %v", v.Unowned)
	}
	held := 0
	for _, w := range v.Workers {
		if w.ID == "w2" {
			t.Errorf("stopped worker w2 still holds %v", w.Shards)
		}
		held += len(w.Shards)
	}
	if held != 4 { // the ended parent was handed back: finished, not unowned
		t.Errorf("workers hold %d leases, want 4: %+v", held, v.Workers)
	}
	if s := app.Stats(); s.Errors != 0 {
		t.Errorf("app errors: %d, last %q", s.Errors, s.LastError)
	}
}
