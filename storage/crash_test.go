package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const envCrashStore = "SHARDSCOPE_STORAGE_CRASH_STORE"

// TestHelperCrashWriter is not a test: TestCrashRecovery runs the test
// binary again with only this. It appends to 4 shards as fast as it can,
// with fsync, and prints "ack <shard> <last position>" only after Append
// returned nil, until the parent kills it.
func TestHelperCrashWriter(t *testing.T) {
	path := os.Getenv(envCrashStore)
	if path == "" {
		t.Skip("helper process only")
	}
	db, err := Open(path, Options{Sync: SyncAlways})
	if err != nil {
		fmt.Fprintf(os.Stdout, "error %v\n", err)
		os.Exit(2)
	}
	var out sync.Mutex
	fmt.Fprintln(os.Stdout, "ready")
	deadline := time.Now().Add(60 * time.Second) // an orphan stops by itself
	var wg sync.WaitGroup
	for shard := range uint32(4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(shard), uint64(time.Now().UnixNano())))
			var next uint64
			for time.Now().Before(deadline) {
				n := 1 + rng.IntN(64)
				recs := testRecords(shard, next, n)
				if err := db.Append(context.Background(), []Append{{Shard: ShardRef{"crash", shard}, Records: recs}}); err != nil {
					fmt.Fprintf(os.Stdout, "error %v\n", err)
					os.Exit(2)
				}
				next += uint64(n)
				out.Lock()
				fmt.Fprintf(os.Stdout, "ack %d %d\n", shard, next-1) // os.Stdout is unbuffered
				out.Unlock()
			}
		}()
	}
	wg.Wait()
	db.Close()
	os.Exit(0)
}

// TestCrashRecovery kills a writer with SIGKILL at a random moment and
// checks that every acknowledged record survived, with no gap, duplicate or
// damage, and that the file and its stats are consistent.
func TestCrashRecovery(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	for round := range rounds {
		delay := time.Duration(20+rng.IntN(281)) * time.Millisecond
		t.Run(fmt.Sprintf("round%02d", round), func(t *testing.T) {
			crashRound(t, delay)
		})
		if t.Failed() {
			return
		}
	}
}

func crashRound(t *testing.T, delay time.Duration) {
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd, _, lines := startHelper(t, "TestHelperCrashWriter", envCrashStore+"="+path)
	awaitReady(t, lines)
	time.Sleep(delay) // the crash moment itself: random on purpose
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	acked := make(map[uint32]uint64)
	acks := 0
	for l := range lines { // closed at EOF: the pipe keeps what was written
		var shard uint32
		var last uint64
		if _, err := fmt.Sscanf(l, "ack %d %d", &shard, &last); err != nil {
			if len(l) > 5 && l[:5] == "error" {
				t.Fatalf("writer: %s", l)
			}
			continue
		}
		if prev, ok := acked[shard]; ok && last <= prev {
			t.Fatalf("shard %d acknowledged %d after %d", shard, last, prev)
		}
		acked[shard] = last
		acks++
	}

	db := openAt(t, path, Options{})
	total := 0
	for shard := range uint32(4) {
		s := ShardRef{"crash", shard}
		got := readAll(t, db, s)
		for i, r := range got {
			if r.Position != uint64(i) {
				t.Fatalf("%s: record %d has position %d: gap or duplicate", s, i, r.Position)
			}
			if want := testRecord(shard, r.Position); !sameRecord(r, want) {
				t.Fatalf("%s: record %d damaged: %+v", s, i, r)
			}
		}
		if last, ok := acked[shard]; ok && (len(got) == 0 || uint64(len(got)-1) < last) {
			t.Fatalf("%s: acknowledged up to %d but only %d records survived", s, last, len(got))
		}
		var bytes int64
		for _, r := range got {
			bytes += int64(len(r.Data) + len(r.PartitionKey))
		}
		if n, b, err := db.Stats(s); err != nil || n != int64(len(got)) || b != bytes {
			t.Fatalf("%s: Stats = %d, %d, %v; records hold %d, %d", s, n, b, err, len(got), bytes)
		}
		total += len(got)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed after %v: %d acks, %d records survived", delay, acks, total)
}
