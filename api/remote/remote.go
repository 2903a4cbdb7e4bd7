// Package remote owns shardscope's side of a Kinesis endpoint it does not
// run: Amazon Kinesis, LocalStack, kinesalite, kinesis-mock or another
// shardscope serve, reached through aws-sdk-go-v2. Its Client speaks the
// engine's types, so producers (Sink), consumers (Source, FanOutSource) and
// the attached console drive it as they drive the embedded engine; SDK
// errors become *engine.Error values that keep the service's error name.
//
// A Client is read-only unless built with AllowWrites: the calls that
// change a stream's data or shape are refused here, before anything is
// sent, so no code path above can make them by mistake.
package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
)

// Options says how to reach the endpoint and what the Client may do.
type Options struct {
	// Region, Profile and Endpoint are --region, --profile and --endpoint;
	// empty means the SDK's default chain (environment, shared files).
	Region, Profile, Endpoint string
	// AllowWrites permits the calls that change the stream: PutRecord(s),
	// SplitShard, MergeShards, UpdateShardCount, UpdateStreamMode and the
	// retention calls.
	AllowWrites bool
	// AllowConsumers permits RegisterStreamConsumer and
	// DeregisterStreamConsumer (--efo, or AllowWrites): they add or remove
	// a billed fan-out consumer but leave the stream's records and shards
	// alone.
	AllowConsumers bool
	// Timeout bounds each unary call; 0 means 10 s.
	Timeout time.Duration
}

// Client is a Kinesis endpoint with the engine's call shapes.
type Client struct {
	k                  *kinesis.Client
	region, endpoint   string
	writes, registers  bool
	timeout            time.Duration
	calls, failedCalls atomic.Int64
}

var (
	_ producers.Sink         = (*Client)(nil)
	_ consumers.Source       = (*Client)(nil)
	_ consumers.FanOutSource = (*Client)(nil)
)

// ErrReadOnly is returned, without any call made, for a write on a
// read-only Client.
var ErrReadOnly = errors.New("read-only: shardscope attach makes no writes without --allow-writes")

// New loads the SDK configuration the way the AWS CLI does
// (config.LoadDefaultConfig with the profile and region given) and returns
// a Client. An endpoint on loopback with no credentials anywhere gets dummy
// ones: local servers check none.
func New(ctx context.Context, o Options) (*Client, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	// The console backs off and counts throttling itself; the SDK's
	// retries would hide it and multiply the reads.
	opts = append(opts, config.WithRetryMaxAttempts(1))
	if o.Endpoint != "" && loopback(o.Endpoint) {
		// A local server: no instance role to ask for (the SDK would try
		// the metadata service and log a warning about it).
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if o.Endpoint == "" {
			return nil, errors.New("no AWS region: pass --region or set AWS_REGION (or a region in the profile)")
		}
		cfg.Region = "us-east-1" // local servers accept any
	}
	if o.Endpoint != "" && loopback(o.Endpoint) {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := cfg.Credentials.Retrieve(cctx)
		cancel()
		if err != nil {
			cfg.Credentials = credentials.NewStaticCredentialsProvider("shardscope", "shardscope", "")
		}
	}
	return NewFromConfig(cfg, o), nil
}

