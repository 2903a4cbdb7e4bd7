package api

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
	gojson "github.com/goccy/go-json"
	"github.com/shardscope/shardscope/engine"
)

// actions maps each served action to its translation.
var actions = map[string]action{
	"CreateStream":                  createStream,
	"DeleteStream":                  deleteStream,
	"DescribeStream":                describeStream,
	"DescribeStreamSummary":         describeStreamSummary,
	"ListStreams":                   listStreams,
	"ListShards":                    listShards,
	"PutRecord":                     putRecord,
	"PutRecords":                    putRecords,
	"GetShardIterator":              getShardIterator,
	"GetRecords":                    getRecords,
	"SplitShard":                    splitShard,
	"MergeShards":                   mergeShards,
	"UpdateShardCount":              updateShardCount,
	"UpdateStreamMode":              updateStreamMode,
	"IncreaseStreamRetentionPeriod": increaseRetention,
	"DecreaseStreamRetentionPeriod": decreaseRetention,
	"AddTagsToStream":               addTags,
	"RemoveTagsFromStream":          removeTags,
	"ListTagsForStream":             listTags,
	"DescribeLimits":                describeLimits,
	"RegisterStreamConsumer":        registerStreamConsumer,
	"DeregisterStreamConsumer":      deregisterStreamConsumer,
	"DescribeStreamConsumer":        describeStreamConsumer,
	"ListStreamConsumers":           listStreamConsumers,
	"SubscribeToShard":              subscribeToShard,
	"StartStreamEncryption":         startStreamEncryption,
	"StopStreamEncryption":          stopStreamEncryption,
	// settings.go
	"EnableEnhancedMonitoring":   enableEnhancedMonitoring,
	"DisableEnhancedMonitoring":  disableEnhancedMonitoring,
	"UpdateMaxRecordSize":        updateMaxRecordSize,
	"UpdateStreamWarmThroughput": updateStreamWarmThroughput,
	"DescribeAccountSettings":    describeAccountSettings,
	"UpdateAccountSettings":      updateAccountSettings,
	"TagResource":                tagResource,
	"UntagResource":              untagResource,
	"ListTagsForResource":        listTagsForResource,
}

