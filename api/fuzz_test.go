package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/fxamacker/cbor/v2"
	"github.com/shardscope/shardscope/engine"
)

// The fuzz targets feed arbitrary bodies through the whole request path —
// decoding, member reading, dispatch to a real engine, encoding — and check
// that every reply is a 200 with a well-formed body or a well-formed error
// with a known name. Run them with, e.g.,
//
//	go test ./api -run '^$' -fuzz FuzzDecodeJSON -fuzztime 60s

// knownTypes are the error names the handler may send.
var knownTypes = map[string]bool{
	SerializationException: true, UnknownOperationException: true,
	string(engine.ValidationException): true, string(engine.InvalidArgumentException): true,
	string(engine.ResourceNotFoundException): true, string(engine.ResourceInUseException): true,
	string(engine.LimitExceededException): true, string(engine.ExpiredIteratorException): true,
	string(engine.ExpiredNextTokenException): true, string(engine.ProvisionedThroughputExceededException): true,
}

// fuzzActions lists the served actions in a fixed order; the fuzzed index
// picks one, and indexes past the end name an unknown action.
var fuzzActions = Actions()

func actionIndex(name string) uint8 {
	i := slices.Index(fuzzActions, name)
	if i < 0 {
		return 255
	}
	return uint8(i)
}

func actionName(i uint8) string {
	if int(i) < len(fuzzActions) {
		return fuzzActions[i]
	}
	return "NoSuchAction"
}

