package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestWriteLimitsThrottlePerRecord(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}
	batch := func(n int, size int) PutRecordsOutput {
		t.Helper()
		entries := make([]PutRecordsEntry, n)
		for i := range entries {
			entries[i] = PutRecordsEntry{PartitionKey: "k", Data: bytes.Repeat([]byte("x"), size)}
		}
		out, err := env.e.PutRecords(ctx, PutRecordsInput{StreamRef: ref, Records: entries})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// 1,000 records/s: two batches of 500 pass, the third is throttled whole.
	for i := 0; i < 2; i++ {
		if out := batch(500, 10); out.FailedRecordCount != 0 {
			t.Fatalf("batch %d: %d failed", i, out.FailedRecordCount)
		}
	}
	out := batch(500, 10)
	if out.FailedRecordCount != 500 {
		t.Fatalf("third batch: %d failed, want 500", out.FailedRecordCount)
	}
	r := out.Records[0]
	if r.ErrorCode != ProvisionedThroughputExceededException || !strings.HasPrefix(r.ErrorMessage, "Rate exceeded for shard shardId-000000000000 in stream s") {
		t.Fatalf("result %+v", r)
	}
	// Half a second refills half the bucket.
	env.clock.Advance(500 * time.Millisecond)
	if out := batch(500, 10); out.FailedRecordCount != 0 {
		t.Fatalf("after 0.5 s: %d failed", out.FailedRecordCount)
	}
	// 1 MiB/s: with a full bucket, 4 × 300 KiB records: the fourth fails, others pass.
	env.clock.Advance(2 * time.Second)
	out = batch(4, 300<<10)
	if out.FailedRecordCount != 1 || out.Records[3].ErrorCode != ProvisionedThroughputExceededException {
		t.Fatalf("byte limit: %d failed, last %+v", out.FailedRecordCount, out.Records[3].ErrorCode)
	}
	snap := env.e.Snapshot()
	env.clock.Advance(time.Second)
	snap = env.e.Snapshot()
	if got := snap.Streams[0].Shards[0].TotalThrottled; got != 501 {
		t.Fatalf("throttled total %d, want 501", got)
	}
	found := false
	for _, ev := range snap.Events {
		if ev.Kind == EventThrottle && strings.Contains(ev.Message, `"k"`) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no throttle event naming the hot key in %+v", snap.Events)
	}
	// PutRecord gets the error itself.
	env.clock.Advance(2 * time.Second)
	batch(500, 1)
	batch(500, 1)
	_, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: "k", Data: []byte("x")})
	wantCode(t, err, ProvisionedThroughputExceededException)
}

func TestReadLimits(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	it := env.iter("s", "shardId-000000000000", TrimHorizon, "", time.Time{})
	for i := 0; i < 5; i++ {
		if _, err := env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: it}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: it})
	wantCode(t, err, ProvisionedThroughputExceededException)
	env.clock.Advance(time.Second)
	// A large read leaves the byte bucket in debt: 4 MiB read, then about a
	// second of refusals before the 2 MiB/s budget is repaid.
	env2 := newEnv(t, Options{})
	env2.create("s", 1)
	for i := 0; i < 4; i++ {
		env2.clock.Advance(time.Second)
		env2.put("s", "k", strings.Repeat("x", 1<<20-10))
	}
	it = env2.iter("s", "shardId-000000000000", TrimHorizon, "", time.Time{})
	out, err := env2.e.GetRecords(ctx, GetRecordsInput{ShardIterator: it})
	if err != nil || len(out.Records) != 4 {
		t.Fatalf("big read: %d records, %v", len(out.Records), err)
	}
	_, err = env2.e.GetRecords(ctx, GetRecordsInput{ShardIterator: out.NextShardIterator})
	wantCode(t, err, ProvisionedThroughputExceededException)
	env2.clock.Advance(1100 * time.Millisecond)
	if _, err := env2.e.GetRecords(ctx, GetRecordsInput{ShardIterator: out.NextShardIterator}); err != nil {
		t.Fatalf("after the debt is repaid: %v", err)
	}
}

