package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// openTest opens a fresh store in t.TempDir(). At cleanup it closes it and
// checks the file (bbolt check plus stats recount) through a fresh handle,
// so a test that closed or reopened the store is checked too. Handles from
// openAt are closed first (cleanups run last-in first-out).
func openTest(t testing.TB, opts Options) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		chk, err := Open(path, Options{Codec: opts.Codec})
		if err != nil {
			t.Errorf("reopen for check: %v", err)
			return
		}
		if err := chk.Check(); err != nil {
			t.Errorf("Check: %v", err)
		}
		if err := chk.Close(); err != nil {
			t.Errorf("Close after check: %v", err)
		}
	})
	return db
}

// openAt opens an existing path and closes it at cleanup.
func openAt(t testing.TB, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// reopen closes db and opens its path again (closed at cleanup).
func reopen(t testing.TB, db *DB, opts Options) *DB {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openAt(t, db.Path(), opts)
}

// testRecord is a deterministic function of (shard, pos), so any reader can
// verify what it gets back.
func testRecord(shard uint32, pos uint64) Record {
	n := int((pos*31 + uint64(shard)*7) % 200)
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(pos*7 + uint64(shard) + uint64(i))
	}
	r := Record{
		Position:     pos,
		Arrival:      1_000_000 + int64(pos),
		PartitionKey: fmt.Sprintf("pk-%d-%d", shard, pos),
		Data:         data,
	}
	if pos%3 == 0 {
		r.ExplicitHashKey = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, pos), uint64(shard))
	}
	return r
}

func testRecords(shard uint32, from uint64, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = testRecord(shard, from+uint64(i))
	}
	return out
}

func sameRecord(a, b Record) bool {
	return a.Position == b.Position && a.Arrival == b.Arrival && a.PartitionKey == b.PartitionKey &&
		bytes.Equal(a.ExplicitHashKey, b.ExplicitHashKey) && (a.ExplicitHashKey == nil) == (b.ExplicitHashKey == nil) &&
		bytes.Equal(a.Data, b.Data)
}

func mustAppend(t testing.TB, db *DB, appends ...Append) {
	t.Helper()
	if err := db.Append(context.Background(), appends); err != nil {
		t.Fatalf("Append: %v", err)
	}
}

func readAll(t testing.TB, db *DB, s ShardRef) []Record {
	t.Helper()
	var out []Record
	var from uint64
	for {
		rs, err := db.Read(s, from, 1000, 0)
		if err != nil {
			t.Fatalf("Read %s from %d: %v", s, from, err)
		}
		if len(rs) == 0 {
			return out
		}
		out = append(out, rs...)
		from = rs[len(rs)-1].Position + 1
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// queued is how many Append calls wait in the committer's queue.
func (db *DB) queued() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.queue)
}

// pauseCommitter blocks the committer before its next commit; the returned
// function lets it go. started is closed once the committer is blocked.
func pauseCommitter(db *DB) (started <-chan struct{}, release func()) {
	st := make(chan struct{})
	gate := make(chan struct{})
	first := true
	db.hooks.Store(&testHooks{beforeCommit: func([]*appendReq) {
		if first {
			first = false
			close(st)
			<-gate
		}
	}})
	released := false
	return st, func() {
		if !released {
			released = true
			close(gate)
		}
	}
}

// checkpointNow moves everything appended so far into bbolt, for tests that
// look at the bbolt file itself.
func checkpointNow(t testing.TB, db *DB) {
	t.Helper()
	if err := db.exclusive(func() error { return nil }); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
}
