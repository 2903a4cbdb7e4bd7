package engine

import (
	"context"
	"testing"
	"time"
)

// TestPutRecordsClientGoneSettlesCommitted: a caller whose context ends
// after its records were handed to storage gets an error, but storage
// commits the records anyway; the engine must then count them, show them
// to taps and readers, and charge them, exactly as if the caller had stayed.
func TestPutRecordsClientGoneSettlesCommitted(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}
	tap := env.e.NewTap(10_000)
	defer tap.Close()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	const calls, per = 20, 10 // each key "key-N" is 5 bytes
	for i := 0; i < calls; i++ {
		entries := make([]PutRecordsEntry, per)
		for j := range entries {
			entries[j] = PutRecordsEntry{PartitionKey: key(j), Data: []byte("0123456789")}
		}
		// Either outcome is fine for the caller; it has gone.
		_, _ = env.e.PutRecords(gone, PutRecordsInput{StreamRef: ref, Records: entries})
	}
	// Settling may finish after the calls returned: wait for every
	// record to be counted and tapped, with a deadline.
	var counted int64
	var got []TapRecord
	deadline := time.Now().Add(10 * time.Second)
	for {
		counted = env.e.Snapshot().Streams[0].Shards[0].Records
		got = tap.Drain(got)
		if counted == calls*per && len(got) == calls*per || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	snap := env.e.Snapshot().Streams[0].Shards[0]
	read, _, _ := env.readAll(env.iter("s", "shardId-000000000000", TrimHorizon, "", time.Time{}))
	// Storage holds what was committed; a reopen counts from it.
	env.reopen()
	stored := env.e.Snapshot().Streams[0].Shards[0].Records
	if stored == 0 {
		t.Fatal("nothing was committed; the test proves nothing")
	}
	if counted != stored {
		t.Fatalf("records counter %d, storage holds %d", counted, stored)
	}
	if int64(len(read)) != stored {
		t.Fatalf("a reader saw %d records, storage holds %d", len(read), stored)
	}
	if int64(len(got)) != stored {
		t.Fatalf("tap saw %d records, storage holds %d", len(got), stored)
	}
	if snap.TotalRecordsIn != stored {
		t.Fatalf("records-in total %d (the cost meter's input), storage holds %d", snap.TotalRecordsIn, stored)
	}
	if snap.Bytes != stored*(10+5) {
		t.Fatalf("bytes counter %d, want %d", snap.Bytes, stored*15)
	}
}
