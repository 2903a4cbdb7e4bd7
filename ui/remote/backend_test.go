package remote

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	apiremote "github.com/shardscope/shardscope/api/remote"
	"github.com/shardscope/shardscope/api/remote/remotetest"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
)

func TestMain(m *testing.M) { remotetest.Main(m) }

var bg = context.Background()

// feed gathers what the backend hands the console.
type feed struct {
	mu   sync.Mutex
	recs []engine.TapRecord
}

func (f *feed) drain(b *Backend) []engine.TapRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = b.DrainFeed(f.recs)
	return f.recs
}

// count returns how many records with the prefix arrived, and from which
// shards.
func (f *feed) count(b *Backend, prefix string) (int, map[string]int) {
	n, shards := 0, map[string]int{}
	for _, r := range f.drain(b) {
		if strings.HasPrefix(string(r.Data), prefix+"-") {
			n++
			shards[r.ShardID]++
		}
	}
	return n, shards
}

func start(t *testing.T, c *apiremote.Client, cfg Config) *Backend {
	t.Helper()
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = 300 * time.Millisecond
	}
	b := New(c, cfg)
	if err := b.Start(bg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

func stream(b *Backend) *engine.StreamSnapshot {
	s := b.Snapshot()
	if len(s.Streams) == 0 {
		return nil
	}
	return &s.Streams[0]
}

func hasEvent(b *Backend, sub string) bool {
	for _, e := range b.Snapshot().Events {
		if strings.Contains(e.Message, sub) {
			return true
		}
	}
	return false
}

// reading waits until the console read every open shard at least once.
func reading(t *testing.T, b *Backend, shards int) {
	t.Helper()
	remotetest.Eventually(t, fmt.Sprintf("the console reading %d shards", shards), 20*time.Second, func() bool {
		v := b.Consumers()
		return len(v) == 1 && v[0].ShardsDone >= shards
	})
}

// readOps are the only calls a read-only console may make.
var readOps = map[string]bool{
	"DescribeStreamSummary": true, "ListShards": true, "ListStreamConsumers": true,
	"GetShardIterator": true, "GetRecords": true, "DescribeStreamConsumer": true, "SubscribeToShard": true,
}

// TestAttachServeReadOnly attaches to shardscope serve (its own process)
// through a proxy that counts calls: the console shows the shards, the
// lineage after a split made by another client, the records and the
// measured throughput, and the server receives no write and no more than
// one GetRecords per second per shard.
func TestAttachServeReadOnly(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "orders", 2)
	proxy := remotetest.NewCounter(t, url)
	began := time.Now()
	b := start(t, remotetest.Remote(proxy.URL, apiremote.Options{}), Config{Stream: "orders"})
	reading(t, b, 2)

	s := stream(b)
	if s == nil || s.OpenShards != 2 || s.Status != engine.StatusActive || s.RetentionHours != 24 || s.Mode != engine.ModeProvisioned {
		t.Fatalf("snapshot: %+v", s)
	}
	if a := b.Attachment(); a.Writes || !strings.Contains(a.Reads, "20 % of 5 reads/s") || a.Where != strings.TrimPrefix(proxy.URL, "http://") {
		t.Fatalf("attachment: %+v", a)
	}

	if !hasEvent(b, "orders: ACTIVE, PROVISIONED, 2 open shards, retention 24h, encryption NONE, enhanced monitoring off, 0 fan-out consumers") {
		t.Fatalf("no summary event: %+v", b.Snapshot().Events)
	}
	var f feed
	remotetest.Put(t, sdk, "orders", "a", 20)
	remotetest.Eventually(t, "20 records in the feed", 10*time.Second, func() bool { n, _ := f.count(b, "a"); return n == 20 })

	// A split made elsewhere: the lineage shows, the parent is read to its
	// end, then its children.
	out, err := sdk.ListShards(bg, &kinesis.ListShardsInput{StreamName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	parent := out.Shards[0]
	rng := engine.HashKeyRange{}
	rng.Start, _ = engine.ParseHashKey(aws.ToString(parent.HashKeyRange.StartingHashKey))
	rng.End, _ = engine.ParseHashKey(aws.ToString(parent.HashKeyRange.EndingHashKey))
	if _, err := sdk.SplitShard(bg, &kinesis.SplitShardInput{StreamName: aws.String("orders"), ShardToSplit: parent.ShardId, NewStartingHashKey: aws.String(engine.MidpointKey(rng))}); err != nil {
		t.Fatal(err)
	}
	remotetest.WaitActive(t, sdk, "orders")
	remotetest.Eventually(t, "the split's lineage", 10*time.Second, func() bool {
		s := stream(b)
		for _, sh := range s.Shards {
			if sh.ShardID == aws.ToString(parent.ShardId) {
				return !sh.Open && len(sh.Children) == 2 && s.OpenShards == 3
			}
		}
		return false
	})
	if !hasEvent(b, "split from "+aws.ToString(parent.ShardId)) {
		t.Fatalf("no event for the split: %+v", b.Snapshot().Events)
	}
	remotetest.Put(t, sdk, "orders", "b", 60)
	remotetest.Eventually(t, "60 records after the split", 45*time.Second, func() bool { n, _ := f.count(b, "b"); return n == 60 })
	_, from := f.count(b, "b")
	if from["shardId-000000000002"] == 0 || from["shardId-000000000003"] == 0 || from[aws.ToString(parent.ShardId)] != 0 {
		t.Fatalf("records after the split came from %v, want both children and not the parent", from)
	}

	// Measured throughput: 50 records/s written for a while shows as about
	// 50 records/s in.
	ctx, stop := context.WithCancel(bg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				remotetest.Put(t, sdk, "orders", fmt.Sprintf("r%d", i), 5)
			}
		}
	}()
	var seen int64
	remotetest.Eventually(t, "a measured rate of about 50 records/s", 15*time.Second, func() bool {
		seen = stream(b).Rate.RecordsIn
		return seen >= 35 && seen <= 65
	})
	stop()
	<-done

	if _, err := b.SplitShard("orders", "shardId-000000000002"); !errors.Is(err, apiremote.ErrReadOnly) {
		t.Fatalf("split on a read-only console: %v, want ErrReadOnly", err)
	}
	if _, err := b.ProducerToggle("clickstream"); !errors.Is(err, apiremote.ErrReadOnly) {
		t.Fatalf("producer on a read-only console: %v, want ErrReadOnly", err)
	}
	b.Stop()
	elapsed := time.Since(began)

	calls := proxy.Calls()
	var ops []string
	for op, n := range calls {
		ops = append(ops, fmt.Sprintf("%s=%d", op, n))
		if !readOps[op] {
			t.Errorf("a read-only console made %d %s calls", n, op)
		}
	}
	sort.Strings(ops)
	t.Logf("calls the server received in %s: %s", elapsed.Round(time.Millisecond), strings.Join(ops, " "))
	// At most three shards are read at once (the parent ends before its
	// children start); one GetRecords a second each, plus one each for the
	// jittered start.
	if limit := int(elapsed.Seconds()*3) + 4; calls["GetRecords"] > limit {
		t.Fatalf("%d GetRecords in %s: over the budget of 1/s per shard (%d)", calls["GetRecords"], elapsed, limit)
	}
}

