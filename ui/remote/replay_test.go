package remote

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	apiremote "github.com/shardscope/shardscope/api/remote"
	"github.com/shardscope/shardscope/api/remote/remotetest"
	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
)

// TestReplayServe replays a shard of `shardscope serve` through the
// attached backend: the records come back whole (a KPL aggregate stays
// one), a refused start carries its Kinesis error name, and the replay's
// reads come out of the console's per-shard read budget, so the server
// sees no more GetRecords than the budget allows.
func TestReplayServe(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "orders", 1)
	remotetest.Put(t, sdk, "orders", "a", 30)
	agg := producers.NewAggregator(producers.DefaultAggregateMaxBytes)
	for _, k := range []string{"u1", "u2", "u3"} {
		if err := agg.Add(producers.UserRecord{PartitionKey: k, Data: []byte(k)}); err != nil {
			t.Fatal(err)
		}
	}
	e, _ := agg.Build()
	if _, err := sdk.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String(e.PartitionKey), Data: e.Data}); err != nil {
		t.Fatal(err)
	}
	proxy := remotetest.NewCounter(t, url)
	const interval = 400 * time.Millisecond
	b := start(t, remotetest.Remote(proxy.URL, apiremote.Options{}), Config{Stream: "orders", ReadInterval: interval})
	const shard = "shardId-000000000000"

	if _, err := b.ShardIterator("orders", shard, engine.StartingPosition{Type: engine.AtSequenceNumber, SequenceNumber: "49999999999999999999999999999999999999999999999999999999"}); !engine.IsCode(err, engine.InvalidArgumentException) || !strings.Contains(err.Error(), "InvalidArgumentException") {
		t.Fatalf("an unknown sequence number: %v", err)
	}

	it, err := b.ShardIterator("orders", shard, engine.StartingPosition{Type: engine.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	before := proxy.Calls()["GetRecords"]
	began := time.Now()
	var recs []engine.TapRecord
	reads := 0
	for time.Since(began) < 3*time.Second {
		p, err := b.ReadShard("orders", shard, it, 10)
		if err != nil {
			t.Fatal(err)
		}
		reads++
		recs = append(recs, p.Records...)
		it = p.Next
	}
	elapsed := time.Since(began)
	calls := proxy.Calls()["GetRecords"] - before
	// The shard's budget is one call per interval for the console's reader
	// and the replay together: a burst of one, then the rate.
	if limit := 2 + int(elapsed/interval); calls > limit {
		t.Errorf("%d GetRecords in %v with a budget of one per %v (at most %d)", calls, elapsed, interval, limit)
	}
	if reads < 2 {
		t.Errorf("the replay read only %d times in %v", reads, elapsed)
	}
	if len(recs) != 31 || recs[0].ShardID != shard || recs[0].Stream != "orders" || string(recs[0].Data) != "a-0" {
		t.Fatalf("replayed %d records, first %+v", len(recs), recs[0])
	}
	if last := recs[30]; !consumers.IsAggregated(last.Data) {
		t.Errorf("the aggregate was not replayed whole: %q", last.Data)
	}
}
