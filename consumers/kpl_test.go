package consumers

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
)

// container wraps aggregated data as the record a shard returns.
func container(seq string, data []byte) engine.Record {
	return engine.Record{SequenceNumber: seq, ApproximateArrivalTimestamp: t0, Data: data, PartitionKey: "container", EncryptionType: "KMS"}
}

// rawAggregate frames protobuf bytes as an aggregated record.
func rawAggregate(body []byte) []byte {
	sum := md5.Sum(body)
	out := append(append([]byte{}, kplMagic...), body...)
	return append(out, sum[:]...)
}

// pb builds protobuf bytes field by field.
type pb []byte

func (b pb) varint(num int, v uint64) pb {
	b = binary.AppendUvarint(b, uint64(num)<<3|wireVarint)
	return binary.AppendUvarint(b, v)
}

func (b pb) bytes(num int, v []byte) pb {
	b = binary.AppendUvarint(b, uint64(num)<<3|wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func TestDeaggregateRoundTrip(t *testing.T) {
	ehk := new(big.Int).Lsh(big.NewInt(1), 127).String() // the middle of the key space
	users := []producers.UserRecord{
		{PartitionKey: "alpha", Data: []byte(`{"n":0}`)},
		{PartitionKey: "beta", Data: []byte(`{"n":1}`)},
		{PartitionKey: "alpha", Data: []byte{}}, // empty data is allowed
		{PartitionKey: "gamma", ExplicitHashKey: ehk, Data: bytes.Repeat([]byte{0xFF, 0x00}, 300)},
		{PartitionKey: "delta", ExplicitHashKey: ehk, Data: []byte("δ")},
	}
	entries, err := producers.Aggregate(users, 0)
	if err != nil || len(entries) != 1 {
		t.Fatalf("Aggregate: got %d entries, %v; want 1", len(entries), err)
	}
	if entries[0].PartitionKey != "alpha" || entries[0].ExplicitHashKey != "" {
		t.Errorf("container keys: got %q %q, want the first record's", entries[0].PartitionKey, entries[0].ExplicitHashKey)
	}
	if !IsAggregated(entries[0].Data) {
		t.Fatalf("IsAggregated: got false for the encoder's output")
	}
	plain := engine.Record{SequenceNumber: "9", Data: []byte("plain"), PartitionKey: "p"}
	out, dropped := Deaggregate([]engine.Record{container("7", entries[0].Data), plain}, nil)
	if dropped != 0 || len(out) != len(users)+1 {
		t.Fatalf("Deaggregate: got %d records, %d dropped; want %d, 0", len(out), dropped, len(users)+1)
	}
	for i, u := range users {
		got := out[i]
		if !bytes.Equal(got.Data, u.Data) || got.PartitionKey != u.PartitionKey || got.ExplicitHashKey != u.ExplicitHashKey {
			t.Errorf("record %d: got (%q, %q, %q), want (%q, %q, %q)", i, got.PartitionKey, got.ExplicitHashKey, got.Data, u.PartitionKey, u.ExplicitHashKey, u.Data)
		}
		if got.SequenceNumber != "7" || got.SubSequenceNumber != int64(i) || !got.Aggregated ||
			!got.ApproximateArrivalTimestamp.Equal(t0) || got.EncryptionType != "KMS" {
			t.Errorf("record %d: got seq %s/%d aggregated %v arrival %v enc %q; want the container's, sub %d",
				i, got.SequenceNumber, got.SubSequenceNumber, got.Aggregated, got.ApproximateArrivalTimestamp, got.EncryptionType, i)
		}
		if p := got.Position(); p != (ExtendedSequenceNumber{SequenceNumber: "7", SubSequenceNumber: int64(i)}) {
			t.Errorf("record %d position: got %v", i, p)
		}
	}
	if last := out[len(users)]; last.Aggregated || string(last.Data) != "plain" || last.SubSequenceNumber != 0 {
		t.Errorf("plain record: got %+v, want it unchanged", last)
	}
}

func TestDeaggregateEdgeCases(t *testing.T) {
	good := func() []byte {
		e, err := producers.Aggregate([]producers.UserRecord{{PartitionKey: "a", Data: []byte("x")}, {PartitionKey: "b", Data: []byte("y")}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return e[0].Data
	}
	body := func(d []byte) []byte { return d[4 : len(d)-16] }
	withBody := func(b []byte) []byte { return rawAggregate(b) }
	rec := func(fields pb) []byte { return fields }

	badMD5 := good()
	badMD5[len(badMD5)-1] ^= 1
	flipped := good()
	flipped[6] ^= 0x40 // protobuf changed, MD5 not
	tail := good()
	truncated := withBody(body(tail)[:len(body(tail))-3])
	unknown := withBody(append(body(good()),
		pb{}.varint(9, 42).bytes(10, []byte("future")).varint(11, 1)...))
	group := withBody(append(body(good()), 0x63, 0x08, 0x01, 0x64))                      // field 12 group {1: 1}
	missingData := withBody(pb{}.bytes(1, []byte("a")).bytes(3, rec(pb{}.varint(1, 0)))) // Record without data
	missingPK := withBody(pb{}.bytes(1, []byte("a")).bytes(3, rec(pb{}.bytes(3, []byte("x")))))
	badIndex := withBody(pb{}.bytes(1, []byte("a")).bytes(3, rec(pb{}.varint(1, 1).bytes(3, []byte("x")))))
	badEHK := withBody(pb{}.bytes(1, []byte("a")).bytes(2, []byte("not-a-number")).bytes(3, rec(pb{}.varint(1, 0).varint(2, 0).bytes(3, []byte("x")))))
	tagNoKey := withBody(pb{}.bytes(1, []byte("a")).bytes(3, rec(pb{}.varint(1, 0).bytes(3, []byte("x")).bytes(4, pb{}.bytes(2, []byte("v"))))))
	tagOK := withBody(pb{}.bytes(1, []byte("a")).bytes(3, rec(pb{}.varint(1, 0).bytes(3, []byte("x")).bytes(4, pb{}.bytes(1, []byte("k")).bytes(2, []byte("v"))))))
	empty := withBody(pb{}.bytes(1, []byte("a")))                                  // an aggregate of no records
	lastWins := withBody(pb{}.bytes(1, []byte("a")).bytes(1, []byte("b")).bytes(3, // a repeated scalar field: the last value counts
		rec(pb{}.varint(1, 0).varint(1, 1).bytes(3, []byte("x")))))

	for _, tc := range []struct {
		name string
		data []byte
		want []string // partition keys of the user records; nil: passed through
	}{
		{"good", good(), []string{"a", "b"}},
		{"empty data", nil, nil},
		{"no magic", []byte("just some bytes that are long enough"), nil},
		{"magic only", kplMagic, nil},
		{"magic and 16 bytes", append(append([]byte{}, kplMagic...), make([]byte, 16)...), nil},
		{"bad MD5", badMD5, nil},
		{"protobuf changed under the MD5", flipped, nil},
		{"truncated protobuf", truncated, nil},
		{"unknown fields skipped", unknown, []string{"a", "b"}},
		{"unknown group skipped", group, []string{"a", "b"}},
		{"record without data", missingData, nil},
		{"record without partition key index", missingPK, nil},
		{"partition key index out of range", badIndex, nil},
		{"explicit hash key not a number", badEHK, nil},
		{"tag without key", tagNoKey, nil},
		{"tag with key", tagOK, []string{"a"}},
		{"no records", empty, []string{}},
		{"last scalar wins", lastWins, []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := container("5", tc.data)
			out, dropped := Deaggregate([]engine.Record{in}, nil)
			if dropped != 0 {
				t.Fatalf("dropped %d", dropped)
			}
			if tc.want == nil {
				if len(out) != 1 || out[0].Aggregated || !bytes.Equal(out[0].Data, tc.data) || out[0].PartitionKey != "container" {
					t.Fatalf("got %+v, want the record passed through", out)
				}
				return
			}
			if len(out) != len(tc.want) {
				t.Fatalf("got %d user records, want %d", len(out), len(tc.want))
			}
			for i, k := range tc.want {
				if out[i].PartitionKey != k || !out[i].Aggregated || out[i].SubSequenceNumber != int64(i) {
					t.Errorf("record %d: got key %q aggregated %v sub %d, want %q, true, %d", i, out[i].PartitionKey, out[i].Aggregated, out[i].SubSequenceNumber, k, i)
				}
			}
		})
	}
}

func TestDeaggregateDropsAggregatesOutsideTheShard(t *testing.T) {
	lower := engine.HashKeyRange{Start: engine.HashKey{}, End: engine.HashKey{Hi: 1 << 63}.Sub(1)}
	upper := engine.HashKeyRange{Start: engine.HashKey{Hi: 1 << 63}, End: engine.MaxHashKey}
	var low, high []string // partition keys hashing into each half
	for i := 0; len(low) < 3 || len(high) < 3; i++ {
		k := fmt.Sprintf("key-%d", i)
		if lower.Contains(engine.HashPartitionKey(k)) {
			low = append(low, k)
		} else {
			high = append(high, k)
		}
	}
	low, high = low[:3], high[:3]
	agg := func(keys ...string) []byte {
		var us []producers.UserRecord
		for _, k := range keys {
			us = append(us, producers.UserRecord{PartitionKey: k, Data: []byte(k)})
		}
		e, err := producers.Aggregate(us, 0)
		if err != nil {
			t.Fatal(err)
		}
		return e[0].Data
	}
	ehkHigh := upper.Start.String()
	e, err := producers.Aggregate([]producers.UserRecord{{PartitionKey: low[0], ExplicitHashKey: ehkHigh, Data: []byte("e")}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	single := e[0].Data // one record: the encoder would not aggregate it in a producer, but it may
	recs := []engine.Record{
		container("1", agg(low...)),
		container("2", agg(low[0], high[0], low[1])), // mixed: dropped whole
		{SequenceNumber: "3", Data: []byte("plain"), PartitionKey: high[0]},
		container("4", agg(high...)),
		container("5", single), // explicit hash key in the upper half, partition key in the lower
	}
	out, dropped := Deaggregate(recs, &lower)
	if dropped != 3 || len(out) != 4 {
		t.Fatalf("lower shard: got %d records, %d dropped; want 4 (three of agg 1, the plain one), 3", len(out), dropped)
	}
	if out[3].SequenceNumber != "3" || out[3].Aggregated {
		t.Errorf("a plain record is never range-checked: got %+v", out[3])
	}
	out, dropped = Deaggregate(recs, &upper)
	if dropped != 2 || len(out) != 1+3+1 {
		t.Fatalf("upper shard: got %d records, %d dropped; want 5, 2", len(out), dropped)
	}
	if out[4].SequenceNumber != "5" || out[4].ExplicitHashKey != ehkHigh {
		t.Errorf("explicit hash key decides: got %+v", out[4])
	}
	if out, dropped := Deaggregate(recs, nil); dropped != 0 || len(out) != 3+3+1+3+1 {
		t.Errorf("without a range: got %d records, %d dropped; want 11, 0", len(out), dropped)
	}
}

func TestCheckpointInsideAnAggregateResumesAfterIt(t *testing.T) {
	clock := engine.NewManualClock(t0)
	f := newFakeSource(testStream, "X")
	var users []producers.UserRecord
	for i := range 10 {
		users = append(users, producers.UserRecord{PartitionKey: "k", Data: fmt.Appendf(nil, "k:%d", i)})
	}
	e, err := producers.Aggregate(users, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.put("X", "k", "before")
	aggSeq := f.put("X", "k", string(e[0].Data))
	f.put("X", "k", "after")

	// The first run stops after checkpointing the fourth user record.
	meta := NewMemoryMeta()
	log1 := newRecLog()
	stopped := make(chan struct{})
	log1.onBatch = func(_ string, _ int, in ProcessRecordsInput, cp Checkpointer) error {
		for _, r := range in.Records {
			if r.Aggregated && r.SubSequenceNumber == 3 {
				if err := cp.CheckpointAt(r.SequenceNumber, 3); err != nil {
					return err
				}
				close(stopped)
				return nil
			}
		}
		return nil
	}
	cfg := leaseConfig(clock, meta)
	cfg.Limit = 10
	app1 := NewRecordApp("app", testStream, log1.factory(), f, nil, cfg)
	stop := startApp(t, app1)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("no checkpoint inside the aggregate")
	}
	stop()
	l := leaseTableOf(t, app1)["X"]
	if l.Checkpoint != aggSeq || l.CheckpointSubSequenceNumber != 3 {
		t.Fatalf("lease checkpoint: got %s/%d, want %s/3", l.Checkpoint, l.CheckpointSubSequenceNumber, aggSeq)
	}

	log2 := newRecLog()
	cfg.AutoCheckpoint = true
	app2 := NewRecordApp("app", testStream, log2.factory(), f, nil, cfg)
	startApp(t, app2)
	waitFor(t, 5*time.Second, "the rest", func() bool { return log2.distinct() == 7 })
	log2.mu.Lock()
	defer log2.mu.Unlock()
	var got []string
	for _, b := range log2.batches["X"] {
		got = append(got, b...)
	}
	want := []string{"k:4", "k:5", "k:6", "k:7", "k:8", "k:9", "after"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("second run: got %v, want %v", got, want)
	}
	if in := log2.inits["X"]; len(in) != 1 || in[0] != (ExtendedSequenceNumber{SequenceNumber: aggSeq, SubSequenceNumber: 3}) {
		t.Errorf("Initialize: got %v, want %s/3", in, aggSeq)
	}
}

func TestExtendedSequenceNumberStrings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ExtendedSequenceNumber
	}{
		{"123", ExtendedSequenceNumber{"123", 0}},
		{"123/4", ExtendedSequenceNumber{"123", 4}},
		{"SHARD_END", ExtendedSequenceNumber{ShardEnd, 0}},
		{"odd/x", ExtendedSequenceNumber{"odd/x", 0}},
	} {
		got := ParseExtendedSequenceNumber(tc.in)
		if got != tc.want {
			t.Errorf("Parse(%q): got %+v, want %+v", tc.in, got, tc.want)
		}
		if tc.in != "odd/x" && got.String() != tc.in {
			t.Errorf("String of %+v: got %q, want %q", got, got.String(), tc.in)
		}
	}
	a := ExtendedSequenceNumber{"0099", 5}
	b := ExtendedSequenceNumber{"100", 0}
	if a.compare(b) >= 0 || b.compare(a) <= 0 || a.compare(ExtendedSequenceNumber{"99", 5}) != 0 {
		t.Errorf("compare: sequence numbers are compared as integers")
	}
	if (ExtendedSequenceNumber{CheckpointTrimHorizon, 0}).compare(a) >= 0 || (ExtendedSequenceNumber{ShardEnd, 0}).compare(b) <= 0 {
		t.Errorf("compare: TRIM_HORIZON comes before records, SHARD_END after")
	}
}
