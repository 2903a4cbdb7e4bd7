package engine

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func wantMessage(t testing.TB, err error, code ErrorCode, msg string) {
	t.Helper()
	wantCode(t, err, code)
	if got := err.(*Error).Message; got != msg {
		t.Fatalf("message\n got %q\nwant %q", got, msg)
	}
}

func TestParseShardID(t *testing.T) {
	for id, want := range map[string]uint32{
		"shardId-000000000000": 0, "shardId-0": 0, "shard-0": 0, "0": 0, "anything-0": 0, "a-b-c-7": 7,
		"shardId-2147483647": 1<<31 - 1, "000000000000000000000000000012": 12,
	} {
		if got, ok := ParseShardID(id); !ok || got != want {
			t.Errorf("ParseShardID(%q) = %d, %v; want %d", id, got, ok, want)
		}
	}
	for _, id := range []string{"", "shardId-", "shardId-x", "abc", "shardId-2147483648", "shardId-99999999999999999999999", "shardId-1a", "-", "shardId-+1", "shardId- 1"} {
		if got, ok := ParseShardID(id); ok {
			t.Errorf("ParseShardID(%q) = %d, want not found", id, got)
		}
	}
}

// Every action that takes a shard id reads it as the service does.
func TestShortShardIDsAcceptedEverywhere(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 2)
	ref := StreamRef{StreamName: "s"}
	p, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: "k", ExplicitHashKey: "0", Data: []byte("x")})
	if err != nil || p.ShardID != "shardId-000000000000" {
		t.Fatalf("put: %+v %v", p, err)
	}
	for _, id := range []string{"shardId-0", "shard-0", "0", "anything-0", "shardId-000000000000"} {
		it, err := env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: ref, ShardID: id, ShardIteratorType: TrimHorizon})
		if err != nil {
			t.Fatalf("GetShardIterator %s: %v", id, err)
		}
		recs, _, _ := env.readAll(it)
		if len(recs) != 1 || recs[0].SequenceNumber != p.SequenceNumber {
			t.Fatalf("GetShardIterator %s read %v", id, recs)
		}
	}
	sub, err := env.e.Subscribe(ctx, SubscribeInput{StreamRef: ref, ShardID: "x-1", Position: StartingPosition{Type: TrimHorizon}})
	if err != nil {
		t.Fatalf("Subscribe x-1: %v", err)
	}
	sub.Close()

	// ListShards and DescribeStream start after any spelling of an id.
	for _, after := range []string{"shardId-0", "0", "foo-000", "shardId-000000000000"} {
		l, err := env.e.ListShards(ctx, ListShardsInput{StreamRef: ref, ExclusiveStartShardID: after})
		if err != nil || len(l.Shards) != 1 || l.Shards[0].ShardID != "shardId-000000000001" {
			t.Fatalf("ListShards after %s: %+v %v", after, l.Shards, err)
		}
		l, err = env.e.ListShards(ctx, ListShardsInput{StreamRef: ref, Filter: &ShardFilter{Type: FilterAfterShardID, ShardID: after}})
		if err != nil || len(l.Shards) != 1 || l.Shards[0].ShardID != "shardId-000000000001" {
			t.Fatalf("ListShards AFTER_SHARD_ID %s: %+v %v", after, l.Shards, err)
		}
		d, err := env.e.DescribeStream(ctx, DescribeStreamInput{StreamRef: ref, ExclusiveStartShardID: after})
		if err != nil || len(d.Shards) != 1 || d.Shards[0].ShardID != "shardId-000000000001" {
			t.Fatalf("DescribeStream after %s: %+v %v", after, d.Shards, err)
		}
	}
	// An id past every shard lists nothing; one without a number is not found.
	if l, err := env.e.ListShards(ctx, ListShardsInput{StreamRef: ref, ExclusiveStartShardID: "shardId-7"}); err != nil || len(l.Shards) != 0 {
		t.Fatalf("ListShards after shardId-7: %+v %v", l.Shards, err)
	}
	_, err = env.e.ListShards(ctx, ListShardsInput{StreamRef: ref, ExclusiveStartShardID: "shardId-x"})
	wantMessage(t, err, ResourceNotFoundException, "Could not find shard shardId-x in stream s under account 000000000000.")

	// Split and merge with short ids; the new shards keep the service's spelling.
	if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: "0", NewStartingHashKey: "1000"}); err != nil {
		t.Fatalf("split 0: %v", err)
	}
	if err := env.e.MergeShards(ctx, MergeShardsInput{StreamRef: ref, ShardToMerge: "shard-3", AdjacentShardToMerge: "shardId-1"}); err != nil {
		t.Fatalf("merge shard-3 + shardId-1: %v", err)
	}
	var ids []string
	for _, sh := range env.shards("s") {
		ids = append(ids, sh.ShardID+"<"+sh.ParentShardID+","+sh.AdjacentParentShardID)
	}
	want := "shardId-000000000000<, shardId-000000000001<, shardId-000000000002<shardId-000000000000, shardId-000000000003<shardId-000000000000, shardId-000000000004<shardId-000000000003,shardId-000000000001"
	if got := strings.Join(ids, " "); got != want {
		t.Fatalf("shards after split and merge:\n got %s\nwant %s", got, want)
	}
	// The same shard twice is no pair.
	wantCode(t, env.e.MergeShards(ctx, MergeShardsInput{StreamRef: ref, ShardToMerge: "2", AdjacentShardToMerge: "shardId-000000000002"}), InvalidArgumentException)
}

