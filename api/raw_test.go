package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/shardscope/shardscope/engine"
)

// rawEnv serves an engine on a manual clock for raw HTTP calls.
func rawEnv(t *testing.T, opts engine.Options) (url string, clock *engine.ManualClock) {
	t.Helper()
	clock = engine.NewManualClock(t0)
	opts.Clock = clock
	return testServer(t, testEngine(t, opts)).URL, clock
}

func TestRawErrorBodies(t *testing.T) {
	url, _ := rawEnv(t, engine.Options{DisableLimits: true})
	if st, _, b := rawCall(t, url, TargetPrefix+"CreateStream", ContentTypeJSON, []byte(`{"StreamName":"s","ShardCount":1}`)); st != 200 {
		t.Fatalf("CreateStream: %d %s", st, b)
	}
	cases := []struct {
		name, target, contentType, body string
		status                          int
		want                            string
	}{
		{"unknown action", TargetPrefix + "FlyToTheMoon", ContentTypeJSON, `{}`, 400,
			`{"__type":"UnknownOperationException","Message":"Operation FlyToTheMoon is not supported by shardscope."}`},
		{"missing target", "", ContentTypeJSON, `{}`, 400,
			`{"__type":"UnknownOperationException","Message":"Missing X-Amz-Target header; expected Kinesis_20131202.<Action>."}`},
		{"other service", "DynamoDB_20120810.ListTables", ContentTypeJSON, `{}`, 400,
			`{"__type":"UnknownOperationException","Message":"Unknown service target \"DynamoDB_20120810.ListTables\"; expected Kinesis_20131202.<Action>."}`},
		{"non-JSON body", TargetPrefix + "ListStreams", ContentTypeJSON, `not json`, 400,
			`{"__type":"SerializationException","Message":"The request body is not valid JSON (error at byte 2)."}`},
		{"truncated body", TargetPrefix + "ListStreams", ContentTypeJSON, `{"Limit":`, 400,
			`{"__type":"SerializationException","Message":"The request body is not valid JSON (it ends early)."}`},
		{"array body", TargetPrefix + "ListStreams", ContentTypeJSON, `[]`, 400,
			`{"__type":"SerializationException","Message":"The request body must be a JSON object."}`},
		{"wrong member type", TargetPrefix + "CreateStream", ContentTypeJSON, `{"StreamName":"x","ShardCount":"two"}`, 400,
			`{"__type":"SerializationException","Message":"class java.lang.String can not be converted to an Integer"}`},
		{"number for a string", TargetPrefix + "DescribeStreamSummary", ContentTypeJSON, `{"StreamName":12}`, 400,
			`{"__type":"SerializationException","Message":"class java.math.BigDecimal can not be converted to an String"}`},
		{"list for a structure", TargetPrefix + "CreateStream", ContentTypeJSON, `{"StreamName":"x","StreamModeDetails":[]}`, 400,
			`{"__type":"SerializationException","Message":"Start of list found where not expected"}`},
		{"int out of range", TargetPrefix + "CreateStream", ContentTypeJSON, `{"StreamName":"x","ShardCount":3000000000}`, 400,
			`{"__type":"ValidationException","message":"1 validation error detected: Value '2147483647' at 'shardCount' failed to satisfy constraint: Member must have value less than or equal to 100000"}`},
		{"bad base64", TargetPrefix + "PutRecord", ContentTypeJSON, `{"StreamName":"s","PartitionKey":"k","Data":"abc"}`, 400,
			`{"__type":"SerializationException","Message":"'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"}`},
		{"bad base64 char", TargetPrefix + "PutRecord", ContentTypeJSON, `{"StreamName":"s","PartitionKey":"k","Data":"ab!d"}`, 400,
			`{"__type":"SerializationException","Message":"'ab!d' can not be converted to a Blob: Invalid Base64 character: '!'"}`},
		{"bad timestamp", TargetPrefix + "GetShardIterator", ContentTypeJSON, `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":"yesterday"}`, 400,
			`{"__type":"SerializationException","Message":"Unable to parse date string 'yesterday': expected epoch seconds or ISO-8601."}`},
		{"validation wording", TargetPrefix + "DescribeStream", ContentTypeJSON, `{"StreamName":"bad name!"}`, 400,
			`{"__type":"ValidationException","message":"1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"}`},
		{"missing Data", TargetPrefix + "PutRecord", ContentTypeJSON, `{"StreamName":"s","PartitionKey":"k"}`, 400,
			`{"__type":"ValidationException","message":"1 validation error detected: Value null at 'data' failed to satisfy constraint: Member must not be null"}`},
		{"missing entry Data", TargetPrefix + "PutRecords", ContentTypeJSON, `{"StreamName":"s","Records":[{"PartitionKey":"k","Data":""},{"PartitionKey":"k"}]}`, 400,
			`{"__type":"ValidationException","message":"1 validation error detected: Value null at 'records.2.member.data' failed to satisfy constraint: Member must not be null"}`},
		{"missing retention", TargetPrefix + "IncreaseStreamRetentionPeriod", ContentTypeJSON, `{"StreamName":"s"}`, 400,
			`{"__type":"ValidationException","message":"1 validation error detected: Value null at 'retentionPeriodHours' failed to satisfy constraint: Member must not be null"}`},
		{"missing mode details", TargetPrefix + "UpdateStreamMode", ContentTypeJSON, `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"}`, 400,
			`{"__type":"ValidationException","message":"1 validation error detected: Value null at 'streamModeDetails' failed to satisfy constraint: Member must not be null"}`},
		{"empty stream name", TargetPrefix + "DescribeStreamSummary", ContentTypeJSON, `{"StreamName":""}`, 400,
			`{"__type":"ValidationException","message":"2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"}`},
		{"limit zero", TargetPrefix + "ListStreams", ContentTypeJSON, `{"Limit":0}`, 400,
			`{"__type":"ValidationException","message":"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"}`},
		{"engine message passes through", TargetPrefix + "GetRecords", ContentTypeJSON, `{"ShardIterator":"xyz"}`, 400,
			`{"__type":"InvalidArgumentException","message":"Invalid ShardIterator."}`},
		{"not found", TargetPrefix + "DeleteStream", "", `{"StreamName":"gone"}`, 400,
			`{"__type":"ResourceNotFoundException","message":"Stream gone under account 000000000000 not found."}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, body := rawCall(t, url, c.target, c.contentType, []byte(c.body))
			if status != c.status || string(body) != c.want {
				t.Fatalf("got %d %s\nwant %d %s", status, body, c.status, c.want)
			}
			if ct := hdr.Get("Content-Type"); ct != ContentTypeJSON {
				t.Fatalf("Content-Type %q", ct)
			}
			var e struct {
				Type string `json:"__type"`
			}
			if err := json.Unmarshal(body, &e); err != nil || hdr.Get("X-Amzn-ErrorType") != e.Type {
				t.Fatalf("X-Amzn-ErrorType %q does not match body %s", hdr.Get("X-Amzn-ErrorType"), body)
			}
		})
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRawHeadersAndFormats(t *testing.T) {
	url, clock := rawEnv(t, engine.Options{DisableLimits: true})
	clock.Advance(123 * time.Millisecond)
	status, hdr, body := rawCall(t, url, TargetPrefix+"ListStreams", ContentTypeJSON, []byte("{}"))
	if status != 200 || string(body) != `{"StreamNames":[],"HasMoreStreams":false,"StreamSummaries":[]}` {
		t.Fatalf("ListStreams: %d %s", status, body)
	}
	if hdr.Get("Content-Type") != ContentTypeJSON || !uuidPattern.MatchString(hdr.Get("x-amzn-RequestId")) || hdr.Get("x-amz-id-2") == "" || hdr.Get("Content-Length") != "62" {
		t.Fatalf("headers %v", hdr)
	}

	call := func(action, body string) map[string]any {
		t.Helper()
		status, _, b := rawCall(t, url, TargetPrefix+action, ContentTypeJSON, []byte(body))
		if status != 200 {
			t.Fatalf("%s: %d %s", action, status, b)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s reply %s: %v", action, b, err)
		}
		return m
	}
	if b := call("CreateStream", `{"StreamName":"fmt","ShardCount":1}`); len(b) != 0 {
		t.Fatalf("CreateStream reply %v, want {}", b)
	}
	call("PutRecord", `{"StreamName":"fmt","PartitionKey":"k","Data":"aGVsbG8="}`)

	// Timestamps are epoch seconds with a millisecond fraction.
	status, _, b := rawCall(t, url, TargetPrefix+"DescribeStreamSummary", ContentTypeJSON, []byte(`{"StreamName":"fmt"}`))
	if status != 200 || !strings.Contains(string(b), `"StreamCreationTimestamp":1795780800.123,`) {
		t.Fatalf("DescribeStreamSummary: %s", b)
	}

	// Close the shard; at its end NextShardIterator is absent and ChildShards present.
	call("SplitShard", `{"StreamName":"fmt","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"170141183460469231731687303715884105728"}`)
	// Accept an ISO-8601 timestamp on input.
	it := call("GetShardIterator", `{"StreamName":"fmt","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":"2026-11-27T12:00:00Z"}`)["ShardIterator"].(string)
	status, _, b = rawCall(t, url, TargetPrefix+"GetRecords", ContentTypeJSON, []byte(`{"ShardIterator":"`+it+`"}`))
	if status != 200 {
		t.Fatalf("GetRecords: %d %s", status, b)
	}
	want := regexp.MustCompile(`^\{"Records":\[\{"SequenceNumber":"\d+","ApproximateArrivalTimestamp":1795780800\.123,"Data":"aGVsbG8=","PartitionKey":"k","EncryptionType":"NONE"\}\],"MillisBehindLatest":0,"ChildShards":\[\{"ShardId":"shardId-000000000001","ParentShards":\["shardId-000000000000"\],"HashKeyRange":\{"StartingHashKey":"0","EndingHashKey":"170141183460469231731687303715884105727"\}\},\{"ShardId":"shardId-000000000002",.*\}\]\}$`)
	if !want.Match(b) {
		t.Fatalf("GetRecords at a closed shard's end:\n%s", b)
	}
	// Optional shard members are omitted when absent.
	status, _, b = rawCall(t, url, TargetPrefix+"ListShards", ContentTypeJSON, []byte(`{"StreamName":"fmt","MaxResults":1}`))
	if status != 200 || strings.Contains(string(b), "ParentShardId") || !strings.Contains(string(b), `"EndingSequenceNumber":"`) || !strings.Contains(string(b), `"NextToken":"`) {
		t.Fatalf("ListShards: %s", b)
	}
	status, _, b = rawCall(t, url, TargetPrefix+"ListShards", ContentTypeJSON, []byte(`{"StreamName":"fmt","ExclusiveStartShardId":"shardId-000000000000"}`))
	if status != 200 || !strings.Contains(string(b), `"ParentShardId":"shardId-000000000000"`) || strings.Contains(string(b), "AdjacentParentShardId") ||
		strings.Contains(string(b), "EndingSequenceNumber") || strings.Contains(string(b), "NextToken") {
		t.Fatalf("ListShards children: %s", b)
	}
}

func TestRawCORSAndMethods(t *testing.T) {
	url, _ := rawEnv(t, engine.Options{})
	req, _ := http.NewRequest(http.MethodOptions, url, nil)
	req.Header.Set("Origin", "http://localhost:3000")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-amz-target,authorization")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "content-type,x-amz-target,authorization" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	req, _ = http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	req.Header.Set("Origin", "http://localhost:3000")
	req.Header.Set("X-Amz-Target", TargetPrefix+"DescribeLimits")
	req.Header.Set("Content-Type", ContentTypeJSON)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "x-amzn-RequestId") {
		t.Fatalf("CORS on POST: %d %v", resp.StatusCode, resp.Header)
	}

	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != AccessDeniedException {
		t.Fatalf("GET: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestRawBodyTooLarge(t *testing.T) {
	clock := engine.NewManualClock(t0)
	srv := httptest.NewServer(NewHandler(testEngine(t, engine.Options{Clock: clock}), Options{MaxBodyBytes: 1 << 10}))
	t.Cleanup(srv.Close)
	status, _, body := rawCall(t, srv.URL, TargetPrefix+"PutRecord", ContentTypeJSON, []byte(`{"Data":"`+strings.Repeat("A", 2000)+`"}`))
	if status != http.StatusRequestEntityTooLarge || string(body) != `{"message":"Request body is larger than 1024 bytes."}` {
		t.Fatalf("got %d %s", status, body)
	}
}

// A panic in an action becomes InternalFailure, not a dropped connection.
func TestRawPanicIsInternalFailure(t *testing.T) {
	actions["PanicForTest"] = func(context.Context, *engine.Engine, object) (any, error) { panic("boom") }
	t.Cleanup(func() { delete(actions, "PanicForTest") })
	url, _ := rawEnv(t, engine.Options{})
	status, _, body := rawCall(t, url, TargetPrefix+"PanicForTest", ContentTypeJSON, []byte(`{}`))
	if status != 500 || string(body) != `{"__type":"InternalFailure","message":"Internal service failure."}` {
		t.Fatalf("got %d %s", status, body)
	}
}

// The service's front end answers these itself: SerializationException and
// UnknownOperationException carry "Message"; an empty body is no {}; an
// application/json request never reaches Kinesis.
func TestRawFrontEndAnswers(t *testing.T) {
	url, _ := rawEnv(t, engine.Options{DisableLimits: true})
	cases := []struct {
		name, target, contentType, body string
		status                          int
		wantType, want                  string
	}{
		{"empty JSON body", TargetPrefix + "ListStreams", ContentTypeJSON, ``, 400, ContentTypeJSON,
			`{"__type":"SerializationException","Message":"The request body is empty; an action without input takes {}."}`},
		{"blank JSON body", TargetPrefix + "DescribeLimits", ContentTypeJSON, " \n", 400, ContentTypeJSON,
			`{"__type":"SerializationException","Message":"The request body is empty; an action without input takes {}."}`},
		{"unknown action", TargetPrefix + "Nope", ContentTypeJSON, `{}`, 400, ContentTypeJSON,
			`{"__type":"UnknownOperationException","Message":"Operation Nope is not supported by shardscope."}`},
		{"application/json", TargetPrefix + "CreateStream", "application/json", `{"StreamName":"nope","ShardCount":1}`, 200, "application/json",
			`{"Output":{"__type":"com.amazon.coral.service#UnknownOperationException","message":null},"Version":"1.0"}`},
		{"application/json, not JSON", TargetPrefix + "ListStreams", "application/json; charset=utf-8", `nope`, 200, "application/json",
			`{"Output":{"__type":"com.amazon.coral.service#SerializationException","message":null},"Version":"1.0"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, body := rawCall(t, url, c.target, c.contentType, []byte(c.body))
			if status != c.status || string(body) != c.want || hdr.Get("Content-Type") != c.wantType {
				t.Fatalf("got %d %s %s\nwant %d %s %s", status, hdr.Get("Content-Type"), body, c.status, c.wantType, c.want)
			}
		})
	}
	// The application/json call created nothing.
	if st, _, b := rawCall(t, url, TargetPrefix+"ListStreams", ContentTypeJSON, []byte(`{}`)); st != 200 || string(b) != `{"StreamNames":[],"HasMoreStreams":false,"StreamSummaries":[]}` {
		t.Fatalf("ListStreams: %d %s", st, b)
	}
	// CBOR: an empty body is refused too, and the text is under "Message".
	st, _, b := rawCall(t, url, TargetPrefix+"ListStreams", ContentTypeCBOR, nil)
	var m map[string]any
	if err := cbor.Unmarshal(b, &m); err != nil || st != 400 || m["__type"] != SerializationException || m["Message"] == nil || m["message"] != nil {
		t.Fatalf("CBOR empty body: %d %v %v", st, m, err)
	}
}

// Every violated constraint, the wire's and the engine's, in one message in
// the service's order, before any lookup.
func TestRawValidationListsEveryProblemInOrder(t *testing.T) {
	url, _ := rawEnv(t, engine.Options{DisableLimits: true})
	const re = "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
	long := strings.Repeat("k", 129)
	cases := []struct{ name, action, body, want string }{
		{"create: count before name", "CreateStream", `{"StreamName":"a b","ShardCount":0}`,
			"2 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; Value 'a b' at 'streamName' failed to satisfy constraint: " + re},
		{"create: empty name", "CreateStream", `{"StreamName":"","ShardCount":0}`,
			"3 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '' at 'streamName' failed to satisfy constraint: " + re + "; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"create: nothing", "CreateStream", `{}`,
			"2 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; Value null at 'streamName' failed to satisfy constraint: Member must not be null"},
		{"create: count clamped", "CreateStream", `{"StreamName":"x","ShardCount":-99999999999}`,
			"1 validation error detected: Value '-2147483648' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"list shards", "ListShards", `{"StreamName":"","MaxResults":0,"ExclusiveStartShardId":""}`,
			"5 validation errors detected: Value '' at 'exclusiveStartShardId' failed to satisfy constraint: " + re + "; Value '' at 'exclusiveStartShardId' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '' at 'streamName' failed to satisfy constraint: " + re + "; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"list shards: limit clamped", "ListShards", `{"StreamName":"s","MaxResults":1e30}`,
			"1 validation error detected: Value '2147483647' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{"iterator", "GetShardIterator", `{"StreamName":"a b","ShardId":"","ShardIteratorType":"SIDEWAYS"}`,
			"4 validation errors detected: Value '' at 'shardId' failed to satisfy constraint: " + re + "; Value '' at 'shardId' failed to satisfy constraint: Member must have length greater than or equal to 1; Value 'SIDEWAYS' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]; Value 'a b' at 'streamName' failed to satisfy constraint: " + re},
		{"split", "SplitShard", `{"StreamName":"a b","ShardToSplit":"x y","NewStartingHashKey":"-1"}`,
			"3 validation errors detected: Value '-1' at 'newStartingHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); Value 'a b' at 'streamName' failed to satisfy constraint: " + re + "; Value 'x y' at 'shardToSplit' failed to satisfy constraint: " + re},
		{"tag key too long on a missing stream", "AddTagsToStream", `{"StreamName":"missing","Tags":{"` + long + `":"v"}}`,
			"1 validation error detected: Value '{" + long + "=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"},
		{"remove tags before the name", "RemoveTagsFromStream", `{"StreamName":"a b","TagKeys":["` + long + `"]}`,
			"2 validation errors detected: Value '" + long + "' at 'tagKeys.1.member' failed to satisfy constraint: Member must have length less than or equal to 128; Value 'a b' at 'streamName' failed to satisfy constraint: " + re},
		{"summary: name and ARN together", "DescribeStreamSummary", `{"StreamName":"","StreamARN":"arn:nope"}`,
			"3 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: " + re + "; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1; Value 'arn:nope' at 'streamARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+"},
		{"retention: hours before name", "IncreaseStreamRetentionPeriod", `{"StreamName":""}`,
			"3 validation errors detected: Value null at 'retentionPeriodHours' failed to satisfy constraint: Member must not be null; Value '' at 'streamName' failed to satisfy constraint: " + re + "; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, _, b := rawCall(t, url, TargetPrefix+c.action, ContentTypeJSON, []byte(c.body))
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(b, &e); err != nil || st != 400 || e.Type != "ValidationException" || e.Message != c.want {
				t.Fatalf("got %d %s\nwant ValidationException %s", st, b, c.want)
			}
		})
	}
}
