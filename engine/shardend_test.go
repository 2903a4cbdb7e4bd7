package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A closed shard's end as readers see it. The KCL (DataRetrievalUtil.
// isValidResult) accepts two shapes only: the end of a closed shard with
// ChildShards and no continuation (ContinuationSequenceNumber for
// SubscribeToShard, NextShardIterator for GetRecords), and everything else
// with a continuation and no ChildShards.

// wantShape checks one subscription event against that rule.
func wantShape(t testing.TB, what string, ev SubscriptionEvent, end bool) {
	t.Helper()
	switch {
	case end && (ev.ContinuationSequenceNumber != "" || len(ev.ChildShards) == 0):
		t.Fatalf("%s: end event %+v, want ChildShards and no ContinuationSequenceNumber", what, ev)
	case !end && (ev.ContinuationSequenceNumber == "" || len(ev.ChildShards) != 0):
		t.Fatalf("%s: event %+v, want a ContinuationSequenceNumber and no ChildShards", what, ev)
	}
	for _, c := range ev.ChildShards {
		if len(c.ParentShards) == 0 {
			t.Fatalf("%s: child %+v without parents", what, c)
		}
	}
}

// toEnd reads a follower until the shard's end: it checks every event's
// shape and that the subscription then ends with io.EOF, and returns the
// records' data and the children.
func toEnd(t *testing.T, what string, f *follower) (data []string, children []ChildShard) {
	t.Helper()
	for {
		ev := f.event(t)
		end := ev.ContinuationSequenceNumber == ""
		wantShape(t, what, ev, end)
		for _, r := range ev.Records {
			data = append(data, string(r.Data))
		}
		if end {
			if err := f.end(t); !errors.Is(err, io.EOF) {
				t.Fatalf("%s: after the end event: %v, want io.EOF", what, err)
			}
			return data, ev.ChildShards
		}
	}
}

func childIDs(cs []ChildShard) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ShardID+"<"+fmt.Sprint(c.ParentShards))
	}
	return fmt.Sprint(out)
}

func (env *testEnv) putAt(stream, hashKey, data string) {
	env.t.Helper()
	if _, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: stream}, PartitionKey: "k", ExplicitHashKey: hashKey, Data: []byte(data)}); err != nil {
		env.t.Fatalf("put %s: %v", data, err)
	}
}

// wantGetRecordsEnd reads a shard with GetRecords one record at a time
// from TRIM_HORIZON and checks every response's shape; it returns the data
// read and the children of the last response (nil for an open shard read
// to its tip).
func wantGetRecordsEnd(t *testing.T, env *testEnv, stream, shard string) (data []string, children []ChildShard) {
	t.Helper()
	it := env.iter(stream, shard, TrimHorizon, "", time.Time{})
	for range 100 {
		out, err := env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: it, Limit: 1})
		if err != nil {
			t.Fatalf("GetRecords %s: %v", shard, err)
		}
		for _, r := range out.Records {
			data = append(data, string(r.Data))
		}
		if out.NextShardIterator == "" {
			if len(out.ChildShards) == 0 {
				t.Fatalf("GetRecords %s: no NextShardIterator and no ChildShards: %+v", shard, out)
			}
			return data, out.ChildShards
		}
		if len(out.ChildShards) != 0 {
			t.Fatalf("GetRecords %s: ChildShards %v with a NextShardIterator", shard, out.ChildShards)
		}
		if len(out.Records) == 0 {
			return data, nil
		}
		it = out.NextShardIterator
	}
	t.Fatalf("GetRecords %s: no end after 100 calls", shard)
	return nil, nil
}