func TestNoLimitsOption(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 1)
	entries := make([]PutRecordsEntry, 500)
	for i := range entries {
		entries[i] = PutRecordsEntry{PartitionKey: "k", Data: []byte("x")}
	}
	for i := 0; i < 5; i++ {
		out, err := env.e.PutRecords(ctx, PutRecordsInput{StreamRef: StreamRef{StreamName: "s"}, Records: entries})
		if err != nil || out.FailedRecordCount != 0 {
			t.Fatalf("batch %d: %d failed, %v", i, out.FailedRecordCount, err)
		}
	}
}

func TestRetentionTrimsAndExpiresShards(t *testing.T) {
	env := newEnv(t, Options{TrimBatch: 7})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}
	for i := 0; i < 50; i++ {
		env.put("s", key(i), "old")
	}
	sh := env.shards("s")[0]
	if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: sh.ShardID, NewStartingHashKey: MidpointKey(sh.HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(23 * time.Hour)
	for i := 0; i < 10; i++ {
		env.put("s", key(i), "new")
	}
	env.clock.Advance(2 * time.Hour) // the first 50 are now 25 h old
	th := env.iter("s", sh.ShardID, TrimHorizon, "", time.Time{})
	// Expired records are never returned, even before the trimmer runs.
	recs, _, _ := env.readAll(th)
	if len(recs) != 0 {
		t.Fatalf("read %d expired records", len(recs))
	}
	snap := env.e.Snapshot()
	if snap.Streams[0].Shards[2].Records != 50 {
		t.Fatalf("closed parent holds %d records before trimming, want 50", snap.Streams[0].Shards[2].Records)
	}
	if err := env.e.ApplyRetention(env.clock.Now()); err != nil {
		t.Fatal(err)
	}
	shards := env.shards("s")
	if len(shards) != 2 {
		t.Fatalf("after retention %d shards listed, want the 2 children", len(shards))
	}
	_, err := env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: ref, ShardID: sh.ShardID, ShardIteratorType: TrimHorizon})
	wantCode(t, err, ResourceNotFoundException)
	total := 0
	for _, c := range shards {
		recs, _, _ := env.readAll(env.iter("s", c.ShardID, TrimHorizon, "", time.Time{}))
		total += len(recs)
	}
	if total != 10 {
		t.Fatalf("children hold %d records, want 10", total)
	}
	// Increasing retention does not revive; decreasing hides at once.
	if err := env.e.IncreaseStreamRetentionPeriod(ctx, RetentionInput{StreamRef: ref, RetentionPeriodHours: 48}); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(20 * time.Hour) // the 10 new ones are 22 h old
	if err := env.e.DecreaseStreamRetentionPeriod(ctx, RetentionInput{StreamRef: ref, RetentionPeriodHours: 24}); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(3 * time.Hour)
	total = 0
	for _, c := range shards {
		recs, _, _ := env.readAll(env.iter("s", c.ShardID, TrimHorizon, "", time.Time{}))
		total += len(recs)
	}
	if total != 0 {
		t.Fatalf("%d records older than the new retention still readable", total)
	}
	for _, c := range []struct {
		inc   bool
		hours int
	}{{true, 23}, {true, 8761}, {false, 48}, {true, 12}} {
		var err error
		if c.inc {
			err = env.e.IncreaseStreamRetentionPeriod(ctx, RetentionInput{StreamRef: ref, RetentionPeriodHours: c.hours})
		} else {
			err = env.e.DecreaseStreamRetentionPeriod(ctx, RetentionInput{StreamRef: ref, RetentionPeriodHours: c.hours})
		}
		wantCode(t, err, InvalidArgumentException)
	}
}