// TestAttachServeWrites: with --allow-writes each write waits for its
// second key press, names the exact call, and the producers stay under
// --max-rate.
func TestAttachServeWrites(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "orders", 1)
	proxy := remotetest.NewCounter(t, url)
	b := start(t, remotetest.Remote(proxy.URL, apiremote.Options{AllowWrites: true}), Config{Stream: "orders", MaxRate: 20})
	reading(t, b, 1)
	if a := b.Attachment(); !a.Writes || a.WritesNote != "producers ≤ 20 rec/s ≈ $0.0010/h" {
		t.Fatalf("attachment with writes: %+v", a)
	}

	ask, err := b.SplitShard("orders", "shardId-000000000000")
	if err != nil || !strings.Contains(ask, "confirm") || !strings.Contains(ask, "SplitShard(StreamName=orders, ShardToSplit=shardId-000000000000, NewStartingHashKey=") {
		t.Fatalf("first press: %q %v", ask, err)
	}
	if n := proxy.Calls()["SplitShard"]; n != 0 {
		t.Fatalf("SplitShard sent before confirmation (%d)", n)
	}
	sent, err := b.SplitShard("orders", "shardId-000000000000")
	if err != nil || !strings.HasPrefix(sent, "sent SplitShard(") {
		t.Fatalf("second press: %q %v", sent, err)
	}
	remotetest.Eventually(t, "the split in the snapshot", 10*time.Second, func() bool { s := stream(b); return s.OpenShards == 2 && s.ClosedShards == 1 })

	ask, err = b.ProducerToggle("clickstream")
	if err != nil || !strings.Contains(ask, "PutRecords(StreamName=orders)") || !strings.Contains(ask, "$") || !strings.Contains(ask, "20 records/s") {
		t.Fatalf("producer first press: %q %v", ask, err)
	}
	if _, err := b.ProducerToggle("clickstream"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"clickstream", "clickstream", "clickstream"} {
		if _, err := b.ProducerScale(p, 10); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	remotetest.Eventually(t, "the producer writing", 10*time.Second, func() bool { return b.Producers()[0].Sent > 0 })
	time.Sleep(3 * time.Second) // a span to measure the cap over, not a wait for a condition
	sent0 := b.Producers()[0].Sent
	el := time.Since(began)
	if limit := int64(20*el.Seconds()) + 20; sent0 > limit {
		t.Fatalf("producer sent %d records in %s: over --max-rate 20/s (%d)", sent0, el, limit)
	}
	b.Stop()
	after := b.Producers()[0].Sent
	time.Sleep(300 * time.Millisecond)
	if b.Producers()[0].Sent != after {
		t.Fatal("the producer kept sending after Stop")
	}
}

