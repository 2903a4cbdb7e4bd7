package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

const streamARN = "arn:aws:kinesis:us-east-1:000000000000:stream/s"

func (env *testEnv) register(name string) Consumer {
	env.t.Helper()
	c, err := env.e.RegisterStreamConsumer(ctx, RegisterConsumerInput{StreamARN: streamARN, ConsumerName: name})
	if err != nil {
		env.t.Fatalf("register %s: %v", name, err)
	}
	return c
}

func TestConsumerRegistryAndErrors(t *testing.T) {
	env := newEnv(t, Options{CreateDelay: 10 * time.Second})
	env.create("s", 2)
	_, err := env.e.RegisterStreamConsumer(ctx, RegisterConsumerInput{StreamARN: streamARN, ConsumerName: "early"})
	wantCode(t, err, ResourceInUseException) // the stream is still CREATING
	env.clock.Advance(10 * time.Second)

	for _, bad := range []RegisterConsumerInput{
		{StreamARN: streamARN, ConsumerName: "bad name!"},
		{StreamARN: streamARN, ConsumerName: strings.Repeat("c", 129)},
		{StreamARN: streamARN},
		{ConsumerName: "c"},
		{StreamARN: "not-an-arn", ConsumerName: "c"},
	} {
		_, err := env.e.RegisterStreamConsumer(ctx, bad)
		wantCode(t, err, ValidationException)
	}
	_, err = env.e.RegisterStreamConsumer(ctx, RegisterConsumerInput{StreamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/nope", ConsumerName: "c"})
	wantCode(t, err, ResourceNotFoundException)

	// Five may be CREATING at once; the sixth waits.
	var first Consumer
	for i := 1; i <= 5; i++ {
		c := env.register(fmt.Sprintf("c%02d", i))
		if i == 1 {
			first = c
		}
		if c.ConsumerStatus != ConsumerCreating {
			t.Fatalf("new consumer %+v", c)
		}
	}
	want := fmt.Sprintf("arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c01:%d", env.clock.Now().Unix())
	if first.ConsumerARN != want || !first.ConsumerCreationTimestamp.Equal(env.clock.Now()) {
		t.Fatalf("consumer %+v, want ARN %s", first, want)
	}
	_, err = env.e.RegisterStreamConsumer(ctx, RegisterConsumerInput{StreamARN: streamARN, ConsumerName: "c06"})
	wantCode(t, err, LimitExceededException)
	_, err = env.e.RegisterStreamConsumer(ctx, RegisterConsumerInput{StreamARN: streamARN, ConsumerName: "c01"})
	wantCode(t, err, ResourceInUseException)
	// A CREATING consumer cannot read yet.
	_, err = env.e.SubscribeToShard(ctx, SubscribeToShardInput{ConsumerARN: first.ConsumerARN, ShardID: "shardId-000000000000", StartingPosition: StartingPosition{Type: Latest}})
	wantCode(t, err, ResourceInUseException)

	env.clock.Advance(10 * time.Second)
	for _, ref := range []ConsumerRef{{ConsumerARN: first.ConsumerARN}, {StreamARN: streamARN, ConsumerName: "c01"}} {
		d, err := env.e.DescribeStreamConsumer(ctx, ref)
		if err != nil || d.ConsumerStatus != ConsumerActive || d.ConsumerARN != first.ConsumerARN || d.StreamARN != streamARN {
			t.Fatalf("describe %+v: %+v %v", ref, d, err)
		}
	}
	for i := 6; i <= 20; i++ {
		env.register(fmt.Sprintf("c%02d", i))
		if i%5 == 0 {
			env.clock.Advance(10 * time.Second)
		}
	}
	_, err = env.e.RegisterStreamConsumer(ctx, RegisterConsumerInput{StreamARN: streamARN, ConsumerName: "c21"})
	wantCode(t, err, LimitExceededException)
	if !strings.Contains(err.Error(), "20") {
		t.Fatalf("message %q", err)
	}

	// Listing pages by name; a token lasts 300 s.
	var names []string
	page, err := env.e.ListStreamConsumers(ctx, ListStreamConsumersInput{StreamARN: streamARN, MaxResults: 7})
	for {
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Consumers {
			names = append(names, c.ConsumerName)
		}
		if page.NextToken == "" {
			break
		}
		page, err = env.e.ListStreamConsumers(ctx, ListStreamConsumersInput{StreamARN: streamARN, NextToken: page.NextToken, MaxResults: 7})
	}
	if len(names) != 20 || names[0] != "c01" || names[19] != "c20" {
		t.Fatalf("listed %v", names)
	}
	page, _ = env.e.ListStreamConsumers(ctx, ListStreamConsumersInput{StreamARN: streamARN, MaxResults: 1})
	env.clock.Advance(IteratorTTL + time.Second)
	_, err = env.e.ListStreamConsumers(ctx, ListStreamConsumersInput{StreamARN: streamARN, NextToken: page.NextToken})
	wantCode(t, err, ExpiredNextTokenException)
	_, err = env.e.ListStreamConsumers(ctx, ListStreamConsumersInput{StreamARN: streamARN, NextToken: "garbage"})
	wantCode(t, err, InvalidArgumentException)
	_, err = env.e.ListStreamConsumers(ctx, ListStreamConsumersInput{StreamARN: streamARN, MaxResults: 10001})
	wantCode(t, err, ValidationException)

	// Unknown and malformed references.
	for _, c := range []struct {
		ref  ConsumerRef
		code ErrorCode
	}{
		{ConsumerRef{ConsumerARN: streamARN + "/consumer/nobody:1"}, ResourceNotFoundException},
		{ConsumerRef{ConsumerARN: fmt.Sprintf("%s/consumer/c01:%d", streamARN, first.ConsumerCreationTimestamp.Unix()-1)}, ResourceNotFoundException}, // an older incarnation
		{ConsumerRef{ConsumerARN: "arn:aws:kinesis:us-east-1:000000000000:stream/other/consumer/c01:1"}, ResourceNotFoundException},
		{ConsumerRef{StreamARN: streamARN, ConsumerName: "nobody"}, ResourceNotFoundException},
		{ConsumerRef{ConsumerARN: "arn:aws:kinesis:us-east-1:000000000000:stream/s"}, ValidationException},
		{ConsumerRef{StreamARN: streamARN, ConsumerName: "bad name!"}, ValidationException},
		{ConsumerRef{StreamARN: streamARN}, InvalidArgumentException},
		{ConsumerRef{}, InvalidArgumentException},
	} {
		_, err := env.e.DescribeStreamConsumer(ctx, c.ref)
		wantCode(t, err, c.code)
		wantCode(t, env.e.DeregisterStreamConsumer(ctx, c.ref), c.code)
	}

	// The stream cannot go while consumers are registered.
	wantCode(t, env.e.DeleteStream(ctx, DeleteStreamInput{StreamRef: StreamRef{StreamName: "s"}}), ResourceInUseException)
	if sum, _ := env.e.DescribeStreamSummary(ctx, StreamRef{StreamName: "s"}); sum.ConsumerCount != 20 {
		t.Fatalf("consumer count %d, want 20", sum.ConsumerCount)
	}
	if err := env.e.DeregisterStreamConsumer(ctx, ConsumerRef{ConsumerARN: first.ConsumerARN}); err != nil {
		t.Fatal(err)
	}
	_, err = env.e.DescribeStreamConsumer(ctx, ConsumerRef{ConsumerARN: first.ConsumerARN})
	wantCode(t, err, ResourceNotFoundException)

	// Consumers are kept with the stream.
	env.reopen()
	if sum, _ := env.e.DescribeStreamSummary(ctx, StreamRef{StreamName: "s"}); sum.ConsumerCount != 19 {
		t.Fatalf("consumer count after reopen %d, want 19", sum.ConsumerCount)
	}
	d, err := env.e.DescribeStreamConsumer(ctx, ConsumerRef{StreamARN: streamARN, ConsumerName: "c02"})
	if err != nil || d.ConsumerStatus != ConsumerActive || d.ConsumerARN != strings.Replace(first.ConsumerARN, "c01", "c02", 1) {
		t.Fatalf("after reopen: %+v %v", d, err)
	}
	snap := env.e.Snapshot()
	if cs := snap.Stream("s").Consumers; len(cs) != 19 || cs[0].Name != "c02" || cs[0].Status != ConsumerActive {
		t.Fatalf("snapshot consumers %+v", cs)
	}
	if err := env.e.DeleteStream(ctx, DeleteStreamInput{StreamRef: StreamRef{StreamName: "s"}, EnforceConsumerDeletion: true}); err != nil {
		t.Fatalf("enforced delete: %v", err)
	}
	_, err = env.e.DescribeStreamConsumer(ctx, ConsumerRef{StreamARN: streamARN, ConsumerName: "c02"})
	wantCode(t, err, ResourceNotFoundException)
}

func TestConsumerDeletingStatus(t *testing.T) {
	env := newEnv(t, Options{DeleteDelay: 5 * time.Second})
	env.create("s", 1)
	c := env.register("app")
	if err := env.e.DeregisterStreamConsumer(ctx, ConsumerRef{StreamARN: streamARN, ConsumerName: "app"}); err != nil {
		t.Fatal(err)
	}
	d, err := env.e.DescribeStreamConsumer(ctx, ConsumerRef{ConsumerARN: c.ConsumerARN})
	if err != nil || d.ConsumerStatus != ConsumerDeleting {
		t.Fatalf("deregistered consumer %+v %v", d, err)
	}
	_, err = env.e.RegisterStreamConsumer(ctx, RegisterConsumerInput{StreamARN: streamARN, ConsumerName: "app"})
	wantCode(t, err, ResourceInUseException)
	_, err = env.e.SubscribeToShard(ctx, SubscribeToShardInput{ConsumerARN: c.ConsumerARN, ShardID: "shardId-000000000000", StartingPosition: StartingPosition{Type: Latest}})
	wantCode(t, err, ResourceInUseException)
	env.clock.Advance(5 * time.Second)
	_, err = env.e.DescribeStreamConsumer(ctx, ConsumerRef{ConsumerARN: c.ConsumerARN})
	wantCode(t, err, ResourceNotFoundException)
	// Re-registered, it is a new consumer with a new ARN.
	env.clock.Advance(time.Second)
	again := env.register("app")
	if again.ConsumerARN == c.ConsumerARN {
		t.Fatalf("re-registered consumer kept ARN %s", again.ConsumerARN)
	}
	_, err = env.e.DescribeStreamConsumer(ctx, ConsumerRef{ConsumerARN: c.ConsumerARN})
	wantCode(t, err, ResourceNotFoundException)
}

// follower runs Next in a goroutine and hands over what it returns.
type follower struct {
	events chan SubscriptionEvent
	errs   chan error
}

func follow(sub interface {
	Next(context.Context) (SubscriptionEvent, error)
}) *follower {
	f := &follower{events: make(chan SubscriptionEvent, 100), errs: make(chan error, 1)}
	go func() {
		for {
			ev, err := sub.Next(context.Background())
			if err != nil {
				f.errs <- err
				return
			}
			f.events <- ev
		}
	}()
	return f
}

func (f *follower) event(t *testing.T) SubscriptionEvent {
	t.Helper()
	select {
	case ev := <-f.events:
		return ev
	case err := <-f.errs:
		t.Fatalf("subscription ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return SubscriptionEvent{}
}

func (f *follower) end(t *testing.T) error {
	t.Helper()
	select {
	case ev := <-f.events:
		t.Fatalf("event %+v, want the end", ev)
	case err := <-f.errs:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("subscription did not end within 10 s")
	}
	return nil
}

func (env *testEnv) subscribe(arn, shard string, pos StartingPosition) *FanOutSubscription {
	env.t.Helper()
	sub, err := env.e.SubscribeToShard(ctx, SubscribeToShardInput{ConsumerARN: arn, ShardID: shard, StartingPosition: pos})
	if err != nil {
		env.t.Fatalf("subscribe %s: %v", shard, err)
	}
	return sub
}

func TestSubscribeToShardRateAndTakeover(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	c := env.register("app")
	const sh = "shardId-000000000000"
	in := SubscribeToShardInput{ConsumerARN: c.ConsumerARN, ShardID: sh, StartingPosition: StartingPosition{Type: TrimHorizon}}
	old := env.subscribe(c.ConsumerARN, sh, in.StartingPosition)
	f := follow(old)

	_, err := env.e.SubscribeToShard(ctx, in)
	wantCode(t, err, LimitExceededException) // one call a second
	env.clock.Advance(time.Second)
	_, err = env.e.SubscribeToShard(ctx, in)
	wantCode(t, err, ResourceInUseException) // within 5 s of the success
	env.clock.Advance(4 * time.Second)
	// Heartbeats reach the old one meanwhile (5 s without data).
	if ev := f.event(t); len(ev.Records) != 0 || ev.ContinuationSequenceNumber != formatSeq(0, 0) {
		t.Fatalf("heartbeat %+v", ev)
	}
	taker := env.subscribe(c.ConsumerARN, sh, in.StartingPosition)
	err = f.end(t)
	wantCode(t, err, ResourceInUseException)
	if _, err := old.Next(ctx); !IsCode(err, ResourceInUseException) {
		t.Fatalf("old subscription again: %v", err)
	}

	// Other validation and lookup errors.
	for _, c := range []struct {
		in   SubscribeToShardInput
		code ErrorCode
	}{
		{SubscribeToShardInput{ConsumerARN: c.ConsumerARN, ShardID: "shardId-000000000009", StartingPosition: StartingPosition{Type: Latest}}, ResourceNotFoundException},
		{SubscribeToShardInput{ConsumerARN: c.ConsumerARN, ShardID: sh, StartingPosition: StartingPosition{Type: "SIDEWAYS"}}, ValidationException},
		{SubscribeToShardInput{ConsumerARN: c.ConsumerARN, ShardID: sh}, ValidationException},
		{SubscribeToShardInput{ShardID: sh, StartingPosition: StartingPosition{Type: Latest}}, ValidationException},
		{SubscribeToShardInput{ConsumerARN: streamARN + "/consumer/nobody:1", ShardID: sh, StartingPosition: StartingPosition{Type: Latest}}, ResourceNotFoundException},
	} {
		_, err := env.e.SubscribeToShard(ctx, c.in)
		wantCode(t, err, c.code)
	}

	// The taker streams; deregistering the consumer ends it.
	f2 := follow(taker)
	env.put("s", "k", "one")
	if ev := f2.event(t); len(ev.Records) != 1 || string(ev.Records[0].Data) != "one" {
		t.Fatalf("event %+v", ev)
	}
	snap := env.e.Snapshot()
	cs := snap.Stream("s").Consumers
	if len(cs) != 1 || cs[0].Subscriptions != 1 || cs[0].Total.RecordsOut != 1 {
		t.Fatalf("snapshot consumers %+v", cs)
	}
	if err := env.e.DeregisterStreamConsumer(ctx, ConsumerRef{ConsumerARN: c.ConsumerARN}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f2.end(t), ResourceNotFoundException)
	_, err = env.e.SubscribeToShard(ctx, in)
	wantCode(t, err, ResourceNotFoundException)
}

func TestFanOutBudgetIsItsOwn(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	c := env.register("app")
	const sh = "shardId-000000000000"
	for i := 0; i < 4; i++ {
		env.clock.Advance(time.Second)
		env.put("s", "k", strings.Repeat("x", 1<<20-10))
	}
	env.clock.Advance(time.Second)
	// A 4 MiB GetRecords spends the shared budget: the next call is throttled.
	out, err := env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: env.iter("s", sh, TrimHorizon, "", time.Time{})})
	if err != nil || len(out.Records) != 4 {
		t.Fatalf("big read: %d records, %v", len(out.Records), err)
	}
	_, err = env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: out.NextShardIterator})
	wantCode(t, err, ProvisionedThroughputExceededException)
	// The fan-out consumer reads the same 4 MiB at once, clock unmoved.
	sub := env.subscribe(c.ConsumerARN, sh, StartingPosition{Type: TrimHorizon})
	defer sub.Close()
	f := follow(sub)
	if ev := f.event(t); len(ev.Records) != 4 {
		t.Fatalf("fan-out event of %d records, want 4", len(ev.Records))
	}
	// Its own budget is now 2 MiB in debt: the next event waits a second of
	// engine time, however long the wall clock runs.
	env.put("s", "k", "small")
	deadline := time.Now().Add(10 * time.Second)
	for sub.paced.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Next never waited for its budget")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case ev := <-f.events:
		t.Fatalf("event %+v delivered over budget", ev)
	case err := <-f.errs:
		t.Fatalf("ended over budget: %v", err)
	default:
	}
	env.clock.Advance(time.Second + 2*time.Millisecond)
	if ev := f.event(t); len(ev.Records) != 1 || string(ev.Records[0].Data) != "small" {
		t.Fatalf("event %+v", ev)
	}
	// Shared and dedicated throughput are counted apart.
	env.clock.Advance(time.Second)
	snap := env.e.Snapshot()
	ss := snap.Stream("s")
	var shared int64
	for _, r := range ss.Shards[0].History {
		shared += r.BytesOut
	}
	if shared != 4*(1<<20-10+1) {
		t.Fatalf("shared reads %d bytes, want the one GetRecords", shared)
	}
	if got := ss.Consumers[0].Total; got.RecordsOut != 5 || got.BytesOut != 4*(1<<20-9)+6 {
		t.Fatalf("fan-out totals %+v", got)
	}
	if ss.Cost.Lines == nil || !strings.Contains(ss.Cost.Basis, "1 enhanced fan-out consumer each reading every record") {
		t.Fatalf("cost basis %q", ss.Cost.Basis)
	}
}

