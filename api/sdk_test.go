package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/shardscope/shardscope/engine"
)

// These tests drive the handler with the real AWS SDK for Go v2 Kinesis
// client: if the SDK can serialize to it and parse its replies (including
// typed errors), so can applications.

var bg = context.Background()

// sdkEnv is an engine on a manual clock served to an SDK client.
type sdkEnv struct {
	t     *testing.T
	e     *engine.Engine
	clock *engine.ManualClock
	c     *kinesis.Client
	url   string
}

func newSDKEnv(t *testing.T, opts engine.Options) *sdkEnv {
	t.Helper()
	clock := engine.NewManualClock(t0)
	opts.Clock = clock
	e := testEngine(t, opts)
	srv := testServer(t, e)
	return &sdkEnv{t: t, e: e, clock: clock, c: sdkClient(t, srv.URL), url: srv.URL}
}

func (env *sdkEnv) create(name string, shards int32) {
	env.t.Helper()
	if _, err := env.c.CreateStream(bg, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		env.t.Fatalf("CreateStream %s: %v", name, err)
	}
}

func (env *sdkEnv) put(stream, key, data string) *kinesis.PutRecordOutput {
	env.t.Helper()
	out, err := env.c.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String(key), Data: []byte(data)})
	if err != nil {
		env.t.Fatalf("PutRecord: %v", err)
	}
	return out
}

func (env *sdkEnv) iterator(in *kinesis.GetShardIteratorInput) string {
	env.t.Helper()
	out, err := env.c.GetShardIterator(bg, in)
	if err != nil {
		env.t.Fatalf("GetShardIterator %s: %v", in.ShardIteratorType, err)
	}
	return aws.ToString(out.ShardIterator)
}

// readShard reads a shard from TRIM_HORIZON until it is caught up (open)
// or ended (closed); it returns the data read and the last reply.
func (env *sdkEnv) readShard(stream, shardID string) ([]string, *kinesis.GetRecordsOutput) {
	env.t.Helper()
	it := env.iterator(&kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shardID), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	var data []string
	for range 100 {
		out, err := env.c.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if err != nil {
			env.t.Fatalf("GetRecords %s: %v", shardID, err)
		}
		for _, r := range out.Records {
			data = append(data, string(r.Data))
		}
		if (out.NextShardIterator == nil) == (out.ChildShards == nil) {
			env.t.Fatalf("GetRecords %s: NextShardIterator %v with ChildShards %v: want exactly one", shardID, out.NextShardIterator, out.ChildShards)
		}
		if out.NextShardIterator == nil || len(out.Records) == 0 {
			return data, out
		}
		it = *out.NextShardIterator
	}
	env.t.Fatalf("reading %s did not finish", shardID)
	return nil, nil
}

// wantErr checks that err is the SDK's typed error T with the given
// message (when msg is not empty).
func wantErr[T smithy.APIError](t *testing.T, err error, msg string) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("got error %T %v, want %T", err, err, target)
	}
	if msg != "" && target.ErrorMessage() != msg {
		t.Fatalf("message %q, want %q", target.ErrorMessage(), msg)
	}
	return target
}