// Actions returns the names of the actions the handler serves.
func Actions() []string {
	out := make([]string, 0, len(actions))
	for name := range actions {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// ---- Wire shapes of replies. Member names are the service's; absent
// optional members are omitted; lists that the service always sends are
// never nil, so they encode as [] rather than null.

// wireTime is a timestamp on the wire: epoch seconds with a millisecond
// fraction in JSON, tag 1 with epoch milliseconds in CBOR (what the Java
// SDK's UNIX_TIMESTAMP_MILLIS parser reads).
type wireTime time.Time

// MarshalJSON writes epoch seconds, e.g. 1700000000.123.
func (t wireTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// MarshalCBOR writes tag 1 with integer epoch milliseconds.
func (t wireTime) MarshalCBOR() ([]byte, error) {
	return cborEnc.Marshal(cbor.Tag{Number: 1, Content: time.Time(t).UnixMilli()})
}

type empty struct{}

type streamModeDetails struct {
	StreamMode string `json:"StreamMode"`
}

type hashKeyRange struct {
	StartingHashKey string `json:"StartingHashKey"`
	EndingHashKey   string `json:"EndingHashKey"`
}

func toHashKeyRange(r engine.HashKeyRange) hashKeyRange {
	return hashKeyRange{StartingHashKey: r.Start.String(), EndingHashKey: r.End.String()}
}

type sequenceNumberRange struct {
	StartingSequenceNumber string `json:"StartingSequenceNumber"`
	EndingSequenceNumber   string `json:"EndingSequenceNumber,omitempty"`
}

type shard struct {
	ShardId               string              `json:"ShardId"`
	ParentShardId         string              `json:"ParentShardId,omitempty"`
	AdjacentParentShardId string              `json:"AdjacentParentShardId,omitempty"`
	HashKeyRange          hashKeyRange        `json:"HashKeyRange"`
	SequenceNumberRange   sequenceNumberRange `json:"SequenceNumberRange"`
}

func toShards(in []engine.Shard) []shard {
	out := make([]shard, 0, len(in))
	for _, s := range in {
		out = append(out, shard{
			ShardId: s.ShardID, ParentShardId: s.ParentShardID, AdjacentParentShardId: s.AdjacentParentShardID,
			HashKeyRange:        toHashKeyRange(s.HashKeyRange),
			SequenceNumberRange: sequenceNumberRange{StartingSequenceNumber: s.StartingSequenceNumber, EndingSequenceNumber: s.EndingSequenceNumber},
		})
	}
	return out
}

type enhancedMetrics struct {
	ShardLevelMetrics []string `json:"ShardLevelMetrics"`
}

// noMonitoring is what the service reports for a stream without enhanced
// monitoring: one entry with an empty metric list.
func noMonitoring() []enhancedMetrics { return []enhancedMetrics{{ShardLevelMetrics: []string{}}} }

type streamDescription struct {
	StreamName              string            `json:"StreamName"`
	StreamARN               string            `json:"StreamARN"`
	StreamStatus            string            `json:"StreamStatus"`
	StreamModeDetails       streamModeDetails `json:"StreamModeDetails"`
	Shards                  []shard           `json:"Shards"`
	HasMoreShards           bool              `json:"HasMoreShards"`
	RetentionPeriodHours    int               `json:"RetentionPeriodHours"`
	StreamCreationTimestamp wireTime          `json:"StreamCreationTimestamp"`
	EnhancedMonitoring      []enhancedMetrics `json:"EnhancedMonitoring"`
	EncryptionType          string            `json:"EncryptionType,omitempty"`
	KeyId                   string            `json:"KeyId,omitempty"`
}

type streamDescriptionSummary struct {
	StreamName              string            `json:"StreamName"`
	StreamARN               string            `json:"StreamARN"`
	StreamStatus            string            `json:"StreamStatus"`
	StreamModeDetails       streamModeDetails `json:"StreamModeDetails"`
	RetentionPeriodHours    int               `json:"RetentionPeriodHours"`
	StreamCreationTimestamp wireTime          `json:"StreamCreationTimestamp"`
	EnhancedMonitoring      []enhancedMetrics `json:"EnhancedMonitoring"`
	EncryptionType          string            `json:"EncryptionType,omitempty"`
	KeyId                   string            `json:"KeyId,omitempty"`
	OpenShardCount          int               `json:"OpenShardCount"`
	ConsumerCount           int               `json:"ConsumerCount"`
	MaxRecordSizeInKiB      int               `json:"MaxRecordSizeInKiB,omitempty"`
	WarmThroughput          *warmThroughput   `json:"WarmThroughput,omitempty"`
}

type streamSummary struct {
	StreamName              string            `json:"StreamName"`
	StreamARN               string            `json:"StreamARN"`
	StreamStatus            string            `json:"StreamStatus"`
	StreamModeDetails       streamModeDetails `json:"StreamModeDetails"`
	StreamCreationTimestamp wireTime          `json:"StreamCreationTimestamp"`
}

type record struct {
	SequenceNumber              string   `json:"SequenceNumber"`
	ApproximateArrivalTimestamp wireTime `json:"ApproximateArrivalTimestamp"`
	Data                        []byte   `json:"Data"`
	PartitionKey                string   `json:"PartitionKey"`
	EncryptionType              string   `json:"EncryptionType,omitempty"`
}

type childShard struct {
	ShardId      string       `json:"ShardId"`
	ParentShards []string     `json:"ParentShards"`
	HashKeyRange hashKeyRange `json:"HashKeyRange"`
}

// toRecords converts records for GetRecords and SubscribeToShard events;
// the result is never nil, so it encodes as [].
func toRecords(in []engine.Record) []record {
	out := make([]record, 0, len(in))
	for _, r := range in {
		data := r.Data
		if data == nil {
			data = []byte{} // "" rather than null
		}
		out = append(out, record{
			SequenceNumber: r.SequenceNumber, ApproximateArrivalTimestamp: wireTime(r.ApproximateArrivalTimestamp),
			Data: data, PartitionKey: r.PartitionKey, EncryptionType: r.EncryptionType,
		})
	}
	return out
}

// toChildShards converts child shards; nil stays nil so the member is omitted.
func toChildShards(in []engine.ChildShard) []childShard {
	var out []childShard
	for _, c := range in {
		parents := c.ParentShards
		if parents == nil {
			parents = []string{}
		}
		out = append(out, childShard{ShardId: c.ShardID, ParentShards: parents, HashKeyRange: toHashKeyRange(c.HashKeyRange)})
	}
	return out
}

type putRecordsResultEntry struct {
	SequenceNumber string `json:"SequenceNumber,omitempty"`
	ShardId        string `json:"ShardId,omitempty"`
	ErrorCode      string `json:"ErrorCode,omitempty"`
	ErrorMessage   string `json:"ErrorMessage,omitempty"`
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// ---- Request helpers.

// ref reads the StreamRef members: StreamName and/or StreamARN, plus the
// reserved StreamId, type-checked and otherwise ignored.
func (o object) ref() engine.StreamRef {
	o.str("StreamId")
	return engine.StreamRef{StreamName: o.named("StreamName", namePattern), StreamARN: o.named("StreamARN", arnPattern)}
}

// mode reads StreamModeDetails.StreamMode; required says whether
// StreamModeDetails itself is.
func (o object) mode(required bool) engine.StreamMode {
	md, ok := o.obj("StreamModeDetails")
	if required {
		o.require("StreamModeDetails", ok)
	}
	if !ok {
		return ""
	}
	m, present := md.str("StreamMode")
	md.require("StreamMode", present)
	if present && m == "" {
		// The engine reads "" as "not given" (PROVISIONED); "" that was sent is not a mode.
		md.problem("''", "StreamMode", "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]")
	}
	return engine.StreamMode(m)
}

// ignoreDryRun type-checks DryRun. The engine has no dry-run mode, so the
// flag is accepted and the call runs for real.
func (o object) ignoreDryRun() { o.boolean("DryRun") }

// done returns the first problem found while reading the request, as an
// error, or nil. It exists so a nil *apiError never becomes a non-nil error.
func (o object) done() error {
	if e := o.r.err(); e != nil {
		return e
	}
	return nil
}

// handOver is done for actions whose engine side validates: a type error
// ends the call here, while constraint failures go to the engine with ctx
// (engine.WithFieldProblems), which reports them with its own in one
// ValidationException, in the service's order.
func (o object) handOver(ctx context.Context) (context.Context, error) {
	if o.r.serr != nil {
		return ctx, o.r.serr
	}
	return engine.WithFieldProblems(ctx, o.r.problems), nil
}

// enum reads a string member with an enumerated value set. An empty string
// that was sent is reported here; the engine takes "" for "not given".
func (o object) enum(name, set string) string {
	s, ok := o.str(name)
	if ok && s == "" {
		o.problem("''", name, "Member must satisfy enum value set: "+set)
	}
	return s
}

const seqPattern = `0|([1-9]\d{0,128})`
const namePattern = `[a-zA-Z0-9_.-]+`
const arnPattern = `arn:aws.*:kinesis:.*:\d{12}:stream/\S+`
const hashKeyPattern = `0|([1-9]\d{0,38})`

// ---- Actions.

func createStream(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.CreateStreamInput{StreamName: in.named("StreamName", namePattern)}
	args.ShardCount, _ = in.integer("ShardCount")
	args.Mode = in.mode(false)
	args.Tags = in.stringMap("Tags")
	args.MaxRecordSizeInKiB, args.WarmThroughputMiBps = createSettings(in)
	// Accepted and type-checked; the engine has a fixed value for it.
	in.str("RecordDistributionStrategy")
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	return empty{}, e.CreateStream(ctx, args)
}

func deleteStream(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.DeleteStreamInput{StreamRef: in.ref(), EnforceConsumerDeletion: in.boolean("EnforceConsumerDeletion")}
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	return empty{}, e.DeleteStream(ctx, args)
}

func describeStream(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.DescribeStreamInput{StreamRef: in.ref(), Limit: in.limit("Limit"), ExclusiveStartShardID: in.named("ExclusiveStartShardId", namePattern)}
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	d, err := e.DescribeStream(ctx, args)
	if err != nil {
		return nil, err
	}
	return struct {
		StreamDescription streamDescription `json:"StreamDescription"`
	}{streamDescription{
		StreamName: d.StreamName, StreamARN: d.StreamARN, StreamStatus: string(d.StreamStatus),
		StreamModeDetails: streamModeDetails{StreamMode: string(d.StreamMode)},
		Shards:            toShards(d.Shards), HasMoreShards: d.HasMoreShards, RetentionPeriodHours: d.RetentionPeriodHours,
		StreamCreationTimestamp: wireTime(d.StreamCreation), EnhancedMonitoring: monitoring(d.EnhancedMonitoring), EncryptionType: d.EncryptionType, KeyId: d.KeyID,
	}}, nil
}

func describeStreamSummary(ctx context.Context, e *engine.Engine, in object) (any, error) {
	ref := in.ref()
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	s, err := e.DescribeStreamSummary(ctx, ref)
	if err != nil {
		return nil, err
	}
	return struct {
		StreamDescriptionSummary streamDescriptionSummary `json:"StreamDescriptionSummary"`
	}{streamDescriptionSummary{
		StreamName: s.StreamName, StreamARN: s.StreamARN, StreamStatus: string(s.StreamStatus),
		StreamModeDetails:    streamModeDetails{StreamMode: string(s.StreamMode)},
		RetentionPeriodHours: s.RetentionPeriodHours, StreamCreationTimestamp: wireTime(s.StreamCreation),
		EnhancedMonitoring: monitoring(s.EnhancedMonitoring), EncryptionType: s.EncryptionType, KeyId: s.KeyID,
		OpenShardCount: s.OpenShardCount, ConsumerCount: s.ConsumerCount, MaxRecordSizeInKiB: s.MaxRecordSizeInKiB,
		WarmThroughput: toWarmThroughput(s.WarmThroughput),
	}}, nil
}

func listStreams(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.ListStreamsInput{Limit: in.limit("Limit"), ExclusiveStartStreamName: in.named("ExclusiveStartStreamName", namePattern), NextToken: in.nonEmpty("NextToken")}
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	l, err := e.ListStreams(ctx, args)
	if err != nil {
		return nil, err
	}
	out := struct {
		StreamNames     []string        `json:"StreamNames"`
		HasMoreStreams  bool            `json:"HasMoreStreams"`
		NextToken       string          `json:"NextToken,omitempty"`
		StreamSummaries []streamSummary `json:"StreamSummaries"`
	}{StreamNames: make([]string, 0, len(l.Streams)), HasMoreStreams: l.HasMoreStreams, NextToken: l.NextToken, StreamSummaries: make([]streamSummary, 0, len(l.Streams))}
	for _, s := range l.Streams {
		out.StreamNames = append(out.StreamNames, s.StreamName)
		out.StreamSummaries = append(out.StreamSummaries, streamSummary{
			StreamName: s.StreamName, StreamARN: s.StreamARN, StreamStatus: string(s.StreamStatus),
			StreamModeDetails: streamModeDetails{StreamMode: string(s.StreamMode)}, StreamCreationTimestamp: wireTime(s.StreamCreation),
		})
	}
	return out, nil
}

func listShards(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.ListShardsInput{
		StreamRef: in.ref(), NextToken: in.nonEmpty("NextToken"), ExclusiveStartShardID: in.named("ExclusiveStartShardId", namePattern),
		MaxResults: in.limit("MaxResults"),
	}
	args.StreamCreationTimestamp, _ = in.timestamp("StreamCreationTimestamp")
	if f, ok := in.obj("ShardFilter"); ok {
		typ, present := f.str("Type")
		f.require("Type", present)
		if present && typ == "" {
			f.problem("''", "Type", "Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]")
		}
		args.Filter = &engine.ShardFilter{Type: engine.ShardFilterType(typ), ShardID: f.named("ShardId", namePattern)}
		args.Filter.Timestamp, _ = f.timestamp("Timestamp")
	}
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	l, err := e.ListShards(ctx, args)
	if err != nil {
		return nil, err
	}
	return struct {
		Shards    []shard `json:"Shards"`
		NextToken string  `json:"NextToken,omitempty"`
	}{toShards(l.Shards), l.NextToken}, nil
}

func putRecord(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.PutRecordInput{StreamRef: in.ref()}
	var present bool
	args.Data, present = in.blob("Data")
	in.require("Data", present)
	args.PartitionKey = in.nonEmpty("PartitionKey")
	args.ExplicitHashKey = in.patterned("ExplicitHashKey", hashKeyPattern)
	args.SequenceNumberForOrdering = in.patterned("SequenceNumberForOrdering", seqPattern)
	in.ignoreDryRun()
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	p, err := e.PutRecord(ctx, args)
	if err != nil {
		return nil, err
	}
	return struct {
		ShardId        string `json:"ShardId"`
		SequenceNumber string `json:"SequenceNumber"`
		EncryptionType string `json:"EncryptionType,omitempty"`
	}{p.ShardID, p.SequenceNumber, p.EncryptionType}, nil
}

func putRecords(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.PutRecordsInput{StreamRef: in.ref()}
	if l, ok := in.list("Records"); ok {
		// Non-nil even when empty: the engine tells [] (too few) from absent.
		args.Records = make([]engine.PutRecordsEntry, 0, len(l))
		for i, v := range l {
			r := in.element("Records", i, v)
			data, present := r.blob("Data")
			r.require("Data", present)
			args.Records = append(args.Records, engine.PutRecordsEntry{
				Data: data, PartitionKey: r.nonEmpty("PartitionKey"), ExplicitHashKey: r.patterned("ExplicitHashKey", hashKeyPattern),
			})
		}
	}
	in.ignoreDryRun()
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	return runPutRecords(ctx, e, args)
}

func runPutRecords(ctx context.Context, e *engine.Engine, args engine.PutRecordsInput) (any, error) {
	p, err := e.PutRecords(ctx, args)
	if err != nil {
		return nil, err
	}
	out := struct {
		FailedRecordCount int                     `json:"FailedRecordCount"`
		Records           []putRecordsResultEntry `json:"Records"`
		EncryptionType    string                  `json:"EncryptionType,omitempty"`
	}{FailedRecordCount: p.FailedRecordCount, Records: make([]putRecordsResultEntry, 0, len(p.Records)), EncryptionType: p.EncryptionType}
	for _, r := range p.Records {
		out.Records = append(out.Records, putRecordsResultEntry{SequenceNumber: r.SequenceNumber, ShardId: r.ShardID, ErrorCode: string(r.ErrorCode), ErrorMessage: r.ErrorMessage})
	}
	return out, nil
}

// fastPutRecords decodes a well-formed JSON PutRecords body straight into
// engine types. PutRecords is the hot action, and the generic tree costs a
// map and a boxed value per member of every record; here a typed decode
// does it in one pass. Anything unusual — a wrong type, a null, an absent
// or empty member — returns ok=false, and the generic path then reports it
// with the service's exact wording. (encoding/json matches member names
// regardless of case; a request that only works that way is still served.)
func fastPutRecords(body []byte) (args engine.PutRecordsInput, ok bool) {
	var in struct {
		StreamName, StreamARN, StreamId *string
		DryRun                          *bool
		Records                         []struct {
			Data                          []byte
			PartitionKey, ExplicitHashKey *string
		}
	}
	if gojson.Unmarshal(body, &in) != nil || in.Records == nil {
		return args, false
	}
	for _, s := range []*string{in.StreamName, in.StreamARN} {
		if s != nil && *s == "" {
			return args, false
		}
	}
	if in.StreamName != nil {
		args.StreamName = *in.StreamName
	}
	if in.StreamARN != nil {
		args.StreamARN = *in.StreamARN
	}
	args.Records = make([]engine.PutRecordsEntry, len(in.Records))
	for i, r := range in.Records {
		if r.Data == nil || r.PartitionKey == nil || *r.PartitionKey == "" || (r.ExplicitHashKey != nil && *r.ExplicitHashKey == "") {
			return args, false
		}
		args.Records[i] = engine.PutRecordsEntry{Data: r.Data, PartitionKey: *r.PartitionKey}
		if r.ExplicitHashKey != nil {
			args.Records[i].ExplicitHashKey = *r.ExplicitHashKey
		}
	}
	return args, true
}

func getShardIterator(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.GetShardIteratorInput{StreamRef: in.ref(), ShardID: in.named("ShardId", namePattern)}
	args.ShardIteratorType = engine.IteratorType(in.enum("ShardIteratorType", "[AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]"))
	args.StartingSequenceNumber = in.patterned("StartingSequenceNumber", seqPattern)
	args.Timestamp, _ = in.timestamp("Timestamp")
	in.ignoreDryRun()
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	it, err := e.GetShardIterator(ctx, args)
	if err != nil {
		return nil, err
	}
	return struct {
		ShardIterator string `json:"ShardIterator"`
	}{it}, nil
}

func getRecords(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.GetRecordsInput{ShardIterator: in.nonEmpty("ShardIterator"), Limit: in.limit("Limit"), StreamARN: in.nonEmpty("StreamARN")}
	in.ignoreDryRun()
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	g, err := e.GetRecords(ctx, args)
	if err != nil {
		return nil, err
	}
	out := struct {
		Records            []record     `json:"Records"`
		NextShardIterator  string       `json:"NextShardIterator,omitempty"`
		MillisBehindLatest int64        `json:"MillisBehindLatest"`
		ChildShards        []childShard `json:"ChildShards,omitempty"`
	}{Records: toRecords(g.Records), NextShardIterator: g.NextShardIterator, MillisBehindLatest: g.MillisBehindLatest, ChildShards: toChildShards(g.ChildShards)}
	return out, nil
}

func splitShard(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.SplitShardInput{StreamRef: in.ref(), ShardToSplit: in.named("ShardToSplit", namePattern), NewStartingHashKey: in.patterned("NewStartingHashKey", hashKeyPattern)}
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	return empty{}, e.SplitShard(ctx, args)
}

func mergeShards(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.MergeShardsInput{StreamRef: in.ref(), ShardToMerge: in.named("ShardToMerge", namePattern), AdjacentShardToMerge: in.named("AdjacentShardToMerge", namePattern)}
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	return empty{}, e.MergeShards(ctx, args)
}

func updateShardCount(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.UpdateShardCountInput{StreamRef: in.ref()}
	var present bool
	args.TargetShardCount, present = in.integer("TargetShardCount")
	in.require("TargetShardCount", present)
	args.ScalingType = in.enum("ScalingType", "[UNIFORM_SCALING]")
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	u, err := e.UpdateShardCount(ctx, args)
	if err != nil {
		return nil, err
	}
	return struct {
		StreamName        string `json:"StreamName"`
		StreamARN         string `json:"StreamARN"`
		CurrentShardCount int    `json:"CurrentShardCount"`
		TargetShardCount  int    `json:"TargetShardCount"`
	}{u.StreamName, u.StreamARN, u.CurrentShardCount, u.TargetShardCount}, nil
}

func updateStreamMode(ctx context.Context, e *engine.Engine, in object) (any, error) {
	in.str("StreamId")
	args := engine.UpdateStreamModeInput{StreamARN: in.named("StreamARN", arnPattern)}
	args.Mode = in.mode(true)
	args.WarmThroughputMiBps, _ = in.integer("WarmThroughputMiBps")
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	return empty{}, e.UpdateStreamMode(ctx, args)
}

func retentionInput(ctx context.Context, in object) (context.Context, engine.RetentionInput, error) {
	args := engine.RetentionInput{StreamRef: in.ref()}
	var present bool
	args.RetentionPeriodHours, present = in.integer("RetentionPeriodHours")
	in.require("RetentionPeriodHours", present)
	ctx, err := in.handOver(ctx)
	return ctx, args, err
}

func increaseRetention(ctx context.Context, e *engine.Engine, in object) (any, error) {
	ctx, args, err := retentionInput(ctx, in)
	if err != nil {
		return nil, err
	}
	return empty{}, e.IncreaseStreamRetentionPeriod(ctx, args)
}

func decreaseRetention(ctx context.Context, e *engine.Engine, in object) (any, error) {
	ctx, args, err := retentionInput(ctx, in)
	if err != nil {
		return nil, err
	}
	return empty{}, e.DecreaseStreamRetentionPeriod(ctx, args)
}

func addTags(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.AddTagsInput{StreamRef: in.ref(), Tags: in.stringMap("Tags")}
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	return empty{}, e.AddTagsToStream(ctx, args)
}

func removeTags(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.RemoveTagsInput{StreamRef: in.ref(), TagKeys: in.strings("TagKeys")}
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	return empty{}, e.RemoveTagsFromStream(ctx, args)
}

func listTags(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.ListTagsInput{StreamRef: in.ref(), ExclusiveStartTagKey: in.nonEmpty("ExclusiveStartTagKey"), Limit: in.limit("Limit")}
	ctx, err := in.handOver(ctx)
	if err != nil {
		return nil, err
	}
	l, err := e.ListTagsForStream(ctx, args)
	if err != nil {
		return nil, err
	}
	out := struct {
		Tags        []tag `json:"Tags"`
		HasMoreTags bool  `json:"HasMoreTags"`
	}{Tags: make([]tag, 0, len(l.Tags)), HasMoreTags: l.HasMoreTags}
	for _, t := range l.Tags {
		out.Tags = append(out.Tags, tag{Key: t.Key, Value: t.Value})
	}
	return out, nil
}

func describeLimits(ctx context.Context, e *engine.Engine, in object) (any, error) {
	l, err := e.DescribeLimits(ctx)
	if err != nil {
		return nil, err
	}
	return struct {
		ShardLimit               int `json:"ShardLimit"`
		OpenShardCount           int `json:"OpenShardCount"`
		OnDemandStreamCount      int `json:"OnDemandStreamCount"`
		OnDemandStreamCountLimit int `json:"OnDemandStreamCountLimit"`
	}{l.ShardLimit, l.OpenShardCount, l.OnDemandStreamCount, l.OnDemandStreamCountLimit}, nil
}

// encryptionInput reads StartStreamEncryption's and StopStreamEncryption's
// members; the engine validates them.
func encryptionInput(ctx context.Context, in object) (context.Context, engine.StreamEncryptionInput, error) {
	args := engine.StreamEncryptionInput{StreamRef: in.ref(), EncryptionType: in.enum("EncryptionType", "[NONE, KMS]"), KeyID: in.nonEmpty("KeyId")}
	ctx, err := in.handOver(ctx)
	return ctx, args, err
}

func startStreamEncryption(ctx context.Context, e *engine.Engine, in object) (any, error) {
	ctx, args, err := encryptionInput(ctx, in)
	if err != nil {
		return nil, err
	}
	return empty{}, e.StartStreamEncryption(ctx, args)
}

func stopStreamEncryption(ctx context.Context, e *engine.Engine, in object) (any, error) {
	ctx, args, err := encryptionInput(ctx, in)
	if err != nil {
		return nil, err
	}
	return empty{}, e.StopStreamEncryption(ctx, args)
}