func TestFanOutExpiryAndContinuation(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	c := env.register("app")
	const sh = "shardId-000000000000"
	var last string
	for i := 0; i < 3; i++ {
		last = env.put("s", "k", "old").SequenceNumber
	}
	// All three records expire: the position moves past them with no data.
	env.clock.Advance(25 * time.Hour)
	sub := env.subscribe(c.ConsumerARN, sh, StartingPosition{Type: TrimHorizon})
	if sub.ExpiresAt() != env.clock.Now().Add(5*time.Minute) || sub.ShardID() != sh || sub.ConsumerARN() != c.ConsumerARN {
		t.Fatalf("subscription %v %s %s", sub.ExpiresAt(), sub.ShardID(), sub.ConsumerARN())
	}
	f := follow(sub)
	env.clock.Advance(SubscribeHeartbeat)
	if ev := f.event(t); len(ev.Records) != 0 || ev.ContinuationSequenceNumber != last {
		t.Fatalf("heartbeat %+v, want continuation %s", ev, last)
	}
	next := env.put("s", "k", "new").SequenceNumber
	if ev := f.event(t); len(ev.Records) != 1 || ev.ContinuationSequenceNumber != next {
		t.Fatalf("event %+v", ev)
	}
	// Five minutes after the call it ends cleanly.
	env.clock.Advance(5 * time.Minute)
	if err := f.end(t); !errors.Is(err, io.EOF) {
		t.Fatalf("after 5 minutes: %v, want io.EOF", err)
	}
	if snap := env.e.Snapshot(); snap.Stream("s").Consumers[0].Subscriptions != 0 {
		t.Fatal("an expired subscription is still counted")
	}
	// Resuming from the continuation sees what came after.
	env.put("s", "k", "newer")
	sub2 := env.subscribe(c.ConsumerARN, sh, StartingPosition{Type: AfterSequenceNumber, SequenceNumber: next})
	f2 := follow(sub2)
	if ev := f2.event(t); len(ev.Records) != 1 || string(ev.Records[0].Data) != "newer" {
		t.Fatalf("resumed event %+v", ev)
	}
	sub2.Close()
	if err := f2.end(t); !errors.Is(err, io.EOF) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestFanOutAcrossSplitEndsWithChildren(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	c := env.register("app")
	sh := env.shards("s")[0]
	sub := env.subscribe(c.ConsumerARN, sh.ShardID, StartingPosition{Type: Latest})
	f := follow(sub)
	env.put("s", "k", "before")
	if ev := f.event(t); len(ev.Records) != 1 {
		t.Fatalf("event %+v", ev)
	}
	if err := env.e.SplitShard(ctx, SplitShardInput{StreamRef: StreamRef{StreamName: "s"}, ShardToSplit: sh.ShardID, NewStartingHashKey: MidpointKey(sh.HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	ev := f.event(t)
	if len(ev.ChildShards) != 2 || ev.ChildShards[0].ParentShards[0] != sh.ShardID {
		t.Fatalf("end event %+v", ev)
	}
	if err := f.end(t); !errors.Is(err, io.EOF) {
		t.Fatalf("after the end: %v", err)
	}
	// The children can be subscribed to at once (a different shard).
	sub2 := env.subscribe(c.ConsumerARN, ev.ChildShards[1].ShardID, StartingPosition{Type: TrimHorizon})
	sub2.Close()
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// clockWaited reports whether someone waits for the manual clock to move,
// as a Next with nothing to deliver does.
func clockWaited(c *ManualClock) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch != nil
}

// within runs fn and fails the test if it does not return within 10 s.
func within(t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: blocked for 10 s", what)
	}
}

func TestEngineCloseEndsFanOut(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	c := env.register("app")
	other := env.register("other")
	const sh = "shardId-000000000000"
	sub := env.subscribe(c.ConsumerARN, sh, StartingPosition{Type: TrimHorizon})
	f := follow(sub)
	finished := env.subscribe(other.ConsumerARN, sh, StartingPosition{Type: Latest})
	finished.Close()

	env.put("s", "k", "one")
	env.put("s", "k", "two")
	var got []string
	for len(got) < 2 {
		for _, r := range f.event(t).Records {
			got = append(got, string(r.Data))
		}
	}
	if len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Fatalf("records before close %v", got)
	}
	// Caught up, Next waits for a commit or the clock.
	waitFor(t, "Next waiting", func() bool { return clockWaited(env.clock) })

	start := time.Now()
	if err := env.e.Close(); err != nil {
		t.Fatal(err)
	}
	err := f.end(t)
	if !errors.Is(err, ErrClosed) || CodeOf(err) != "" {
		t.Fatalf("after Close: %v, want ErrClosed and no Kinesis code", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("ended %v after Close", d)
	}
	if _, err := sub.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next again: %v", err)
	}
	// A subscription that had ended already keeps its own end.
	if _, err := finished.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("closed subscription after engine Close: %v", err)
	}
	env.clock.Advance(SubscribeTakeover)
	_, err = env.e.SubscribeToShard(ctx, SubscribeToShardInput{ConsumerARN: c.ConsumerARN, ShardID: sh, StartingPosition: StartingPosition{Type: Latest}})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("subscribe after Close: %v", err)
	}
}

