package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
)

// kplRecord aggregates user records with the producers' real KPL
// aggregator, as a record of shard 0 (the first quarter of the key space).
func kplRecord(t *testing.T, users ...producers.UserRecord) engine.TapRecord {
	t.Helper()
	a := producers.NewAggregator(producers.DefaultAggregateMaxBytes)
	for _, u := range users {
		if err := a.Add(u); err != nil {
			t.Fatal(err)
		}
	}
	e, ok := a.Build()
	if !ok {
		t.Fatal("empty aggregate")
	}
	hash := engine.HashPartitionKey(e.PartitionKey)
	if h, ok := engine.ParseHashKey(e.ExplicitHashKey); ok {
		hash = h
	}
	return engine.TapRecord{Stream: "demo", ShardID: shardID(0), HashKey: hash,
		Record: engine.Record{SequenceNumber: "49650000000000000000000000000000000000000000000000045100", PartitionKey: e.PartitionKey,
			ExplicitHashKey: e.ExplicitHashKey, Data: e.Data, ApproximateArrivalTimestamp: t0.Add(time.Second)}}
}

// TestDetailKPLSubRecords: a KPL aggregate's detail lists its user
// records with sub-sequence number, key, explicit hash key, size and
// data, and says which hash outside the shard's range.
func TestDetailKPLSubRecords(t *testing.T) {
	h := newHarness(t, 120, 40)
	outside := hk(3, 4).String() // shard 5's quarter, not shard 0's
	inside := hk(1, 16).String()
	rec := kplRecord(t,
		producers.UserRecord{PartitionKey: "sensor-7", ExplicitHashKey: inside, Data: []byte(`{"temp":21.5}`)},
		producers.UserRecord{PartitionKey: "sensor-7", ExplicitHashKey: inside, Data: []byte("plain text")},
		producers.UserRecord{PartitionKey: "stray", ExplicitHashKey: outside, Data: []byte{0xff, 0x00, 0x01}},
	)
	h.fake.push(rec)
	h.tick()
	h.press("tab", "enter")
	if h.m.detail == nil {
		t.Fatal("no detail")
	}
	v := h.m.detail.content(116)
	for _, want := range []string{
		"KPL aggregate of 3 user records",
		"#0  key sensor-7", `"temp": 21.5`,
		"#1  key sensor-7", "plain text",
		"#2  key stray", "explicit hash " + outside, "ff 00 01",
		"in this shard's range", "outside this shard's range",
		"user records outside 000000000000's range: 1 of 3",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("detail lacks %q:\n%s", want, v)
		}
	}
	if strings.Count(v, "in this shard's range") != 2 {
		t.Errorf("want two user records in range:\n%s", v)
	}
	golden(t, "detail_kpl_120x40", h.view())
}

// TestDetailPlainRecordIsNotKPL: data that only starts with the magic is
// shown as it is.
func TestDetailPlainRecordIsNotKPL(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.fake.push(engine.TapRecord{Stream: "demo", ShardID: shardID(0), Record: engine.Record{SequenceNumber: "1", PartitionKey: "k",
		Data: append([]byte{0xF3, 0x89, 0x9A, 0xC2}, make([]byte, 20)...), ApproximateArrivalTimestamp: t0}})
	h.tick()
	h.press("tab", "enter")
	if v := h.m.detail.content(76); strings.Contains(v, "KPL") || !strings.Contains(v, "hex dump") {
		t.Errorf("a fake magic was decoded:\n%s", v)
	}
}
