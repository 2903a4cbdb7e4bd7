package consumers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// An App starting AT_TIMESTAMP reads, on every shard, only the records
// that arrived at or after the timestamp, and goes on reading new ones.
func TestStartAtTimestampOnTheEngine(t *testing.T) {
	ctx := context.Background()
	clock := engine.NewManualClock(t0)
	db, e := newEngine(t, clock)
	ref := engine.StreamRef{StreamName: testStream}
	if err := e.CreateStream(ctx, engine.CreateStreamInput{StreamName: testStream, ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	put := func(tag string, n int) {
		t.Helper()
		in := engine.PutRecordsInput{StreamRef: ref}
		for i := range n {
			in.Records = append(in.Records, engine.PutRecordsEntry{PartitionKey: fmt.Sprintf("k%d", i), Data: fmt.Appendf(nil, "%s%d", tag, i)})
		}
		if out, err := e.PutRecords(ctx, in); err != nil || out.FailedRecordCount != 0 {
			t.Fatalf("PutRecords: %v", err)
		}
	}
	put("old", 20)
	clock.Advance(time.Minute)
	from := clock.Now()
	put("new", 20)

	c := newCollector()
	cfg := leaseConfig(clock, NewMetaLeases(db))
	cfg.StartPosition, cfg.StartTimestamp = engine.AtTimestamp, from
	app := NewApp("at", testStream, c, e, nil, cfg)
	stop := startApp(t, app)
	defer stop()
	waitFor(t, 5*time.Second, "the new records", func() bool { return c.distinct() >= 20 })
	put("later", 5)
	waitFor(t, 5*time.Second, "the later records", func() bool { return c.distinct() >= 25 })
	stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for v := range c.seen {
		if len(v) >= 3 && v[:3] == "old" {
			t.Errorf("read %q, which arrived before the timestamp", v)
		}
	}
	if len(c.seen) != 25 {
		t.Errorf("read %d distinct records, want 25", len(c.seen))
	}
}