// pauseSeek makes SubscribeToShard stop before its storage seek: it
// returns a channel that receives once a call got there, and a release.
func pauseSeek(env *testEnv) (paused <-chan struct{}, release func()) {
	p, r := make(chan struct{}, 1), make(chan struct{})
	env.e.seekHook = func() {
		p <- struct{}{}
		<-r
	}
	var once sync.Once
	return p, func() { once.Do(func() { close(r) }) }
}

func waitPaused(t *testing.T, paused <-chan struct{}) {
	t.Helper()
	select {
	case <-paused:
	case <-time.After(10 * time.Second):
		t.Fatal("SubscribeToShard never reached its seek")
	}
}

// subscribeAsync runs SubscribeToShard in a goroutine.
func (env *testEnv) subscribeAsync(in SubscribeToShardInput) <-chan error {
	out := make(chan error, 1)
	go func() {
		fs, err := env.e.SubscribeToShard(ctx, in)
		if err == nil {
			f := follow(fs)
			select {
			case ev := <-f.events:
				if len(ev.Records) == 0 {
					err = fmt.Errorf("first event %+v has no records", ev)
				}
			case err = <-f.errs:
			case <-time.After(10 * time.Second):
				err = errors.New("no event within 10 s")
			}
			fs.Close()
		}
		out <- err
	}()
	return out
}