func TestSDKStreamLifecycle(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	env.create("orders", 2)

	d, err := env.c.DescribeStream(bg, &kinesis.DescribeStreamInput{StreamName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	sd := d.StreamDescription
	if aws.ToString(sd.StreamName) != "orders" || sd.StreamStatus != types.StreamStatusActive || len(sd.Shards) != 2 ||
		aws.ToBool(sd.HasMoreShards) || aws.ToInt32(sd.RetentionPeriodHours) != 24 || sd.StreamModeDetails.StreamMode != types.StreamModeProvisioned {
		t.Fatalf("DescribeStream: %+v", sd)
	}
	if want := "arn:aws:kinesis:us-east-1:000000000000:stream/orders"; aws.ToString(sd.StreamARN) != want {
		t.Fatalf("StreamARN %q, want %q", aws.ToString(sd.StreamARN), want)
	}
	if !sd.StreamCreationTimestamp.Equal(t0) {
		t.Fatalf("StreamCreationTimestamp %v, want %v", sd.StreamCreationTimestamp, t0)
	}
	s0, s1 := sd.Shards[0], sd.Shards[1]
	if aws.ToString(s0.ShardId) != "shardId-000000000000" || aws.ToString(s0.HashKeyRange.StartingHashKey) != "0" ||
		aws.ToString(s0.HashKeyRange.EndingHashKey) != "170141183460469231731687303715884105727" ||
		aws.ToString(s1.HashKeyRange.EndingHashKey) != "340282366920938463463374607431768211455" ||
		s0.SequenceNumberRange.StartingSequenceNumber == nil || s0.SequenceNumberRange.EndingSequenceNumber != nil || s0.ParentShardId != nil {
		t.Fatalf("shards: %+v %+v", s0, s1)
	}
	if len(sd.EnhancedMonitoring) != 1 || sd.EncryptionType != types.EncryptionTypeNone {
		t.Fatalf("EnhancedMonitoring %+v EncryptionType %q", sd.EnhancedMonitoring, sd.EncryptionType)
	}

	// Limit 1 pages the shards.
	d, err = env.c.DescribeStream(bg, &kinesis.DescribeStreamInput{StreamName: aws.String("orders"), Limit: aws.Int32(1)})
	if err != nil || len(d.StreamDescription.Shards) != 1 || !aws.ToBool(d.StreamDescription.HasMoreShards) {
		t.Fatalf("DescribeStream Limit 1: %v %+v", err, d)
	}

	sum, err := env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamARN: sd.StreamARN})
	if err != nil {
		t.Fatal(err)
	}
	if s := sum.StreamDescriptionSummary; aws.ToInt32(s.OpenShardCount) != 2 || aws.ToString(s.StreamName) != "orders" || aws.ToInt32(s.ConsumerCount) != 0 {
		t.Fatalf("DescribeStreamSummary: %+v", s)
	}

	env.create("audit", 1)
	l, err := env.c.ListStreams(bg, &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(l.StreamNames) != "[audit orders]" || aws.ToBool(l.HasMoreStreams) || len(l.StreamSummaries) != 2 ||
		l.StreamSummaries[1].StreamStatus != types.StreamStatusActive {
		t.Fatalf("ListStreams: %+v", l)
	}
	l, err = env.c.ListStreams(bg, &kinesis.ListStreamsInput{Limit: aws.Int32(1)})
	if err != nil || fmt.Sprint(l.StreamNames) != "[audit]" || !aws.ToBool(l.HasMoreStreams) || l.NextToken == nil {
		t.Fatalf("ListStreams Limit 1: %v %+v", err, l)
	}
	l, err = env.c.ListStreams(bg, &kinesis.ListStreamsInput{NextToken: l.NextToken})
	if err != nil || fmt.Sprint(l.StreamNames) != "[orders]" || aws.ToBool(l.HasMoreStreams) {
		t.Fatalf("ListStreams NextToken: %v %+v", err, l)
	}

	_, err = env.c.CreateStream(bg, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(1)})
	wantErr[*types.ResourceInUseException](t, err, "Stream orders under account 000000000000 already exists.")

	if _, err := env.c.DeleteStream(bg, &kinesis.DeleteStreamInput{StreamName: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	_, err = env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")})
	wantErr[*types.ResourceNotFoundException](t, err, "Stream orders under account 000000000000 not found.")
}

func TestSDKRecordsAndIteratorTypes(t *testing.T) {
	env := newSDKEnv(t, engine.Options{DisableLimits: true}) // more than 5 iterators a (manual) second
	env.create("clicks", 1)
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/clicks"

	// PutRecord by ARN, PutRecords by name.
	p1, err := env.c.PutRecord(bg, &kinesis.PutRecordInput{StreamARN: aws.String(arn), PartitionKey: aws.String("u1"), Data: []byte("one")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(p1.ShardId) != "shardId-000000000000" || p1.SequenceNumber == nil || p1.EncryptionType != types.EncryptionTypeNone {
		t.Fatalf("PutRecord: %+v", p1)
	}
	env.clock.Advance(time.Second)
	batch, err := env.c.PutRecords(bg, &kinesis.PutRecordsInput{StreamName: aws.String("clicks"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("u2"), Data: []byte("two")},
		{PartitionKey: aws.String("u3"), Data: []byte{}, ExplicitHashKey: aws.String("12345")},
		{PartitionKey: aws.String("u4"), Data: []byte{0, 1, 2, 0xff}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(batch.FailedRecordCount) != 0 || len(batch.Records) != 3 || batch.Records[0].SequenceNumber == nil || batch.Records[0].ErrorCode != nil {
		t.Fatalf("PutRecords: %+v", batch)
	}
	seq2 := aws.ToString(batch.Records[0].SequenceNumber)

	read := func(in *kinesis.GetShardIteratorInput) []string {
		t.Helper()
		in.StreamName, in.ShardId = aws.String("clicks"), aws.String("shardId-000000000000")
		it := env.iterator(in)
		out, err := env.c.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), StreamARN: aws.String(arn)})
		if err != nil {
			t.Fatalf("GetRecords %s: %v", in.ShardIteratorType, err)
		}
		if out.NextShardIterator == nil || out.MillisBehindLatest == nil {
			t.Fatalf("open shard reply lacks NextShardIterator or MillisBehindLatest: %+v", out)
		}
		var got []string
		for _, r := range out.Records {
			got = append(got, fmt.Sprintf("%q", r.Data))
		}
		return got
	}
	all := `["one" "two" "" "\x00\x01\x02\xff"]`
	if got := fmt.Sprint(read(&kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeTrimHorizon})); got != all {
		t.Fatalf("TRIM_HORIZON: %s, want %s", got, all)
	}
	if got := fmt.Sprint(read(&kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String(seq2)})); got != `["two" "" "\x00\x01\x02\xff"]` {
		t.Fatalf("AT_SEQUENCE_NUMBER: %s", got)
	}
	if got := fmt.Sprint(read(&kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber, StartingSequenceNumber: aws.String(seq2)})); got != `["" "\x00\x01\x02\xff"]` {
		t.Fatalf("AFTER_SEQUENCE_NUMBER: %s", got)
	}
	if got := read(&kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeLatest}); len(got) != 0 {
		t.Fatalf("LATEST: %s", got)
	}
	at := t0.Add(500 * time.Millisecond)
	if got := fmt.Sprint(read(&kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: &at})); got != `["two" "" "\x00\x01\x02\xff"]` {
		t.Fatalf("AT_TIMESTAMP: %s", got)
	}

	// Record fields, Limit, MillisBehindLatest and a LATEST iterator that
	// sees a later write.
	latest := env.iterator(&kinesis.GetShardIteratorInput{StreamName: aws.String("clicks"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest})
	it := env.iterator(&kinesis.GetShardIteratorInput{StreamName: aws.String("clicks"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	env.clock.Advance(2 * time.Second)
	out, err := env.c.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	r := out.Records[0]
	if len(out.Records) != 1 || aws.ToString(r.PartitionKey) != "u1" || aws.ToString(r.SequenceNumber) != aws.ToString(p1.SequenceNumber) ||
		!r.ApproximateArrivalTimestamp.Equal(t0) || r.EncryptionType != types.EncryptionTypeNone {
		t.Fatalf("record: %+v", r)
	}
	if got := aws.ToInt64(out.MillisBehindLatest); got != 2000 {
		t.Fatalf("MillisBehindLatest %d, want 2000 (the next record is 2 s old)", got)
	}
	env.put("clicks", "u5", "five")
	out, err = env.c.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: aws.String(latest)})
	if err != nil || len(out.Records) != 1 || string(out.Records[0].Data) != "five" || aws.ToInt64(out.MillisBehindLatest) != 0 {
		t.Fatalf("LATEST after a write: %v %+v", err, out)
	}
}

func TestSDKErrors(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	env.create("s", 1)

	_, err := env.c.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String("nope"), PartitionKey: aws.String("k"), Data: []byte("x")})
	wantErr[*types.ResourceNotFoundException](t, err, "Stream nope under account 000000000000 not found.")
	_, err = env.c.GetShardIterator(bg, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000009"), ShardIteratorType: types.ShardIteratorTypeLatest})
	wantErr[*types.ResourceNotFoundException](t, err, "Shard shardId-000000000009 in stream s under account 000000000000 does not exist")

	_, err = env.c.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: aws.String("AAAAnotaniterator")})
	wantErr[*types.InvalidArgumentException](t, err, "Invalid ShardIterator.")

	it := env.iterator(&kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	env.clock.Advance(5*time.Minute + time.Millisecond)
	_, err = env.c.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	e := wantErr[*types.ExpiredIteratorException](t, err, "")
	if !strings.HasPrefix(e.ErrorMessage(), "Iterator expired.") {
		t.Fatalf("ExpiredIteratorException message %q", e.ErrorMessage())
	}

	_, err = env.c.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: make([]byte, 1<<20+1)})
	v := wantErr[*types.ValidationException](t, err, "")
	if !strings.Contains(v.ErrorMessage(), "at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576") {
		t.Fatalf("oversize record message %q", v.ErrorMessage())
	}

	entries := make([]types.PutRecordsRequestEntry, 501)
	for i := range entries {
		entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: []byte("x")}
	}
	_, err = env.c.PutRecords(bg, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries})
	wantErr[*types.ValidationException](t, err, "1 validation error detected: Value '501' at 'records' failed to satisfy constraint: Member must have length less than or equal to 500")

	_, err = env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("bad name!")})
	wantErr[*types.ValidationException](t, err, "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")

	_, err = env.c.UpdateShardCount(bg, &kinesis.UpdateShardCountInput{StreamName: aws.String("s"), TargetShardCount: aws.Int32(3), ScalingType: types.ScalingTypeUniformScaling})
	wantErr[*types.LimitExceededException](t, err, "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 1 Target shard count: 3")
}

