package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTimeLapseKeepsRates checks that an OffsetClock's skip ages records
// but leaves the per-second counters, the sparkline history and the cost
// estimate where they were: they measure the seconds that really pass.
func TestTimeLapseKeepsRates(t *testing.T) {
	base := NewManualClock(t0)
	clock := NewOffsetClock(base)
	env := newEnv(t, Options{Clock: clock})
	env.create("s", 1)
	for sec := 0; sec < 10; sec++ {
		for i := 0; i < 50; i++ {
			env.put("s", fmt.Sprintf("k%d", i), "0123456789")
		}
		base.Advance(time.Second)
	}
	before := snapStream(env, "s")
	if before.Rate.RecordsIn != 50 {
		t.Fatalf("rate before the skip: %d records/s, want 50", before.Rate.RecordsIn)
	}
	clock.Skip(3 * time.Hour)
	after := snapStream(env, "s")
	if after.Rate != before.Rate {
		t.Fatalf("rate after a 3 h skip %+v, want %+v", after.Rate, before.Rate)
	}
	if got, want := after.Shards[0].History, before.Shards[0].History; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("history changed with the skip")
	}
	if after.Cost.OnDemandHourly != before.Cost.OnDemandHourly || after.Cost.Cheaper != before.Cost.Cheaper {
		t.Fatalf("cost after the skip %+v, want %+v", after.Cost, before.Cost)
	}
	if age := clock.Now().Sub(after.Shards[0].Oldest); age < 3*time.Hour {
		t.Fatalf("oldest record is %v old after a 3 h skip", age)
	}
}

// TestCostAveragesMeasuredTime checks that the cost estimate of a steady
// load does not climb through the first minute: it averages only the
// seconds measured since the engine started.
func TestCostAveragesMeasuredTime(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	var first float64
	for sec := 1; sec <= 70; sec++ {
		for i := 0; i < 100; i++ {
			env.put("s", fmt.Sprintf("k%d", i), "0123456789")
		}
		env.clock.Advance(time.Second)
		c := snapStream(env, "s").Cost
		if sec == 5 {
			first = c.OnDemandHourly
			if c.Window != 5*time.Second || !strings.HasPrefix(c.Basis, "last 5 s: 100 records/s") {
				t.Fatalf("after 5 s: window %v, basis %q", c.Window, c.Basis)
			}
		}
		if sec > 5 && c.OnDemandHourly != first {
			t.Fatalf("second %d: on-demand $%v/h, want the steady $%v/h", sec, c.OnDemandHourly, first)
		}
		if sec == 70 && (c.Window != CostWindow*time.Second || !strings.HasPrefix(c.Basis, "last 60 s: 100 records/s")) {
			t.Fatalf("after 70 s: window %v, basis %q", c.Window, c.Basis)
		}
	}
}

// TestNewestAndSequenceGap checks the snapshot's newest record and the
// gap between two sequence numbers a reader's lag is counted with.
func TestNewestAndSequenceGap(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 2)
	if sh := snapStream(env, "s").Shards[0]; sh.NewestSequenceNumber != "" || !sh.Newest.IsZero() {
		t.Fatalf("empty shard: newest %q at %v", sh.NewestSequenceNumber, sh.Newest)
	}
	var seqs []string
	for i := 0; i < 5; i++ {
		out, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: "s"}, PartitionKey: "k", Data: []byte("x"), ExplicitHashKey: "0"})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, out.SequenceNumber)
		env.clock.Advance(time.Second)
	}
	sh := snapStream(env, "s").Shards[0]
	if sh.NewestSequenceNumber != seqs[4] || !sh.Newest.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("newest %q at %v, want %q at %v", sh.NewestSequenceNumber, sh.Newest, seqs[4], t0.Add(4*time.Second))
	}
	for _, c := range []struct {
		from, to string
		n        int64
		ok       bool
	}{
		{seqs[0], seqs[4], 4, true},
		{seqs[4], seqs[4], 0, true},
		{seqs[4], seqs[1], 0, true},
		{"TRIM_HORIZON", seqs[4], 0, false},
	} {
		if n, ok := SequenceGap(c.from, c.to); n != c.n || ok != c.ok {
			t.Errorf("SequenceGap(%s, %s) = %d, %v; want %d, %v", c.from, c.to, n, ok, c.n, c.ok)
		}
	}
	other, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: "s"}, PartitionKey: "k", Data: []byte("x"), ExplicitHashKey: "340282366920938463463374607431768211455"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := SequenceGap(seqs[0], other.SequenceNumber); ok {
		t.Error("a gap across shards was measured")
	}
}
