package api

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shardscope/shardscope/engine"
)

// BenchmarkFanOutLatency measures how long a record takes from the start of
// its PutRecord call to its arrival at a SubscribeToShard subscriber, both
// through the real SDK over loopback HTTP/1.1, at 1,000 records a second
// (b.N records, one PutRecord per millisecond). Run it for a few seconds:
//
//	go test ./api/ -run '^$' -bench BenchmarkFanOutLatency -benchtime 3000x
//
// It reports the median and 99th percentile in milliseconds. Limits are
// off: 1,000 records a second is exactly one shard's write quota, and the
// point is the push path, not the throttle.
func BenchmarkFanOutLatency(b *testing.B) {
	e := testEngine(b, engine.Options{DisableLimits: true})
	c := sdkClient(b, testServer(b, e).URL)
	if _, err := c.CreateStream(bg, &kinesis.CreateStreamInput{StreamName: aws.String("fan"), ShardCount: aws.Int32(1)}); err != nil {
		b.Fatal(err)
	}
	reg, err := c.RegisterStreamConsumer(bg, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(fanARN), ConsumerName: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	out, err := streamSDK(c).SubscribeToShard(bg, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	if err != nil {
		b.Fatal(err)
	}
	s := out.GetStream()
	defer s.Close()

	// The receiver notes each record's latency from the send time it carries.
	latencies := make([]time.Duration, 0, b.N)
	received := make(chan struct{})
	go func() {
		defer close(received)
		for ev := range s.Events() {
			m, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !ok {
				continue
			}
			now := time.Now()
			for _, r := range m.Value.Records {
				sent := time.Unix(0, int64(binary.BigEndian.Uint64(r.Data)))
				latencies = append(latencies, now.Sub(sent))
			}
			if len(latencies) >= b.N {
				return
			}
		}
	}()

	data := make([]byte, 100)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if d := time.Until(start.Add(time.Duration(i) * time.Millisecond)); d > 0 {
			time.Sleep(d)
		}
		binary.BigEndian.PutUint64(data, uint64(time.Now().UnixNano()))
		if _, err := c.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String("fan"), PartitionKey: aws.String("k"), Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-received:
	case <-time.After(30 * time.Second):
		b.Fatalf("the %d records did not all arrive within 30 s", b.N)
	}
	b.StopTimer()
	if len(latencies) < b.N {
		b.Fatalf("stream ended after %d of %d records: %v", len(latencies), b.N, s.Err())
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}
