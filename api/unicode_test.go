package api

import (
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/shardscope/shardscope/engine"
)

// TestPartitionKeyNotUnicodeOnTheWire: a partition key holding a lone
// surrogate (as a JSON escape) or invalid UTF-8 must reach the engine as it
// was sent, so it is refused with ValidationException; JSON decoders would
// otherwise turn it into U+FFFD and store a different key.
func TestPartitionKeyNotUnicodeOnTheWire(t *testing.T) {
	url, _ := rawEnv(t, engine.Options{DisableLimits: true})
	if st, _, b := rawCall(t, url, TargetPrefix+"CreateStream", ContentTypeJSON, []byte(`{"StreamName":"s","ShardCount":1}`)); st != 200 {
		t.Fatalf("CreateStream: %d %s", st, b)
	}
	cborKey := func(target string, pk string, many bool) []byte {
		m := map[string]any{"StreamName": "s", "PartitionKey": pk, "Data": []byte("x")}
		if many {
			m = map[string]any{"StreamName": "s", "Records": []any{map[string]any{"PartitionKey": pk, "Data": []byte("x")}}}
		}
		// Encode the key as a CBOR text string whatever its bytes.
		em, err := cbor.EncOptions{}.EncMode()
		if err != nil {
			t.Fatal(err)
		}
		b, err := em.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name, target, contentType string
		body                      []byte
		member                    string
	}{
		{"PutRecord lone high surrogate", "PutRecord", ContentTypeJSON, []byte(`{"StreamName":"s","PartitionKey":"k\ud800","Data":"eA=="}`), "partitionKey"},
		{"PutRecord lone low surrogate", "PutRecord", ContentTypeJSON, []byte(`{"StreamName":"s","PartitionKey":"\uDC00k","Data":"eA=="}`), "partitionKey"},
		{"PutRecord reversed pair", "PutRecord", ContentTypeJSON, []byte(`{"StreamName":"s","PartitionKey":"\udc00\ud800","Data":"eA=="}`), "partitionKey"},
		{"PutRecord invalid UTF-8", "PutRecord", ContentTypeJSON, []byte("{\"StreamName\":\"s\",\"PartitionKey\":\"k\xff\",\"Data\":\"eA==\"}"), "partitionKey"},
		{"PutRecords lone surrogate", "PutRecords", ContentTypeJSON, []byte(`{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"eA=="},{"PartitionKey":"\ud83d","Data":"eA=="}]}`), "records.2.member.partitionKey"},
		{"PutRecords invalid UTF-8", "PutRecords", ContentTypeJSON, []byte("{\"StreamName\":\"s\",\"Records\":[{\"PartitionKey\":\"\xc3\",\"Data\":\"eA==\"}]}"), "records.1.member.partitionKey"},
		{"CBOR PutRecord invalid UTF-8", "PutRecord", ContentTypeCBOR, cborKey("PutRecord", "k\xff", false), "partitionKey"},
		{"CBOR PutRecords lone surrogate", "PutRecords", ContentTypeCBOR, cborKey("PutRecords", "\xed\xa0\x80", true), "records.1.member.partitionKey"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, hdr, b := rawCall(t, url, TargetPrefix+c.target, c.contentType, c.body)
			if st != 400 || hdr.Get("X-Amzn-ErrorType") != "ValidationException" {
				t.Fatalf("got %d %s %q, want 400 ValidationException", st, hdr.Get("X-Amzn-ErrorType"), b)
			}
			if c.contentType == ContentTypeJSON && !strings.Contains(string(b), "'"+c.member+"'") {
				t.Fatalf("message %s does not name %s", b, c.member)
			}
		})
	}
	// A valid pair and a literal U+FFFD are ordinary keys.
	for _, body := range []string{
		`{"StreamName":"s","PartitionKey":"\ud83d\ude00","Data":"eA=="}`,
		`{"StreamName":"s","PartitionKey":"\ufffd","Data":"eA=="}`,
		`{"StreamName":"s","PartitionKey":"caf\u00e9 \\ud800","Data":"eA=="}`,
	} {
		if st, _, b := rawCall(t, url, TargetPrefix+"PutRecord", ContentTypeJSON, []byte(body)); st != 200 {
			t.Fatalf("%s: %d %s", body, st, b)
		}
	}
}

// FuzzDecodeJSONExact: the exact parser never panics, and on a body the
// standard decoder reads without loss it gives the same tree (or an error).
func FuzzDecodeJSONExact(f *testing.F) {
	for _, s := range []string{
		`{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"eA=="}]}`,
		`{"a":[1,-2.5e3,true,false,null,{"b":"\u00e9\n\"\\\/"}],"a":"dup"}`,
		`{"k":"\ud83d\ude00 \ud800 \udc00"}`, "{\"k\":\"\xff\"}", `{"Limit":1e400}`, `[]`, ``, `{"a":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gerr := decodeJSONExact(body)
		if needsExactStrings(body) {
			return
		}
		want, werr := decodeJSON(body)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%q: exact %v / %v, standard %v / %v", body, got, gerr, want, werr)
		}
		if gerr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: exact %#v, standard %#v", body, got, want)
		}
	})
}