func TestShardNotFoundNamesTheCanonicalShard(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}
	_, err := env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: ref, ShardID: "shard-5", ShardIteratorType: Latest})
	wantMessage(t, err, ResourceNotFoundException, "Shard shardId-000000000005 in stream s under account 000000000000 does not exist")
	for _, bad := range []string{"shardId-2147483648", "shardId-abc", "abc"} {
		_, err = env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: ref, ShardID: bad, ShardIteratorType: Latest})
		wantMessage(t, err, ResourceNotFoundException, "Could not find shard "+bad+" in stream s under account 000000000000.")
	}
	err = env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: "9", NewStartingHashKey: "1000"})
	wantMessage(t, err, ResourceNotFoundException, "Shard shardId-000000000009 in stream s under account 000000000000 does not exist")
	err = env.e.MergeShards(ctx, MergeShardsInput{StreamRef: ref, ShardToMerge: "0", AdjacentShardToMerge: "x-01"})
	wantMessage(t, err, ResourceNotFoundException, "Shard shardId-000000000001 in stream s under account 000000000000 does not exist")
	_, err = env.e.ListShards(ctx, ListShardsInput{StreamRef: ref, Filter: &ShardFilter{Type: FilterAfterShardID, ShardID: "nope"}})
	wantMessage(t, err, ResourceNotFoundException, "Could not find shard nope in stream s under account 000000000000.")
}

func TestGetShardIteratorTypeAndSequenceNumberMustAgree(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}
	p := env.put("s", "k", "x")
	const both = "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
	for _, typ := range []IteratorType{TrimHorizon, Latest} {
		_, err := env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: ref, ShardID: "0", ShardIteratorType: typ, StartingSequenceNumber: p.SequenceNumber})
		wantMessage(t, err, InvalidArgumentException, both+"Request specified "+string(typ)+" and also a StartingSequenceNumber.")
	}
	for _, typ := range []IteratorType{AtSequenceNumber, AfterSequenceNumber} {
		_, err := env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: ref, ShardID: "0", ShardIteratorType: typ})
		wantMessage(t, err, InvalidArgumentException, both+"Request specified "+string(typ)+" and no StartingSequenceNumber.")
	}
	// AT_TIMESTAMP: now is the tip; a millisecond later is refused.
	env.iter("s", "0", AtTimestamp, "", env.clock.Now())
	future := env.clock.Now().Add(time.Millisecond)
	_, err := env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: ref, ShardID: "0", ShardIteratorType: AtTimestamp, Timestamp: future})
	wantMessage(t, err, InvalidArgumentException, "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: "+
		itoa(future.UnixMilli())+", currentTimestampInMillis: "+itoa(env.clock.Now().UnixMilli()))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestTagCharactersAndLengths(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}
	const chars = "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
	good := map[string]string{"Ünïcode key 7_./=+-%@": "välue 9 _./=+-%@", "empty": ""}
	if err := env.e.AddTagsToStream(ctx, AddTagsInput{StreamRef: ref, Tags: good}); err != nil {
		t.Fatalf("add good tags: %v", err)
	}
	for _, bad := range []string{"a:b", "a\tb", "a\nb", "a;b", "a*b"} {
		wantMessage(t, env.e.AddTagsToStream(ctx, AddTagsInput{StreamRef: ref, Tags: map[string]string{bad: "v"}}), InvalidArgumentException, chars)
		wantMessage(t, env.e.AddTagsToStream(ctx, AddTagsInput{StreamRef: ref, Tags: map[string]string{"k": bad}}), InvalidArgumentException, chars)
		wantMessage(t, env.e.RemoveTagsFromStream(ctx, RemoveTagsInput{StreamRef: ref, TagKeys: []string{"empty", bad}}), InvalidArgumentException, chars)
		wantMessage(t, env.e.UntagResource(ctx, UntagResourceInput{ResourceARN: env.e.arn("s"), TagKeys: []string{"empty", bad}}), InvalidArgumentException, chars)
	}
	l, err := env.e.ListTagsForStream(ctx, ListTagsInput{StreamRef: ref})
	if err != nil || len(l.Tags) != 2 {
		t.Fatalf("refused changes changed the tags: %+v %v", l.Tags, err)
	}
	// Lengths are model constraints: checked before the stream is looked up.
	long := strings.Repeat("k", 129)
	missing := StreamRef{StreamName: "missing"}
	wantMessage(t, env.e.AddTagsToStream(ctx, AddTagsInput{StreamRef: missing, Tags: map[string]string{long: "v"}}), ValidationException,
		"1 validation error detected: Value '{"+long+"=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]")
	wantCode(t, env.e.AddTagsToStream(ctx, AddTagsInput{StreamRef: missing, Tags: map[string]string{"k": strings.Repeat("v", 257)}}), ValidationException)
	wantCode(t, env.e.RemoveTagsFromStream(ctx, RemoveTagsInput{StreamRef: missing, TagKeys: []string{long}}), ValidationException)
	wantCode(t, env.e.AddTagsToStream(ctx, AddTagsInput{StreamRef: missing, Tags: map[string]string{"a:b": "v"}}), ResourceNotFoundException)
}

