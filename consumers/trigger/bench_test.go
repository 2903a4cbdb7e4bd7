package trigger

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// BenchmarkURLNoop measures delivery to a no-op --url handler with
// BatchSize 100: the records already in the stream, read from
// TRIM_HORIZON, every batch POSTed as Lambda's event to a local server
// that answers 200 at once. Reported in records/s.
//
//	go test -run '^$' -bench URLNoop -benchtime 50000x ./consumers/trigger/
func BenchmarkURLNoop(b *testing.B) {
	for _, c := range []struct{ shards, pf int }{{1, 1}, {4, 1}, {1, 4}} {
		b.Run(fmt.Sprintf("shards=%d/pf=%d", c.shards, c.pf), func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = io.WriteString(w, `{}`)
			}))
			defer srv.Close()
			e := newEngine(b, engine.SystemClock{}, c.shards)
			payload := make([]byte, 100)
			for i := 0; i < b.N; i += 500 {
				in := engine.PutRecordsInput{StreamRef: engine.StreamRef{StreamName: testStream}}
				for j := i; j < min(i+500, b.N); j++ {
					in.Records = append(in.Records, engine.PutRecordsEntry{PartitionKey: fmt.Sprintf("k%d", j%64), Data: payload})
				}
				if _, err := e.PutRecords(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			s := DefaultSettings(testStream)
			s.StartingPosition = TrimHorizon
			s.ParallelizationFactor = c.pf
			s.Consumer.PollInterval = 10 * time.Millisecond
			tr, err := New(e, nil, nil, s, &URLInvoker{URL: srv.URL}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			begin := time.Now()
			stop := start(b, tr)
			for tr.Stats().Total.Records < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			el := time.Since(begin)
			b.StopTimer()
			stop()
			b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
			if st := tr.Stats().Total; st.Errors != 0 {
				b.Fatalf("errors: %+v", st)
			}
		})
	}
}