// TestAttachServeFanOut reads through a consumer it registers and
// deregisters it on the way out; a consumer registered by someone else
// stays.
func TestAttachServeFanOut(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "clicks", 2)
	c := remotetest.Remote(url, apiremote.Options{AllowConsumers: true})
	b := New(c, Config{Stream: "clicks", EFO: "watch", RefreshInterval: 300 * time.Millisecond})
	if err := b.Start(bg); err != nil {
		t.Fatal(err)
	}
	remotetest.Eventually(t, "the consumer registered", 20*time.Second, func() bool { return hasEvent(b, "registered fan-out consumer watch") })
	reading(t, b, 2)
	if v := b.Consumers()[0]; v.Kind != "fan-out" || v.Name != "watch" {
		t.Fatalf("consumer view: %+v", v)
	}
	var f feed
	remotetest.Put(t, sdk, "clicks", "e", 25)
	remotetest.Eventually(t, "25 records through fan-out", 10*time.Second, func() bool { n, _ := f.count(b, "e"); return n == 25 })
	b.Stop()
	sum, err := sdk.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("clicks")})
	if err != nil {
		t.Fatal(err)
	}
	arn := sum.StreamDescriptionSummary.StreamARN
	remotetest.Eventually(t, "the consumer deregistered", 10*time.Second, func() bool {
		out, err := sdk.ListStreamConsumers(bg, &kinesis.ListStreamConsumersInput{StreamARN: arn})
		return err == nil && len(out.Consumers) == 0
	})

	// Someone else's consumer is used and left alone.
	if _, err := sdk.RegisterStreamConsumer(bg, &kinesis.RegisterStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String("theirs")}); err != nil {
		t.Fatal(err)
	}
	b2 := New(c, Config{Stream: "clicks", EFO: "theirs", RefreshInterval: 300 * time.Millisecond})
	if err := b2.Start(bg); err != nil {
		t.Fatal(err)
	}
	remotetest.Eventually(t, "reading through theirs", 20*time.Second, func() bool { return hasEvent(b2, "left registered on quit") })
	b2.Stop()
	out, err := sdk.ListStreamConsumers(bg, &kinesis.ListStreamConsumersInput{StreamARN: arn})
	if err != nil || len(out.Consumers) != 1 {
		t.Fatalf("their consumer after quit: %+v %v", out, err)
	}
}

