package api

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/shardscope/shardscope/engine"
)

// javaCBOR encodes a request the way the AWS Java SDK's CBOR generator
// does: an indefinite-length map of text keys, byte strings for blobs and
// tag 1 with integer epoch milliseconds for timestamps.
func javaCBOR(t testing.TB, kv ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := cbor.NewEncoder(&buf)
	if err := enc.StartIndefiniteMap(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(kv); i += 2 {
		if err := enc.Encode(kv[i]); err != nil {
			t.Fatal(err)
		}
		v := kv[i+1]
		if ts, ok := v.(time.Time); ok {
			v = cbor.Tag{Number: 1, Content: ts.UnixMilli()}
		}
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.EndIndefinite(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cborCall posts a CBOR request and decodes the CBOR reply; tags are kept
// as cbor.Tag so the test sees exactly what a Java client would.
func cborCall(t *testing.T, url, action string, body []byte) (int, map[string]any) {
	t.Helper()
	status, hdr, b := rawCall(t, url, TargetPrefix+action, ContentTypeCBOR, body)
	if ct := hdr.Get("Content-Type"); ct != ContentTypeCBOR {
		t.Fatalf("%s: Content-Type %q, want %s", action, ct, ContentTypeCBOR)
	}
	dm, _ := cbor.DecOptions{DefaultMapType: reflect.TypeOf(map[string]any(nil))}.DecMode()
	var raw map[string]cbor.RawMessage
	if err := dm.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: reply is not a CBOR map: %v (% x)", action, err, b)
	}
	var m map[string]any
	if err := dm.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return status, m
}

func TestCBORJavaStyle(t *testing.T) {
	url, clock := rawEnv(t, engine.Options{DisableLimits: true})
	clock.Advance(250 * time.Millisecond)

	if st, m := cborCall(t, url, "CreateStream", javaCBOR(t, "StreamName", "java", "ShardCount", 1)); st != 200 || len(m) != 0 {
		t.Fatalf("CreateStream: %d %v", st, m)
	}
	data := []byte{0x00, 0xff, 'h', 'i'}
	st, m := cborCall(t, url, "PutRecord", javaCBOR(t, "StreamName", "java", "PartitionKey", "pk", "Data", data))
	if st != 200 || m["ShardId"] != "shardId-000000000000" || m["SequenceNumber"] == nil {
		t.Fatalf("PutRecord: %d %v", st, m)
	}
	recs := []any{
		map[string]any{"Data": []byte("b1"), "PartitionKey": "a"},
		map[string]any{"Data": []byte("b2"), "PartitionKey": "b", "ExplicitHashKey": "7"},
	}
	st, m = cborCall(t, url, "PutRecords", javaCBOR(t, "StreamName", "java", "Records", recs))
	if st != 200 || m["FailedRecordCount"] != uint64(0) || len(m["Records"].([]any)) != 2 {
		t.Fatalf("PutRecords: %d %v", st, m)
	}

	// AT_TIMESTAMP with a tag-1 millisecond timestamp.
	st, m = cborCall(t, url, "GetShardIterator", javaCBOR(t, "StreamName", "java", "ShardId", "shardId-000000000000",
		"ShardIteratorType", "AT_TIMESTAMP", "Timestamp", t0.Add(250*time.Millisecond)))
	if st != 200 {
		t.Fatalf("GetShardIterator: %d %v", st, m)
	}
	st, m = cborCall(t, url, "GetRecords", javaCBOR(t, "ShardIterator", m["ShardIterator"], "Limit", 10))
	if st != 200 {
		t.Fatalf("GetRecords: %d %v", st, m)
	}
	got := m["Records"].([]any)
	if len(got) != 3 {
		t.Fatalf("GetRecords: %d records, want 3: %v", len(got), m)
	}
	r := got[0].(map[string]any)
	if !bytes.Equal(r["Data"].([]byte), data) || r["PartitionKey"] != "pk" {
		t.Fatalf("record: %v", r)
	}
	// The arrival timestamp is tag 1 with integer epoch milliseconds.
	var out struct {
		Records []struct {
			ApproximateArrivalTimestamp cbor.RawTag
		}
	}
	it := javaCBOR(t, "StreamName", "java", "ShardId", "shardId-000000000000", "ShardIteratorType", "TRIM_HORIZON")
	_, m = cborCall(t, url, "GetShardIterator", it)
	st, b := rawCallBytes(t, url, "GetRecords", javaCBOR(t, "ShardIterator", m["ShardIterator"]))
	if err := cbor.Unmarshal(b, &out); err != nil || st != 200 || len(out.Records) != 3 {
		t.Fatalf("GetRecords: %d %v", st, err)
	}
	tag := out.Records[0].ApproximateArrivalTimestamp
	var ms int64
	if err := cbor.Unmarshal(tag.Content, &ms); err != nil || tag.Number != 1 || ms != t0.Add(250*time.Millisecond).UnixMilli() {
		t.Fatalf("ApproximateArrivalTimestamp: tag %d content % x (%v)", tag.Number, []byte(tag.Content), err)
	}

	// Errors come back as a CBOR map.
	st, m = cborCall(t, url, "DescribeStreamSummary", javaCBOR(t, "StreamName", "nope"))
	if st != 400 || m["__type"] != "ResourceNotFoundException" || m["message"] != "Stream nope under account 000000000000 not found." {
		t.Fatalf("error: %d %v", st, m)
	}
	st, m = cborCall(t, url, "CreateStream", javaCBOR(t, "StreamName", "x", "ShardCount", "two"))
	if st != 400 || m["__type"] != SerializationException {
		t.Fatalf("wrong type: %d %v", st, m)
	}
	st, m = cborCall(t, url, "CreateStream", []byte{0xbf, 0x61})
	if st != 400 || m["__type"] != SerializationException {
		t.Fatalf("broken CBOR: %d %v", st, m)
	}
	st, m = cborCall(t, url, "Nope", javaCBOR(t))
	if st != 400 || m["__type"] != UnknownOperationException {
		t.Fatalf("unknown action: %d %v", st, m)
	}
}

func rawCallBytes(t *testing.T, url, action string, body []byte) (int, []byte) {
	t.Helper()
	st, _, b := rawCall(t, url, TargetPrefix+action, ContentTypeCBOR, body)
	return st, b
}

func TestCBORTimestampForms(t *testing.T) {
	ms := t0.Add(1500 * time.Millisecond)
	cases := []struct {
		name string
		item []byte
		want time.Time
	}{
		{"tag 1 integer milliseconds (Java)", mustCBOR(t, cbor.Tag{Number: 1, Content: ms.UnixMilli()}), ms},
		{"tag 1 float seconds (RFC 8949)", mustCBOR(t, cbor.Tag{Number: 1, Content: float64(ms.UnixMilli()) / 1000}), ms},
		{"untagged integer seconds", mustCBOR(t, t0.Unix()), t0},
		{"untagged integer milliseconds", mustCBOR(t, ms.UnixMilli()), ms},
		{"ISO-8601 text", mustCBOR(t, "2026-11-27T12:00:01.5Z"), ms},
	}
	for _, c := range cases {
		v, err := cborValue(c.item)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, ok := newObject(map[string]any{"T": v}).timestamp("T")
		if !ok || !got.Equal(c.want) {
			t.Errorf("%s: got %v %v, want %v", c.name, got, ok, c.want)
		}
	}
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