func result(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("SubscribeToShard did not return within 10 s")
	}
	return nil
}

func TestSubscribeSeeksWithoutEngineLock(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	c := env.register("app")
	const sh = "shardId-000000000000"
	env.put("s", "k", "before")
	paused, release := pauseSeek(env)
	defer release()
	in := SubscribeToShardInput{ConsumerARN: c.ConsumerARN, ShardID: sh, StartingPosition: StartingPosition{Type: TrimHorizon}}
	res := env.subscribeAsync(in)
	waitPaused(t, paused)
	// While it is at its storage work, other calls go on.
	within(t, "PutRecords", func() error {
		out, err := env.e.PutRecords(ctx, PutRecordsInput{StreamRef: StreamRef{StreamName: "s"}, Records: []PutRecordsEntry{{Data: []byte("during"), PartitionKey: "k"}}})
		if err == nil && out.FailedRecordCount != 0 {
			err = fmt.Errorf("%d records failed", out.FailedRecordCount)
		}
		return err
	})
	within(t, "RegisterStreamConsumer", func() error { // takes e.mu exclusively
		_, err := env.e.RegisterStreamConsumer(ctx, RegisterConsumerInput{StreamARN: streamARN, ConsumerName: "meanwhile"})
		return err
	})
	within(t, "DescribeStreamSummary", func() error {
		_, err := env.e.DescribeStreamSummary(ctx, StreamRef{StreamName: "s"})
		return err
	})
	within(t, "GetRecords", func() error {
		out, err := env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: env.iter("s", sh, TrimHorizon, "", time.Time{})})
		if err == nil && len(out.Records) != 2 {
			err = fmt.Errorf("%d records, want 2", len(out.Records))
		}
		return err
	})
	release()
	if err := result(t, res); err != nil {
		t.Fatalf("paused subscription: %v", err)
	}
}