// seedRequests are real requests, in an order that makes later ones find
// the stream and records the earlier ones made.
var seedRequests = []struct {
	action string
	body   map[string]any
	want   string // the error name expected, "" for success
}{
	{"CreateStream", map[string]any{"StreamName": "fz", "ShardCount": 2, "Tags": map[string]any{"k": "v"}}, ""},
	{"CreateStream", map[string]any{"StreamName": "od", "StreamModeDetails": map[string]any{"StreamMode": "ON_DEMAND"}}, ""},
	{"DescribeStream", map[string]any{"StreamName": "fz", "Limit": 1}, ""},
	{"DescribeStreamSummary", map[string]any{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/fz"}, ""},
	{"ListStreams", map[string]any{"Limit": 10, "ExclusiveStartStreamName": "a"}, ""},
	{"ListShards", map[string]any{"StreamName": "fz", "MaxResults": 1, "ShardFilter": map[string]any{"Type": "AT_TIMESTAMP", "Timestamp": "ts"}}, ""},
	{"PutRecord", map[string]any{"StreamName": "fz", "PartitionKey": "pk", "Data": []byte("hello"), "ExplicitHashKey": "123"}, ""},
	{"PutRecords", map[string]any{"StreamName": "fz", "Records": []any{
		map[string]any{"PartitionKey": "a", "Data": []byte("x")},
		map[string]any{"PartitionKey": "b", "Data": []byte{}},
	}}, ""},
	{"GetShardIterator", map[string]any{"StreamName": "fz", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": "ts"}, ""},
	{"GetShardIterator", map[string]any{"StreamName": "fz", "ShardId": "shardId-000000000001", "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": "1"}, "InvalidArgumentException"},
	{"GetRecords", map[string]any{"ShardIterator": "AAAAAAAAAAE=", "Limit": 5}, "InvalidArgumentException"},
	{"SplitShard", map[string]any{"StreamName": "fz", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "85070591730234615865843651857942052864"}, ""},
	{"MergeShards", map[string]any{"StreamName": "fz", "ShardToMerge": "shardId-000000000002", "AdjacentShardToMerge": "shardId-000000000003"}, ""},
	{"UpdateShardCount", map[string]any{"StreamName": "fz", "TargetShardCount": 3, "ScalingType": "UNIFORM_SCALING"}, ""},
	{"UpdateStreamMode", map[string]any{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/fz", "StreamModeDetails": map[string]any{"StreamMode": "ON_DEMAND"}}, ""},
	{"IncreaseStreamRetentionPeriod", map[string]any{"StreamName": "fz", "RetentionPeriodHours": 48}, ""},
	{"DecreaseStreamRetentionPeriod", map[string]any{"StreamName": "fz", "RetentionPeriodHours": 24}, ""},
	{"AddTagsToStream", map[string]any{"StreamName": "fz", "Tags": map[string]any{"a": "1", "b": ""}}, ""},
	{"RemoveTagsFromStream", map[string]any{"StreamName": "fz", "TagKeys": []any{"a"}}, ""},
	{"ListTagsForStream", map[string]any{"StreamName": "fz", "Limit": 1}, ""},
	{"DescribeLimits", map[string]any{}, ""},
	{"RegisterStreamConsumer", map[string]any{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/fz", "ConsumerName": "fzc", "Tags": map[string]any{"k": "v"}}, ""},
	{"RegisterStreamConsumer", map[string]any{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/fz", "ConsumerName": "fzc"}, "ResourceInUseException"},
	{"DescribeStreamConsumer", map[string]any{"ConsumerARN": seedConsumerARN}, ""},
	{"DescribeStreamConsumer", map[string]any{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/fz", "ConsumerName": "fzc"}, ""},
	{"ListStreamConsumers", map[string]any{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/fz", "MaxResults": 5}, ""},
	{"ListStreamConsumers", map[string]any{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/fz", "StreamCreationTimestamp": "ts"}, ""},
	// Shard 0 was split above: the stream reads it to its end and stops by itself.
	{"SubscribeToShard", map[string]any{"ConsumerARN": seedConsumerARN, "ShardId": "shardId-000000000000", "StartingPosition": map[string]any{"Type": "TRIM_HORIZON"}}, ""},
	{"SubscribeToShard", map[string]any{"ConsumerARN": seedConsumerARN, "ShardId": "shardId-000000000000", "StartingPosition": map[string]any{"Type": "LATEST"}}, "LimitExceededException"},
	// A bad starting position is refused before it counts against the 1/s budget.
	{"SubscribeToShard", map[string]any{"ConsumerARN": seedConsumerARN, "ShardId": "shardId-000000000000", "StartingPosition": map[string]any{"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": "1"}}, "InvalidArgumentException"},
	{"SubscribeToShard", map[string]any{"ConsumerARN": seedConsumerARN, "ShardId": "shardId-000000000005", "StartingPosition": map[string]any{"Type": "AT_TIMESTAMP", "Timestamp": "ts"}}, ""},
	{"SubscribeToShard", map[string]any{"ConsumerARN": "arn:aws:kinesis:us-east-1:000000000000:stream/fz/consumer/nobody:1", "ShardId": "shardId-000000000001", "StartingPosition": map[string]any{"Type": "LATEST"}}, "ResourceNotFoundException"},
	{"SubscribeToShard", map[string]any{"ConsumerARN": seedConsumerARN, "ShardId": "shardId-000000000001"}, "ValidationException"},
	{"EnableEnhancedMonitoring", map[string]any{"StreamName": "fz", "ShardLevelMetrics": []any{"ALL"}}, ""},
	{"DisableEnhancedMonitoring", map[string]any{"StreamName": "fz", "ShardLevelMetrics": []any{"IncomingBytes", "Nope"}}, "ValidationException"},
	{"TagResource", map[string]any{"ResourceARN": seedConsumerARN, "Tags": map[string]any{"t": "1"}}, ""},
	{"UntagResource", map[string]any{"ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/fz", "TagKeys": []any{"b"}}, ""},
	{"ListTagsForResource", map[string]any{"ResourceARN": seedConsumerARN}, ""},
	{"UpdateMaxRecordSize", map[string]any{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/fz", "MaxRecordSizeInKiB": 2048}, ""},
	{"DescribeAccountSettings", map[string]any{}, ""},
	{"UpdateAccountSettings", map[string]any{"MinimumThroughputBillingCommitment": map[string]any{"Status": "ENABLED"}}, ""},
	{"UpdateStreamWarmThroughput", map[string]any{"StreamName": "od", "WarmThroughputMiBps": 5}, ""},
	{"DeregisterStreamConsumer", map[string]any{"ConsumerARN": seedConsumerARN}, ""},
	{"DeleteStream", map[string]any{"StreamName": "od", "EnforceConsumerDeletion": true}, ""},
	{"CreateStream", map[string]any{"StreamName": "x", "ShardCount": "two"}, SerializationException},
	{"PutRecord", map[string]any{"StreamName": "bad name!", "PartitionKey": nil, "Data": 3}, SerializationException},
	{"PutRecord", map[string]any{"StreamName": "bad name!", "PartitionKey": "k", "Data": []byte{}}, "ValidationException"},
	{"NoSuchAction", map[string]any{}, UnknownOperationException},
}

// seedConsumerARN is the ARN of the consumer the seeds register: the
// engine's clock stands at t0.
var seedConsumerARN = fmt.Sprintf("arn:aws:kinesis:us-east-1:000000000000:stream/fz/consumer/fzc:%d", t0.Unix())

// streamBound bounds a fuzzed SubscribeToShard that succeeds: its request
// context ends then, and so does the stream, so fuzzing never waits out a
// five-minute subscription.
const streamBound = 100 * time.Millisecond

// fuzzRequest builds a request to the handler; a SubscribeToShard request
// carries a context that ends after streamBound.
func fuzzRequest(action, contentType string, body []byte) (*http.Request, context.CancelFunc) {
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", TargetPrefix+action)
	req.Header.Set("Content-Type", contentType)
	if action != "SubscribeToShard" {
		return req, func() {}
	}
	ctx, cancel := context.WithTimeout(req.Context(), streamBound)
	return req.WithContext(ctx), cancel
}

// seedTime is the timestamp the seeds use; "ts" above stands for it. It is
// the engine's time: AT_TIMESTAMP may not be in the future.
var seedTime = t0

// withTimestamps copies a seed body, writing each "ts" placeholder as ts
// gives it.
func withTimestamps(v any, ts any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = withTimestamps(e, ts)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withTimestamps(e, ts)
		}
		return out
	case string:
		if x == "ts" {
			return ts
		}
	}
	return v // []byte marshals as base64 in JSON, a byte string in CBOR
}

// jsonSeed encodes a seed body as the Go SDK would: base64 blobs, epoch
// seconds.
func jsonSeed(m map[string]any) []byte {
	b, _ := json.Marshal(withTimestamps(m, json.Number("1795780800.000")))
	return b
}

// cborSeed encodes a seed body as the Java SDK would: byte strings, tag-1
// milliseconds.
func cborSeed(m map[string]any) []byte {
	b, _ := cbor.Marshal(withTimestamps(m, cbor.Tag{Number: 1, Content: seedTime.UnixMilli()}))
	return b
}

// fuzzHandler is a handler over a real engine with limits off and a small
// shard quota, so fuzzed CreateStream calls stay cheap.
func fuzzHandler(f *testing.F) http.Handler {
	e := testEngine(f, engine.Options{Clock: engine.NewManualClock(t0), DisableLimits: true, ShardLimit: 64})
	return NewHandler(e, Options{})
}

// checkReply sends one request and checks the reply's shape.
func checkReply(t *testing.T, h http.Handler, action, contentType string, body []byte) {
	req, cancel := fuzzRequest(action, contentType, body)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	isCBOR := contentType == ContentTypeCBOR
	if rec.Code == http.StatusOK && action == "SubscribeToShard" {
		checkEventStream(t, rec, isCBOR)
		return
	}
	if got := rec.Header().Get("Content-Type"); got != contentType {
		t.Fatalf("%s: Content-Type %q, want %q", action, got, contentType)
	}
	decode := func(v any) error {
		if isCBOR {
			dm, _ := cbor.DecOptions{DefaultMapType: reflect.TypeOf(map[string]any(nil))}.DecMode()
			return dm.Unmarshal(rec.Body.Bytes(), v)
		}
		return json.Unmarshal(rec.Body.Bytes(), v)
	}
	if rec.Code == http.StatusOK {
		var m map[string]any
		if err := decode(&m); err != nil {
			t.Fatalf("%s: 200 with a body that is not a map: %v: %q", action, err, rec.Body.Bytes())
		}
		return
	}
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("%s: status %d (%q) for body %q", action, rec.Code, rec.Body.Bytes(), body)
	}
	var e map[string]any
	if err := decode(&e); err != nil {
		t.Fatalf("%s: error reply is not a map: %v: %q", action, err, rec.Body.Bytes())
	}
	typ, _ := e["__type"].(string)
	msgKey := "message"
	if typ == SerializationException || typ == UnknownOperationException {
		msgKey = "Message" // as the service's front end sends them
	}
	msg, _ := e[msgKey].(string)
	if !knownTypes[typ] || msg == "" || len(e) != 2 || rec.Header().Get("X-Amzn-ErrorType") != typ {
		t.Fatalf("%s: malformed error reply %q (X-Amzn-ErrorType %q) for body %q", action, rec.Body.Bytes(), rec.Header().Get("X-Amzn-ErrorType"), body)
	}
}

// streamExceptions are the exceptions a stream may end with.
var streamExceptions = map[string]bool{string(engine.ResourceNotFoundException): true, string(engine.ResourceInUseException): true}

// checkEventStream checks a SubscribeToShard reply: the initial-response,
// then events whose payload is a map in the request's encoding, and at
// most one exception, last.
func checkEventStream(t *testing.T, rec *httptest.ResponseRecorder, isCBOR bool) {
	if got := rec.Header().Get("Content-Type"); got != ContentTypeEventStream {
		t.Fatalf("SubscribeToShard: Content-Type %q", got)
	}
	dec := eventstream.NewDecoder()
	body := bytes.NewReader(rec.Body.Bytes())
	dm, _ := cbor.DecOptions{DefaultMapType: reflect.TypeOf(map[string]any(nil))}.DecMode()
	for i := 0; body.Len() > 0; i++ {
		m, err := dec.Decode(body, nil)
		if err != nil {
			t.Fatalf("SubscribeToShard: message %d: %v", i, err)
		}
		get := func(name string) string {
			if v := m.Headers.Get(name); v != nil {
				return v.String()
			}
			return ""
		}
		var payload map[string]any
		if isCBOR {
			err = dm.Unmarshal(m.Payload, &payload)
		} else {
			err = json.Unmarshal(m.Payload, &payload)
		}
		if err != nil {
			t.Fatalf("SubscribeToShard: message %d payload %q: %v", i, m.Payload, err)
		}
		switch typ, ev := get(":message-type"), get(":event-type"); {
		case i == 0:
			if typ != "event" || ev != "initial-response" || len(payload) != 0 {
				t.Fatalf("SubscribeToShard: first message %v %q", m.Headers, m.Payload)
			}
		case typ == "event" && ev == "SubscribeToShardEvent":
			// The continuation on every event but a shard's last, which
			// has the children instead.
			if _, ok := payload["Records"].([]any); !ok || (payload["ContinuationSequenceNumber"] == nil) == (payload["ChildShards"] == nil) {
				t.Fatalf("SubscribeToShard: event %q", m.Payload)
			}
		case typ == "exception" && streamExceptions[get(":exception-type")] && body.Len() == 0:
			if msg, _ := payload["message"].(string); msg == "" {
				t.Fatalf("SubscribeToShard: exception %q", m.Payload)
			}
		default:
			t.Fatalf("SubscribeToShard: message %d: %v %q", i, m.Headers, m.Payload)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range seedRequests {
		f.Add(actionIndex(s.action), jsonSeed(s.body))
	}
	for _, raw := range []string{``, `null`, `[]`, `{"StreamName":{}}`, `{"Limit":1e400}`, `{"Limit":-1.5}`, `{"Records":[null,1]}`, `{"Data":"===="}`, `{"a":1}{"b":2}`, "{\"StreamName\":\"\xff\"}"} {
		f.Add(actionIndex("PutRecords"), []byte(raw))
		f.Add(actionIndex("ListShards"), []byte(raw))
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, action uint8, body []byte) {
		checkReply(t, h, actionName(action), ContentTypeJSON, body)
	})
}

func FuzzDecodeCBOR(f *testing.F) {
	for _, s := range seedRequests {
		f.Add(actionIndex(s.action), cborSeed(s.body))
	}
	for _, raw := range [][]byte{
		{},
		{0xf6},                             // null
		{0xbf, 0xff},                       // empty indefinite map
		{0xa1, 0x01, 0x02},                 // integer key
		{0xa1, 0x61, 'T', 0xc1, 0x61, 'x'}, // tag 1 over text
		{0xa1, 0x65, 'L', 'i', 'm', 'i', 't', 0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0}, // +Inf
		{0x9f, 0x9f, 0x9f, 0xff, 0xff, 0xff},
		{0xa1, 0x64, 'D', 'a', 't', 'a', 0xc2, 0x41, 0x01}, // bignum
	} {
		f.Add(actionIndex("GetShardIterator"), raw)
		f.Add(actionIndex("PutRecord"), raw)
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, action uint8, body []byte) {
		checkReply(t, h, actionName(action), ContentTypeCBOR, body)
	})
}

// The seeds do what they say, in both encodings.
func TestFuzzSeeds(t *testing.T) {
	for _, enc := range []struct {
		contentType string
		encode      func(map[string]any) []byte
	}{{ContentTypeJSON, jsonSeed}, {ContentTypeCBOR, cborSeed}} {
		e := testEngine(t, engine.Options{Clock: engine.NewManualClock(t0), DisableLimits: true, ShardLimit: 64})
		h := NewHandler(e, Options{})
		for i, s := range seedRequests {
			req, cancel := fuzzRequest(s.action, enc.contentType, enc.encode(s.body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			cancel()
			if got := rec.Header().Get("X-Amzn-ErrorType"); got != s.want {
				t.Errorf("%s seed %d (%s): got %d %q, want %q", enc.contentType, i, s.action, rec.Code, rec.Body.Bytes(), s.want)
			}
			if s.action == "SubscribeToShard" && s.want == "" {
				checkEventStream(t, rec, enc.contentType == ContentTypeCBOR)
			}
		}
	}
}