func TestValidationErrorsChangeNothing(t *testing.T) {
	env := newEnv(t, Options{})
	cases := []struct {
		name string
		in   CreateStreamInput
		code ErrorCode
		text string
	}{
		{"bad chars", CreateStreamInput{StreamName: "bad name!", ShardCount: 1}, ValidationException, "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
		{"too long", CreateStreamInput{StreamName: strings.Repeat("a", 129), ShardCount: 1}, ValidationException, "Member must have length less than or equal to 128"},
		{"two errors", CreateStreamInput{StreamName: "bad name!", ShardCount: 0}, ValidationException, "2 validation errors detected: "},
		{"missing name", CreateStreamInput{ShardCount: 1}, ValidationException, "Value null at 'streamName' failed to satisfy constraint: Member must not be null"},
		{"bad tag", CreateStreamInput{StreamName: "ok", ShardCount: 1, Tags: map[string]string{"a": "b\x00"}}, InvalidArgumentException, "invalid characters"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := env.e.CreateStream(ctx, c.in)
			wantCode(t, err, c.code)
			if !strings.Contains(err.Error(), c.text) {
				t.Fatalf("message %q lacks %q", err, c.text)
			}
		})
	}
	list, _ := env.e.ListStreams(ctx, ListStreamsInput{})
	if len(list.Streams) != 0 {
		t.Fatalf("failed creates left streams: %+v", list.Streams)
	}
	env.create("s", 1)
	wantCode(t, env.e.CreateStream(ctx, CreateStreamInput{StreamName: "s", ShardCount: 1}), ResourceInUseException)
	ref := StreamRef{StreamName: "s"}
	_, err := env.e.PutRecords(ctx, PutRecordsInput{StreamRef: ref, Records: make([]PutRecordsEntry, 501)})
	wantCode(t, err, ValidationException)
	_, err = env.e.PutRecords(ctx, PutRecordsInput{StreamRef: ref, Records: []PutRecordsEntry{{PartitionKey: "k", Data: []byte("x")}, {PartitionKey: "", Data: []byte("x")}}})
	wantCode(t, err, ValidationException)
	if !strings.Contains(err.Error(), "'records.2.member.partitionKey'") {
		t.Fatalf("message %q does not name the member", err)
	}
	_, err = env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: "k", Data: make([]byte, MaxRecordBytes+1)})
	wantCode(t, err, ValidationException)
	_, err = env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: strings.Repeat("k", 257), Data: []byte("x")})
	wantCode(t, err, ValidationException)
	_, err = env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: "nope"}, PartitionKey: "k", Data: []byte("x")})
	wantCode(t, err, ResourceNotFoundException)
	if !strings.Contains(err.Error(), "Stream nope under account 000000000000 not found.") {
		t.Fatalf("message %q", err)
	}
	if n := env.e.Snapshot().Streams[0].Shards[0].Records; n != 0 {
		t.Fatalf("rejected puts stored %d records", n)
	}
	// StreamARN works wherever StreamName does, and a mismatch is refused.
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	if _, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamARN: arn}, PartitionKey: "k", Data: []byte("x")}); err != nil {
		t.Fatalf("put by ARN: %v", err)
	}
	_, err = env.e.DescribeStreamSummary(ctx, StreamRef{StreamName: "other", StreamARN: arn})
	wantCode(t, err, InvalidArgumentException)
	_, err = env.e.DescribeStreamSummary(ctx, StreamRef{})
	wantCode(t, err, InvalidArgumentException)
}

