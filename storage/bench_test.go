package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Run with: go test -bench . -run '^$' -benchtime=2s ./storage/
// All of them fsync every commit, so they measure the disk as much as code.

const benchBatch = 500

func reportRate(b *testing.B, records int64, size int, elapsed time.Duration) {
	sec := elapsed.Seconds()
	b.ReportMetric(float64(records)/sec, "records/s")
	b.ReportMetric(float64(records)*float64(size)/sec/1e6, "MB/s")
}

// BenchmarkRawBoltBatch is the floor: plain bbolt, one Update per 500
// records into one bucket, big-endian keys, default options (fsync on).
func BenchmarkRawBoltBatch(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			bdb, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bolt.Options{Timeout: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer bdb.Close()
			name := []byte("records")
			if err := bdb.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(name); return err }); err != nil {
				b.Fatal(err)
			}
			value := make([]byte, size)
			var next uint64
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				err := bdb.Update(func(tx *bolt.Tx) error {
					bk := tx.Bucket(name)
					for range benchBatch {
						if err := bk.Put(binary.BigEndian.AppendUint64(nil, next), value); err != nil {
							return err
						}
						next++
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, int64(b.N)*benchBatch, size, time.Since(start))
		})
	}
}

// BenchmarkAppend: one Append of 500 records over 4 shards per iteration.
// Payload is size bytes of Data (plus a short partition key).
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			db := openTest(b, Options{})
			data := make([]byte, size)
			var next uint64
			appends := make([]Append, 4)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				for sh := range appends {
					recs := make([]Record, benchBatch/4)
					for i := range recs {
						recs[i] = Record{Position: next + uint64(i), Arrival: time.Now().UnixMilli(), PartitionKey: "pk", Data: data}
					}
					appends[sh] = Append{Shard: ShardRef{"bench", uint32(sh)}, Records: recs}
				}
				next += benchBatch / 4
				if err := db.Append(context.Background(), appends); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, int64(b.N)*benchBatch, size, time.Since(start))
			b.StopTimer()
		})
	}
}

// BenchmarkAppendConcurrent: 16 goroutines, each appending 50-record
// batches of 100 bytes to its own shard; b.N batches in all.
func BenchmarkAppendConcurrent(b *testing.B) {
	const writers, batch, size = 16, 50, 100
	db := openTest(b, Options{})
	data := make([]byte, size)
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := ShardRef{"bench", uint32(w)}
			var next uint64
			for left.Add(-1) >= 0 {
				recs := make([]Record, batch)
				for i := range recs {
					recs[i] = Record{Position: next + uint64(i), Arrival: time.Now().UnixMilli(), PartitionKey: "pk", Data: data}
				}
				next += batch
				if err := db.Append(context.Background(), []Append{{Shard: s, Records: recs}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	reportRate(b, int64(b.N)*batch, size, elapsed)
	if c := db.Commits(); c > 0 {
		b.ReportMetric(float64(b.N)/float64(c), "appends/commit")
	}
	b.StopTimer()
}
