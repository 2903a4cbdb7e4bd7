package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardscope/shardscope/api"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/storage"
)

func embedded(t testing.TB, limits bool) string {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "lg.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(db, engine.Options{DisableLimits: !limits, RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.NewHandler(e, api.Options{}))
	t.Cleanup(func() { srv.Close(); e.Close(); db.Close() })
	return srv.URL
}

// TestRunMeasuresPutsAndReads runs a short load and checks that what was
// put was read back and the summary line says so.
func TestRunMeasuresPutsAndReads(t *testing.T) {
	url := embedded(t, false)
	res, err := Run(context.Background(), Config{Endpoint: url, Shards: 2, Producers: 2, Batch: 20, Duration: 300 * time.Millisecond, Consumers: 1})
	if err != nil {
		t.Fatal(err)
	}
	// A call cut off by the end of the run may still have been stored: at
	// most one batch per producer is read without being counted as put.
	if res.Put == 0 || res.Consumed < res.Put || res.Consumed > res.Put+2*20 || res.Errors != 0 || res.P99 <= 0 {
		t.Fatalf("put %d consumed %d errors %d p99 %v: want puts, all read back, no errors, a latency", res.Put, res.Consumed, res.Errors, res.P99)
	}
	if s := res.String(); !strings.HasPrefix(s, "put ") || !strings.Contains(s, "put→get p50") {
		t.Fatalf("summary %q", s)
	}
}

// TestRunCountsThrottling: with the shard limits on, a hot single-shard
// load is throttled and the result counts it.
func TestRunCountsThrottling(t *testing.T) {
	url := embedded(t, true)
	res, err := Run(context.Background(), Config{Endpoint: url, Shards: 1, Producers: 2, Batch: 500, Duration: 1500 * time.Millisecond, Consumers: 0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Throttled == 0 {
		t.Fatalf("no throttling at %d records in %v on one shard", res.Put, res.Elapsed)
	}
}

// BenchmarkEndToEnd100B runs the `shardscope bench` default load against an
// embedded server for the profile: go test -run '^$' -bench . -benchtime 1x -cpuprofile cpu.out
func BenchmarkEndToEnd100B(b *testing.B) {
	url := embedded(b, false)
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), Config{Endpoint: url, Duration: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Put)/res.Elapsed.Seconds(), "records/s")
	}
}

// A call lost to the client's own closed connection is a reconnect, not a
// server error; anything else is an error.
func TestClosedConnectionsAreReconnectsNotErrors(t *testing.T) {
	var res Result
	tl := &tally{Result: &res}
	tl.fail(fmt.Errorf("operation error Kinesis: GetRecords, deserialization failed, %w", &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}))
	tl.fail(errors.New("InternalFailure: boom"))
	if res.Reconnects != 1 || res.Errors != 1 || res.LastError != "InternalFailure: boom" {
		t.Fatalf("reconnects %d, errors %d, last %q", res.Reconnects, res.Errors, res.LastError)
	}
	res.Elapsed = time.Second
	if line := res.String(); !strings.HasSuffix(line, " · reconnects 1") || !strings.Contains(line, "errors 1 ") {
		t.Fatalf("summary %q", line)
	}
}
