package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/storage"
	bolt "go.etcd.io/bbolt"
)

// Benchmarks. Figures and the commands that produced them are in the README.
//
//	go test -run '^$' -bench . -benchtime 3s ./engine/

func benchEnv(b *testing.B, sync storage.SyncMode, shards int) (*Engine, func()) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.db")
	e, done := openBench(b, path, sync)
	if err := e.CreateStream(context.Background(), CreateStreamInput{StreamName: "bench", ShardCount: shards}); err != nil {
		b.Fatal(err)
	}
	return e, done
}

// openBench opens an engine over the store at path; done closes both, which
// checkpoints everything the log holds into bbolt.
func openBench(b *testing.B, path string, sync storage.SyncMode) (*Engine, func()) {
	b.Helper()
	db, err := storage.Open(path, storage.Options{Sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(db, Options{DisableLimits: true, RetentionInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	return e, func() {
		e.Close()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func batchOf(n, size, salt int) []PutRecordsEntry {
	entries := make([]PutRecordsEntry, n)
	data := make([]byte, size)
	for i := range entries {
		entries[i] = PutRecordsEntry{PartitionKey: fmt.Sprintf("key-%d-%d", salt, i), Data: data}
	}
	return entries
}

func reportRate(b *testing.B, records, size int) {
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(records)/secs, "records/s")
	b.ReportMetric(float64(records*size)/secs/1e6, "MB/s")
}

// BenchmarkRawBoltBatch is the yardstick: plain bbolt, one fsynced
// transaction per 500 records into one bucket, no engine at all.
func BenchmarkRawBoltBatch(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			val := make([]byte, size+16)
			var pos uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				err := db.Update(func(tx *bolt.Tx) error {
					bk, err := tx.CreateBucketIfNotExists([]byte("records"))
					if err != nil {
						return err
					}
					bk.FillPercent = 0.9
					for j := 0; j < 500; j++ {
						pos++
						var k [8]byte
						binary.BigEndian.PutUint64(k[:], pos)
						if err := bk.Put(k[:], val); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N*500, size)
		})
	}
}

// BenchmarkPutRecords500 is the engine's big-batch rate: PutRecords of 500
// records over 4 shards with fsync on. The clock runs until the store is
// closed, so the final checkpoint into bbolt is timed too, as every bbolt
// write is in BenchmarkRawBoltBatch: both end with every record in bbolt.
func BenchmarkPutRecords500(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			e, done := benchEnv(b, storage.SyncAlways, 4)
			batch := batchOf(500, size, 0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, err := e.PutRecords(context.Background(), PutRecordsInput{StreamRef: StreamRef{StreamName: "bench"}, Records: batch})
				if err != nil || out.FailedRecordCount != 0 {
					b.Fatal(err, out.FailedRecordCount)
				}
			}
			done()
			b.StopTimer()
			reportRate(b, b.N*500, size)
		})
	}
}

// BenchmarkConcurrentProducers16x50: sixteen producers sending batches of
// 50, fsync on; group commit should keep this near the big-batch rate. Timed
// like BenchmarkPutRecords500, to the end of the final checkpoint.
func BenchmarkConcurrentProducers16x50(b *testing.B) {
	e, done := benchEnv(b, storage.SyncAlways, 4)
	var wg sync.WaitGroup
	work := make(chan struct{}, b.N)
	for i := 0; i < b.N; i++ {
		work <- struct{}{}
	}
	close(work)
	b.ResetTimer()
	for p := 0; p < 16; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			batch := batchOf(50, 100, p)
			for range work {
				if _, err := e.PutRecords(context.Background(), PutRecordsInput{StreamRef: StreamRef{StreamName: "bench"}, Records: batch}); err != nil {
					b.Error(err)
					return
				}
			}
		}(p)
	}
	wg.Wait()
	done()
	b.StopTimer()
	reportRate(b, b.N*50, 100)
}

// BenchmarkPutToSubscriberLatency writes 5,000 records/s (5 every
// millisecond) with fsync on and measures, per record, the time from the
// start of its PutRecords call to its delivery to a subscriber.
func BenchmarkPutToSubscriberLatency(b *testing.B) {
	e, done := benchEnv(b, storage.SyncAlways, 1)
	defer done()
	sub, err := e.Subscribe(context.Background(), SubscribeInput{StreamRef: StreamRef{StreamName: "bench"}, ShardID: "shardId-000000000000", Position: StartingPosition{Type: Latest}})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	sent := make([]time.Time, b.N)
	lat := make([]time.Duration, 0, b.N)
	got := make(chan struct{})
	go func() {
		defer close(got)
		for len(lat) < b.N {
			ev, err := sub.Next(context.Background())
			if err != nil {
				return
			}
			now := time.Now()
			for _, r := range ev.Records {
				var i int
				fmt.Sscanf(string(r.Data), "%d", &i)
				lat = append(lat, now.Sub(sent[i]))
			}
		}
	}()
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 0; i < b.N; {
		<-tick.C
		n := min(5, b.N-i)
		entries := make([]PutRecordsEntry, n)
		start := time.Now()
		for j := range entries {
			sent[i+j] = start
			entries[j] = PutRecordsEntry{PartitionKey: "k", Data: []byte(fmt.Sprint(i + j))}
		}
		go e.PutRecords(context.Background(), PutRecordsInput{StreamRef: StreamRef{StreamName: "bench"}, Records: entries})
		i += n
	}
	<-got
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkGetRecordsRandom reads 100 records from a random position of a
// shard holding 10k or 1M records: the cost of a seek should barely grow.
// For "btree" the store is closed and reopened before timing, so every
// record is read from the B+tree; for "memtable" the 10k records are all
// still in the log's memtable (it holds the newest 8 MiB until a checkpoint).
func BenchmarkGetRecordsRandom(b *testing.B) {
	for _, c := range []struct {
		total int
		from  string
	}{{10_000, "memtable"}, {10_000, "btree"}, {1_000_000, "btree"}} {
		total := c.total
		b.Run(fmt.Sprintf("records=%d/from=%s", total, c.from), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.db")
			e, done := openBench(b, path, storage.SyncNone)
			if err := e.CreateStream(context.Background(), CreateStreamInput{StreamName: "bench", ShardCount: 1}); err != nil {
				b.Fatal(err)
			}
			var first string
			for n := 0; n < total; n += 500 {
				out, err := e.PutRecords(context.Background(), PutRecordsInput{StreamRef: StreamRef{StreamName: "bench"}, Records: batchOf(500, 100, n)})
				if err != nil {
					b.Fatal(err)
				}
				if first == "" {
					first = out.Records[0].SequenceNumber
				}
			}
			if c.from == "btree" {
				done()
				e, done = openBench(b, path, storage.SyncNone)
			}
			defer done()
			_, base, _ := parseSeq(first)
			rng := rand.New(rand.NewSource(1))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				seq := formatSeq(0, base+uint64(rng.Intn(total-100)))
				it, err := e.GetShardIterator(context.Background(), GetShardIteratorInput{StreamRef: StreamRef{StreamName: "bench"}, ShardID: "shardId-000000000000", ShardIteratorType: AtSequenceNumber, StartingSequenceNumber: seq})
				if err != nil {
					b.Fatal(err)
				}
				out, err := e.GetRecords(context.Background(), GetRecordsInput{ShardIterator: it, Limit: 100})
				if err != nil || len(out.Records) != 100 {
					b.Fatal(err, len(out.Records))
				}
			}
		})
	}
}
