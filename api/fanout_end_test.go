package api

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shardscope/shardscope/engine"
)

// wantEventShape checks one event as the KCL does (DataRetrievalUtil.
// isValidResult): a closed shard's last event has ChildShards, each with
// its parents, and no ContinuationSequenceNumber; every other event has a
// ContinuationSequenceNumber and no ChildShards.
func wantEventShape(t *testing.T, what string, ev types.SubscribeToShardEvent, end bool) {
	t.Helper()
	switch {
	case end && (ev.ContinuationSequenceNumber != nil || len(ev.ChildShards) == 0):
		t.Fatalf("%s: end event with ContinuationSequenceNumber %v and ChildShards %+v; want only ChildShards", what, aws.ToString(ev.ContinuationSequenceNumber), ev.ChildShards)
	case !end && (aws.ToString(ev.ContinuationSequenceNumber) == "" || ev.ChildShards != nil):
		t.Fatalf("%s: event with ContinuationSequenceNumber %q and ChildShards %+v; want only the continuation", what, aws.ToString(ev.ContinuationSequenceNumber), ev.ChildShards)
	}
	for _, c := range ev.ChildShards {
		if aws.ToString(c.ShardId) == "" || len(c.ParentShards) == 0 || c.HashKeyRange == nil {
			t.Fatalf("%s: child shard %+v", what, c)
		}
	}
}

// readToEnd reads a subscription through the SDK until it ends, checking
// every event's shape; it returns the data read and the children.
func readToEnd(t *testing.T, what string, s *kinesis.SubscribeToShardEventStream) (data []string, children []string) {
	t.Helper()
	ended := false
	for {
		ev, ok := nextEvent(t, s)
		if !ok {
			break
		}
		if ended {
			t.Fatalf("%s: event %+v after the end event", what, ev)
		}
		ended = ev.ContinuationSequenceNumber == nil
		wantEventShape(t, what, ev, ended)
		for _, r := range ev.Records {
			data = append(data, string(r.Data))
		}
		for _, c := range ev.ChildShards {
			children = append(children, aws.ToString(c.ShardId)+"<"+fmt.Sprint(c.ParentShards))
		}
	}
	if err := s.Err(); err != nil || !ended {
		t.Fatalf("%s: stream ended with %v after %v, end event seen: %v", what, err, data, ended)
	}
	return data, children
}