// Through a merge and a split, every reader — fan-out, the plain
// subscription, GetRecords — sees the continuation on every event but the
// last of a closed shard, and ChildShards only there.
func TestShardEndShapeAcrossMergeAndSplit(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 2)
	c := env.register("app")
	const s0, s1, s2 = "shardId-000000000000", "shardId-000000000001", "shardId-000000000002"
	f0 := follow(env.subscribe(c.ConsumerARN, s0, StartingPosition{Type: TrimHorizon}))
	f1 := follow(env.subscribe(c.ConsumerARN, s1, StartingPosition{Type: TrimHorizon}))
	plain, err := env.e.Subscribe(ctx, SubscribeInput{StreamRef: StreamRef{StreamName: "s"}, ShardID: s0, Position: StartingPosition{Type: TrimHorizon}})
	if err != nil {
		t.Fatal(err)
	}
	fp := follow(plain)
	low, high := "0", MaxHashKey.String()
	env.putAt("s", low, "a1")
	env.putAt("s", high, "b1")
	env.putAt("s", low, "a2")
	if err := env.e.MergeShards(ctx, MergeShardsInput{StreamRef: StreamRef{StreamName: "s"}, ShardToMerge: s0, AdjacentShardToMerge: s1}); err != nil {
		t.Fatal(err)
	}
	merged := fmt.Sprint([]string{s2 + "<" + fmt.Sprint([]string{s0, s1})})
	for _, tc := range []struct {
		what string
		f    *follower
		want string
	}{{"fan-out " + s0, f0, "[a1 a2]"}, {"fan-out " + s1, f1, "[b1]"}, {"Subscribe " + s0, fp, "[a1 a2]"}} {
		data, children := toEnd(t, tc.what, tc.f)
		if fmt.Sprint(data) != tc.want || childIDs(children) != merged {
			t.Fatalf("%s: read %v, children %s; want %s, %s", tc.what, data, childIDs(children), tc.want, merged)
		}
	}

	// The merged shard, split in turn.
	f2 := follow(env.subscribe(c.ConsumerARN, s2, StartingPosition{Type: TrimHorizon}))
	env.putAt("s", low, "c1")
	env.putAt("s", high, "c2")
	shards := env.shards("s")
	if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: StreamRef{StreamName: "s"}, ShardToSplit: s2, NewStartingHashKey: MidpointKey(shards[2].HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	split := fmt.Sprint([]string{"shardId-000000000003<[" + s2 + "]", "shardId-000000000004<[" + s2 + "]"})
	if data, children := toEnd(t, "fan-out "+s2, f2); fmt.Sprint(data) != "[c1 c2]" || childIDs(children) != split {
		t.Fatalf("fan-out %s: read %v, children %s; want [c1 c2], %s", s2, data, childIDs(children), split)
	}

	// Resubscribing to a closed shard after its end, from its last
	// record or LATEST, gets the end event at once.
	env.clock.Advance(SubscribeTakeover)
	last := env.shards("s")[2].EndingSequenceNumber
	for _, pos := range []StartingPosition{{Type: AfterSequenceNumber, SequenceNumber: last}, {Type: Latest}} {
		f := follow(env.subscribe(c.ConsumerARN, s2, pos))
		if data, children := toEnd(t, "resubscribed "+string(pos.Type), f); len(data) != 0 || childIDs(children) != split {
			t.Fatalf("resubscribed %s: read %v, children %s", pos.Type, data, childIDs(children))
		}
		env.clock.Advance(SubscribeTakeover)
	}

	// GetRecords: no NextShardIterator only at a closed shard's end, and
	// ChildShards only there; an open shard always has a next iterator.
	for _, tc := range []struct{ shard, want, children string }{
		{s0, "[a1 a2]", merged}, {s1, "[b1]", merged}, {s2, "[c1 c2]", split}, {"shardId-000000000003", "[]", "[]"},
	} {
		data, children := wantGetRecordsEnd(t, env, "s", tc.shard)
		if fmt.Sprint(data) != tc.want || childIDs(children) != tc.children {
			t.Fatalf("GetRecords %s: read %v, children %s; want %s, %s", tc.shard, data, childIDs(children), tc.want, tc.children)
		}
	}
	// The KCL's child probe: LATEST on a closed shard, one GetRecords.
	out, err := env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: env.iter("s", s2, Latest, "", time.Time{})})
	if err != nil || out.NextShardIterator != "" || childIDs(out.ChildShards) != split {
		t.Fatalf("GetRecords LATEST on a closed shard: %v %+v", err, out)
	}
}