func TestSDKThrottling(t *testing.T) {
	env := newSDKEnv(t, engine.Options{}) // limits on
	env.create("hot", 1)

	// 500 records of 4 KiB on one shard: about 2 MiB against a 1 MiB/s budget.
	entries := make([]types.PutRecordsRequestEntry, 500)
	for i := range entries {
		entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: bytes.Repeat([]byte{'x'}, 4096)}
	}
	out, err := env.c.PutRecords(bg, &kinesis.PutRecordsInput{StreamName: aws.String("hot"), Records: entries})
	if err != nil {
		t.Fatal(err)
	}
	failed := aws.ToInt32(out.FailedRecordCount)
	if failed == 0 || failed == 500 || len(out.Records) != 500 {
		t.Fatalf("FailedRecordCount %d of %d, want a partial failure", failed, len(out.Records))
	}
	n := int32(0)
	for _, r := range out.Records {
		if r.ErrorCode == nil {
			if r.SequenceNumber == nil || r.ShardId == nil {
				t.Fatalf("successful entry without sequence number: %+v", r)
			}
			continue
		}
		n++
		if aws.ToString(r.ErrorCode) != "ProvisionedThroughputExceededException" ||
			aws.ToString(r.ErrorMessage) != "Rate exceeded for shard shardId-000000000000 in stream hot under account 000000000000." || r.SequenceNumber != nil {
			t.Fatalf("failed entry: %+v", r)
		}
	}
	if n != failed {
		t.Fatalf("%d entries carry an ErrorCode, FailedRecordCount says %d", n, failed)
	}

	// Five GetRecords calls per second per shard; the sixth is throttled.
	it := env.iterator(&kinesis.GetShardIteratorInput{StreamName: aws.String("hot"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest})
	for i := range 6 {
		g, err := env.c.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if i < 5 {
			if err != nil {
				t.Fatalf("GetRecords %d: %v", i, err)
			}
			it = aws.ToString(g.NextShardIterator)
			continue
		}
		wantErr[*types.ProvisionedThroughputExceededException](t, err, "Rate exceeded for shard shardId-000000000000 in stream hot under account 000000000000.")
	}
}

