package api

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shardscope/shardscope/engine"
)

// The SDK's own shapes for the settings actions: enhanced monitoring,
// record size, warm throughput, account settings and ARN-based tagging.

func TestSDKEnhancedMonitoring(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	env.create("s", 1)
	out, err := env.c.EnableEnhancedMonitoring(bg, &kinesis.EnableEnhancedMonitoringInput{
		StreamName: aws.String("s"), ShardLevelMetrics: []types.MetricsName{types.MetricsNameIncomingBytes, types.MetricsNameIteratorAgeMilliseconds},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.StreamName) != "s" || aws.ToString(out.StreamARN) != "arn:aws:kinesis:us-east-1:000000000000:stream/s" ||
		out.CurrentShardLevelMetrics == nil || len(out.CurrentShardLevelMetrics) != 0 ||
		!slices.Equal(out.DesiredShardLevelMetrics, []types.MetricsName{"IncomingBytes", "IteratorAgeMilliseconds"}) {
		t.Fatalf("enable: %+v", out)
	}
	d, err := env.c.DescribeStream(bg, &kinesis.DescribeStreamInput{StreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if em := d.StreamDescription.EnhancedMonitoring; len(em) != 1 || !slices.Equal(em[0].ShardLevelMetrics, []types.MetricsName{"IncomingBytes", "IteratorAgeMilliseconds"}) {
		t.Fatalf("DescribeStream EnhancedMonitoring %+v", em)
	}
	dis, err := env.c.DisableEnhancedMonitoring(bg, &kinesis.DisableEnhancedMonitoringInput{
		StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s"), ShardLevelMetrics: []types.MetricsName{types.MetricsNameAll},
	})
	if err != nil || len(dis.CurrentShardLevelMetrics) != 2 || dis.DesiredShardLevelMetrics == nil || len(dis.DesiredShardLevelMetrics) != 0 {
		t.Fatalf("disable: %+v %v", dis, err)
	}
	s, err := env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if em := s.StreamDescriptionSummary.EnhancedMonitoring; len(em) != 1 || len(em[0].ShardLevelMetrics) != 0 {
		t.Fatalf("summary EnhancedMonitoring %+v", em)
	}
	_, err = env.c.EnableEnhancedMonitoring(bg, &kinesis.EnableEnhancedMonitoringInput{StreamName: aws.String("s"), ShardLevelMetrics: []types.MetricsName{"Latency"}})
	wantErr[*types.ValidationException](t, err, "")
	_, err = env.c.EnableEnhancedMonitoring(bg, &kinesis.EnableEnhancedMonitoringInput{StreamName: aws.String("nope"), ShardLevelMetrics: []types.MetricsName{"ALL"}})
	wantErr[*types.ResourceNotFoundException](t, err, "Stream nope under account 000000000000 not found.")
}

func TestSDKMaxRecordSize(t *testing.T) {
	env := newSDKEnv(t, engine.Options{DisableLimits: true})
	env.create("s", 1)
	arn := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s")
	_, err := env.c.UpdateMaxRecordSize(bg, &kinesis.UpdateMaxRecordSizeInput{StreamARN: arn, MaxRecordSizeInKiB: aws.Int32(512)})
	v := wantErr[*types.ValidationException](t, err, "")
	if !strings.Contains(v.ErrorMessage(), "at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value greater than or equal to 1024") {
		t.Fatalf("message %q", v.ErrorMessage())
	}
	big := bytes.Repeat([]byte("x"), 3<<20)
	_, err = env.c.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: big})
	wantErr[*types.ValidationException](t, err, "")

	if _, err := env.c.UpdateMaxRecordSize(bg, &kinesis.UpdateMaxRecordSizeInput{StreamARN: arn, MaxRecordSizeInKiB: aws.Int32(3072)}); err != nil {
		t.Fatal(err)
	}
	s, err := env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamARN: arn})
	if err != nil || aws.ToInt32(s.StreamDescriptionSummary.MaxRecordSizeInKiB) != 3072 {
		t.Fatalf("summary: %v %v", s, err)
	}
	if _, err := env.c.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: big}); err != nil {
		t.Fatalf("3 MiB record: %v", err)
	}
	it := env.iterator(&kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	got, err := env.c.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	if err != nil || len(got.Records) != 1 || !bytes.Equal(got.Records[0].Data, big) {
		t.Fatalf("read back: %v", err)
	}
}