// TestAttachKinesalite: kinesalite has no fan-out; the console says so,
// polls instead, and follows a split.
func TestAttachKinesalite(t *testing.T) {
	url := remotetest.Kinesalite(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "lite", 2)
	b := start(t, remotetest.Remote(url, apiremote.Options{AllowConsumers: true}), Config{Stream: "lite", EFO: "watch"})
	remotetest.Eventually(t, "the fallback to polling", 20*time.Second, func() bool { return hasEvent(b, "enhanced fan-out is not available here") })
	reading(t, b, 2)
	if v := b.Consumers()[0]; v.Kind != "polling" || !strings.Contains(strings.Join(v.Summary, " "), "no enhanced fan-out") {
		t.Fatalf("consumer view: %+v", v)
	}
	var f feed
	remotetest.Put(t, sdk, "lite", "k", 20)
	remotetest.Eventually(t, "20 records", 15*time.Second, func() bool { n, _ := f.count(b, "k"); return n == 20 })
	if _, err := sdk.SplitShard(bg, &kinesis.SplitShardInput{StreamName: aws.String("lite"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")}); err != nil {
		t.Fatal(err)
	}
	remotetest.WaitActive(t, sdk, "lite")
	remotetest.Eventually(t, "the lineage", 15*time.Second, func() bool {
		s := stream(b)
		return s != nil && s.OpenShards == 3 && s.ClosedShards == 1 && hasEvent(b, "split from shardId-000000000000")
	})
	remotetest.Put(t, sdk, "lite", "m", 30)
	remotetest.Eventually(t, "30 records after the split", 15*time.Second, func() bool { n, _ := f.count(b, "m"); return n == 30 })
}

// TestAttachKinesisMock reads kinesis-mock's records and shards.
func TestAttachKinesisMock(t *testing.T) {
	url := remotetest.KinesisMock(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "mock", 2)
	b := start(t, remotetest.Remote(url, apiremote.Options{}), Config{Stream: "mock"})
	reading(t, b, 2)
	var f feed
	remotetest.Put(t, sdk, "mock", "q", 20)
	remotetest.Eventually(t, "20 records", 15*time.Second, func() bool { n, _ := f.count(b, "q"); return n == 20 })
	if s := stream(b); s.OpenShards != 2 {
		t.Fatalf("snapshot: %+v", s)
	}
}

func TestParseFrom(t *testing.T) {
	for in, want := range map[string]engine.IteratorType{
		"": engine.Latest, "latest": engine.Latest, "trim-horizon": engine.TrimHorizon,
		"at-timestamp=2026-12-03T18:00:00Z": engine.AtTimestamp, "at-sequence=4960": engine.AtSequenceNumber,
	} {
		f, err := ParseFrom(in)
		if err != nil || f.Type != want {
			t.Errorf("ParseFrom(%q) = %+v, %v", in, f, err)
		}
	}
	for _, bad := range []string{"earliest", "at-timestamp=yesterday", "at-sequence=abc", "at-sequence="} {
		if _, err := ParseFrom(bad); err == nil {
			t.Errorf("ParseFrom(%q) accepted", bad)
		}
	}
}

// TestAttachConnectionLost: while the endpoint does not answer the console
// says so (header and events) and keeps trying; when it answers again it
// says that too and reads on.
func TestAttachConnectionLost(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "orders", 1)
	proxy := remotetest.NewCounter(t, url)
	b := start(t, remotetest.Remote(proxy.URL, apiremote.Options{Timeout: 2 * time.Second}), Config{Stream: "orders"})
	reading(t, b, 1)

	proxy.SetDown(true)
	remotetest.Eventually(t, "the lost connection shown", 15*time.Second, func() bool {
		return strings.HasPrefix(b.Attachment().Lost, "connection lost") && hasEvent(b, "connection lost")
	})
	proxy.SetDown(false)
	remotetest.Eventually(t, "the connection back", 40*time.Second, func() bool {
		return b.Attachment().Lost == "" && hasEvent(b, "connection back after")
	})
	var f feed
	remotetest.Put(t, sdk, "orders", "back", 10)
	remotetest.Eventually(t, "records after the outage", 40*time.Second, func() bool { n, _ := f.count(b, "back"); return n == 10 })
}

// TestAttachFromAndKPL: --from trim-horizon reads what was there before;
// at-sequence=N starts at that record; a KPL aggregate shows as its user
// records, each with its sub-sequence number.
func TestAttachFromAndKPL(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "kpl", 1)
	remotetest.Put(t, sdk, "kpl", "old", 10)
	var users []producers.UserRecord
	for i := range 4 {
		users = append(users, producers.UserRecord{PartitionKey: fmt.Sprintf("u%d", i), Data: []byte(fmt.Sprintf("agg-%d", i))})
	}
	entries, err := producers.Aggregate(users, producers.DefaultAggregateMaxBytes)
	if err != nil || len(entries) != 1 {
		t.Fatalf("aggregate: %d entries, %v", len(entries), err)
	}
	if _, err := sdk.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String("kpl"), PartitionKey: aws.String(entries[0].PartitionKey),
		Data: entries[0].Data}); err != nil {
		t.Fatal(err)
	}
	c := remotetest.Remote(url, apiremote.Options{})

	b := start(t, c, Config{Stream: "kpl", From: From{Type: engine.TrimHorizon}})
	var f feed
	remotetest.Eventually(t, "the old records and the aggregate's four", 10*time.Second, func() bool {
		n, _ := f.count(b, "old")
		m, _ := f.count(b, "agg")
		return n == 10 && m == 4
	})
	var subs []string
	var fifth string
	for _, r := range f.drain(b) {
		if strings.HasPrefix(string(r.Data), "agg-") {
			subs = append(subs, r.SequenceNumber[strings.LastIndexByte(r.SequenceNumber, '/'):]+" "+r.PartitionKey)
		}
		if string(r.Data) == "old-4" {
			fifth = r.SequenceNumber
		}
	}
	if strings.Join(subs, ",") != "/0 u0,/1 u1,/2 u2,/3 u3" {
		t.Fatalf("user records of the aggregate: %v", subs)
	}
	b.Stop()

	from, err := ParseFrom("at-sequence=" + fifth)
	if err != nil {
		t.Fatal(err)
	}
	b2 := start(t, c, Config{Stream: "kpl", From: from})
	var f2 feed
	remotetest.Eventually(t, "the records from the fifth on", 10*time.Second, func() bool { m, _ := f2.count(b2, "agg"); return m == 4 })
	if n, _ := f2.count(b2, "old"); n != 6 {
		t.Fatalf("from at-sequence of old-4: %d old records, want 6 (old-4 … old-9)", n)
	}
}

// TestAttachSeesThrottling: another reader spends the shard's 5 reads/s;
// the console counts its refused reads and tells of them.
func TestAttachSeesThrottling(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "busy", 1)
	b := start(t, remotetest.Remote(url, apiremote.Options{}), Config{Stream: "busy", ReadInterval: 200 * time.Millisecond})
	reading(t, b, 1)
	ctx, stop := context.WithCancel(bg)
	defer stop()
	greedy := remotetest.Remote(url, apiremote.Options{})
	go func() {
		it, err := greedy.GetShardIterator(ctx, engine.GetShardIteratorInput{StreamRef: engine.StreamRef{StreamName: "busy"}, ShardID: "shardId-000000000000", ShardIteratorType: engine.Latest})
		if err != nil {
			return
		}
		for ctx.Err() == nil {
			if out, err := greedy.GetRecords(ctx, engine.GetRecordsInput{ShardIterator: it}); err == nil {
				it = out.NextShardIterator
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	remotetest.Eventually(t, "throttled reads counted and told", 20*time.Second, func() bool {
		return b.Consumers()[0].Throttled > 0 && hasEvent(b, "read throttled on shardId-000000000000")
	})
}