func TestSubscribeRevalidatesAfterSeek(t *testing.T) {
	const sh = "shardId-000000000000"
	// pausedSubscribe starts a TRIM_HORIZON subscribe on a one-shard stream
	// and returns once it is paused between the lock and its seek.
	pausedSubscribe := func(t *testing.T) (env *testEnv, c Consumer, res <-chan error, release func()) {
		env = newEnv(t, Options{})
		env.create("s", 1)
		c = env.register("app")
		env.put("s", "k", "x")
		paused, release := pauseSeek(env)
		t.Cleanup(release)
		res = env.subscribeAsync(SubscribeToShardInput{ConsumerARN: c.ConsumerARN, ShardID: sh, StartingPosition: StartingPosition{Type: TrimHorizon}})
		waitPaused(t, paused)
		return env, c, res, release
	}

	t.Run("takeover", func(t *testing.T) {
		env, c, res, release := pausedSubscribe(t)
		// Another call for the same consumer and shard gets in first (LATEST
		// takes no seek); the paused one then counts as the second call.
		first := env.subscribe(c.ConsumerARN, sh, StartingPosition{Type: Latest})
		defer first.Close()
		release()
		wantCode(t, result(t, res), LimitExceededException)
	})
	t.Run("deregistered", func(t *testing.T) {
		env, c, res, release := pausedSubscribe(t)
		if err := env.e.DeregisterStreamConsumer(ctx, ConsumerRef{ConsumerARN: c.ConsumerARN}); err != nil {
			t.Fatal(err)
		}
		release()
		wantCode(t, result(t, res), ResourceNotFoundException)
	})
	t.Run("closed", func(t *testing.T) {
		env, _, res, release := pausedSubscribe(t)
		within(t, "Close", env.e.Close)
		release()
		if err := result(t, res); !errors.Is(err, ErrClosed) {
			t.Fatalf("subscription started across Close: %v", err)
		}
	})
}