func TestSDKReadAcrossSplitAndMerge(t *testing.T) {
	env := newSDKEnv(t, engine.Options{DisableLimits: true})
	env.create("lineage", 1)
	for _, s := range []string{"a", "b", "c"} {
		env.put("lineage", s, "parent-"+s)
	}
	half := "170141183460469231731687303715884105728" // 2^127
	if _, err := env.c.SplitShard(bg, &kinesis.SplitShardInput{StreamName: aws.String("lineage"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String(half)}); err != nil {
		t.Fatal(err)
	}
	for _, ehk := range []string{"1", "170141183460469231731687303715884105729"} {
		p, err := env.c.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String("lineage"), PartitionKey: aws.String("k"), ExplicitHashKey: aws.String(ehk), Data: []byte("child-" + ehk[:1])})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"1": "shardId-000000000001", "1701": "shardId-000000000002"}[ehk[:min(len(ehk), 4)]]; aws.ToString(p.ShardId) != want {
			t.Fatalf("record with hash key %s went to %s, want %s", ehk, aws.ToString(p.ShardId), want)
		}
	}
	_, err := env.c.SplitShard(bg, &kinesis.SplitShardInput{StreamName: aws.String("lineage"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String(half)})
	wantErr[*types.ResourceInUseException](t, err, "")
	if _, err := env.c.MergeShards(bg, &kinesis.MergeShardsInput{StreamName: aws.String("lineage"), ShardToMerge: aws.String("shardId-000000000001"), AdjacentShardToMerge: aws.String("shardId-000000000002")}); err != nil {
		t.Fatal(err)
	}
	env.put("lineage", "z", "merged")

	shards, err := env.c.ListShards(bg, &kinesis.ListShardsInput{StreamName: aws.String("lineage")})
	if err != nil {
		t.Fatal(err)
	}
	if len(shards.Shards) != 4 {
		t.Fatalf("ListShards: %d shards, want 4", len(shards.Shards))
	}
	merged := shards.Shards[3]
	if aws.ToString(merged.ParentShardId) != "shardId-000000000001" || aws.ToString(merged.AdjacentParentShardId) != "shardId-000000000002" ||
		shards.Shards[0].SequenceNumberRange.EndingSequenceNumber == nil || merged.SequenceNumberRange.EndingSequenceNumber != nil ||
		aws.ToString(shards.Shards[1].ParentShardId) != "shardId-000000000000" {
		t.Fatalf("lineage: %+v", shards.Shards)
	}

	data, last := env.readShard("lineage", "shardId-000000000000")
	if fmt.Sprint(data) != "[parent-a parent-b parent-c]" || last.NextShardIterator != nil || len(last.ChildShards) != 2 {
		t.Fatalf("parent: %v, last reply %+v", data, last)
	}
	for i, c := range last.ChildShards {
		if aws.ToString(c.ShardId) != fmt.Sprintf("shardId-00000000000%d", i+1) || fmt.Sprint(c.ParentShards) != "[shardId-000000000000]" || c.HashKeyRange == nil {
			t.Fatalf("child shard %d: %+v", i, c)
		}
	}
	var children []string
	for _, id := range []string{"shardId-000000000001", "shardId-000000000002"} {
		d, last := env.readShard("lineage", id)
		children = append(children, d...)
		if last.NextShardIterator != nil || len(last.ChildShards) != 1 || aws.ToString(last.ChildShards[0].ShardId) != "shardId-000000000003" ||
			fmt.Sprint(last.ChildShards[0].ParentShards) != "[shardId-000000000001 shardId-000000000002]" {
			t.Fatalf("end of %s: %+v", id, last)
		}
		if h := last.ChildShards[0].HashKeyRange; aws.ToString(h.StartingHashKey) != "0" || aws.ToString(h.EndingHashKey) != "340282366920938463463374607431768211455" {
			t.Fatalf("merged child range %+v", h)
		}
	}
	if fmt.Sprint(children) != "[child-1 child-1]" {
		t.Fatalf("children read %v", children)
	}
	data, last = env.readShard("lineage", "shardId-000000000003")
	if fmt.Sprint(data) != "[merged]" || last.NextShardIterator == nil || len(last.ChildShards) != 0 {
		t.Fatalf("merged shard: %v %+v", data, last)
	}
}

