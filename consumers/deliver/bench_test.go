package deliver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
)

// benchDeliver puts n records of about 1 KiB into a 2-shard stream, then
// times a delivery app from start until every record is delivered.
func benchDeliver(b *testing.B, dest Destination) {
	e := newEngine(b, 2)
	n := max(b.N, 1000)
	pad := strings.Repeat("x", 1000)
	for from := 0; from < n; from += 500 {
		entries := make([]engine.PutRecordsEntry, min(500, n-from))
		for i := range entries {
			entries[i] = engine.PutRecordsEntry{Data: []byte(fmt.Sprintf(`{"id":%d,"pad":"%s"}`, from+i, pad)), PartitionKey: fmt.Sprint(from + i)}
		}
		if _, err := e.PutRecords(context.Background(), engine.PutRecordsInput{StreamRef: engine.StreamRef{StreamName: testStream}, Records: entries}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	d, stop := runApp(b, e, Settings{BufferSizeMiB: 5, BufferInterval: 0}, dest, consumers.NewMemoryCheckpoints())
	deadline := time.Now().Add(5 * time.Minute)
	for d.Stats().Records < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("delivered %+v of %d", d.Stats(), n)
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	st := d.Stats()
	stop()
	b.ReportMetric(float64(n)/el.Seconds(), "records/s")
	b.ReportMetric(float64(st.Bytes)/el.Seconds()/1e6, "MB/s")
}

// go test -run '^$' -bench 'Deliver' -benchtime 50000x ./consumers/deliver/
func BenchmarkDeliverToDirectory(b *testing.B) {
	dest, err := NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	benchDeliver(b, dest)
}

func BenchmarkDeliverToPostgres(b *testing.B) {
	pg := startPostgres(b)
	dest, err := NewPostgres(context.Background(), pg.dsn(), DestinationOptions{Table: "bench", App: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer dest.Close()
	benchDeliver(b, dest)
}
