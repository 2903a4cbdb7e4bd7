package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/fxamacker/cbor/v2"
	"github.com/shardscope/shardscope/engine"
)

// Enhanced fan-out through the real SDK: the consumer registry, and
// SubscribeToShard read with the SDK's own event-stream reader.

const fanARN = "arn:aws:kinesis:us-east-1:000000000000:stream/fan"

// eventWait bounds every wait for an event; the tests wait on conditions,
// never on time passing.
const eventWait = 10 * time.Second

func (env *sdkEnv) register(streamARN, name string) types.Consumer {
	env.t.Helper()
	out, err := env.c.RegisterStreamConsumer(bg, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String(name)})
	if err != nil {
		env.t.Fatalf("RegisterStreamConsumer %s: %v", name, err)
	}
	return *out.Consumer
}

// streamClient returns a client of its own for one SubscribeToShard call;
// see streamSDK.
func (env *sdkEnv) streamClient() *kinesis.Client { return streamSDK(env.c) }

// streamSDK returns a copy of c fit to hold a subscription, working around
// two bugs of the Go SDK (kinesis v1.56.13 on smithy-go v1.28.9):
//
//   - It keeps one event-stream codec per client and initialises it lazily
//     without a lock, so two live subscriptions on one client are a data
//     race (-race reports it). Hence a client per subscription.
//   - It closes the request body as soon as Do returns, and its closed body
//     then answers WriteTo with io.EOF as an error. When a fast server
//     answers before net/http's HTTP/1.1 writeLoop has finished its
//     check for extra body bytes (which copies through WriteTo), that check
//     fails and the transport closes the connection under the response: the
//     stream dies with "use of closed network connection". On loopback that
//     happens now and then. Hiding WriteTo makes the check read instead,
//     and a closed body reads as a clean EOF.
func streamSDK(c *kinesis.Client) *kinesis.Client {
	return kinesis.New(c.Options(), func(o *kinesis.Options) { o.HTTPClient = readOnlyBody{o.HTTPClient} })
}

type readOnlyBody struct{ kinesis.HTTPClient }

func (c readOnlyBody) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body = struct{ io.ReadCloser }{req.Body}
	}
	return c.HTTPClient.Do(req)
}

// subscribe starts a subscription; it fails the test on error.
func (env *sdkEnv) subscribe(consumerARN, shardID string, pos *types.StartingPosition) *kinesis.SubscribeToShardEventStream {
	env.t.Helper()
	out, err := env.streamClient().SubscribeToShard(bg, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(consumerARN), ShardId: aws.String(shardID), StartingPosition: pos})
	if err != nil {
		env.t.Fatalf("SubscribeToShard %s %s: %v", shardID, pos.Type, err)
	}
	s := out.GetStream()
	env.t.Cleanup(func() { s.Close() })
	return s
}

// nextEvent returns the stream's next event, or ok=false when the stream
// has ended (the caller checks s.Err()).
func nextEvent(t *testing.T, s *kinesis.SubscribeToShardEventStream) (ev types.SubscribeToShardEvent, ok bool) {
	t.Helper()
	select {
	case e, open := <-s.Events():
		if !open {
			return ev, false
		}
		m, isEvent := e.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !isEvent {
			t.Fatalf("unexpected event %T %+v", e, e)
		}
		return m.Value, true
	case <-time.After(eventWait):
		t.Fatalf("no event within %v", eventWait)
	}
	return ev, false
}

// collect reads events until n records have come; it returns their data
// and the last event.
func collect(t *testing.T, s *kinesis.SubscribeToShardEventStream, n int) ([]string, types.SubscribeToShardEvent) {
	t.Helper()
	var data []string
	var last types.SubscribeToShardEvent
	for len(data) < n {
		ev, ok := nextEvent(t, s)
		if !ok {
			t.Fatalf("stream ended after %v (err %v), want %d records", data, s.Err(), n)
		}
		for _, r := range ev.Records {
			data = append(data, string(r.Data))
		}
		last = ev
	}
	if len(data) != n {
		t.Fatalf("got %v, want %d records", data, n)
	}
	return data, last
}

