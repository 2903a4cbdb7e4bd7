package engine

import (
	"testing"
	"time"
)

// TestIteratorsAfterTrimming: once retention has trimmed the head of a
// shard, TRIM_HORIZON starts at the first survivor, and an iterator at a
// trimmed sequence number reads on from the survivors.
func TestIteratorsAfterTrimming(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 1)
	const sh = "shardId-000000000000"
	var old []string
	for i := 0; i < 5; i++ {
		old = append(old, env.put("s", key(i), "old").SequenceNumber)
	}
	env.clock.Advance(20 * time.Hour)
	var kept []string
	for i := 0; i < 3; i++ {
		kept = append(kept, env.put("s", key(i), "kept").SequenceNumber)
	}
	env.clock.Advance(5 * time.Hour) // the first five are 25 h old
	if err := env.e.ApplyRetention(env.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := env.e.Snapshot().Streams[0].Shards[0].Records; n != 3 {
		t.Fatalf("shard holds %d records after trimming, want 3", n)
	}
	for _, c := range []struct {
		typ IteratorType
		seq string
	}{{TrimHorizon, ""}, {AtSequenceNumber, old[1]}, {AfterSequenceNumber, old[4]}} {
		recs, _, _ := env.readAll(env.iter("s", sh, c.typ, c.seq, time.Time{}))
		if len(recs) != 3 || recs[0].SequenceNumber != kept[0] {
			t.Fatalf("%s %s: read %d records starting %v, want the 3 survivors", c.typ, c.seq, len(recs), recs)
		}
	}
	// AT_TIMESTAMP before the trim horizon starts at the horizon too.
	recs, _, _ := env.readAll(env.iter("s", sh, AtTimestamp, "", t0))
	if len(recs) != 3 {
		t.Fatalf("AT_TIMESTAMP before the horizon read %d records, want 3", len(recs))
	}
}
