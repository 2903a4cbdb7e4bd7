package engine

import (
	"crypto/md5"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestEvenRangesMatchService(t *testing.T) {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	for _, n := range []int{1, 2, 3, 4, 7, 64} {
		rs := evenRanges(n)
		step := new(big.Int).Div(space, big.NewInt(int64(n)))
		if rs[0].Start.Cmp(HashKey{}) != 0 {
			t.Fatalf("n=%d: first start %s, want 0", n, rs[0].Start)
		}
		if rs[n-1].End != MaxHashKey {
			t.Fatalf("n=%d: last end %s, want 2^128-1", n, rs[n-1].End)
		}
		for i, r := range rs {
			wantStart := new(big.Int).Mul(step, big.NewInt(int64(i)))
			if r.Start.Big().Cmp(wantStart) != 0 {
				t.Fatalf("n=%d shard %d: start %s, want %s", n, i, r.Start, wantStart)
			}
			if i > 0 && rs[i-1].End.Add(1) != r.Start {
				t.Fatalf("n=%d: gap between %d and %d", n, i-1, i)
			}
		}
	}
}

func TestRoutingByMD5AndExplicitHashKey(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 4)
	shards := env.shards("s")
	for i := 0; i < 50; i++ {
		k := key(i)
		sum := md5.Sum([]byte(k))
		h := new(big.Int).SetBytes(sum[:])
		want := ""
		for _, sh := range shards {
			if sh.HashKeyRange.Start.Big().Cmp(h) <= 0 && h.Cmp(sh.HashKeyRange.End.Big()) <= 0 {
				want = sh.ShardID
			}
		}
		if got := env.put("s", k, "x").ShardID; got != want {
			t.Fatalf("key %s: shard %s, want %s", k, got, want)
		}
	}
	for _, c := range []struct{ ehk, want string }{
		{"0", "shardId-000000000000"},
		{"340282366920938463463374607431768211455", "shardId-000000000003"},
		{shards[2].HashKeyRange.Start.String(), "shardId-000000000002"},
		{shards[2].HashKeyRange.Start.Sub(1).String(), "shardId-000000000001"},
	} {
		out, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: "s"}, PartitionKey: "k", ExplicitHashKey: c.ehk, Data: []byte("d")})
		if err != nil || out.ShardID != c.want {
			t.Fatalf("explicit %s: got %s %v, want %s", c.ehk, out.ShardID, err, c.want)
		}
	}
	_, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: "s"}, PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211456", Data: []byte("d")})
	wantCode(t, err, InvalidArgumentException)
}

func TestSequenceNumbersOrderedUniqueAndStableAcrossReopen(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 2)
	seen := map[string]bool{}
	last := map[string]string{}
	check := func(out PutRecordOutput) {
		t.Helper()
		if seen[out.SequenceNumber] {
			t.Fatalf("duplicate sequence number %s", out.SequenceNumber)
		}
		seen[out.SequenceNumber] = true
		if len(out.SequenceNumber) != 56 {
			t.Fatalf("sequence number %s has %d digits, want 56", out.SequenceNumber, len(out.SequenceNumber))
		}
		n, _ := new(big.Int).SetString(out.SequenceNumber, 10)
		if n.BitLen() == 186 {
			t.Fatalf("sequence number is 186 bits long: the KCL would decode it")
		}
		if p := last[out.ShardID]; p != "" && !seqLess(p, out.SequenceNumber) {
			t.Fatalf("sequence %s not above previous %s on %s", out.SequenceNumber, p, out.ShardID)
		}
		last[out.ShardID] = out.SequenceNumber
		idx, _, err := parseSeq(out.SequenceNumber)
		if err != nil || shardID(idx) != out.ShardID {
			t.Fatalf("parse %s: shard %d err %v, want %s", out.SequenceNumber, idx, err, out.ShardID)
		}
	}
	for i := 0; i < 100; i++ {
		check(env.put("s", key(i), "a"))
	}
	env.reopen()
	for i := 0; i < 100; i++ {
		check(env.put("s", key(i), "b"))
	}
	// After retention empties a shard, positions still never repeat.
	env.clock.Advance(25 * time.Hour)
	if err := env.e.ApplyRetention(env.clock.Now()); err != nil {
		t.Fatal(err)
	}
	env.reopen()
	for i := 0; i < 100; i++ {
		check(env.put("s", key(i), "c"))
	}
}

