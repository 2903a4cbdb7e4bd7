package engine

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// records returns the stream's record count in the snapshot.
func (env *testEnv) records(stream string) int64 {
	env.t.Helper()
	var n int64
	snap := env.e.Snapshot()
	for _, sh := range snap.Stream(stream).Shards {
		n += sh.Records
	}
	return n
}

func (env *testEnv) hasEvent(kind EventKind, text string) bool {
	for _, ev := range env.e.Snapshot().Events {
		if ev.Kind == kind && strings.Contains(ev.Message, text) {
			return true
		}
	}
	return false
}

// TestRetentionClockJumpForward: the wall clock set a day ahead must not
// trim records that are younger than their retention by the time that has
// actually passed; the jump is logged, and trimming resumes as that time
// passes.
func TestRetentionClockJumpForward(t *testing.T) {
	var log syncBuffer
	env := newEnv(t, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	env.create("s", 1) // 24 h retention
	for i := 0; i < 3; i++ {
		env.put("s", key(i), "x")
	}
	env.clock.Advance(time.Hour)
	if err := env.e.retentionPass(); err != nil {
		t.Fatal(err)
	}
	env.clock.Jump(48 * time.Hour) // an operator or NTP sets the clock
	if err := env.e.retentionPass(); err != nil {
		t.Fatal(err)
	}
	if n := env.records("s"); n != 3 {
		t.Fatalf("after a forward jump of 48 h with 1 h passed: %d records, want 3", n)
	}
	if !env.hasEvent(EventRetention, "clock jumped forward by 48h0m0s") {
		t.Fatalf("no event for the jump in %+v", env.e.Snapshot().Events)
	}
	if !strings.Contains(log.String(), "clock jumped forward by 48h0m0s") {
		t.Fatalf("the jump is not in the log:\n%s", log.String())
	}
	// Time passes: 22 h more is still within retention...
	env.clock.Advance(22 * time.Hour)
	if err := env.e.retentionPass(); err != nil {
		t.Fatal(err)
	}
	if n := env.records("s"); n != 3 {
		t.Fatalf("23 h after writing: %d records, want 3", n)
	}
	// ...past 24 h of real time they go.
	env.clock.Advance(time.Hour + time.Minute)
	if err := env.e.retentionPass(); err != nil {
		t.Fatal(err)
	}
	if n := env.records("s"); n != 0 {
		t.Fatalf("24 h 1 min after writing: %d records, want 0", n)
	}
}

// TestRetentionClockJumpBack: a wall clock set back trims by the wall
// clock (never more than it allows), keeps arrival times and positions in
// order, and is logged.
func TestRetentionClockJumpBack(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	first := env.put("s", "a", "x")
	env.clock.Advance(3 * time.Hour)
	if err := env.e.retentionPass(); err != nil {
		t.Fatal(err)
	}
	env.clock.Jump(-2 * time.Hour) // the wall clock reads 1 h after the first record
	second := env.put("s", "b", "x")
	if !seqLess(first.SequenceNumber, second.SequenceNumber) {
		t.Fatalf("sequence numbers out of order: %s then %s", first.SequenceNumber, second.SequenceNumber)
	}
	recs, _, _ := env.readAll(env.iter("s", "shardId-000000000000", TrimHorizon, "", time.Time{}))
	if len(recs) != 2 || recs[1].ApproximateArrivalTimestamp.Before(recs[0].ApproximateArrivalTimestamp) {
		t.Fatalf("records %+v: arrival times must not go back", recs)
	}
	if err := env.e.retentionPass(); err != nil {
		t.Fatal(err)
	}
	if !env.hasEvent(EventRetention, "clock jumped back by 2h0m0s") {
		t.Fatalf("no event for the jump in %+v", env.e.Snapshot().Events)
	}
	// 23 h of real time later the wall clock reads 24 h after the first
	// record (26 h have passed): the wall clock allows no trim yet.
	env.clock.Advance(23 * time.Hour)
	if err := env.e.retentionPass(); err != nil {
		t.Fatal(err)
	}
	if n := env.records("s"); n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
	// Once the wall clock passes 24 h after the first record, it goes.
	env.clock.Advance(3*time.Hour + time.Minute)
	if err := env.e.retentionPass(); err != nil {
		t.Fatal(err)
	}
	if n := env.records("s"); n != 0 {
		t.Fatalf("%d records, want 0 (both older than 24 h by the wall clock)", n)
	}
}

// TestRetentionOffsetSkipIsNotAJump: the console's time-lapse (an
// OffsetClock skipped forward) is time passing on purpose: background
// retention trims by it and logs no jump.
func TestRetentionOffsetSkipIsNotAJump(t *testing.T) {
	base := NewManualClock(t0)
	oc := NewOffsetClock(base)
	env := newEnv(t, Options{Clock: oc})
	env.create("s", 1)
	env.put("s", "a", "x")
	if err := env.e.retentionPass(); err != nil {
		t.Fatal(err)
	}
	oc.Skip(25 * time.Hour)
	if err := env.e.retentionPass(); err != nil {
		t.Fatal(err)
	}
	if n := env.records("s"); n != 0 {
		t.Fatalf("after skipping 25 h: %d records, want 0", n)
	}
	if env.hasEvent(EventRetention, "clock jumped") {
		t.Fatalf("a skip was logged as a jump: %+v", env.e.Snapshot().Events)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
