package engine

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// putOrdered writes n records over keys and returns, per key, the data in
// the order it was acknowledged.
func (env *testEnv) putOrdered(stream string, from, n, keys int, want map[string][]string) {
	env.t.Helper()
	for i := from; i < from+n; i++ {
		k := key(i % keys)
		d := fmt.Sprintf("%s#%d", k, i)
		env.put(stream, k, d)
		want[k] = append(want[k], d)
	}
}

func checkExactlyOnceInOrder(t testing.TB, got []Record, want map[string][]string) {
	t.Helper()
	per := map[string][]string{}
	for _, r := range got {
		per[r.PartitionKey] = append(per[r.PartitionKey], string(r.Data))
	}
	for k, w := range want {
		g := per[k]
		if len(g) != len(w) {
			t.Fatalf("key %s: read %d records, wrote %d", k, len(g), len(w))
		}
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("key %s record %d: read %s, want %s", k, i, g[i], w[i])
			}
		}
	}
	if len(per) != len(want) {
		t.Fatalf("read %d keys, wrote %d", len(per), len(want))
	}
}

func TestLineageReaderSeesEveryRecordOnceAcrossSplitMergeAndScaling(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 2)
	want := map[string][]string{}
	env.putOrdered("s", 0, 200, 40, want)
	sh0 := env.shards("s")[0]
	if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: StreamRef{StreamName: "s"}, ShardToSplit: sh0.ShardID, NewStartingHashKey: MidpointKey(sh0.HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	env.putOrdered("s", 200, 200, 40, want)
	// shard 2 = low half of 0, shard 3 = high half of 0; merge 3 with 1.
	if err := env.e.MergeShards(ctx, MergeShardsInput{StreamRef: StreamRef{StreamName: "s"}, ShardToMerge: "shardId-000000000003", AdjacentShardToMerge: "shardId-000000000001"}); err != nil {
		t.Fatal(err)
	}
	env.putOrdered("s", 400, 200, 40, want)
	out, err := env.e.UpdateShardCount(ctx, UpdateShardCountInput{StreamRef: StreamRef{StreamName: "s"}, TargetShardCount: 3, ScalingType: "UNIFORM_SCALING"})
	if err != nil || out.CurrentShardCount != 2 || out.TargetShardCount != 3 {
		t.Fatalf("update shard count: %+v %v", out, err)
	}
	env.putOrdered("s", 600, 200, 40, want)
	var open []Shard
	for _, sh := range env.shards("s") {
		if sh.Open() {
			open = append(open, sh)
		}
	}
	sortByStart(open)
	ranges := evenRanges(3)
	if len(open) != 3 {
		t.Fatalf("%d open shards, want 3", len(open))
	}
	for i, sh := range open {
		if sh.HashKeyRange != ranges[i] {
			t.Fatalf("open shard %d range %v, want %v", i, sh.HashKeyRange, ranges[i])
		}
	}
	checkExactlyOnceInOrder(t, env.lineageReader("s"), want)
}

func TestReshardErrors(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 3)
	ref := StreamRef{StreamName: "s"}
	shards := env.shards("s")
	wantCode(t, env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: shards[0].ShardID, NewStartingHashKey: "1"}), InvalidArgumentException)
	wantCode(t, env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: shards[0].ShardID, NewStartingHashKey: shards[0].HashKeyRange.End.String()}), InvalidArgumentException)
	wantCode(t, env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: "shardId-000000000099", NewStartingHashKey: "100"}), ResourceNotFoundException)
	wantCode(t, env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: shards[0].ShardID, NewStartingHashKey: "-5"}), ValidationException)
	wantCode(t, env.e.MergeShards(ctx, MergeShardsInput{StreamRef: ref, ShardToMerge: shards[0].ShardID, AdjacentShardToMerge: shards[2].ShardID}), InvalidArgumentException)
	// As the service, ShardToMerge must come first in key order.
	err := env.e.MergeShards(ctx, MergeShardsInput{StreamRef: ref, ShardToMerge: shards[2].ShardID, AdjacentShardToMerge: shards[1].ShardID})
	wantCode(t, err, InvalidArgumentException)
	if want := "Shards shardId-000000000002 and shardId-000000000001 in stream s under account 000000000000 are not an adjacent pair of shards eligible for merging"; err.(*Error).Message != want {
		t.Fatalf("message %q, want %q", err.(*Error).Message, want)
	}
	if err := env.e.MergeShards(ctx, MergeShardsInput{StreamRef: ref, ShardToMerge: shards[1].ShardID, AdjacentShardToMerge: shards[2].ShardID}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, env.e.MergeShards(ctx, MergeShardsInput{StreamRef: ref, ShardToMerge: shards[1].ShardID, AdjacentShardToMerge: shards[0].ShardID}), ResourceInUseException)
	_, err = env.e.UpdateShardCount(ctx, UpdateShardCountInput{StreamRef: ref, TargetShardCount: 5, ScalingType: "UNIFORM_SCALING"})
	wantCode(t, err, LimitExceededException)
	// Ten scalings a day, then no more.
	for i := 0; i < 10; i++ {
		target := 2 + i%2
		if _, err := env.e.UpdateShardCount(ctx, UpdateShardCountInput{StreamRef: ref, TargetShardCount: target, ScalingType: "UNIFORM_SCALING"}); err != nil {
			t.Fatalf("scaling %d: %v", i, err)
		}
	}
	_, err = env.e.UpdateShardCount(ctx, UpdateShardCountInput{StreamRef: ref, TargetShardCount: 3, ScalingType: "UNIFORM_SCALING"})
	wantCode(t, err, LimitExceededException)
	env.clock.Advance(24 * time.Hour)
	if _, err := env.e.UpdateShardCount(ctx, UpdateShardCountInput{StreamRef: ref, TargetShardCount: 3, ScalingType: "UNIFORM_SCALING"}); err != nil {
		t.Fatalf("after a day: %v", err)
	}
	// The shard quota holds.
	small := newEnv(t, Options{ShardLimit: 4})
	small.create("a", 3)
	err = small.e.CreateStream(ctx, CreateStreamInput{StreamName: "b", ShardCount: 2})
	wantCode(t, err, LimitExceededException)
	sh := small.shards("a")[0]
	if err := small.e.SplitShard(ctx, SplitShardInput{StreamRef: StreamRef{StreamName: "a"}, ShardToSplit: sh.ShardID, NewStartingHashKey: MidpointKey(sh.HashKeyRange)}); err != nil {
		t.Fatalf("split within quota: %v", err)
	}
	sh = small.shards("a")[1]
	wantCode(t, small.e.SplitShard(ctx, SplitShardInput{StreamRef: StreamRef{StreamName: "a"}, ShardToSplit: sh.ShardID, NewStartingHashKey: MidpointKey(sh.HashKeyRange)}), LimitExceededException)
}

