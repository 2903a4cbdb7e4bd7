package remote_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/shardscope/shardscope/api/remote"
	"github.com/shardscope/shardscope/api/remote/remotetest"
	"github.com/shardscope/shardscope/engine"
)

func TestMain(m *testing.M) { remotetest.Main(m) }

var bg = context.Background()

// TestClientAgainstServe drives every wrapped call against shardscope
// serve in its own process, through a proxy that counts what arrives.
func TestClientAgainstServe(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "orders", 3)
	proxy := remotetest.NewCounter(t, url)

	ro := remotetest.Remote(proxy.URL, remote.Options{})
	ref := engine.StreamRef{StreamName: "orders"}

	// ListShards pages with NextToken.
	page, err := ro.ListShards(bg, engine.ListShardsInput{StreamRef: ref, MaxResults: 1})
	if err != nil || len(page.Shards) != 1 || page.NextToken == "" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	all, err := ro.AllShards(bg, ref)
	if err != nil || len(all) != 3 || !all[2].Open() || all[2].HashKeyRange.End != engine.MaxHashKey {
		t.Fatalf("AllShards: %+v %v", all, err)
	}

	sum, err := ro.DescribeStreamSummary(bg, ref)
	if err != nil || sum.StreamStatus != engine.StatusActive || sum.StreamMode != engine.ModeProvisioned || sum.RetentionPeriodHours != 24 || sum.OpenShardCount != 3 {
		t.Fatalf("summary: %+v %v", sum, err)
	}

	// Errors keep the service's name.
	_, err = ro.DescribeStreamSummary(bg, engine.StreamRef{StreamName: "nope"})
	if !engine.IsCode(err, engine.ResourceNotFoundException) {
		t.Fatalf("missing stream: %v, want ResourceNotFoundException", err)
	}
	_, err = ro.GetRecords(bg, engine.GetRecordsInput{ShardIterator: "garbage"})
	if engine.CodeOf(err) == "" {
		t.Fatalf("bad iterator: %v, want a Kinesis error name", err)
	}

	// Read what another client wrote.
	remotetest.Put(t, sdk, "orders", "k", 30)
	got := 0
	for _, s := range all {
		it, err := ro.GetShardIterator(bg, engine.GetShardIteratorInput{StreamRef: ref, ShardID: s.ShardID, ShardIteratorType: engine.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		out, err := ro.GetRecords(bg, engine.GetRecordsInput{ShardIterator: it})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			if r.ApproximateArrivalTimestamp.IsZero() || r.PartitionKey == "" {
				t.Fatalf("record without arrival time or key: %+v", r)
			}
		}
		got += len(out.Records)
	}
	if got != 30 {
		t.Fatalf("read %d records, want 30", got)
	}

	// Read-only: writes are refused before anything is sent.
	before := proxy.Calls()
	for name, call := range map[string]func() error{
		"SplitShard": func() error {
			return ro.SplitShard(bg, engine.SplitShardInput{StreamRef: ref, ShardToSplit: all[0].ShardID, NewStartingHashKey: "1"})
		},
		"MergeShards": func() error {
			return ro.MergeShards(bg, engine.MergeShardsInput{StreamRef: ref, ShardToMerge: all[0].ShardID, AdjacentShardToMerge: all[1].ShardID})
		},
		"PutRecords": func() error {
			_, err := ro.PutRecords(bg, engine.PutRecordsInput{StreamRef: ref, Records: []engine.PutRecordsEntry{{Data: []byte("x"), PartitionKey: "k"}}})
			return err
		},
		"IncreaseStreamRetentionPeriod": func() error {
			return ro.IncreaseStreamRetentionPeriod(bg, engine.RetentionInput{StreamRef: ref, RetentionPeriodHours: 48})
		},
		"DecreaseStreamRetentionPeriod": func() error {
			return ro.DecreaseStreamRetentionPeriod(bg, engine.RetentionInput{StreamRef: ref, RetentionPeriodHours: 24})
		},
		"UpdateStreamMode": func() error {
			return ro.UpdateStreamMode(bg, engine.UpdateStreamModeInput{StreamARN: sum.StreamARN, Mode: engine.ModeOnDemand})
		},
		"UpdateShardCount": func() error {
			_, err := ro.UpdateShardCount(bg, engine.UpdateShardCountInput{StreamRef: ref, TargetShardCount: 6})
			return err
		},
		"RegisterStreamConsumer": func() error {
			_, err := ro.RegisterStreamConsumer(bg, engine.RegisterConsumerInput{StreamARN: sum.StreamARN, ConsumerName: "c"})
			return err
		},
		"DeregisterStreamConsumer": func() error {
			return ro.DeregisterStreamConsumer(bg, engine.ConsumerRef{StreamARN: sum.StreamARN, ConsumerName: "c"})
		},
	} {
		if err := call(); !errors.Is(err, remote.ErrReadOnly) {
			t.Errorf("%s on a read-only client: %v, want ErrReadOnly", name, err)
		}
	}
	after := proxy.Calls()
	for op, n := range after {
		if n != before[op] {
			t.Errorf("read-only writes reached the server: %s %d → %d", op, before[op], n)
		}
	}

	// With writes allowed, a split goes through and the lineage shows.
	rw := remotetest.Remote(proxy.URL, remote.Options{AllowWrites: true})
	if err := rw.SplitShard(bg, engine.SplitShardInput{StreamRef: ref, ShardToSplit: all[0].ShardID, NewStartingHashKey: engine.MidpointKey(all[0].HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	remotetest.WaitActive(t, sdk, "orders")
	all, err = rw.AllShards(bg, ref)
	if err != nil || len(all) != 5 || all[0].Open() || all[3].ParentShardID != all[0].ShardID {
		t.Fatalf("after split: %+v %v", all, err)
	}
	if n := proxy.Calls()["SplitShard"]; n != 1 {
		t.Fatalf("server saw %d SplitShard calls, want 1", n)
	}
}

// TestFanOutAgainstServe registers a consumer, subscribes, reads and
// deregisters.
func TestFanOutAgainstServe(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "clicks", 1)
	c := remotetest.Remote(url, remote.Options{AllowConsumers: true})
	sum, err := c.DescribeStreamSummary(bg, engine.StreamRef{StreamName: "clicks"})
	if err != nil {
		t.Fatal(err)
	}
	cons, err := c.RegisterStreamConsumer(bg, engine.RegisterConsumerInput{StreamARN: sum.StreamARN, ConsumerName: "watch"})
	if err != nil {
		t.Fatal(err)
	}
	remotetest.Eventually(t, "the consumer ACTIVE", 30*time.Second, func() bool {
		d, err := c.DescribeStreamConsumer(bg, engine.ConsumerRef{ConsumerARN: cons.ConsumerARN})
		return err == nil && d.ConsumerStatus == engine.ConsumerActive
	})
	shards, err := c.AllShards(bg, engine.StreamRef{StreamName: "clicks"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.SubscribeToShard(bg, engine.SubscribeToShardInput{ConsumerARN: cons.ConsumerARN, ShardID: shards[0].ShardID,
		StartingPosition: engine.StartingPosition{Type: engine.TrimHorizon}})
	if err != nil {
		t.Fatal(err)
	}
	remotetest.Put(t, sdk, "clicks", "c", 10)
	got := 0
	ctx, cancel := context.WithTimeout(bg, 20*time.Second)
	defer cancel()
	for got < 10 {
		ev, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d records: %v", got, err)
		}
		got += len(ev.Records)
		if len(ev.Records) > 0 && ev.ContinuationSequenceNumber == "" {
			t.Fatal("an event of an open shard without ContinuationSequenceNumber")
		}
	}
	sub.Close()
	if _, err := sub.Next(ctx); err == nil || (!errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) && engine.CodeOf(err) == "" && !remote.IsConnection(err)) {
		t.Fatalf("Next after Close: %v", err)
	}
	if err := c.DeregisterStreamConsumer(bg, engine.ConsumerRef{ConsumerARN: cons.ConsumerARN}); err != nil {
		t.Fatal(err)
	}
}

// TestConnectionRefused maps a dead endpoint to ErrConnection.
func TestConnectionRefused(t *testing.T) {
	c := remotetest.Remote("http://127.0.0.1:1", remote.Options{Timeout: 2 * time.Second})
	_, err := c.DescribeStreamSummary(bg, engine.StreamRef{StreamName: "x"})
	if !remote.IsConnection(err) {
		t.Fatalf("refused connection: %v, want ErrConnection", err)
	}
}

// TestKinesaliteHasNoFanOut: kinesalite answers the fan-out calls with an
// error that the console reads as "not supported here".
func TestKinesaliteBasics(t *testing.T) {
	url := remotetest.Kinesalite(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "lite", 2)
	c := remotetest.Remote(url, remote.Options{AllowConsumers: true})
	ref := engine.StreamRef{StreamName: "lite"}
	shards, err := c.AllShards(bg, ref)
	if err != nil || len(shards) != 2 {
		t.Fatalf("ListShards: %+v %v", shards, err)
	}
	sum, err := c.DescribeStreamSummary(bg, ref)
	if err != nil || sum.StreamARN == "" {
		t.Fatalf("summary: %+v %v", sum, err)
	}
	_, err = c.RegisterStreamConsumer(bg, engine.RegisterConsumerInput{StreamARN: sum.StreamARN, ConsumerName: "x"})
	if engine.CodeOf(err) == "" {
		t.Fatalf("RegisterStreamConsumer on kinesalite: %v, want an error with a name", err)
	}
	t.Logf("kinesalite answers RegisterStreamConsumer with %v", err)
}