func TestChildSequenceNumbersExceedParents(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	for i := 0; i < 10; i++ {
		env.put("s", key(i), "x")
	}
	if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: StreamRef{StreamName: "s"}, ShardToSplit: "shardId-000000000000", NewStartingHashKey: MidpointKey(HashKeyRange{End: MaxHashKey})}); err != nil {
		t.Fatal(err)
	}
	shards := env.shards("s")
	parentEnd := shards[0].EndingSequenceNumber
	if parentEnd == "" {
		t.Fatal("parent has no ending sequence number")
	}
	for _, c := range shards[1:] {
		if !seqLess(parentEnd, c.StartingSequenceNumber) {
			t.Fatalf("child %s starts at %s, not above parent end %s", c.ShardID, c.StartingSequenceNumber, parentEnd)
		}
	}
	out := env.put("s", key(3), "y")
	if !seqLess(parentEnd, out.SequenceNumber) {
		t.Fatalf("child record %s not above parent end %s", out.SequenceNumber, parentEnd)
	}
}

func TestIteratorTypes(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 1)
	const sh = "shardId-000000000000"
	// Empty shard: every type reads nothing and then sees later records.
	for _, typ := range []IteratorType{TrimHorizon, Latest} {
		it := env.iter("s", sh, typ, "", time.Time{})
		recs, next, _ := env.readAll(it)
		if len(recs) != 0 || next == "" {
			t.Fatalf("%s on empty shard: %d records, next %q", typ, len(recs), next)
		}
	}
	emptyTH := env.iter("s", sh, TrimHorizon, "", time.Time{})
	var seqs []string
	var times []time.Time
	for i := 0; i < 10; i++ {
		env.clock.Advance(time.Second)
		times = append(times, env.clock.Now())
		seqs = append(seqs, env.put("s", key(i), fmt.Sprint(i)).SequenceNumber)
	}
	if recs, _, _ := env.readAll(emptyTH); len(recs) != 10 {
		t.Fatalf("iterator taken on the empty shard saw %d records, want 10", len(recs))
	}
	cases := []struct {
		typ   IteratorType
		seq   string
		ts    time.Time
		first int // index of the first record expected, 10 for none
	}{
		{TrimHorizon, "", time.Time{}, 0},
		{Latest, "", time.Time{}, 10},
		{AtSequenceNumber, seqs[4], time.Time{}, 4},
		{AfterSequenceNumber, seqs[4], time.Time{}, 5},
		{AfterSequenceNumber, seqs[9], time.Time{}, 10},
		{AtTimestamp, "", times[6], 6},                        // exact arrival time
		{AtTimestamp, "", times[6].Add(-time.Millisecond), 6}, // just before
		{AtTimestamp, "", times[6].Add(time.Millisecond), 7},  // just after
		{AtTimestamp, "", t0.Add(-time.Hour), 0},              // before everything
	}
	env.clock.Advance(time.Second)
	cases = append(cases, struct {
		typ   IteratorType
		seq   string
		ts    time.Time
		first int
	}{AtTimestamp, "", env.clock.Now(), 10}) // now, after the last record: the tip
	for _, c := range cases {
		recs, _, _ := env.readAll(env.iter("s", sh, c.typ, c.seq, c.ts))
		if len(recs) != 10-c.first {
			t.Fatalf("%s %v: %d records, want %d", c.typ, c.ts, len(recs), 10-c.first)
		}
		if len(recs) > 0 && recs[0].SequenceNumber != seqs[c.first] {
			t.Fatalf("%s: first %s, want %s", c.typ, recs[0].SequenceNumber, seqs[c.first])
		}
	}
	// LATEST sees only what comes after it.
	latest := env.iter("s", sh, Latest, "", time.Time{})
	env.put("s", "k", "after")
	if recs, _, _ := env.readAll(latest); len(recs) != 1 || string(recs[0].Data) != "after" {
		t.Fatalf("LATEST read %v, want the one later record", recs)
	}
}