// wantEnd checks that the stream ends (after any heartbeats) with err.
func wantEnd(t *testing.T, s *kinesis.SubscribeToShardEventStream) error {
	t.Helper()
	for {
		ev, ok := nextEvent(t, s)
		if !ok {
			return s.Err()
		}
		if len(ev.Records) != 0 || len(ev.ChildShards) != 0 {
			t.Fatalf("event %+v before the end", ev)
		}
	}
}

func (env *sdkEnv) putKey(stream, hashKey, data string) string {
	env.t.Helper()
	out, err := env.c.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("k"), ExplicitHashKey: aws.String(hashKey), Data: []byte(data)})
	if err != nil {
		env.t.Fatalf("PutRecord: %v", err)
	}
	return aws.ToString(out.ShardId)
}

func TestSDKConsumerRegistry(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	env.create("fan", 1)
	out, err := env.c.RegisterStreamConsumer(bg, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(fanARN), ConsumerName: aws.String("app"), Tags: map[string]string{"team": "data"}})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Consumer
	wantARN := fmt.Sprintf("%s/consumer/app:%d", fanARN, t0.Unix())
	if aws.ToString(c.ConsumerName) != "app" || aws.ToString(c.ConsumerARN) != wantARN || c.ConsumerStatus != types.ConsumerStatusActive || !aws.ToTime(c.ConsumerCreationTimestamp).Equal(t0) {
		t.Fatalf("Consumer %+v", c)
	}
	env.register(fanARN, "other")
	_, err = env.c.RegisterStreamConsumer(bg, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(fanARN), ConsumerName: aws.String("app")})
	wantErr[*types.ResourceInUseException](t, err, "Consumer app under stream fan under account 000000000000 already exists.")
	_, err = env.c.RegisterStreamConsumer(bg, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(fanARN), ConsumerName: aws.String("bad name!")})
	wantErr[*types.ValidationException](t, err, "")

	for _, in := range []*kinesis.DescribeStreamConsumerInput{
		{ConsumerARN: aws.String(wantARN)},
		{StreamARN: aws.String(fanARN), ConsumerName: aws.String("app")},
	} {
		d, err := env.c.DescribeStreamConsumer(bg, in)
		if err != nil {
			t.Fatal(err)
		}
		cd := d.ConsumerDescription
		if aws.ToString(cd.ConsumerARN) != wantARN || aws.ToString(cd.StreamARN) != fanARN || cd.ConsumerStatus != types.ConsumerStatusActive ||
			aws.ToString(cd.ConsumerName) != "app" || !aws.ToTime(cd.ConsumerCreationTimestamp).Equal(t0) {
			t.Fatalf("ConsumerDescription %+v", cd)
		}
	}
	_, err = env.c.DescribeStreamConsumer(bg, &kinesis.DescribeStreamConsumerInput{StreamARN: aws.String(fanARN)})
	wantErr[*types.InvalidArgumentException](t, err, "Either ConsumerARN or both StreamARN and ConsumerName must be provided.")

	// Paging by name.
	var names []string
	in := &kinesis.ListStreamConsumersInput{StreamARN: aws.String(fanARN), MaxResults: aws.Int32(1)}
	for range 5 {
		l, err := env.c.ListStreamConsumers(bg, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range l.Consumers {
			names = append(names, aws.ToString(c.ConsumerName))
			if c.ConsumerStatus != types.ConsumerStatusActive || c.ConsumerARN == nil || c.ConsumerCreationTimestamp == nil {
				t.Fatalf("listed consumer %+v", c)
			}
		}
		if l.NextToken == nil {
			break
		}
		in.NextToken = l.NextToken
	}
	if fmt.Sprint(names) != "[app other]" {
		t.Fatalf("listed %v", names)
	}
	created := t0
	l, err := env.c.ListStreamConsumers(bg, &kinesis.ListStreamConsumersInput{StreamARN: aws.String(fanARN), StreamCreationTimestamp: &created})
	if err != nil || len(l.Consumers) != 2 || l.NextToken != nil {
		t.Fatalf("ListStreamConsumers: %v %+v", err, l)
	}
	sum, err := env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(fanARN)})
	if err != nil || aws.ToInt32(sum.StreamDescriptionSummary.ConsumerCount) != 2 {
		t.Fatalf("ConsumerCount: %v %+v", err, sum)
	}

	if _, err := env.c.DeregisterStreamConsumer(bg, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(wantARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.c.DeregisterStreamConsumer(bg, &kinesis.DeregisterStreamConsumerInput{StreamARN: aws.String(fanARN), ConsumerName: aws.String("other")}); err != nil {
		t.Fatal(err)
	}
	_, err = env.c.DescribeStreamConsumer(bg, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(wantARN)})
	wantErr[*types.ResourceNotFoundException](t, err, "Consumer app under stream fan under account 000000000000 not found.")
	l, err = env.c.ListStreamConsumers(bg, &kinesis.ListStreamConsumersInput{StreamARN: aws.String(fanARN)})
	if err != nil || l.Consumers == nil || len(l.Consumers) != 0 {
		t.Fatalf("ListStreamConsumers after deregistering: %v %+v", err, l)
	}
}