// A split or a commit that lands while a subscription looks at its shard
// (after it took the shard's state, after it read the records) must still
// wake it: with the manual clock nothing else would, and a real follower
// would sit out its heartbeat — or, blind to the end, its whole subscription.
func TestSubscriptionWakesForChangesDuringPoll(t *testing.T) {
	for _, step := range []pollStep{pollViewed, pollRead} {
		for _, action := range []string{"split", "put"} {
			for _, kind := range []string{"fan-out", "Subscribe"} {
				t.Run(fmt.Sprintf("%s/%d/%s", kind, step, action), func(t *testing.T) {
					env := newEnv(t, Options{})
					env.create("s", 1)
					c := env.register("app")
					sh := env.shards("s")[0]
					var fired atomic.Bool
					hookErr := make(chan error, 1)
					env.e.pollHook = func(at pollStep) {
						if at != step || !fired.CompareAndSwap(false, true) {
							return
						}
						var err error
						if action == "split" {
							err = env.e.SplitShard(ctx, SplitShardInput{StreamRef: StreamRef{StreamName: "s"}, ShardToSplit: sh.ShardID, NewStartingHashKey: MidpointKey(sh.HashKeyRange)})
						} else {
							_, err = env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: "s"}, PartitionKey: "k", Data: []byte("x")})
						}
						hookErr <- err
					}
					var f *follower
					if kind == "fan-out" {
						f = follow(env.subscribe(c.ConsumerARN, sh.ShardID, StartingPosition{Type: Latest}))
					} else {
						sub, err := env.e.Subscribe(ctx, SubscribeInput{StreamRef: StreamRef{StreamName: "s"}, ShardID: sh.ShardID, Position: StartingPosition{Type: Latest}})
						if err != nil {
							t.Fatal(err)
						}
						defer sub.Close()
						f = follow(sub)
					}
					ev := f.event(t)
					if err := <-hookErr; err != nil {
						t.Fatalf("%s in the hook: %v", action, err)
					}
					if action == "split" {
						wantShape(t, "after the split", ev, true)
					} else if len(ev.Records) != 1 {
						t.Fatalf("event %+v, want the record put", ev)
					}
				})
			}
		}
	}
}