func TestDescribeStreamListsNoShardsWhileCreatingOrDeleting(t *testing.T) {
	env := newEnv(t, Options{CreateDelay: 10 * time.Second, DeleteDelay: 10 * time.Second})
	env.create("s", 3)
	ref := StreamRef{StreamName: "s"}
	d, err := env.e.DescribeStream(ctx, DescribeStreamInput{StreamRef: ref})
	if err != nil || d.StreamStatus != StatusCreating || len(d.Shards) != 0 || d.HasMoreShards {
		t.Fatalf("creating: %s, %d shards, more %v, %v", d.StreamStatus, len(d.Shards), d.HasMoreShards, err)
	}
	env.clock.Advance(10 * time.Second)
	if d, _ = env.e.DescribeStream(ctx, DescribeStreamInput{StreamRef: ref}); d.StreamStatus != StatusActive || len(d.Shards) != 3 {
		t.Fatalf("active: %s, %d shards", d.StreamStatus, len(d.Shards))
	}
	if err := env.e.DeleteStream(ctx, DeleteStreamInput{StreamRef: ref}); err != nil {
		t.Fatal(err)
	}
	if d, err = env.e.DescribeStream(ctx, DescribeStreamInput{StreamRef: ref}); err != nil || d.StreamStatus != StatusDeleting || len(d.Shards) != 0 {
		t.Fatalf("deleting: %s, %d shards, %v", d.StreamStatus, len(d.Shards), err)
	}
}

func TestValidationListsEveryProblemInTheServiceOrder(t *testing.T) {
	env := newEnv(t, Options{})
	err := env.e.CreateStream(ctx, CreateStreamInput{StreamName: "a b", ShardCount: 0})
	wantMessage(t, err, ValidationException, "2 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
	// The stream reference is checked with the rest, before any lookup.
	_, err = env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: StreamRef{StreamName: "no such/stream"}, ShardID: "x y", ShardIteratorType: "UP"})
	wantMessage(t, err, ValidationException, "3 validation errors detected: Value 'x y' at 'shardId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value 'UP' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]; Value 'no such/stream' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
	// Problems a wire layer found join the engine's, in order; the engine
	// says nothing more about a member the wire layer reported.
	wctx := WithFieldProblems(ctx, []FieldProblem{{Member: "streamName", Text: "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"}})
	err = env.e.CreateStream(wctx, CreateStreamInput{ShardCount: 0})
	wantMessage(t, err, ValidationException, "2 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1")
}