// The KCL's view of a reshard through SubscribeToShard, with the real Go
// SDK: across a split and then a merge, every event before a closed
// shard's end carries a ContinuationSequenceNumber and no ChildShards, and
// the end event the children and no continuation; then the stream ends.
func TestSDKSubscribeToShardEndShapeAcrossSplitAndMerge(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	env.create("fan", 1)
	arn := aws.ToString(env.register(fanARN, "app").ConsumerARN)
	const p, c1, c2, m = "shardId-000000000000", "shardId-000000000001", "shardId-000000000002", "shardId-000000000003"
	low, high := "1", "340282366920938463463374607431768211455"
	env.putKey("fan", low, "p1")
	s := env.subscribe(arn, p, &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	if data, ev := collect(t, s, 1); data[0] != "p1" {
		t.Fatalf("parent: %v", data)
	} else {
		wantEventShape(t, "parent's first event", ev, false)
	}
	env.putKey("fan", high, "p2")
	env.clock.Advance(engine.SubscribeHeartbeat) // a heartbeat too, if p2 came first
	half := "170141183460469231731687303715884105728"
	if _, err := env.c.SplitShard(bg, &kinesis.SplitShardInput{StreamName: aws.String("fan"), ShardToSplit: aws.String(p), NewStartingHashKey: aws.String(half)}); err != nil {
		t.Fatal(err)
	}
	split := fmt.Sprint([]string{c1 + "<[" + p + "]", c2 + "<[" + p + "]"})
	if data, children := readToEnd(t, "parent", s); fmt.Sprint(data) != "[p2]" || fmt.Sprint(children) != split {
		t.Fatalf("parent: read %v, children %v; want [p2], %s", data, children, split)
	}

	// Both children, then merged.
	s1 := env.subscribe(arn, c1, &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	s2 := env.subscribe(arn, c2, &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	env.putKey("fan", low, "a1")
	env.putKey("fan", high, "b1")
	env.putKey("fan", low, "a2")
	if _, err := env.c.MergeShards(bg, &kinesis.MergeShardsInput{StreamName: aws.String("fan"), ShardToMerge: aws.String(c1), AdjacentShardToMerge: aws.String(c2)}); err != nil {
		t.Fatal(err)
	}
	merged := fmt.Sprint([]string{m + "<[" + c1 + " " + c2 + "]"})
	for _, tc := range []struct {
		shard string
		s     *kinesis.SubscribeToShardEventStream
		want  string
	}{{c1, s1, "[a1 a2]"}, {c2, s2, "[b1]"}} {
		if data, children := readToEnd(t, tc.shard, tc.s); fmt.Sprint(data) != tc.want || fmt.Sprint(children) != merged {
			t.Fatalf("%s: read %v, children %v; want %s, %s", tc.shard, data, children, tc.want, merged)
		}
	}

	// A closed shard subscribed again at LATEST (as the KCL does after
	// the end) answers with the end event alone.
	env.clock.Advance(engine.SubscribeTakeover)
	again := env.subscribe(arn, c1, &types.StartingPosition{Type: types.ShardIteratorTypeLatest})
	if data, children := readToEnd(t, "LATEST on "+c1, again); len(data) != 0 || fmt.Sprint(children) != merged {
		t.Fatalf("LATEST on %s: read %v, children %v", c1, data, children)
	}

	// The merged shard is open: records and heartbeats carry the
	// continuation, no children.
	sm := env.subscribe(arn, m, &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	env.putKey("fan", high, "m1")
	data, ev := collect(t, sm, 1)
	wantEventShape(t, "merged shard", ev, false)
	env.clock.Advance(engine.SubscribeHeartbeat)
	hb, ok := nextEvent(t, sm)
	if !ok || len(hb.Records) != 0 || aws.ToString(hb.ContinuationSequenceNumber) != aws.ToString(ev.ContinuationSequenceNumber) {
		t.Fatalf("heartbeat %+v (ok %v) after %v", hb, ok, data)
	}
	wantEventShape(t, "heartbeat", hb, false)

	// GetRecords keeps the same rule: read one record at a time, only a
	// closed shard's last answer lacks NextShardIterator, and only it has
	// ChildShards.
	for _, tc := range []struct{ shard, want, children string }{
		{p, "[p1 p2]", split}, {c1, "[a1 a2]", merged}, {c2, "[b1]", merged}, {m, "[m1]", "[]"},
	} {
		it := env.iterator(&kinesis.GetShardIteratorInput{StreamName: aws.String("fan"), ShardId: aws.String(tc.shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		var data, children []string
		for i := 0; ; i++ {
			if i == 100 {
				t.Fatalf("GetRecords %s: no end", tc.shard)
			}
			out, err := env.c.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(1)})
			if err != nil {
				t.Fatalf("GetRecords %s: %v", tc.shard, err)
			}
			if (out.NextShardIterator == nil) == (out.ChildShards == nil) {
				t.Fatalf("GetRecords %s: NextShardIterator %v with ChildShards %+v", tc.shard, out.NextShardIterator, out.ChildShards)
			}
			for _, r := range out.Records {
				data = append(data, string(r.Data))
			}
			for _, c := range out.ChildShards {
				children = append(children, aws.ToString(c.ShardId)+"<"+fmt.Sprint(c.ParentShards))
			}
			if out.NextShardIterator == nil || len(out.Records) == 0 {
				break
			}
			it = aws.ToString(out.NextShardIterator)
		}
		if fmt.Sprint(data) != tc.want || fmt.Sprint(children) != tc.children {
			t.Fatalf("GetRecords %s: read %v, children %v; want %s, %s", tc.shard, data, children, tc.want, tc.children)
		}
	}
}