// A closed shard whose last write fails: passing the failed positions
// reaches the end, and that must wake the follower although nothing was
// published.
func TestSubscriptionEndsWhenLastWriteFails(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	c := env.register("app")
	sh0 := env.shards("s")[0]
	var polls atomic.Int64
	env.e.pollHook = func(at pollStep) {
		if at == pollRead {
			polls.Add(1)
		}
	}
	f := follow(env.subscribe(c.ConsumerARN, sh0.ShardID, StartingPosition{Type: TrimHorizon}))
	// A write in flight: its position is taken, storage has not answered.
	env.e.mu.RLock()
	sh := env.e.streams["s"].shardByIndex(0)
	env.e.mu.RUnlock()
	sh.mu.Lock()
	sp := &span{first: sh.nextPos, last: sh.nextPos}
	sh.nextPos++
	sh.inflight = append(sh.inflight, sp)
	sh.mu.Unlock()
	before := polls.Load()
	if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: StreamRef{StreamName: "s"}, ShardToSplit: sh0.ShardID, NewStartingHashKey: MidpointKey(sh0.HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	// The follower looks again after the split and finds the shard closed
	// but not ended: the write is still in flight.
	waitFor(t, "a poll after the split", func() bool { return polls.Load() > before })
	if r, ok := f.pending(); ok {
		t.Fatalf("before the write settled: event %+v, end %v", r.ev, r.err)
	}
	env.e.settle("s", sh, sp, false, 0)
	data, children := toEnd(t, "after the failed write", f)
	if len(data) != 0 || len(children) != 2 {
		t.Fatalf("read %v, children %v", data, children)
	}
}

// Readers follow a stream's lineage through splits and merges while
// writers keep writing: every record is read exactly once, every closed
// shard's subscription ends with the children's event, and every event has
// the shape the KCL accepts. Run under -race with -count to shake out
// ordering bugs between commits, closes and waits.
func TestFanOutFollowsReshardsUnderWrites(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 1)
	c := env.register("app")
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu      sync.Mutex
		read    = map[string]int{}
		ended   = map[string]bool{}
		started = map[string]bool{}
		subs    []*FanOutSubscription
		failure error
		readers sync.WaitGroup
		total   atomic.Int64
	)
	fail := func(err error) {
		mu.Lock()
		if failure == nil {
			failure = err
		}
		mu.Unlock()
		cancel()
	}
	var start func(shard string)
	start = func(shard string) {
		mu.Lock()
		if started[shard] {
			mu.Unlock()
			return
		}
		started[shard] = true
		mu.Unlock()
		fs, err := env.e.SubscribeToShard(cctx, SubscribeToShardInput{ConsumerARN: c.ConsumerARN, ShardID: shard, StartingPosition: StartingPosition{Type: TrimHorizon}})
		if err != nil {
			fail(fmt.Errorf("subscribe %s: %w", shard, err))
			return
		}
		mu.Lock()
		subs = append(subs, fs)
		mu.Unlock()
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				ev, err := fs.Next(cctx)
				if err != nil {
					if cctx.Err() == nil && !errors.Is(err, io.EOF) {
						fail(fmt.Errorf("%s: %w", shard, err))
					}
					return
				}
				end := ev.ContinuationSequenceNumber == ""
				if end != (len(ev.ChildShards) > 0) {
					fail(fmt.Errorf("%s: event %+v has not the KCL's shape", shard, ev))
					return
				}
				mu.Lock()
				for _, r := range ev.Records {
					read[string(r.Data)]++
				}
				mu.Unlock()
				total.Add(int64(len(ev.Records)))
				if end {
					mu.Lock()
					ended[shard] = true
					mu.Unlock()
					for _, ch := range ev.ChildShards {
						start(ch.ShardID)
					}
					if _, err := fs.Next(cctx); !errors.Is(err, io.EOF) {
						fail(fmt.Errorf("%s: after the end event: %v, want io.EOF", shard, err))
					}
					return
				}
			}
		}()
	}
	start("shardId-000000000000")

	const writers = 2
	var written atomic.Int64
	stopWriting := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; ; i++ {
				select {
				case <-stopWriting:
					return
				default:
				}
				key := HashKey{Hi: rng.Uint64(), Lo: rng.Uint64()}.String()
				if _, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: "s"}, PartitionKey: "k", ExplicitHashKey: key, Data: []byte(fmt.Sprintf("w%d-%d", w, i))}); err != nil {
					fail(fmt.Errorf("put: %w", err))
					return
				}
				written.Add(1)
			}
		}()
	}
	// Let some records through before each change of the layout.
	writeSome := func() {
		n := written.Load() + 20
		waitFor(t, "records written", func() bool { return written.Load() >= n || cctx.Err() != nil })
	}
	ref := StreamRef{StreamName: "s"}
	rangeOf := func(id string) HashKeyRange {
		for _, sh := range env.shards("s") {
			if sh.ShardID == id {
				return sh.HashKeyRange
			}
		}
		t.Fatalf("no shard %s", id)
		return HashKeyRange{}
	}
	split := func(id string) {
		writeSome()
		if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: id, NewStartingHashKey: MidpointKey(rangeOf(id))}); err != nil {
			t.Fatalf("split %s: %v", id, err)
		}
	}
	merge := func(a, b string) {
		writeSome()
		if err := env.e.MergeShards(ctx, MergeShardsInput{StreamRef: ref, ShardToMerge: a, AdjacentShardToMerge: b}); err != nil {
			t.Fatalf("merge %s %s: %v", a, b, err)
		}
	}
	split("shardId-000000000000")                         // → 1, 2
	split("shardId-000000000001")                         // → 3, 4
	merge("shardId-000000000003", "shardId-000000000004") // → 5
	merge("shardId-000000000005", "shardId-000000000002") // → 6
	split("shardId-000000000006")                         // → 7, 8
	writeSome()
	close(stopWriting)
	wg.Wait()
	want := written.Load()
	waitFor(t, "every record read", func() bool { return total.Load() >= want || cctx.Err() != nil })
	cancel()
	mu.Lock()
	for _, fs := range subs {
		fs.Close()
	}
	mu.Unlock()
	readers.Wait()
	if failure != nil {
		t.Fatal(failure)
	}
	for id := range 7 {
		if shard := shardID(uint32(id)); !ended[shard] {
			t.Errorf("closed shard %s: no end event", shard)
		}
	}
	if !started["shardId-000000000007"] || !started["shardId-000000000008"] {
		t.Errorf("open shards not reached: %v", slices.Sorted(maps.Keys(started)))
	}
	if int64(len(read)) != want || total.Load() != want {
		t.Fatalf("read %d distinct records in %d deliveries, %d written", len(read), total.Load(), want)
	}
	for data, n := range read {
		if n != 1 {
			t.Fatalf("record %s read %d times", data, n)
		}
	}
}