func TestSDKWarmThroughputAndAccountSettings(t *testing.T) {
	env := newSDKEnv(t, engine.Options{ScaleInterval: -1})
	if _, err := env.c.CreateStream(bg, &kinesis.CreateStreamInput{StreamName: aws.String("od"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatal(err)
	}
	a, err := env.c.DescribeAccountSettings(bg, &kinesis.DescribeAccountSettingsInput{})
	if err != nil || a.MinimumThroughputBillingCommitment.Status != types.MinimumThroughputBillingCommitmentOutputStatusDisabled || a.MinimumThroughputBillingCommitment.StartedAt != nil {
		t.Fatalf("describe: %+v %v", a, err)
	}
	in := &kinesis.UpdateStreamWarmThroughputInput{StreamName: aws.String("od"), WarmThroughputMiBps: aws.Int32(8)}
	_, err = env.c.UpdateStreamWarmThroughput(bg, in)
	wantErr[*types.InvalidArgumentException](t, err, "")

	_, err = env.c.UpdateAccountSettings(bg, &kinesis.UpdateAccountSettingsInput{MinimumThroughputBillingCommitment: &types.MinimumThroughputBillingCommitmentInput{Status: "MAYBE"}})
	wantErr[*types.ValidationException](t, err, "1 validation error detected: Value 'MAYBE' at 'minimumThroughputBillingCommitment.status' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]")
	u, err := env.c.UpdateAccountSettings(bg, &kinesis.UpdateAccountSettingsInput{MinimumThroughputBillingCommitment: &types.MinimumThroughputBillingCommitmentInput{Status: types.MinimumThroughputBillingCommitmentInputStatusEnabled}})
	if err != nil {
		t.Fatal(err)
	}
	c := u.MinimumThroughputBillingCommitment
	if c.Status != types.MinimumThroughputBillingCommitmentOutputStatusEnabled || !aws.ToTime(c.StartedAt).Equal(t0) || !aws.ToTime(c.EarliestAllowedEndAt).Equal(t0.Add(24*time.Hour)) || c.EndedAt != nil {
		t.Fatalf("update: %+v", c)
	}

	w, err := env.c.UpdateStreamWarmThroughput(bg, in)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(w.StreamName) != "od" || aws.ToInt32(w.WarmThroughput.TargetMiBps) != 8 || aws.ToInt32(w.WarmThroughput.CurrentMiBps) != 4 {
		t.Fatalf("warm: %+v %+v", w, w.WarmThroughput)
	}
	s, err := env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("od")})
	if err != nil {
		t.Fatal(err)
	}
	if wt := s.StreamDescriptionSummary.WarmThroughput; wt == nil || aws.ToInt32(wt.TargetMiBps) != 8 || aws.ToInt32(wt.CurrentMiBps) != 8 || aws.ToInt32(s.StreamDescriptionSummary.OpenShardCount) != 8 {
		t.Fatalf("summary: %+v", s.StreamDescriptionSummary)
	}

	// CreateStream and UpdateStreamMode take warm throughput and the record size too.
	if _, err := env.c.CreateStream(bg, &kinesis.CreateStreamInput{StreamName: aws.String("od2"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand},
		WarmThroughputMiBps: aws.Int32(6), MaxRecordSizeInKiB: aws.Int32(10240)}); err != nil {
		t.Fatal(err)
	}
	s, err = env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("od2")})
	if err != nil || aws.ToInt32(s.StreamDescriptionSummary.OpenShardCount) != 6 || aws.ToInt32(s.StreamDescriptionSummary.MaxRecordSizeInKiB) != 10240 {
		t.Fatalf("created with settings: %+v %v", s, err)
	}
	_, err = env.c.CreateStream(bg, &kinesis.CreateStreamInput{StreamName: aws.String("p"), ShardCount: aws.Int32(1), MaxRecordSizeInKiB: aws.Int32(0)})
	wantErr[*types.ValidationException](t, err, "1 validation error detected: Value '0' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value greater than or equal to 1024")
	env.create("p", 1)
	if _, err := env.c.UpdateStreamMode(bg, &kinesis.UpdateStreamModeInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/p"),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}, WarmThroughputMiBps: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	s, err = env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("p")})
	if wt := s.StreamDescriptionSummary.WarmThroughput; err != nil || wt == nil || aws.ToInt32(wt.TargetMiBps) != 2 || aws.ToInt32(wt.CurrentMiBps) != 2 {
		t.Fatalf("switched with warm throughput: %+v %v", s, err)
	}

	env.clock.Advance(time.Hour)
	u, err = env.c.UpdateAccountSettings(bg, &kinesis.UpdateAccountSettingsInput{MinimumThroughputBillingCommitment: &types.MinimumThroughputBillingCommitmentInput{Status: types.MinimumThroughputBillingCommitmentInputStatusDisabled}})
	if err != nil || u.MinimumThroughputBillingCommitment.Status != types.MinimumThroughputBillingCommitmentOutputStatusEnabledUntilEarliestAllowedEnd ||
		!aws.ToTime(u.MinimumThroughputBillingCommitment.EndedAt).Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("early disable: %+v %v", u, err)
	}
}

func TestSDKTagResource(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	env.create("s", 1)
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	reg, err := env.c.RegisterStreamConsumer(bg, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(arn), ConsumerName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	carn := reg.Consumer.ConsumerARN
	for _, r := range []*string{aws.String(arn), carn} {
		if _, err := env.c.TagResource(bg, &kinesis.TagResourceInput{ResourceARN: r, Tags: map[string]string{"env": "dev", "team": "data"}}); err != nil {
			t.Fatalf("TagResource %s: %v", *r, err)
		}
	}
	if _, err := env.c.UntagResource(bg, &kinesis.UntagResourceInput{ResourceARN: carn, TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	l, err := env.c.ListTagsForResource(bg, &kinesis.ListTagsForResourceInput{ResourceARN: carn})
	if err != nil || len(l.Tags) != 1 || aws.ToString(l.Tags[0].Key) != "team" || aws.ToString(l.Tags[0].Value) != "data" {
		t.Fatalf("consumer tags: %+v %v", l, err)
	}
	// The stream's ARN-based tags are its AddTagsToStream tags.
	ls, err := env.c.ListTagsForStream(bg, &kinesis.ListTagsForStreamInput{StreamName: aws.String("s")})
	if err != nil || len(ls.Tags) != 2 {
		t.Fatalf("stream tags: %+v %v", ls, err)
	}
	_, err = env.c.TagResource(bg, &kinesis.TagResourceInput{ResourceARN: aws.String(arn + "-x"), Tags: map[string]string{"a": "b"}})
	wantErr[*types.ResourceNotFoundException](t, err, "")
	_, err = env.c.ListTagsForResource(bg, &kinesis.ListTagsForResourceInput{ResourceARN: aws.String("arn:aws:s3:::bucket")})
	wantErr[*types.ValidationException](t, err, "")
}