func TestIteratorErrors(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 2)
	out := env.put("s", "k", "x")
	other := "shardId-000000000000"
	if out.ShardID == other {
		other = "shardId-000000000001"
	}
	_, err := env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: StreamRef{StreamName: "s"}, ShardID: other, ShardIteratorType: AtSequenceNumber, StartingSequenceNumber: out.SequenceNumber})
	wantCode(t, err, InvalidArgumentException)
	if !strings.Contains(err.Error(), "It encodes "+out.ShardID) {
		t.Fatalf("message %q does not name the owning shard", err)
	}
	for _, seq := range []string{"12345", strings.Repeat("9", 56)} {
		_, err = env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: StreamRef{StreamName: "s"}, ShardID: out.ShardID, ShardIteratorType: AtSequenceNumber, StartingSequenceNumber: seq})
		wantCode(t, err, InvalidArgumentException)
	}
	_, err = env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: StreamRef{StreamName: "s"}, ShardID: "shardId-000000000009", ShardIteratorType: TrimHorizon})
	wantCode(t, err, ResourceNotFoundException)
	_, err = env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: StreamRef{StreamName: "s"}, ShardID: out.ShardID, ShardIteratorType: "SIDEWAYS"})
	wantCode(t, err, ValidationException)
	_, err = env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: StreamRef{StreamName: "s"}, ShardID: out.ShardID, ShardIteratorType: AtTimestamp})
	wantCode(t, err, InvalidArgumentException)

	it := env.iter("s", out.ShardID, TrimHorizon, "", time.Time{})
	// A tampered iterator is refused.
	b := []byte(it)
	b[len(b)/2] ^= 1
	if b[len(b)/2] == '-' || b[len(b)/2] == '_' {
		b[len(b)/2] = 'A'
	}
	_, err = env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: string(b)})
	wantCode(t, err, InvalidArgumentException)
	_, err = env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: "not-an-iterator"})
	wantCode(t, err, InvalidArgumentException)
	_, err = env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: it, Limit: 10001})
	wantCode(t, err, InvalidArgumentException)
	// Expiry follows the injected clock.
	env.clock.Advance(IteratorTTL)
	if _, err := env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: it}); err != nil {
		t.Fatalf("iterator at exactly 5 minutes: %v", err)
	}
	env.clock.Advance(time.Millisecond)
	_, err = env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: it})
	wantCode(t, err, ExpiredIteratorException)
	// An iterator of a deleted and re-created stream is refused.
	it = env.iter("s", out.ShardID, TrimHorizon, "", time.Time{})
	if err := env.e.DeleteStream(ctx, DeleteStreamInput{StreamRef: StreamRef{StreamName: "s"}}); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(time.Second)
	env.create("s", 2)
	_, err = env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: it})
	wantCode(t, err, ResourceNotFoundException)
}

func TestGetRecordsLimitAndMillisBehind(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	for i := 0; i < 30; i++ {
		env.put("s", key(i), "x")
		env.clock.Advance(time.Second)
	}
	it := env.iter("s", "shardId-000000000000", TrimHorizon, "", time.Time{})
	out, err := env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: it, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != 10 {
		t.Fatalf("got %d records, want 10", len(out.Records))
	}
	// The next unread record arrived 20 s before now.
	if out.MillisBehindLatest != 20_000 {
		t.Fatalf("MillisBehindLatest %d, want 20000", out.MillisBehindLatest)
	}
	recs, _, _ := env.readAll(out.NextShardIterator)
	if len(recs) != 20 {
		t.Fatalf("rest: %d records, want 20", len(recs))
	}
	last, _ := env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: env.iter("s", "shardId-000000000000", Latest, "", time.Time{})})
	if last.MillisBehindLatest != 0 {
		t.Fatalf("caught up but MillisBehindLatest %d", last.MillisBehindLatest)
	}
}

func TestClosedShardEndListsChildren(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 2)
	for i := 0; i < 20; i++ {
		env.put("s", key(i), "x")
	}
	if err := env.e.MergeShards(ctx, MergeShardsInput{StreamRef: StreamRef{StreamName: "s"}, ShardToMerge: "shardId-000000000000", AdjacentShardToMerge: "shardId-000000000001"}); err != nil {
		t.Fatal(err)
	}
	for _, parent := range []string{"shardId-000000000000", "shardId-000000000001"} {
		_, next, children := env.readAll(env.iter("s", parent, TrimHorizon, "", time.Time{}))
		if next != "" {
			t.Fatalf("%s: closed shard read to its end still has a next iterator", parent)
		}
		if len(children) != 1 || children[0].ShardID != "shardId-000000000002" || len(children[0].ParentShards) != 2 {
			t.Fatalf("%s: children %+v", parent, children)
		}
		// LATEST on a closed shard ends at once.
		_, next, children = env.readAll(env.iter("s", parent, Latest, "", time.Time{}))
		if next != "" || len(children) != 1 {
			t.Fatalf("LATEST on closed %s: next %q children %v", parent, next, children)
		}
	}
	shards := env.shards("s")
	if len(shards) != 3 || shards[2].ParentShardID != "shardId-000000000000" || shards[2].AdjacentParentShardID != "shardId-000000000001" {
		t.Fatalf("shards after merge: %+v", shards)
	}
	if shards[2].HashKeyRange.Start != (HashKey{}) || shards[2].HashKeyRange.End != MaxHashKey {
		t.Fatalf("merged range %v", shards[2].HashKeyRange)
	}
}