func TestSDKUpdateShardCountAndStreamMode(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	env.create("scale", 2)
	u, err := env.c.UpdateShardCount(bg, &kinesis.UpdateShardCountInput{StreamName: aws.String("scale"), TargetShardCount: aws.Int32(4), ScalingType: types.ScalingTypeUniformScaling})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(u.CurrentShardCount) != 2 || aws.ToInt32(u.TargetShardCount) != 4 || aws.ToString(u.StreamName) != "scale" ||
		aws.ToString(u.StreamARN) != "arn:aws:kinesis:us-east-1:000000000000:stream/scale" {
		t.Fatalf("UpdateShardCount: %+v", u)
	}
	open, err := env.c.ListShards(bg, &kinesis.ListShardsInput{StreamName: aws.String("scale"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil {
		t.Fatal(err)
	}
	if len(open.Shards) != 4 {
		t.Fatalf("open shards after scaling: %d, want 4", len(open.Shards))
	}
	if got := aws.ToString(open.Shards[1].HashKeyRange.StartingHashKey); got != "85070591730234615865843651857942052864" {
		t.Fatalf("second open shard starts at %s, want 2^126", got)
	}

	arn := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/scale")
	if _, err := env.c.UpdateStreamMode(bg, &kinesis.UpdateStreamModeInput{StreamARN: arn, StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatal(err)
	}
	sum, err := env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamARN: arn})
	if err != nil || sum.StreamDescriptionSummary.StreamModeDetails.StreamMode != types.StreamModeOnDemand {
		t.Fatalf("mode after UpdateStreamMode: %v %+v", err, sum)
	}
	_, err = env.c.SplitShard(bg, &kinesis.SplitShardInput{StreamARN: arn, ShardToSplit: open.Shards[0].ShardId, NewStartingHashKey: aws.String("1000")})
	wantErr[*types.ValidationException](t, err, "This operation is not permitted on streams in ON_DEMAND mode.")
	_, err = env.c.UpdateStreamMode(bg, &kinesis.UpdateStreamModeInput{StreamARN: arn, StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
	wantErr[*types.InvalidArgumentException](t, err, "")

	// An on-demand stream created as such.
	if _, err := env.c.CreateStream(bg, &kinesis.CreateStreamInput{StreamName: aws.String("od"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatal(err)
	}
	sum, err = env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("od")})
	if err != nil || aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount) != 4 {
		t.Fatalf("on-demand stream: %v %+v", err, sum)
	}
}

func TestSDKTagsRetentionLimits(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	if _, err := env.c.CreateStream(bg, &kinesis.CreateStreamInput{StreamName: aws.String("t"), ShardCount: aws.Int32(3), Tags: map[string]string{"owner": "me"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.c.AddTagsToStream(bg, &kinesis.AddTagsToStreamInput{StreamName: aws.String("t"), Tags: map[string]string{"env": "test", "team": "data"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := env.c.ListTagsForStream(bg, &kinesis.ListTagsForStreamInput{StreamName: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	show := func(ts []types.Tag) string {
		var b strings.Builder
		for _, tg := range ts {
			fmt.Fprintf(&b, "%s=%s ", aws.ToString(tg.Key), aws.ToString(tg.Value))
		}
		return b.String()
	}
	if got := show(tags.Tags); got != "env=test owner=me team=data " || aws.ToBool(tags.HasMoreTags) {
		t.Fatalf("tags %q more=%v", got, aws.ToBool(tags.HasMoreTags))
	}
	tags, err = env.c.ListTagsForStream(bg, &kinesis.ListTagsForStreamInput{StreamName: aws.String("t"), Limit: aws.Int32(1), ExclusiveStartTagKey: aws.String("env")})
	if err != nil || show(tags.Tags) != "owner=me " || !aws.ToBool(tags.HasMoreTags) {
		t.Fatalf("tags page: %v %+v", err, tags)
	}
	if _, err := env.c.RemoveTagsFromStream(bg, &kinesis.RemoveTagsFromStreamInput{StreamName: aws.String("t"), TagKeys: []string{"env", "absent"}}); err != nil {
		t.Fatal(err)
	}
	tags, err = env.c.ListTagsForStream(bg, &kinesis.ListTagsForStreamInput{StreamName: aws.String("t")})
	if err != nil || show(tags.Tags) != "owner=me team=data " {
		t.Fatalf("tags after remove: %v %+v", err, tags)
	}
	_, err = env.c.AddTagsToStream(bg, &kinesis.AddTagsToStreamInput{StreamName: aws.String("t"), Tags: map[string]string{"bad#key": "v"}})
	wantErr[*types.InvalidArgumentException](t, err, "")

	retention := func() int32 {
		s, err := env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("t")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToInt32(s.StreamDescriptionSummary.RetentionPeriodHours)
	}
	if _, err := env.c.IncreaseStreamRetentionPeriod(bg, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("t"), RetentionPeriodHours: aws.Int32(168)}); err != nil {
		t.Fatal(err)
	}
	if r := retention(); r != 168 {
		t.Fatalf("retention %d, want 168", r)
	}
	if _, err := env.c.DecreaseStreamRetentionPeriod(bg, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String("t"), RetentionPeriodHours: aws.Int32(48)}); err != nil {
		t.Fatal(err)
	}
	if r := retention(); r != 48 {
		t.Fatalf("retention %d, want 48", r)
	}
	_, err = env.c.IncreaseStreamRetentionPeriod(bg, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("t"), RetentionPeriodHours: aws.Int32(10)})
	wantErr[*types.InvalidArgumentException](t, err, "Minimum allowed retention period is 24 hours. Requested retention period (10 hours) is too short.")
	_, err = env.c.DecreaseStreamRetentionPeriod(bg, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String("t"), RetentionPeriodHours: aws.Int32(100)})
	wantErr[*types.InvalidArgumentException](t, err, "")

	env.create("u", 2)
	lim, err := env.c.DescribeLimits(bg, &kinesis.DescribeLimitsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(lim.ShardLimit) != 20000 || aws.ToInt32(lim.OpenShardCount) != 5 || aws.ToInt32(lim.OnDemandStreamCount) != 0 || aws.ToInt32(lim.OnDemandStreamCountLimit) != 50 {
		t.Fatalf("DescribeLimits: %+v", lim)
	}
}

func TestSDKListShardsPaging(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	env.create("paged", 5)
	var ids []string
	in := &kinesis.ListShardsInput{StreamName: aws.String("paged"), MaxResults: aws.Int32(2)}
	pages := 0
	for {
		out, err := env.c.ListShards(bg, in)
		if err != nil {
			t.Fatalf("ListShards page %d: %v", pages, err)
		}
		pages++
		for _, s := range out.Shards {
			ids = append(ids, aws.ToString(s.ShardId)[len("shardId-00000000000"):])
		}
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(2)}
		if pages > 10 {
			t.Fatal("too many pages")
		}
	}
	if fmt.Sprint(ids) != "[0 1 2 3 4]" || pages != 3 {
		t.Fatalf("paged ids %v in %d pages", ids, pages)
	}

	first, err := env.c.ListShards(bg, &kinesis.ListShardsInput{StreamName: aws.String("paged"), MaxResults: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.c.ListShards(bg, &kinesis.ListShardsInput{StreamName: aws.String("paged"), NextToken: first.NextToken})
	wantErr[*types.InvalidArgumentException](t, err, "")
	env.clock.Advance(5*time.Minute + time.Second)
	_, err = env.c.ListShards(bg, &kinesis.ListShardsInput{NextToken: first.NextToken})
	wantErr[*types.ExpiredNextTokenException](t, err, "")

	after, err := env.c.ListShards(bg, &kinesis.ListShardsInput{StreamName: aws.String("paged"), ExclusiveStartShardId: aws.String("shardId-000000000002")})
	if err != nil || len(after.Shards) != 2 {
		t.Fatalf("ExclusiveStartShardId: %v %+v", err, after)
	}
	created := t0
	filtered, err := env.c.ListShards(bg, &kinesis.ListShardsInput{StreamName: aws.String("paged"), StreamCreationTimestamp: &created,
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String("shardId-000000000003")}})
	if err != nil || len(filtered.Shards) != 1 {
		t.Fatalf("AFTER_SHARD_ID: %v %+v", err, filtered)
	}
}

// The SDK surfaces the request id the handler sends.
func TestSDKRequestID(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	_, err := env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("missing")})
	var re interface{ ServiceRequestID() string }
	if !errors.As(err, &re) || len(re.ServiceRequestID()) != 36 {
		t.Fatalf("request id not surfaced: %v", err)
	}
}