// While a reshard is UPDATING the stream keeps its old layout: the parent
// stays open and takes the writes; the children appear, and the parent
// closes, when the stream is ACTIVE again.
func TestReshardTakesEffectWhenActiveAgain(t *testing.T) {
	env := newEnv(t, Options{UpdateDelay: 30 * time.Second, DisableLimits: true})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}
	env.put("s", "k", "before")
	sub, err := env.e.Subscribe(ctx, SubscribeInput{StreamRef: ref, ShardID: "0", Position: StartingPosition{Type: TrimHorizon}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: ref, ShardToSplit: "0", NewStartingHashKey: MidpointKey(HashKeyRange{Start: HashKey{}, End: MaxHashKey})}); err != nil {
		t.Fatal(err)
	}
	during := env.put("s", "k", "during")
	if during.ShardID != "shardId-000000000000" {
		t.Fatalf("a write while UPDATING went to %s, want the parent", during.ShardID)
	}
	if got := env.shards("s"); len(got) != 1 || !got[0].Open() {
		t.Fatalf("while UPDATING: %+v, want the open parent alone", got)
	}
	d, _ := env.e.DescribeStream(ctx, DescribeStreamInput{StreamRef: ref})
	if d.StreamStatus != StatusUpdating || len(d.Shards) != 1 {
		t.Fatalf("DescribeStream while UPDATING: %s, %d shards", d.StreamStatus, len(d.Shards))
	}
	_, err = env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: ref, ShardID: "1", ShardIteratorType: TrimHorizon})
	wantCode(t, err, ResourceNotFoundException)
	wantCode(t, env.e.MergeShards(ctx, MergeShardsInput{StreamRef: ref, ShardToMerge: "0", AdjacentShardToMerge: "1"}), ResourceInUseException)

	// The subscriber on the parent sees both records, then the end at the
	// due time with no further write to wake it.
	events := make(chan SubscriptionEvent, 10)
	go func() {
		for {
			ev, err := sub.Next(ctx)
			if err != nil {
				close(events)
				return
			}
			events <- ev
		}
	}()
	var data []string
	for len(data) < 2 {
		select {
		case ev := <-events:
			for _, r := range ev.Records {
				data = append(data, string(r.Data))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("subscriber read %v, want before and during", data)
		}
	}
	env.clock.Advance(30 * time.Second)
	select {
	case ev := <-events:
		if len(ev.ChildShards) != 2 || len(ev.Records) != 0 {
			t.Fatalf("end event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no end event within 10 s of the due time")
	}

	shards := env.shards("s")
	if len(shards) != 3 || shards[0].Open() || !shards[1].Open() || !shards[2].Open() || shards[1].ParentShardID != "shardId-000000000000" {
		t.Fatalf("after UPDATING: %+v", shards)
	}
	if !seqLess(during.SequenceNumber, shards[0].EndingSequenceNumber) && during.SequenceNumber != shards[0].EndingSequenceNumber {
		t.Fatalf("parent ends at %s, before the write %s made while UPDATING", shards[0].EndingSequenceNumber, during.SequenceNumber)
	}
	if after := env.put("s", "k", "after"); after.ShardID == "shardId-000000000000" {
		t.Fatal("a write after UPDATING went to the closed parent")
	}
	recs, next, children := env.readAll(env.iter("s", "0", TrimHorizon, "", time.Time{}))
	if len(recs) != 2 || next != "" || len(children) != 2 {
		t.Fatalf("parent: %d records, next %q, %d children", len(recs), next, len(children))
	}
}

// A deferred reshard survives a restart and applies when due.
func TestDeferredReshardSurvivesRestart(t *testing.T) {
	env := newEnv(t, Options{UpdateDelay: 30 * time.Second})
	env.create("s", 2)
	ref := StreamRef{StreamName: "s"}
	if _, err := env.e.UpdateShardCount(ctx, UpdateShardCountInput{StreamRef: ref, TargetShardCount: 4, ScalingType: "UNIFORM_SCALING"}); err != nil {
		t.Fatal(err)
	}
	env.reopen()
	if n := len(env.shards("s")); n != 2 {
		t.Fatalf("%d shards while UPDATING after a restart, want 2", n)
	}
	env.clock.Advance(30 * time.Second)
	open := 0
	for _, sh := range env.shards("s") {
		if sh.Open() {
			open++
		}
	}
	if open != 4 {
		t.Fatalf("%d open shards once ACTIVE, want 4", open)
	}
	sum, _ := env.e.DescribeStreamSummary(ctx, ref)
	if sum.StreamStatus != StatusActive || sum.OpenShardCount != 4 {
		t.Fatalf("summary %+v", sum)
	}
}