func TestControlPlaneListingAndTags(t *testing.T) {
	env := newEnv(t, Options{})
	for _, n := range []string{"c", "a", "b"} {
		env.create(n, 1)
	}
	out, err := env.e.ListStreams(ctx, ListStreamsInput{Limit: 2})
	if err != nil || len(out.Streams) != 2 || out.Streams[0].StreamName != "a" || !out.HasMoreStreams {
		t.Fatalf("page 1: %+v %v", out, err)
	}
	out, err = env.e.ListStreams(ctx, ListStreamsInput{NextToken: out.NextToken})
	if err != nil || len(out.Streams) != 1 || out.Streams[0].StreamName != "c" || out.HasMoreStreams {
		t.Fatalf("page 2: %+v %v", out, err)
	}
	env.create("many", 5)
	ls, err := env.e.ListShards(ctx, ListShardsInput{StreamRef: StreamRef{StreamName: "many"}, MaxResults: 2})
	if err != nil || len(ls.Shards) != 2 || ls.NextToken == "" {
		t.Fatalf("list shards page 1: %+v %v", ls, err)
	}
	_, err = env.e.ListShards(ctx, ListShardsInput{StreamRef: StreamRef{StreamName: "many"}, NextToken: ls.NextToken})
	wantCode(t, err, InvalidArgumentException)
	var all []Shard
	all = append(all, ls.Shards...)
	for ls.NextToken != "" {
		ls, err = env.e.ListShards(ctx, ListShardsInput{NextToken: ls.NextToken, MaxResults: 2})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ls.Shards...)
	}
	if len(all) != 5 {
		t.Fatalf("paged through %d shards, want 5", len(all))
	}
	ls, _ = env.e.ListShards(ctx, ListShardsInput{StreamRef: StreamRef{StreamName: "many"}, MaxResults: 1})
	env.clock.Advance(IteratorTTL + time.Second)
	_, err = env.e.ListShards(ctx, ListShardsInput{NextToken: ls.NextToken})
	wantCode(t, err, ExpiredNextTokenException)

	sh := all[0]
	ref := StreamRef{StreamName: "many"}
	if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: sh.ShardID, NewStartingHashKey: MidpointKey(sh.HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	count := func(f *ShardFilter) int {
		t.Helper()
		out, err := env.e.ListShards(ctx, ListShardsInput{StreamRef: ref, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Shards)
	}
	if n := count(&ShardFilter{Type: FilterAtLatest}); n != 6 {
		t.Fatalf("AT_LATEST: %d, want 6 open", n)
	}
	if n := count(&ShardFilter{Type: FilterFromTrimHorizon}); n != 7 {
		t.Fatalf("FROM_TRIM_HORIZON: %d, want 7", n)
	}
	if n := count(&ShardFilter{Type: FilterAtTrimHorizon}); n != 5 {
		t.Fatalf("AT_TRIM_HORIZON: %d, want the 5 first shards", n)
	}
	if n := count(&ShardFilter{Type: FilterAfterShardID, ShardID: "shardId-000000000004"}); n != 2 {
		t.Fatalf("AFTER_SHARD_ID: %d, want 2", n)
	}
	if n := count(&ShardFilter{Type: FilterAtTimestamp, Timestamp: t0}); n != 5 {
		t.Fatalf("AT_TIMESTAMP at creation: %d, want 5", n)
	}

	if err := env.e.AddTagsToStream(ctx, AddTagsInput{StreamRef: ref, Tags: map[string]string{"team": "data", "env": "dev"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.e.RemoveTagsFromStream(ctx, RemoveTagsInput{StreamRef: ref, TagKeys: []string{"env", "unknown"}}); err != nil {
		t.Fatal(err)
	}
	tags, _ := env.e.ListTagsForStream(ctx, ListTagsInput{StreamRef: ref})
	if len(tags.Tags) != 1 || tags.Tags[0] != (Tag{"team", "data"}) {
		t.Fatalf("tags %+v", tags)
	}
	many := map[string]string{}
	for i := 0; i < 50; i++ {
		many[key(i)] = "v"
	}
	wantCode(t, env.e.AddTagsToStream(ctx, AddTagsInput{StreamRef: ref, Tags: many}), InvalidArgumentException)
	env.reopen()
	tags, _ = env.e.ListTagsForStream(ctx, ListTagsInput{StreamRef: ref})
	if len(tags.Tags) != 1 {
		t.Fatalf("tags after reopen %+v", tags)
	}
	lim, _ := env.e.DescribeLimits(ctx)
	if lim.OpenShardCount != 3+6 || lim.ShardLimit != 20000 {
		t.Fatalf("limits %+v", lim)
	}
}

func TestCapacityModes(t *testing.T) {
	env := newEnv(t, Options{})
	if err := env.e.CreateStream(ctx, CreateStreamInput{StreamName: "od", Mode: ModeOnDemand}); err != nil {
		t.Fatal(err)
	}
	if n := len(env.shards("od")); n != 4 {
		t.Fatalf("on-demand stream has %d shards, want 4", n)
	}
	sh := env.shards("od")[0]
	wantCode(t, env.e.SplitShard(ctx, SplitShardInput{StreamRef: StreamRef{StreamName: "od"}, ShardToSplit: sh.ShardID, NewStartingHashKey: MidpointKey(sh.HashKeyRange)}), ValidationException)
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/od"
	if err := env.e.UpdateStreamMode(ctx, UpdateStreamModeInput{StreamARN: arn, Mode: ModeProvisioned}); err != nil {
		t.Fatal(err)
	}
	if err := env.e.UpdateStreamMode(ctx, UpdateStreamModeInput{StreamARN: arn, Mode: ModeOnDemand}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, env.e.UpdateStreamMode(ctx, UpdateStreamModeInput{StreamARN: arn, Mode: ModeProvisioned}), LimitExceededException)
	sum, _ := env.e.DescribeStreamSummary(ctx, StreamRef{StreamARN: arn})
	if sum.StreamMode != ModeOnDemand {
		t.Fatalf("mode %s", sum.StreamMode)
	}
}

func TestSubscriptionFollowsShardToItsEnd(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	sub, err := env.e.Subscribe(ctx, SubscribeInput{StreamRef: StreamRef{StreamName: "s"}, ShardID: "shardId-000000000000", Position: StartingPosition{Type: Latest}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan SubscriptionEvent, 10)
	errs := make(chan error, 1)
	go func() {
		for {
			ev, err := sub.Next(context.Background())
			if err != nil {
				errs <- err
				return
			}
			got <- ev
		}
	}()
	env.put("s", "k", "one")
	select {
	case ev := <-got:
		if len(ev.Records) != 1 || string(ev.Records[0].Data) != "one" || ev.ContinuationSequenceNumber != ev.Records[0].SequenceNumber {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	sh := env.shards("s")[0]
	if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: StreamRef{StreamName: "s"}, ShardToSplit: sh.ShardID, NewStartingHashKey: MidpointKey(sh.HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if len(ev.ChildShards) != 2 {
			t.Fatalf("end event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no end event within 5 s")
	}
	select {
	case err := <-errs:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("after the end: %v, want io.EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription did not end")
	}
}

func TestTapAndSnapshotCounters(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 2)
	tap := env.e.NewTap(5)
	defer tap.Close()
	for i := 0; i < 8; i++ {
		env.put("s", key(i), "x")
	}
	got := tap.Drain(nil)
	if len(got) != 5 || tap.Dropped() != 3 {
		t.Fatalf("tap: %d records, %d dropped; want 5 and 3", len(got), tap.Dropped())
	}
	if string(got[4].PartitionKey) != key(7) {
		t.Fatalf("tap kept %s last, want the newest %s", got[4].PartitionKey, key(7))
	}
	env.clock.Advance(time.Second)
	snap := env.e.Snapshot()
	s := snap.Stream("s")
	if s == nil || s.Rate.RecordsIn != 8 || s.Rate.BytesIn == 0 {
		t.Fatalf("stream rate %+v", s)
	}
	var held int64
	for _, sh := range s.Shards {
		held += sh.Records
		if len(sh.History) != HistorySeconds {
			t.Fatalf("history of %d seconds", len(sh.History))
		}
	}
	if held != 8 {
		t.Fatalf("shards hold %d records, want 8", held)
	}
	env.clock.Advance(HistorySeconds * time.Second)
	snap2 := env.e.Snapshot()
	if r := snap2.Stream("s").Rate.RecordsIn; r != 0 {
		t.Fatalf("rate still %d two minutes later", r)
	}
}

// TestWriteLimitsAdmitLargestRecord: a record of 1 MiB of data plus its key
// is larger than the 1 MiB burst, yet the service accepts it when the shard
// has been idle; it then leaves the bucket in debt until it is repaid.
func TestWriteLimitsAdmitLargestRecord(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}
	big := PutRecordInput{StreamRef: ref, PartitionKey: strings.Repeat("k", 256), Data: bytes.Repeat([]byte("x"), MaxRecordBytes)}
	if _, err := env.e.PutRecord(ctx, big); err != nil {
		t.Fatalf("1 MiB record on an idle shard: %v", err)
	}
	// The bucket owes the key's bytes: even a small record waits.
	_, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: "k", Data: []byte("x")})
	wantCode(t, err, ProvisionedThroughputExceededException)
	// Half a second is not enough for another full-size record...
	env.clock.Advance(500 * time.Millisecond)
	_, err = env.e.PutRecord(ctx, big)
	wantCode(t, err, ProvisionedThroughputExceededException)
	// ...a full refill is.
	env.clock.Advance(time.Second)
	if _, err := env.e.PutRecord(ctx, big); err != nil {
		t.Fatalf("1 MiB record after a refill: %v", err)
	}
	// In a batch too: with a full bucket the first passes and the second is throttled.
	env.clock.Advance(2 * time.Second)
	out, err := env.e.PutRecords(ctx, PutRecordsInput{StreamRef: ref, Records: []PutRecordsEntry{
		{PartitionKey: "a", Data: bytes.Repeat([]byte("x"), MaxRecordBytes)},
		{PartitionKey: "b", Data: bytes.Repeat([]byte("x"), MaxRecordBytes)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Records[0].ErrorCode != "" || out.Records[1].ErrorCode != ProvisionedThroughputExceededException {
		t.Fatalf("batch of two 1 MiB records: %+v / %+v, want ok / throttled", out.Records[0].ErrorCode, out.Records[1].ErrorCode)
	}
}

// TestPartitionKeyUnicode: the 256-character limit counts UTF-16 code
// units, as the service's Java front end does, and a key that is not valid
// Unicode (invalid UTF-8, or a lone surrogate as WTF-8 carries it) is
// refused; nothing is stored for a refused key.
func TestPartitionKeyUnicode(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}
	put := func(pk string) error {
		_, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: pk, Data: []byte("x")})
		return err
	}
	emoji := "\U0001F600" // two UTF-16 code units, four UTF-8 bytes
	for _, tc := range []struct {
		name string
		pk   string
		ok   bool
	}{
		{"256 ASCII", strings.Repeat("k", 256), true},
		{"256 BMP chars", strings.Repeat("é", 256), true},
		{"128 astral chars", strings.Repeat(emoji, 128), true},
		{"129 astral chars", strings.Repeat(emoji, 129), false},
		{"255 ASCII + astral", strings.Repeat("k", 255) + emoji, false},
		{"invalid UTF-8", "k\xff", false},
		{"truncated UTF-8", "k\xe2\x82", false},
		{"lone high surrogate", "k\xed\xa0\x80", false},
		{"lone low surrogate", "\xed\xb0\x80", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := put(tc.pk)
			if tc.ok {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			wantCode(t, err, ValidationException)
			if !strings.Contains(err.Error(), "'partitionKey'") {
				t.Fatalf("message %q does not name the member", err)
			}
		})
	}
	out, err := env.e.PutRecords(ctx, PutRecordsInput{StreamRef: ref, Records: []PutRecordsEntry{{PartitionKey: "k", Data: []byte("x")}, {PartitionKey: "\xed\xa0\x80", Data: []byte("x")}}})
	wantCode(t, err, ValidationException)
	if !strings.Contains(err.Error(), "'records.2.member.partitionKey'") {
		t.Fatalf("PutRecords: %v (%+v)", err, out)
	}
	if n := env.e.Snapshot().Streams[0].Shards[0].Records; n != 3 {
		t.Fatalf("stored %d records, want the 3 valid ones", n)
	}
}