// NewFromConfig returns a Client over an SDK configuration.
func NewFromConfig(cfg aws.Config, o Options) *Client {
	k := kinesis.NewFromConfig(cfg, func(ko *kinesis.Options) {
		if o.Endpoint != "" {
			ko.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	return &Client{k: k, region: cfg.Region, endpoint: o.Endpoint, writes: o.AllowWrites,
		registers: o.AllowWrites || o.AllowConsumers, timeout: o.Timeout}
}

// loopback reports whether the endpoint URL names this machine.
func loopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Region is the region the Client signs for.
func (c *Client) Region() string { return c.region }

// Endpoint is the endpoint URL given, "" for the region's AWS endpoint.
func (c *Client) Endpoint() string { return c.endpoint }

// AllowsWrites reports whether the Client makes write calls.
func (c *Client) AllowsWrites() bool { return c.writes }

// Calls returns how many calls the Client made and how many failed.
func (c *Client) Calls() (calls, failed int64) { return c.calls.Load(), c.failedCalls.Load() }

// Kinesis returns the SDK client, for calls this package does not wrap.
func (c *Client) Kinesis() *kinesis.Client { return c.k }

func (c *Client) write(call string) error {
	if !c.writes {
		return fmt.Errorf("%s not sent: %w", call, ErrReadOnly)
	}
	return nil
}

// ctx bounds a unary call.
func (c *Client) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// done counts a call and maps its error.
func (c *Client) done(err error) error {
	c.calls.Add(1)
	if err != nil {
		c.failedCalls.Add(1)
		return mapErr(err)
	}
	return nil
}

// ErrConnection marks an error where no answer came back from the
// endpoint (refused, reset, timed out, DNS): the connection is lost.
var ErrConnection = errors.New("no answer from the endpoint")

// mapErr turns an SDK error into an *engine.Error carrying the service's
// error name (so engine.IsCode works on it), or an error wrapping
// ErrConnection when nothing answered. Other errors (credentials that
// cannot be loaded, a cancelled context) pass unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := ae.ErrorMessage()
		if msg == "" {
			msg = err.Error()
		}
		return &engine.Error{Code: engine.ErrorCode(ae.ErrorCode()), Message: msg, Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "EOF") {
		return fmt.Errorf("%w: %w", ErrConnection, err)
	}
	return err
}

// IsConnection reports whether err says the endpoint did not answer.
func IsConnection(err error) bool { return errors.Is(err, ErrConnection) }

func ref(r engine.StreamRef) (name, arn *string) {
	if r.StreamName != "" {
		name = aws.String(r.StreamName)
	}
	if r.StreamARN != "" {
		arn = aws.String(r.StreamARN)
	}
	return
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func hashRange(r *types.HashKeyRange) engine.HashKeyRange {
	var out engine.HashKeyRange
	if r == nil {
		return out
	}
	out.Start, _ = engine.ParseHashKey(aws.ToString(r.StartingHashKey))
	out.End, _ = engine.ParseHashKey(aws.ToString(r.EndingHashKey))
	return out
}

func shardOf(s types.Shard) engine.Shard {
	out := engine.Shard{
		ShardID:               aws.ToString(s.ShardId),
		ParentShardID:         aws.ToString(s.ParentShardId),
		AdjacentParentShardID: aws.ToString(s.AdjacentParentShardId),
		HashKeyRange:          hashRange(s.HashKeyRange),
	}
	if s.SequenceNumberRange != nil {
		out.StartingSequenceNumber = aws.ToString(s.SequenceNumberRange.StartingSequenceNumber)
		out.EndingSequenceNumber = aws.ToString(s.SequenceNumberRange.EndingSequenceNumber)
	}
	return out
}

// ListShards lists one page of the stream's shards.
func (c *Client) ListShards(ctx context.Context, in engine.ListShardsInput) (engine.ListShardsOutput, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.ListShardsInput{NextToken: strOrNil(in.NextToken)}
	if in.NextToken == "" {
		q.StreamName, q.StreamARN = ref(in.StreamRef)
		q.ExclusiveStartShardId = strOrNil(in.ExclusiveStartShardID)
		if !in.StreamCreationTimestamp.IsZero() {
			q.StreamCreationTimestamp = aws.Time(in.StreamCreationTimestamp)
		}
		if f := in.Filter; f != nil {
			q.ShardFilter = &types.ShardFilter{Type: types.ShardFilterType(f.Type), ShardId: strOrNil(f.ShardID)}
			if !f.Timestamp.IsZero() {
				q.ShardFilter.Timestamp = aws.Time(f.Timestamp)
			}
		}
	}
	if in.MaxResults > 0 {
		q.MaxResults = aws.Int32(int32(in.MaxResults))
	}
	out, err := c.k.ListShards(ctx, q)
	if err = c.done(err); err != nil {
		return engine.ListShardsOutput{}, err
	}
	res := engine.ListShardsOutput{NextToken: aws.ToString(out.NextToken)}
	for _, s := range out.Shards {
		res.Shards = append(res.Shards, shardOf(s))
	}
	return res, nil
}

// AllShards lists every shard of the stream, following NextToken.
func (c *Client) AllShards(ctx context.Context, stream engine.StreamRef) ([]engine.Shard, error) {
	var all []engine.Shard
	in := engine.ListShardsInput{StreamRef: stream}
	for {
		out, err := c.ListShards(ctx, in)
		if err != nil {
			return all, err
		}
		all = append(all, out.Shards...)
		if out.NextToken == "" {
			return all, nil
		}
		in = engine.ListShardsInput{NextToken: out.NextToken}
	}
}

// GetShardIterator returns an iterator positioned as the input says.
func (c *Client) GetShardIterator(ctx context.Context, in engine.GetShardIteratorInput) (string, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.GetShardIteratorInput{ShardId: aws.String(in.ShardID), ShardIteratorType: types.ShardIteratorType(in.ShardIteratorType),
		StartingSequenceNumber: strOrNil(in.StartingSequenceNumber)}
	q.StreamName, q.StreamARN = ref(in.StreamRef)
	if !in.Timestamp.IsZero() {
		q.Timestamp = aws.Time(in.Timestamp)
	}
	out, err := c.k.GetShardIterator(ctx, q)
	if err = c.done(err); err != nil {
		return "", err
	}
	return aws.ToString(out.ShardIterator), nil
}

func recordOf(r types.Record) engine.Record {
	return engine.Record{
		SequenceNumber:              aws.ToString(r.SequenceNumber),
		ApproximateArrivalTimestamp: aws.ToTime(r.ApproximateArrivalTimestamp),
		Data:                        r.Data,
		PartitionKey:                aws.ToString(r.PartitionKey),
		EncryptionType:              string(r.EncryptionType),
	}
}

func childrenOf(cs []types.ChildShard) []engine.ChildShard {
	var out []engine.ChildShard
	for _, c := range cs {
		out = append(out, engine.ChildShard{ShardID: aws.ToString(c.ShardId), ParentShards: c.ParentShards, HashKeyRange: hashRange(c.HashKeyRange)})
	}
	return out
}

// GetRecords reads records at an iterator.
func (c *Client) GetRecords(ctx context.Context, in engine.GetRecordsInput) (engine.GetRecordsOutput, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.GetRecordsInput{ShardIterator: aws.String(in.ShardIterator), StreamARN: strOrNil(in.StreamARN)}
	if in.Limit > 0 {
		q.Limit = aws.Int32(int32(in.Limit))
	}
	out, err := c.k.GetRecords(ctx, q)
	if err = c.done(err); err != nil {
		return engine.GetRecordsOutput{}, err
	}
	res := engine.GetRecordsOutput{NextShardIterator: aws.ToString(out.NextShardIterator),
		MillisBehindLatest: aws.ToInt64(out.MillisBehindLatest), ChildShards: childrenOf(out.ChildShards)}
	for _, r := range out.Records {
		res.Records = append(res.Records, recordOf(r))
	}
	return res, nil
}

// PutRecords writes a batch (AllowWrites only).
func (c *Client) PutRecords(ctx context.Context, in engine.PutRecordsInput) (engine.PutRecordsOutput, error) {
	if err := c.write("PutRecords"); err != nil {
		return engine.PutRecordsOutput{}, err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.PutRecordsInput{}
	q.StreamName, q.StreamARN = ref(in.StreamRef)
	for _, r := range in.Records {
		q.Records = append(q.Records, types.PutRecordsRequestEntry{Data: r.Data, PartitionKey: aws.String(r.PartitionKey), ExplicitHashKey: strOrNil(r.ExplicitHashKey)})
	}
	out, err := c.k.PutRecords(ctx, q)
	if err = c.done(err); err != nil {
		return engine.PutRecordsOutput{}, err
	}
	res := engine.PutRecordsOutput{FailedRecordCount: int(aws.ToInt32(out.FailedRecordCount)), EncryptionType: string(out.EncryptionType)}
	for _, r := range out.Records {
		res.Records = append(res.Records, engine.PutRecordsResult{ShardID: aws.ToString(r.ShardId), SequenceNumber: aws.ToString(r.SequenceNumber),
			ErrorCode: engine.ErrorCode(aws.ToString(r.ErrorCode)), ErrorMessage: aws.ToString(r.ErrorMessage)})
	}
	return res, nil
}

// DescribeStreamSummary describes the stream without its shards.
func (c *Client) DescribeStreamSummary(ctx context.Context, r engine.StreamRef) (engine.StreamSummary, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.DescribeStreamSummaryInput{}
	q.StreamName, q.StreamARN = ref(r)
	out, err := c.k.DescribeStreamSummary(ctx, q)
	if err = c.done(err); err != nil {
		return engine.StreamSummary{}, err
	}
	d := out.StreamDescriptionSummary
	if d == nil {
		return engine.StreamSummary{}, &engine.Error{Code: engine.InternalFailure, Message: "DescribeStreamSummary returned no summary"}
	}
	s := engine.StreamSummary{
		StreamName: aws.ToString(d.StreamName), StreamARN: aws.ToString(d.StreamARN), StreamStatus: engine.StreamStatus(d.StreamStatus),
		StreamMode: engine.ModeProvisioned, RetentionPeriodHours: int(aws.ToInt32(d.RetentionPeriodHours)),
		StreamCreation: aws.ToTime(d.StreamCreationTimestamp), EncryptionType: string(d.EncryptionType),
		OpenShardCount: int(aws.ToInt32(d.OpenShardCount)), ConsumerCount: int(aws.ToInt32(d.ConsumerCount)),
		MaxRecordSizeInKiB: int(aws.ToInt32(d.MaxRecordSizeInKiB)),
	}
	if d.StreamModeDetails != nil && d.StreamModeDetails.StreamMode != "" {
		s.StreamMode = engine.StreamMode(d.StreamModeDetails.StreamMode)
	}
	for _, m := range d.EnhancedMonitoring {
		for _, n := range m.ShardLevelMetrics {
			s.EnhancedMonitoring = append(s.EnhancedMonitoring, string(n))
		}
	}
	return s, nil
}

func consumerOf(c *types.Consumer) engine.Consumer {
	if c == nil {
		return engine.Consumer{}
	}
	return engine.Consumer{ConsumerName: aws.ToString(c.ConsumerName), ConsumerARN: aws.ToString(c.ConsumerARN),
		ConsumerStatus: engine.ConsumerStatus(c.ConsumerStatus), ConsumerCreationTimestamp: aws.ToTime(c.ConsumerCreationTimestamp)}
}

// ListStreamConsumers lists one page of the stream's fan-out consumers.
func (c *Client) ListStreamConsumers(ctx context.Context, in engine.ListStreamConsumersInput) (engine.ListStreamConsumersOutput, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	// The service wants the stream's ARN with a NextToken too.
	q := &kinesis.ListStreamConsumersInput{StreamARN: aws.String(in.StreamARN), NextToken: strOrNil(in.NextToken)}
	if in.MaxResults > 0 {
		q.MaxResults = aws.Int32(int32(in.MaxResults))
	}
	out, err := c.k.ListStreamConsumers(ctx, q)
	if err = c.done(err); err != nil {
		return engine.ListStreamConsumersOutput{}, err
	}
	res := engine.ListStreamConsumersOutput{NextToken: aws.ToString(out.NextToken)}
	for i := range out.Consumers {
		res.Consumers = append(res.Consumers, consumerOf(&out.Consumers[i]))
	}
	return res, nil
}

// AllConsumers lists every fan-out consumer of the stream.
func (c *Client) AllConsumers(ctx context.Context, streamARN string) ([]engine.Consumer, error) {
	var all []engine.Consumer
	in := engine.ListStreamConsumersInput{StreamARN: streamARN}
	for {
		out, err := c.ListStreamConsumers(ctx, in)
		if err != nil {
			return all, err
		}
		all = append(all, out.Consumers...)
		if out.NextToken == "" {
			return all, nil
		}
		in.NextToken = out.NextToken
	}
}

// RegisterStreamConsumer registers a fan-out consumer (AllowConsumers).
func (c *Client) RegisterStreamConsumer(ctx context.Context, in engine.RegisterConsumerInput) (engine.Consumer, error) {
	if !c.registers {
		return engine.Consumer{}, fmt.Errorf("RegisterStreamConsumer not sent: %w", ErrReadOnly)
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	out, err := c.k.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(in.StreamARN), ConsumerName: aws.String(in.ConsumerName)})
	if err = c.done(err); err != nil {
		return engine.Consumer{}, err
	}
	return consumerOf(out.Consumer), nil
}

func consumerRef(r engine.ConsumerRef) (streamARN, name, arn *string) {
	return strOrNil(r.StreamARN), strOrNil(r.ConsumerName), strOrNil(r.ConsumerARN)
}

// DescribeStreamConsumer describes a consumer.
func (c *Client) DescribeStreamConsumer(ctx context.Context, r engine.ConsumerRef) (engine.ConsumerDescription, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.DescribeStreamConsumerInput{}
	q.StreamARN, q.ConsumerName, q.ConsumerARN = consumerRef(r)
	out, err := c.k.DescribeStreamConsumer(ctx, q)
	if err = c.done(err); err != nil {
		return engine.ConsumerDescription{}, err
	}
	d := out.ConsumerDescription
	if d == nil {
		return engine.ConsumerDescription{}, &engine.Error{Code: engine.InternalFailure, Message: "DescribeStreamConsumer returned no description"}
	}
	return engine.ConsumerDescription{
		Consumer: engine.Consumer{ConsumerName: aws.ToString(d.ConsumerName), ConsumerARN: aws.ToString(d.ConsumerARN),
			ConsumerStatus: engine.ConsumerStatus(d.ConsumerStatus), ConsumerCreationTimestamp: aws.ToTime(d.ConsumerCreationTimestamp)},
		StreamARN: aws.ToString(d.StreamARN),
	}, nil
}

// DeregisterStreamConsumer removes a consumer (AllowConsumers).
func (c *Client) DeregisterStreamConsumer(ctx context.Context, r engine.ConsumerRef) error {
	if !c.registers {
		return fmt.Errorf("DeregisterStreamConsumer not sent: %w", ErrReadOnly)
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.DeregisterStreamConsumerInput{}
	q.StreamARN, q.ConsumerName, q.ConsumerARN = consumerRef(r)
	_, err := c.k.DeregisterStreamConsumer(ctx, q)
	return c.done(err)
}

// SplitShard splits a shard (AllowWrites).
func (c *Client) SplitShard(ctx context.Context, in engine.SplitShardInput) error {
	if err := c.write("SplitShard"); err != nil {
		return err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.SplitShardInput{ShardToSplit: aws.String(in.ShardToSplit), NewStartingHashKey: aws.String(in.NewStartingHashKey)}
	q.StreamName, q.StreamARN = ref(in.StreamRef)
	_, err := c.k.SplitShard(ctx, q)
	return c.done(err)
}

// MergeShards merges two adjacent shards (AllowWrites).
func (c *Client) MergeShards(ctx context.Context, in engine.MergeShardsInput) error {
	if err := c.write("MergeShards"); err != nil {
		return err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.MergeShardsInput{ShardToMerge: aws.String(in.ShardToMerge), AdjacentShardToMerge: aws.String(in.AdjacentShardToMerge)}
	q.StreamName, q.StreamARN = ref(in.StreamRef)
	_, err := c.k.MergeShards(ctx, q)
	return c.done(err)
}

// IncreaseStreamRetentionPeriod raises the retention (AllowWrites).
func (c *Client) IncreaseStreamRetentionPeriod(ctx context.Context, in engine.RetentionInput) error {
	if err := c.write("IncreaseStreamRetentionPeriod"); err != nil {
		return err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.IncreaseStreamRetentionPeriodInput{RetentionPeriodHours: aws.Int32(int32(in.RetentionPeriodHours))}
	q.StreamName, q.StreamARN = ref(in.StreamRef)
	_, err := c.k.IncreaseStreamRetentionPeriod(ctx, q)
	return c.done(err)
}

// DecreaseStreamRetentionPeriod lowers the retention (AllowWrites).
func (c *Client) DecreaseStreamRetentionPeriod(ctx context.Context, in engine.RetentionInput) error {
	if err := c.write("DecreaseStreamRetentionPeriod"); err != nil {
		return err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.DecreaseStreamRetentionPeriodInput{RetentionPeriodHours: aws.Int32(int32(in.RetentionPeriodHours))}
	q.StreamName, q.StreamARN = ref(in.StreamRef)
	_, err := c.k.DecreaseStreamRetentionPeriod(ctx, q)
	return c.done(err)
}

// UpdateStreamMode switches the capacity mode (AllowWrites).
func (c *Client) UpdateStreamMode(ctx context.Context, in engine.UpdateStreamModeInput) error {
	if err := c.write("UpdateStreamMode"); err != nil {
		return err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	_, err := c.k.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: aws.String(in.StreamARN),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamMode(in.Mode)}})
	return c.done(err)
}

// UpdateShardCount rescales the stream uniformly (AllowWrites).
func (c *Client) UpdateShardCount(ctx context.Context, in engine.UpdateShardCountInput) (engine.UpdateShardCountOutput, error) {
	if err := c.write("UpdateShardCount"); err != nil {
		return engine.UpdateShardCountOutput{}, err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	q := &kinesis.UpdateShardCountInput{TargetShardCount: aws.Int32(int32(in.TargetShardCount)), ScalingType: types.ScalingTypeUniformScaling}
	q.StreamName, q.StreamARN = ref(in.StreamRef)
	out, err := c.k.UpdateShardCount(ctx, q)
	if err = c.done(err); err != nil {
		return engine.UpdateShardCountOutput{}, err
	}
	return engine.UpdateShardCountOutput{StreamName: aws.ToString(out.StreamName), StreamARN: aws.ToString(out.StreamARN),
		CurrentShardCount: int(aws.ToInt32(out.CurrentShardCount)), TargetShardCount: int(aws.ToInt32(out.TargetShardCount))}, nil
}