func TestStatusDelays(t *testing.T) {
	env := newEnv(t, Options{CreateDelay: 10 * time.Second, UpdateDelay: 5 * time.Second, DeleteDelay: 3 * time.Second})
	env.create("s", 2)
	ref := StreamRef{StreamName: "s"}
	sum, _ := env.e.DescribeStreamSummary(ctx, ref)
	if sum.StreamStatus != StatusCreating {
		t.Fatalf("status %s, want CREATING", sum.StreamStatus)
	}
	_, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: "k", Data: []byte("x")})
	wantCode(t, err, ResourceNotFoundException)
	wantCode(t, env.e.IncreaseStreamRetentionPeriod(ctx, RetentionInput{StreamRef: ref, RetentionPeriodHours: 48}), ResourceInUseException)
	env.clock.Advance(10 * time.Second)
	env.put("s", "k", "x")
	sh := env.shards("s")[0]
	if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: sh.ShardID, NewStartingHashKey: MidpointKey(sh.HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	sum, _ = env.e.DescribeStreamSummary(ctx, ref)
	if sum.StreamStatus != StatusUpdating {
		t.Fatalf("status %s, want UPDATING", sum.StreamStatus)
	}
	env.put("s", "k", "during update") // the data plane works while UPDATING
	wantCode(t, env.e.MergeShards(ctx, MergeShardsInput{StreamRef: ref, ShardToMerge: "shardId-000000000002", AdjacentShardToMerge: "shardId-000000000003"}), ResourceInUseException)
	env.clock.Advance(5 * time.Second)
	if err := env.e.DeleteStream(ctx, DeleteStreamInput{StreamRef: ref}); err != nil {
		t.Fatal(err)
	}
	sum, _ = env.e.DescribeStreamSummary(ctx, ref)
	if sum.StreamStatus != StatusDeleting {
		t.Fatalf("status %s, want DELETING", sum.StreamStatus)
	}
	env.clock.Advance(3 * time.Second)
	_, err = env.e.DescribeStreamSummary(ctx, ref)
	wantCode(t, err, ResourceNotFoundException)
	if err := env.e.ApplyRetention(env.clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestRandomOperationsKeepLineageExact runs random sequences of puts,
// splits, merges, scalings and clock steps, then reads the whole stream
// the careful way and expects every record exactly once, in key order.
func TestRandomOperationsKeepLineageExact(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		env := newEnv(t, Options{DisableLimits: true})
		env.create("s", rapid.IntRange(1, 4).Draw(rt, "shards"))
		ref := StreamRef{StreamName: "s"}
		want := map[string][]string{}
		n := 0
		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			open := []Shard{}
			for _, sh := range env.shards("s") {
				if sh.Open() {
					open = append(open, sh)
				}
			}
			switch rapid.IntRange(0, 5).Draw(rt, "op") {
			case 0, 1:
				k := rapid.IntRange(1, 30).Draw(rt, "puts")
				env.putOrdered("s", n, k, 12, want)
				n += k
			case 2:
				sh := open[rapid.IntRange(0, len(open)-1).Draw(rt, "split")]
				if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: sh.ShardID, NewStartingHashKey: MidpointKey(sh.HashKeyRange)}); err != nil {
					rt.Fatalf("split: %v", err)
				}
			case 3:
				if len(open) < 2 {
					continue
				}
				sortByStart(open)
				j := rapid.IntRange(0, len(open)-2).Draw(rt, "merge")
				if err := env.e.MergeShards(ctx, MergeShardsInput{StreamRef: ref, ShardToMerge: open[j].ShardID, AdjacentShardToMerge: open[j+1].ShardID}); err != nil {
					rt.Fatalf("merge: %v", err)
				}
			case 4:
				target := rapid.IntRange((len(open)+1)/2, 2*len(open)).Draw(rt, "target")
				_, err := env.e.UpdateShardCount(ctx, UpdateShardCountInput{StreamRef: ref, TargetShardCount: target, ScalingType: "UNIFORM_SCALING"})
				if err != nil && !IsCode(err, LimitExceededException) {
					rt.Fatalf("update shard count: %v", err)
				}
			case 5:
				env.clock.Advance(time.Duration(rapid.IntRange(1, 3600).Draw(rt, "advance")) * time.Second)
			}
		}
		checkExactlyOnceInOrder(t, env.lineageReader("s"), want)
		env.close()
	})
}

func sortByStart(s []Shard) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].HashKeyRange.Start.Cmp(s[j-1].HashKeyRange.Start) < 0; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