// A consumer is CREATING for CreateDelay and cannot subscribe until ACTIVE.
func TestSDKConsumerCreating(t *testing.T) {
	env := newSDKEnv(t, engine.Options{CreateDelay: 10 * time.Second})
	env.create("fan", 1)
	env.clock.Advance(10 * time.Second)
	c := env.register(fanARN, "slow")
	if c.ConsumerStatus != types.ConsumerStatusCreating {
		t.Fatalf("new consumer %+v", c)
	}
	_, err := env.c.SubscribeToShard(bg, &kinesis.SubscribeToShardInput{ConsumerARN: c.ConsumerARN, ShardId: aws.String("shardId-000000000000"), StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	wantErr[*types.ResourceInUseException](t, err, "")
	env.clock.Advance(10 * time.Second)
	d, err := env.c.DescribeStreamConsumer(bg, &kinesis.DescribeStreamConsumerInput{ConsumerARN: c.ConsumerARN})
	if err != nil || d.ConsumerDescription.ConsumerStatus != types.ConsumerStatusActive {
		t.Fatalf("after CreateDelay: %v %+v", err, d)
	}
	s := env.subscribe(aws.ToString(c.ConsumerARN), "shardId-000000000000", &types.StartingPosition{Type: types.ShardIteratorTypeLatest})
	env.put("fan", "k", "x")
	if data, _ := collect(t, s, 1); data[0] != "x" {
		t.Fatalf("got %v", data)
	}
}

// Records in order; a heartbeat; a split ends the stream with the child
// shards; reading on in the children, resuming from a continuation
// sequence number, gets every record written after the split exactly once.
func TestSDKSubscribeToShardAcrossSplit(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	env.create("fan", 1)
	arn := aws.ToString(env.register(fanARN, "app").ConsumerARN)
	env.put("fan", "k", "r0") // before the subscription: TRIM_HORIZON sees it

	s := env.subscribe(arn, "shardId-000000000000", &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	var seqs []string
	for i := 1; i <= 4; i++ {
		seqs = append(seqs, aws.ToString(env.put("fan", "k", fmt.Sprintf("r%d", i)).SequenceNumber))
	}
	data, last := collect(t, s, 5)
	if fmt.Sprint(data) != "[r0 r1 r2 r3 r4]" {
		t.Fatalf("parent records %v", data)
	}
	if aws.ToString(last.ContinuationSequenceNumber) != seqs[3] || last.MillisBehindLatest == nil || len(last.ChildShards) != 0 {
		t.Fatalf("last event %+v, want continuation %s", last, seqs[3])
	}

	// Idle for 5 s: an empty event whose continuation has not moved.
	env.clock.Advance(engine.SubscribeHeartbeat)
	hb, ok := nextEvent(t, s)
	if !ok || hb.Records == nil || len(hb.Records) != 0 || aws.ToString(hb.ContinuationSequenceNumber) != seqs[3] || aws.ToInt64(hb.MillisBehindLatest) != 0 {
		t.Fatalf("heartbeat %+v (ok %v)", hb, ok)
	}

	half := "170141183460469231731687303715884105728" // 2^127
	if _, err := env.c.SplitShard(bg, &kinesis.SplitShardInput{StreamName: aws.String("fan"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String(half)}); err != nil {
		t.Fatal(err)
	}
	final, ok := nextEvent(t, s)
	if !ok || len(final.Records) != 0 || len(final.ChildShards) != 2 || final.ContinuationSequenceNumber != nil {
		t.Fatalf("final event %+v (ok %v)", final, ok)
	}
	for i, c := range final.ChildShards {
		if aws.ToString(c.ShardId) != fmt.Sprintf("shardId-00000000000%d", i+1) || fmt.Sprint(c.ParentShards) != "[shardId-000000000000]" || c.HashKeyRange == nil {
			t.Fatalf("child %d: %+v", i, c)
		}
	}
	if err := wantEnd(t, s); err != nil {
		t.Fatalf("parent stream ended with %v, want a clean end", err)
	}

	// Records after the split, to both children.
	low, high := "1", "170141183460469231731687303715884105729"
	written := map[string][]string{}
	put := func(hashKey, data string) {
		id := env.putKey("fan", hashKey, data)
		written[id] = append(written[id], data)
	}
	put(low, "a1")
	put(high, "b1")
	put(low, "a2")

	// Child 1: read, leave, write more, come back from the continuation.
	c1 := "shardId-000000000001"
	s1 := env.subscribe(arn, c1, &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	got := map[string][]string{}
	d, ev := collect(t, s1, 2)
	got[c1] = append(got[c1], d...)
	s1.Close()
	put(low, "a3")
	put(low, "a4")
	env.clock.Advance(engine.SubscribeTakeover) // a new call within 5 s of the last is refused
	s1 = env.subscribe(arn, c1, &types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: ev.ContinuationSequenceNumber})
	d, _ = collect(t, s1, 2)
	got[c1] = append(got[c1], d...)

	// Child 2 in one go.
	c2 := "shardId-000000000002"
	s2 := env.subscribe(arn, c2, &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	d, _ = collect(t, s2, 1)
	got[c2] = d
	put(high, "b2")
	d, _ = collect(t, s2, 1)
	got[c2] = append(got[c2], d...)

	if !reflect.DeepEqual(got, written) || fmt.Sprint(got[c1]) != "[a1 a2 a3 a4]" {
		t.Fatalf("read after the split %v, written %v", got, written)
	}

	// Nothing more comes, and after five minutes the streams end cleanly.
	env.clock.Advance(engine.SubscriptionLifetime)
	for _, s := range []*kinesis.SubscribeToShardEventStream{s1, s2} {
		if err := wantEnd(t, s); err != nil {
			t.Fatalf("expired stream ended with %v", err)
		}
	}
}

func TestSDKSubscribeToShardErrors(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	env.create("fan", 2)
	arn := aws.ToString(env.register(fanARN, "app").ConsumerARN)
	shard0 := "shardId-000000000000"
	latest := &types.StartingPosition{Type: types.ShardIteratorTypeLatest}
	call := func(consumerARN, shardID string, pos *types.StartingPosition) error {
		out, err := env.streamClient().SubscribeToShard(bg, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(consumerARN), ShardId: aws.String(shardID), StartingPosition: pos})
		if err == nil {
			out.GetStream().Close()
			t.Fatalf("SubscribeToShard %s %s succeeded", consumerARN, shardID)
		}
		return err
	}

	// Errors before streaming are ordinary typed errors.
	wantErr[*types.ResourceNotFoundException](t, call(fanARN+"/consumer/nobody:1", shard0, latest), "Consumer nobody under stream fan under account 000000000000 not found.")
	wantErr[*types.ResourceNotFoundException](t, call(arn, "shardId-000000000007", latest), "Shard shardId-000000000007 in stream fan under account 000000000000 does not exist")
	wantErr[*types.InvalidArgumentException](t, call(arn, shard0, &types.StartingPosition{Type: types.ShardIteratorTypeAtSequenceNumber}), "Must specify StartingSequenceNumber for iterator of type AT_SEQUENCE_NUMBER.")
	wantErr[*types.ValidationException](t, call("not-an-arn", shard0, latest), "")

	// One call a second per consumer and shard. (The refused calls above
	// count too: the engine takes the call from the budget before it
	// resolves the starting position.)
	env.clock.Advance(time.Second)
	s := env.subscribe(arn, shard0, latest)
	wantErr[*types.LimitExceededException](t, call(arn, shard0, latest), "")
	// Another shard is another budget.
	other := env.subscribe(arn, "shardId-000000000001", latest)

	// Within 5 s of a success, a new call is refused...
	env.clock.Advance(time.Second)
	wantErr[*types.ResourceInUseException](t, call(arn, shard0, latest), "")
	// ...after it, it takes over and the old stream ends with ResourceInUseException.
	env.clock.Advance(engine.SubscribeTakeover - time.Second)
	s2 := env.subscribe(arn, shard0, latest)
	wantErr[*types.ResourceInUseException](t, wantEnd(t, s), "Another subscription of consumer "+arn+" to shard "+shard0+" took over this one.")
	// The new stream carries on.
	if env.putKey("fan", "1", "after takeover") != shard0 {
		t.Fatal("record went to another shard")
	}
	if data, _ := collect(t, s2, 1); data[0] != "after takeover" {
		t.Fatalf("after takeover: %v", data)
	}

	// Deregistering the consumer ends its streams with ResourceNotFoundException.
	if _, err := env.c.DeregisterStreamConsumer(bg, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*kinesis.SubscribeToShardEventStream{s2, other} {
		for {
			_, ok := nextEvent(t, s)
			if !ok {
				break
			}
		}
		wantErr[*types.ResourceNotFoundException](t, s.Err(), "Consumer app under stream fan under account 000000000000 has been deregistered.")
	}
}

// When the client goes away, the engine's subscription ends with it.
func TestSubscribeToShardClientGoesAway(t *testing.T) {
	env := newSDKEnv(t, engine.Options{})
	env.create("fan", 1)
	arn := aws.ToString(env.register(fanARN, "app").ConsumerARN)
	s := env.subscribe(arn, "shardId-000000000000", &types.StartingPosition{Type: types.ShardIteratorTypeLatest})
	subscriptions := func() int {
		for _, st := range env.e.Snapshot().Streams {
			for _, c := range st.Consumers {
				return c.Subscriptions
			}
		}
		return -1
	}
	if n := subscriptions(); n != 1 {
		t.Fatalf("%d live subscriptions, want 1", n)
	}
	s.Close()
	waitFor(t, "the subscription to end", func() bool { return subscriptions() == 0 })
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readMessages decodes an event-stream body.
func readMessages(t *testing.T, body []byte) []eventstream.Message {
	t.Helper()
	dec := eventstream.NewDecoder()
	r := bytes.NewReader(body)
	var out []eventstream.Message
	for r.Len() > 0 {
		m, err := dec.Decode(r, nil)
		if err != nil {
			t.Fatalf("message %d: %v", len(out), err)
		}
		out = append(out, m.Clone())
	}
	return out
}

func header(m eventstream.Message, name string) string {
	if v := m.Headers.Get(name); v != nil {
		return v.String()
	}
	return ""
}

// The raw framing, in both encodings: the initial-response exactly as the
// service sends it, then events whose payload is in the request's encoding.
func TestSubscribeToShardWire(t *testing.T) {
	url, clock := rawEnv(t, engine.Options{})
	post := func(action, contentType string, body []byte) (int, http.Header, []byte) {
		return rawCall(t, url, TargetPrefix+action, contentType, body)
	}
	if st, _, b := post("CreateStream", ContentTypeJSON, []byte(`{"StreamName":"fan","ShardCount":1}`)); st != 200 {
		t.Fatalf("CreateStream: %d %s", st, b)
	}
	st, _, b := post("RegisterStreamConsumer", ContentTypeJSON, []byte(`{"StreamARN":"`+fanARN+`","ConsumerName":"raw"}`))
	want := fmt.Sprintf(`{"Consumer":{"ConsumerName":"raw","ConsumerARN":"%s/consumer/raw:%d","ConsumerStatus":"ACTIVE","ConsumerCreationTimestamp":%d}}`, fanARN, t0.Unix(), t0.Unix())
	if st != 200 || string(b) != want {
		t.Fatalf("RegisterStreamConsumer: %d %s, want %s", st, b, want)
	}
	arn := fmt.Sprintf("%s/consumer/raw:%d", fanARN, t0.Unix())
	if st, _, b := post("PutRecord", ContentTypeJSON, []byte(`{"StreamName":"fan","PartitionKey":"k","Data":"aGk="}`)); st != 200 {
		t.Fatalf("PutRecord: %d %s", st, b)
	}
	// Split so the stream ends by itself after the parent's last event.
	if st, _, b := post("SplitShard", ContentTypeJSON, []byte(`{"StreamName":"fan","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"1000"}`)); st != 200 {
		t.Fatalf("SplitShard: %d %s", st, b)
	}

	// Errors before the stream are JSON errors.
	st, hdr, b := post("SubscribeToShard", ContentTypeJSON, []byte(`{"ConsumerARN":"`+arn+`","ShardId":"shardId-000000000000"}`))
	if st != 400 || hdr.Get("X-Amzn-ErrorType") != "ValidationException" ||
		string(b) != `{"__type":"ValidationException","message":"1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null"}` {
		t.Fatalf("missing StartingPosition: %d %s", st, b)
	}
	st, _, b = post("SubscribeToShard", ContentTypeJSON, []byte(`{"ConsumerARN":"`+arn+`","ShardId":"shardId-000000000000","StartingPosition":{"Type":""}}`))
	if st != 400 || !strings.Contains(string(b), `'startingPosition.type' failed to satisfy constraint: Member must satisfy enum value set`) {
		t.Fatalf("empty Type: %d %s", st, b)
	}

	for i, enc := range []string{ContentTypeJSON, ContentTypeCBOR} {
		clock.Advance(engine.SubscribeTakeover) // the rules of one call a second and of 5 s between calls
		var body []byte
		if enc == ContentTypeJSON {
			body = []byte(`{"ConsumerARN":"` + arn + `","ShardId":"shardId-000000000000","StartingPosition":{"Type":"TRIM_HORIZON"}}`)
		} else {
			body = javaCBOR(t, "ConsumerARN", arn, "ShardId", "shardId-000000000000", "StartingPosition", map[string]any{"Type": "TRIM_HORIZON"})
		}
		st, hdr, b = post("SubscribeToShard", enc, body)
		if st != 200 || hdr.Get("Content-Type") != ContentTypeEventStream || hdr.Get("Content-Length") != "" || len(hdr.Get("x-amzn-RequestId")) != 36 {
			t.Fatalf("%s: %d %v", enc, st, hdr)
		}
		msgs := readMessages(t, b)
		if len(msgs) < 2 {
			t.Fatalf("%s: %d messages, want the initial-response and events", enc, len(msgs))
		}
		init := msgs[0]
		if header(init, ":message-type") != "event" || header(init, ":event-type") != "initial-response" || len(init.Headers) != 2 {
			t.Fatalf("%s: initial-response headers %v", enc, init.Headers)
		}
		if enc == ContentTypeJSON {
			if string(init.Payload) != "{}" || !bytes.HasPrefix(b, []byte{0x00, 0x00, 0x00, 0x47, 0x00, 0x00, 0x00, 0x35, 0xd9, 0x42, 0x9f, 0x13}) {
				t.Fatalf("initial-response payload %q, prelude % x", init.Payload, b[:12])
			}
		} else if !bytes.Equal(init.Payload, []byte{0xa0}) {
			t.Fatalf("CBOR initial-response payload % x", init.Payload)
		}
		wantType := []string{"application/json", ContentTypeCBOR}[i]
		var events []map[string]any
		for _, m := range msgs[1:] {
			if header(m, ":message-type") != "event" || header(m, ":event-type") != "SubscribeToShardEvent" || header(m, ":content-type") != wantType {
				t.Fatalf("%s: event headers %v", enc, m.Headers)
			}
			var ev map[string]any
			var err error
			if enc == ContentTypeJSON {
				err = json.Unmarshal(m.Payload, &ev)
			} else {
				dm, _ := cbor.DecOptions{DefaultMapType: reflect.TypeOf(map[string]any(nil))}.DecMode()
				err = dm.Unmarshal(m.Payload, &ev)
			}
			if err != nil {
				t.Fatalf("%s: event payload %q: %v", enc, m.Payload, err)
			}
			events = append(events, ev)
		}
		// The record and the end of the shard, in one event or two. The
		// last has ChildShards and no ContinuationSequenceNumber member at
		// all (not even null); any before it the reverse.
		var recs []any
		for j, ev := range events {
			recs = append(recs, ev["Records"].([]any)...)
			end := j == len(events)-1
			_, children := ev["ChildShards"]
			cont, hasCont := ev["ContinuationSequenceNumber"]
			if children != end || hasCont == end || hasCont && cont == nil {
				t.Fatalf("%s: event %d of %d: %v", enc, j, len(events), ev)
			}
		}
		r0 := recs[0].(map[string]any)
		wantData := any("aGk=")
		if enc == ContentTypeCBOR {
			wantData = []byte("hi")
		}
		if seq, _ := r0["SequenceNumber"].(string); len(recs) != 1 || !reflect.DeepEqual(r0["Data"], wantData) || r0["PartitionKey"] != "k" || seq == "" {
			t.Fatalf("%s: events %v", enc, events)
		}
		if end := events[len(events)-1]; len(end["ChildShards"].([]any)) != 2 {
			t.Fatalf("%s: last event %v", enc, end)
		}
	}

	// The consumer actions in CBOR, with tag-1 milliseconds.
	status, m := cborCall(t, url, "DescribeStreamConsumer", javaCBOR(t, "ConsumerARN", arn))
	d, _ := m["ConsumerDescription"].(map[string]any)
	if status != 200 || d["ConsumerARN"] != arn || d["StreamARN"] != fanARN || d["ConsumerStatus"] != "ACTIVE" || d["ConsumerName"] != "raw" {
		t.Fatalf("CBOR DescribeStreamConsumer: %d %v", status, m)
	}
	var desc struct {
		ConsumerDescription struct{ ConsumerCreationTimestamp cbor.RawTag }
	}
	st, b = rawCallBytes(t, url, "DescribeStreamConsumer", javaCBOR(t, "ConsumerARN", arn))
	if err := cbor.Unmarshal(b, &desc); err != nil || st != 200 {
		t.Fatalf("DescribeStreamConsumer: %d %v", st, err)
	}
	tag := desc.ConsumerDescription.ConsumerCreationTimestamp
	var ms int64
	if err := cbor.Unmarshal(tag.Content, &ms); err != nil || tag.Number != 1 || ms != t0.UnixMilli() {
		t.Fatalf("ConsumerCreationTimestamp: tag %d content % x (%v)", tag.Number, []byte(tag.Content), err)
	}
	status, m = cborCall(t, url, "ListStreamConsumers", javaCBOR(t, "StreamARN", fanARN, "MaxResults", 5))
	if l, _ := m["Consumers"].([]any); status != 200 || len(l) != 1 {
		t.Fatalf("CBOR ListStreamConsumers: %d %v", status, m)
	}
	if status, m = cborCall(t, url, "DeregisterStreamConsumer", javaCBOR(t, "StreamARN", fanARN, "ConsumerName", "raw")); status != 200 || len(m) != 0 {
		t.Fatalf("CBOR DeregisterStreamConsumer: %d %v", status, m)
	}
}

// An engine error mid-stream becomes an exception message, then the end.
func TestSubscribeToShardExceptionMessage(t *testing.T) {
	url, _ := rawEnv(t, engine.Options{})
	for _, c := range []struct{ action, body string }{
		{"CreateStream", `{"StreamName":"fan","ShardCount":1}`},
		{"RegisterStreamConsumer", `{"StreamARN":"` + fanARN + `","ConsumerName":"x"}`},
	} {
		if st, _, b := rawCall(t, url, TargetPrefix+c.action, ContentTypeJSON, []byte(c.body)); st != 200 {
			t.Fatalf("%s: %d %s", c.action, st, b)
		}
	}
	arn := fmt.Sprintf("%s/consumer/x:%d", fanARN, t0.Unix())
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"ConsumerARN":"`+arn+`","ShardId":"shardId-000000000000","StartingPosition":{"Type":"LATEST"}}`))
	req.Header.Set("X-Amz-Target", TargetPrefix+"SubscribeToShard")
	req.Header.Set("Content-Type", ContentTypeJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The initial-response arrives before anything happens: it was flushed.
	dec := eventstream.NewDecoder()
	if m, err := dec.Decode(resp.Body, nil); err != nil || header(m, ":event-type") != "initial-response" {
		t.Fatalf("first message %v %v", m, err)
	}
	if st, _, b := rawCall(t, url, TargetPrefix+"DeleteStream", ContentTypeJSON, []byte(`{"StreamName":"fan","EnforceConsumerDeletion":true}`)); st != 200 {
		t.Fatalf("DeleteStream: %d %s", st, b)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("body did not end cleanly: %v", err)
	}
	msgs := readMessages(t, rest)
	if len(msgs) != 1 {
		t.Fatalf("%d messages after the initial-response, want 1", len(msgs))
	}
	m := msgs[0]
	if header(m, ":message-type") != "exception" || header(m, ":exception-type") != "ResourceNotFoundException" ||
		string(m.Payload) != `{"message":"Consumer x under stream fan under account 000000000000 has been deregistered."}` {
		t.Fatalf("exception %v %s", m.Headers, m.Payload)
	}
	if !slices.ContainsFunc(m.Headers, func(h eventstream.Header) bool { return h.Name == ":content-type" }) {
		t.Fatalf("exception without :content-type: %v", m.Headers)
	}
}

// SubscribeToShard over cleartext HTTP/2 with prior knowledge (as the Java
// SDK v2 async client speaks it), read by the Go SDK on that transport.
func TestSubscribeToShardHTTP2(t *testing.T) {
	e := testEngine(t, engine.Options{})
	url, _, _ := startServer(t, NewHandler(e, Options{Logger: testLogger(t)}))
	base := sdkClient(t, url)
	c := kinesis.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: base.Options().Credentials, HTTPClient: h2cClient(), RetryMaxAttempts: 1},
		func(o *kinesis.Options) { o.BaseEndpoint = aws.String(url) })
	env := &sdkEnv{t: t, e: e, c: c, url: url}
	env.create("fan", 1)
	arn := aws.ToString(env.register(fanARN, "h2").ConsumerARN)

	out, err := streamSDK(c).SubscribeToShard(bg, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(arn), ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	if err != nil {
		t.Fatal(err)
	}
	s := out.GetStream()
	defer s.Close()
	raw, _ := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	if raw == nil || raw.ProtoMajor != 2 {
		t.Fatalf("response %+v, want HTTP/2", raw)
	}
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprintf("h2-%d", i))
		env.put("fan", "k", want[i])
	}
	if data, _ := collect(t, s, len(want)); !slices.Equal(data, want) {
		t.Fatalf("got %v, want %v", data, want)
	}
}

// Shutting the server down ends live streams cleanly at once, over either
// protocol, rather than holding the shutdown for up to five minutes.
func TestServeShutdownEndsStreams(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "h2c"} {
		t.Run(proto, func(t *testing.T) {
			e := testEngine(t, engine.Options{})
			url, cancel, done := startServer(t, NewHandler(e, Options{Logger: testLogger(t)}))
			c := sdkClient(t, url)
			if proto == "h2c" {
				c = kinesis.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: c.Options().Credentials, HTTPClient: h2cClient(), RetryMaxAttempts: 1},
					func(o *kinesis.Options) { o.BaseEndpoint = aws.String(url) })
			}
			env := &sdkEnv{t: t, e: e, c: c, url: url}
			env.create("fan", 1)
			arn := aws.ToString(env.register(fanARN, "app").ConsumerARN)
			s := env.subscribe(arn, "shardId-000000000000", &types.StartingPosition{Type: types.ShardIteratorTypeLatest})
			env.put("fan", "k", "before")
			collect(t, s, 1)

			start := time.Now()
			cancel()
			if err := wantEnd(t, s); err != nil {
				t.Fatalf("stream ended with %v, want a clean end", err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Serve: %v", err)
				}
			case <-time.After(eventWait):
				t.Fatal("Serve did not return after the stream ended")
			}
			if d := time.Since(start); d > DefaultShutdownTimeout/2 {
				t.Fatalf("shutdown took %v", d)
			}
		})
	}
}
