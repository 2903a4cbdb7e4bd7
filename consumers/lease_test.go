package consumers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// Lease timings of the tests, on a manual clock.
const (
	testLease = 10 * time.Second
	testRenew = 3 * time.Second
	testTake  = 5 * time.Second
)

// leaseConfig polls fast in real time and judges leases by clock.
func leaseConfig(clock *engine.ManualClock, leases LeaseStore) Config {
	return Config{
		PollInterval:       2 * time.Millisecond,
		MinReadInterval:    -1,
		Limit:              7,
		RelistInterval:     20 * time.Millisecond,
		ThrottleBackoff:    10 * time.Millisecond,
		Clock:              clock,
		Leases:             leases,
		LeaseDuration:      testLease,
		RenewInterval:      testRenew,
		TakeInterval:       testTake,
		LeaseCheckInterval: 5 * time.Millisecond,
	}
}

// settle waits until every running worker of apps has looked at its
// leases at the clock's current time.
func settle(t *testing.T, clock *engine.ManualClock, apps ...*App) {
	t.Helper()
	now := clock.Now()
	waitFor(t, waitLong, "workers to catch up with the clock", func() bool {
		for _, a := range apps {
			s := a.Stats()
			if !s.Running || len(s.Workers) == 0 {
				return false
			}
			for _, w := range s.Workers {
				if w.State == WorkerRunning && w.LastCycle.Before(now) {
					return false
				}
			}
		}
		return true
	})
}

// advance moves the clock and waits for the workers to see it.
func advance(t *testing.T, clock *engine.ManualClock, d time.Duration, apps ...*App) {
	t.Helper()
	clock.Advance(d)
	settle(t, clock, apps...)
}

// leaseTableOf reads an app's lease table by shard.
func leaseTableOf(t *testing.T, a *App) map[string]Lease {
	t.Helper()
	ls, err := a.Leases()
	if err != nil {
		t.Fatalf("read leases: %v", err)
	}
	out := make(map[string]Lease, len(ls))
	for _, l := range ls {
		out[l.ShardID] = l
	}
	return out
}

// holdings counts the unended leases of each owner ("" for free ones).
func holdings(t *testing.T, a *App) map[string]int {
	t.Helper()
	out := make(map[string]int)
	for _, l := range leaseTableOf(t, a) {
		if !l.Ended() {
			out[l.Owner]++
		}
	}
	return out
}

// union counts the distinct records the logs saw together.
func union(logs ...*recLog) int {
	seen := make(map[string]bool)
	for _, l := range logs {
		l.mu.Lock()
		for r := range l.seen {
			seen[r] = true
		}
		l.mu.Unlock()
	}
	return len(seen)
}

func sameHoldings(got, want map[string]int) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	for k, v := range got {
		if want[k] != v {
			return false
		}
	}
	return true
}

// recLog records what the RecordProcessors of an app saw.
type recLog struct {
	mu        sync.Mutex
	inits     map[string][]ExtendedSequenceNumber
	shutdowns map[string][]ShutdownReason
	batches   map[string][][]string // shard → batches of record data
	seen      map[string]int        // record data → deliveries
	cpErrs    []error               // checkpoint errors seen at shutdown
	// onBatch, when set, runs in ProcessRecords (without the lock) after
	// the batch is logged; its error is ProcessRecords'.
	onBatch func(shard string, batch int, in ProcessRecordsInput, cp Checkpointer) error
	// onShutdown, when set, replaces the default (checkpoint at shard end).
	onShutdown func(shard string, reason ShutdownReason, cp Checkpointer)
}

func newRecLog() *recLog {
	return &recLog{inits: map[string][]ExtendedSequenceNumber{}, shutdowns: map[string][]ShutdownReason{},
		batches: map[string][][]string{}, seen: map[string]int{}}
}

func (l *recLog) factory() RecordProcessorFactory {
	return func() RecordProcessor { return &recProc{log: l} }
}

func (l *recLog) distinct() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

func (l *recLog) reasons(shard string) []ShutdownReason {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.shutdowns[shard])
}

type recProc struct {
	log   *recLog
	shard string
}

func (p *recProc) Initialize(shardID string, start ExtendedSequenceNumber) error {
	p.shard = shardID
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	p.log.inits[shardID] = append(p.log.inits[shardID], start)
	return nil
}

func (p *recProc) ProcessRecords(in ProcessRecordsInput, cp Checkpointer) error {
	l := p.log
	l.mu.Lock()
	if in.ShardID != p.shard {
		l.mu.Unlock()
		return fmt.Errorf("batch of %s given to the processor of %s", in.ShardID, p.shard)
	}
	batch := make([]string, len(in.Records))
	for i, r := range in.Records {
		batch[i] = string(r.Data)
		l.seen[batch[i]]++
	}
	l.batches[p.shard] = append(l.batches[p.shard], batch)
	n := len(l.batches[p.shard])
	hook := l.onBatch
	l.mu.Unlock()
	if hook != nil {
		return hook(p.shard, n, in, cp)
	}
	return nil
}

func (p *recProc) Shutdown(reason ShutdownReason, cp Checkpointer) {
	l := p.log
	l.mu.Lock()
	l.shutdowns[p.shard] = append(l.shutdowns[p.shard], reason)
	hook := l.onShutdown
	l.mu.Unlock()
	if hook != nil {
		hook(p.shard, reason, cp)
		return
	}
	if reason == ShutdownShardEnded || reason == ShutdownLeaseLost {
		if err := cp.Checkpoint(); err != nil {
			l.mu.Lock()
			l.cpErrs = append(l.cpErrs, err)
			l.mu.Unlock()
		}
	}
}

func TestLeasesAreTakenAndRenewed(t *testing.T) {
	clock := engine.NewManualClock(t0)
	f := newFakeSource(testStream, "A", "B", "C", "D")
	meta := NewMemoryMeta()
	app := NewApp("app", testStream, newCollector(), f, nil, leaseConfig(clock, meta))
	startApp(t, app)
	waitFor(t, 5*time.Second, "w1 holding every lease", func() bool {
		return sameHoldings(holdings(t, app), map[string]int{"w1": 4}) && app.Stats().Count(StateReading) == 4
	})
	settle(t, clock, app)
	before := leaseTableOf(t, app)

	advance(t, clock, testRenew-time.Second, app)
	for id, l := range leaseTableOf(t, app) {
		if l.Counter != before[id].Counter {
			t.Errorf("lease %s renewed before the renew interval: counter %d → %d", id, before[id].Counter, l.Counter)
		}
	}
	advance(t, clock, time.Second, app)
	for id, l := range leaseTableOf(t, app) {
		if l.Counter != before[id].Counter+1 || l.Owner != "w1" || !l.LastRenewed.Equal(clock.Now()) {
			t.Errorf("lease %s after one renew interval: counter %d (want %d), owner %q, renewed %v (want %v)",
				id, l.Counter, before[id].Counter+1, l.Owner, l.LastRenewed, clock.Now())
		}
		if l.Checkpoint != CheckpointTrimHorizon {
			t.Errorf("lease %s checkpoint: got %q, want %q", id, l.Checkpoint, CheckpointTrimHorizon)
		}
	}
	if raw, _ := meta.GetMeta(LeaseBucket("app"), "A"); !strings.Contains(string(raw), `"owner":"w1"`) {
		t.Errorf("lease row in bucket %s: got %s", LeaseBucket("app"), raw)
	}
	s := app.Stats()
	if w, ok := s.Worker("w1"); !ok || !slices.Equal(w.Leases, []string{"A", "B", "C", "D"}) || w.Taken != 4 || w.State != WorkerRunning {
		t.Errorf("worker stats: got %+v", s.Workers)
	}
	for _, sh := range s.Shards {
		if sh.Owner != "w1" || sh.LeaseCounter == 0 {
			t.Errorf("shard %s: owner %q counter %d, want w1 and a counter", sh.ShardID, sh.Owner, sh.LeaseCounter)
		}
	}
}

func TestLeasesBalanceBetweenWorkers(t *testing.T) {
	clock := engine.NewManualClock(t0)
	f := newFakeSource(testStream, "A", "B", "C", "D", "E", "F")
	app := NewApp("app", testStream, newCollector(), f, nil, leaseConfig(clock, nil))
	startApp(t, app)
	waitFor(t, 5*time.Second, "w1 holding every lease", func() bool {
		return sameHoldings(holdings(t, app), map[string]int{"w1": 6})
	})

	// A new worker steals one lease per take (it wants ceil(6/2) = 3).
	if id, err := app.AddWorker(); err != nil || id != "w2" {
		t.Fatalf("AddWorker: got %q, %v; want w2", id, err)
	}
	waitFor(t, 5*time.Second, "w2 stealing its first lease", func() bool {
		return sameHoldings(holdings(t, app), map[string]int{"w1": 5, "w2": 1})
	})
	for _, want := range []map[string]int{{"w1": 4, "w2": 2}, {"w1": 3, "w2": 3}, {"w1": 3, "w2": 3}} {
		advance(t, clock, testTake, app)
		if got := holdings(t, app); !sameHoldings(got, want) {
			t.Fatalf("after a take interval: got %v, want %v", got, want)
		}
	}

	// A third worker takes from the busiest, one at a time, down to 2 each.
	if id, err := app.AddWorker(); err != nil || id != "w3" {
		t.Fatalf("AddWorker: got %q, %v; want w3", id, err)
	}
	waitFor(t, 5*time.Second, "w3 stealing its first lease", func() bool {
		return sameHoldings(holdings(t, app), map[string]int{"w1": 2, "w2": 3, "w3": 1})
	})
	for range 3 {
		advance(t, clock, testTake, app)
		if got, want := holdings(t, app), map[string]int{"w1": 2, "w2": 2, "w3": 2}; !sameHoldings(got, want) {
			t.Fatalf("after a take interval: got %v, want %v", got, want)
		}
	}
	// Every stolen lease is read by its new owner; the losers gave theirs up.
	waitFor(t, 5*time.Second, "every shard read by its owner", func() bool {
		s := app.Stats()
		for _, sh := range s.Shards {
			if sh.State != StateReading {
				return false
			}
		}
		for _, w := range s.Workers {
			if len(w.Leases) != 2 {
				return false
			}
		}
		return true
	})
	s := app.Stats()
	if s.LeaseMoves != 5 {
		t.Errorf("LeaseMoves: got %d, want 5", s.LeaseMoves)
	}
	w1, _ := s.Worker("w1")
	w2, _ := s.Worker("w2")
	w3, _ := s.Worker("w3")
	if w1.Lost != 4 || w2.Stolen != 3 || w2.Lost != 1 || w3.Stolen != 2 {
		t.Errorf("workers: w1 lost %d (want 4), w2 stole %d lost %d (want 3, 1), w3 stole %d (want 2)", w1.Lost, w2.Stolen, w2.Lost, w3.Stolen)
	}
	if s.Errors != 0 {
		t.Errorf("Stats.Errors: got %d (%s), want 0", s.Errors, s.LastError)
	}
}

func TestFailoverWhenAWorkerStopsRenewing(t *testing.T) {
	clock := engine.NewManualClock(t0)
	f := newFakeSource(testStream, "A", "B", "C", "D")
	f.clock = clock
	meta := NewMemoryMeta()
	// Two processes sharing one lease table.
	logA, logB := newRecLog(), newRecLog()
	cfgA, cfgB := leaseConfig(clock, meta), leaseConfig(clock, meta)
	cfgA.AutoCheckpoint, cfgB.AutoCheckpoint = true, true
	cfgA.WorkerPrefix, cfgB.WorkerPrefix = "a", "b"
	appA := NewRecordApp("app", testStream, logA.factory(), f, nil, cfgA)
	appB := NewRecordApp("app", testStream, logB.factory(), f, nil, cfgB)
	startApp(t, appA)
	waitFor(t, 5*time.Second, "a1 holding every lease", func() bool {
		return sameHoldings(holdings(t, appA), map[string]int{"a1": 4})
	})
	startApp(t, appB)
	waitFor(t, 5*time.Second, "b1 stealing one", func() bool {
		return sameHoldings(holdings(t, appA), map[string]int{"a1": 3, "b1": 1})
	})
	advance(t, clock, testTake, appA, appB)
	if got, want := holdings(t, appA), map[string]int{"a1": 2, "b1": 2}; !sameHoldings(got, want) {
		t.Fatalf("balanced: got %v, want %v", got, want)
	}
	// A robbed worker learns it at its next renewal; until then it may
	// read on (one batch at most). Let it learn before records come.
	advance(t, clock, testRenew, appA, appB)
	total := 0
	for _, id := range []string{"A", "B", "C", "D"} {
		total += putRounds(f, id, []string{"k" + id}, 0, 10)
	}
	waitFor(t, 5*time.Second, "records before the crash", func() bool { return union(logA, logB) == total })
	waitFor(t, 5*time.Second, "a1's checkpoints", func() bool {
		for id, l := range leaseTableOf(t, appA) {
			if l.Checkpoint != f.lastSeq(id) {
				return false
			}
		}
		return true
	})

	var crashed []string
	for id, l := range leaseTableOf(t, appA) {
		if l.Owner == "a1" {
			crashed = append(crashed, id)
		}
	}
	sort.Strings(crashed)
	if err := appA.CrashWorker("a1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a1 crashed", func() bool {
		w, _ := appA.Stats().Worker("a1")
		return w.State == WorkerCrashed
	})
	frozen := leaseTableOf(t, appA)
	for _, id := range []string{"A", "B", "C", "D"} {
		total += putRounds(f, id, []string{"k" + id}, 10, 20)
	}

	// Nobody renews a1's leases; b1 waits a lease duration before taking
	// them (a1 last renewed at most one renew interval before the crash).
	for el := time.Duration(0); el+time.Second < testLease-testRenew; el += time.Second {
		advance(t, clock, time.Second, appB)
		for _, id := range crashed {
			if l := leaseTableOf(t, appB)[id]; l.Owner != "a1" || l.Counter != frozen[id].Counter {
				t.Fatalf("lease %s %v after the crash: owner %q counter %d, want a1's, unchanged (%d)",
					id, el+time.Second, l.Owner, l.Counter, frozen[id].Counter)
			}
		}
	}
	deadline := testLease + testRenew + testTake
	for el := testLease - testRenew; !sameHoldings(holdings(t, appB), map[string]int{"b1": 4}); el += time.Second {
		if el > deadline {
			t.Fatalf("a1's leases not taken %v after the crash: %v", deadline, holdings(t, appB))
		}
		advance(t, clock, time.Second, appB)
	}
	waitFor(t, 5*time.Second, "every record", func() bool { return union(logA, logB) == total })
	for _, id := range crashed {
		logB.mu.Lock()
		inits := slices.Clone(logB.inits[id])
		logB.mu.Unlock()
		if len(inits) != 1 || inits[0] != (ExtendedSequenceNumber{SequenceNumber: frozen[id].Checkpoint}) {
			t.Errorf("b1 started %s at %v, want a1's checkpoint %s", id, inits, frozen[id].Checkpoint)
		}
		if got := logA.reasons(id); len(got) != 0 {
			t.Errorf("a crashed worker's processor of %s was shut down: %v", id, got)
		}
	}
	// a1 had checkpointed everything it processed: no duplicates.
	logA.mu.Lock()
	logB.mu.Lock()
	for r, n := range logB.seen {
		if n+logA.seen[r] > 1 {
			t.Errorf("record %s delivered %d times", r, n+logA.seen[r])
		}
	}
	logB.mu.Unlock()
	logA.mu.Unlock()
	if s := appB.Stats(); s.LeaseMoves != int64(2+len(crashed)) {
		t.Errorf("b's LeaseMoves: got %d, want %d (2 steals, %d failovers)", s.LeaseMoves, 2+len(crashed), len(crashed))
	}
}

func TestGracefulStopHandsLeasesBack(t *testing.T) {
	clock := engine.NewManualClock(t0)
	f := newFakeSource(testStream, "A", "B", "C", "D")
	f.clock = clock
	log := newRecLog()
	cfg := leaseConfig(clock, nil)
	cfg.AutoCheckpoint = true
	cfg.Workers = 2
	app := NewRecordApp("app", testStream, log.factory(), f, nil, cfg)
	startApp(t, app)
	waitFor(t, 5*time.Second, "the first leases", func() bool {
		h := holdings(t, app)
		return h[""] == 0 && h["w1"]+h["w2"] == 4
	})
	for !sameHoldings(holdings(t, app), map[string]int{"w1": 2, "w2": 2}) {
		advance(t, clock, testTake, app)
	}
	advance(t, clock, testRenew, app) // robbed workers learn it
	total := 0
	for _, id := range []string{"A", "B", "C", "D"} {
		total += putRounds(f, id, []string{"k" + id}, 0, 10)
	}
	waitFor(t, 5*time.Second, "records", func() bool { return log.distinct() == total })

	var w1Shards []string
	for id, l := range leaseTableOf(t, app) {
		if l.Owner == "w1" {
			w1Shards = append(w1Shards, id)
		}
	}
	before := make(map[string]int)
	for _, id := range w1Shards {
		before[id] = len(log.reasons(id)) // lease-lost while balancing
	}
	if err := app.StopWorker("w1"); err != nil {
		t.Fatal(err)
	}
	// No clock moves: the handed-back leases are taken at once.
	waitFor(t, 5*time.Second, "w2 holding every lease", func() bool {
		w, _ := app.Stats().Worker("w1")
		return w.State == WorkerStopped && sameHoldings(holdings(t, app), map[string]int{"w2": 4})
	})
	for _, id := range w1Shards {
		if got := log.reasons(id)[before[id]:]; len(got) != 1 || got[0] != ShutdownRequested {
			t.Errorf("shutdowns of %s on stopping: got %v, want [requested]", id, got)
		}
	}
	for _, id := range []string{"A", "B", "C", "D"} {
		total += putRounds(f, id, []string{"k" + id}, 10, 20)
	}
	waitFor(t, 5*time.Second, "records after the hand-back", func() bool { return log.distinct() == total })
	log.mu.Lock()
	for r, n := range log.seen {
		if n != 1 {
			t.Errorf("record %s delivered %d times, want once", r, n)
		}
	}
	log.mu.Unlock()
	if err := app.StopWorker("nope"); !errors.Is(err, ErrNoWorker) {
		t.Errorf("StopWorker of an unknown worker: got %v, want ErrNoWorker", err)
	}
}

func TestCrashMidShardRedeliversOneBatch(t *testing.T) {
	clock := engine.NewManualClock(t0)
	f := newFakeSource(testStream, "X")
	f.clock = clock
	total := putRounds(f, "X", []string{"k"}, 0, 50) // batches of 7
	meta := NewMemoryMeta()
	logA, logB := newRecLog(), newRecLog()
	cfgA, cfgB := leaseConfig(clock, meta), leaseConfig(clock, meta)
	cfgA.AutoCheckpoint, cfgB.AutoCheckpoint = true, true
	cfgA.WorkerPrefix, cfgB.WorkerPrefix = "a", "b"
	appA := NewRecordApp("app", testStream, logA.factory(), f, nil, cfgA)
	appB := NewRecordApp("app", testStream, logB.factory(), f, nil, cfgB)
	crashedAt := make(chan struct{})
	logA.onBatch = func(shard string, n int, _ ProcessRecordsInput, _ Checkpointer) error {
		if n == 3 { // dies while processing its third batch
			if err := appA.CrashWorker("a1"); err != nil {
				return err
			}
			close(crashedAt)
		}
		return nil
	}
	startApp(t, appA)
	select {
	case <-crashedAt:
	case <-time.After(5 * time.Second):
		t.Fatal("a1 never reached its third batch")
	}
	startApp(t, appB)
	settle(t, clock, appB)
	if got := holdings(t, appB); !sameHoldings(got, map[string]int{"a1": 1}) {
		t.Fatalf("after the crash: got %v, want a1 still holding X", got)
	}
	for el := time.Duration(0); !sameHoldings(holdings(t, appB), map[string]int{"b1": 1}); el += time.Second {
		if el > testLease+testRenew+testTake {
			t.Fatalf("X not taken over: %v", holdings(t, appB))
		}
		advance(t, clock, time.Second, appB)
	}
	waitFor(t, 5*time.Second, "every record", func() bool {
		logA.mu.Lock()
		defer logA.mu.Unlock()
		logB.mu.Lock()
		defer logB.mu.Unlock()
		for i := range total {
			if logA.seen[fmt.Sprintf("k:%d", i)]+logB.seen[fmt.Sprintf("k:%d", i)] == 0 {
				return false
			}
		}
		return true
	})

	logA.mu.Lock()
	logB.mu.Lock()
	defer logA.mu.Unlock()
	defer logB.mu.Unlock()
	last := logA.batches["X"][len(logA.batches["X"])-1]
	var dups []string
	for r, n := range logB.seen {
		if n+logA.seen[r] > 1 {
			dups = append(dups, r)
		}
	}
	sort.Slice(dups, func(i, j int) bool { return cmpSeq(dups[i][2:], dups[j][2:]) < 0 })
	if !slices.Equal(dups, last) {
		t.Errorf("records delivered twice: got %v, want exactly the batch a1 died in, %v", dups, last)
	}
	if len(logA.batches["X"]) != 3 {
		t.Errorf("a1 processed %d batches, want 3 (none after its crash)", len(logA.batches["X"]))
	}
	if got := logB.inits["X"]; len(got) != 1 || got[0].SequenceNumber != "00000000000000000014" {
		t.Errorf("b1 started at %v, want the checkpoint after two batches (00000000000000000014)", got)
	}
}

func TestRecordProcessorLifecycleAndCheckpointer(t *testing.T) {
	clock := engine.NewManualClock(t0)
	f := newFakeSource(testStream, "A")
	total := putRounds(f, "A", []string{"k"}, 0, 10)
	f.split("A", "B", "C")
	total += putRounds(f, "B", []string{"k"}, 10, 12)
	total += putRounds(f, "C", []string{"j"}, 0, 2)

	log := newRecLog()
	var mu sync.Mutex
	var problems []string
	refuse := true // the first ShardEnded shutdown does not checkpoint
	log.onBatch = func(shard string, n int, in ProcessRecordsInput, cp Checkpointer) error {
		mu.Lock()
		defer mu.Unlock()
		recs := in.Records
		if shard != "A" || n != 1 {
			return cp.Checkpoint()
		}
		// Explicit checkpoints: the middle record, then back (refused),
		// past the batch (refused), garbage (refused), then the last.
		mid := recs[len(recs)/2].SequenceNumber
		if err := cp.CheckpointAt(mid, 0); err != nil {
			problems = append(problems, "mid: "+err.Error())
		}
		if err := cp.CheckpointAt(recs[0].SequenceNumber, 0); !errors.Is(err, ErrCheckpointOutOfRange) {
			problems = append(problems, fmt.Sprintf("backwards: got %v", err))
		}
		if err := cp.CheckpointAt(f.lastSeq("A"), 0); !errors.Is(err, ErrCheckpointOutOfRange) {
			problems = append(problems, fmt.Sprintf("past the batch: got %v", err))
		}
		if err := cp.CheckpointAt("not-a-number", 0); !errors.Is(err, ErrInvalidCheckpoint) {
			problems = append(problems, fmt.Sprintf("garbage: got %v", err))
		}
		if err := cp.CheckpointAt(ShardEnd, 0); !errors.Is(err, ErrCheckpointOutOfRange) {
			problems = append(problems, fmt.Sprintf("SHARD_END mid-shard: got %v", err))
		}
		return cp.Checkpoint()
	}
	log.onShutdown = func(shard string, reason ShutdownReason, cp Checkpointer) {
		mu.Lock()
		defer mu.Unlock()
		if reason != ShutdownShardEnded {
			return
		}
		if refuse {
			refuse = false
			return
		}
		if err := cp.Checkpoint(); err != nil {
			problems = append(problems, "shard end: "+err.Error())
		}
	}
	cfg := leaseConfig(clock, nil) // AutoCheckpoint off: the processor checkpoints
	app := NewRecordApp("app", testStream, log.factory(), f, nil, cfg)
	startApp(t, app)
	waitFor(t, 5*time.Second, "every record", func() bool { return log.distinct() == total })
	waitFor(t, 5*time.Second, "checkpoints at the tips", func() bool {
		ls := leaseTableOf(t, app)
		return ls["A"].Ended() && ls["B"].Checkpoint == f.lastSeq("B") && ls["C"].Checkpoint == f.lastSeq("C")
	})
	mu.Lock()
	for _, p := range problems {
		t.Error(p)
	}
	mu.Unlock()
	if got := log.reasons("A"); !slices.Equal(got, []ShutdownReason{ShutdownShardEnded, ShutdownShardEnded}) {
		t.Errorf("shutdowns of A: got %v, want shard-ended twice (the first did not checkpoint)", got)
	}
	if s := app.Stats(); s.Errors != 1 || !strings.Contains(s.LastError, "did not checkpoint at shard end") {
		t.Errorf("errors: got %d %q, want the missing shard-end checkpoint", s.Errors, s.LastError)
	}
	log.mu.Lock()
	for _, id := range []string{"A", "B", "C"} {
		if got := log.inits[id]; len(got) != 1 || got[0].SequenceNumber != CheckpointTrimHorizon {
			t.Errorf("Initialize of %s: got %v, want once at TRIM_HORIZON", id, got)
		}
	}
	log.mu.Unlock()
	for _, id := range []string{"B", "C"} {
		if l := leaseTableOf(t, app)[id]; !slices.Equal(l.ParentShardIDs, []string{"A"}) {
			t.Errorf("lease %s parents: got %v, want [A]", id, l.ParentShardIDs)
		}
	}
	if got := log.reasons("B"); len(got) != 0 {
		t.Errorf("B shut down while running: %v", got)
	}
}

func TestLostLeaseShutsDownWithoutCheckpoint(t *testing.T) {
	clock := engine.NewManualClock(t0)
	f := newFakeSource(testStream, "X")
	total := putRounds(f, "X", []string{"k"}, 0, 3)
	log := newRecLog()
	cfg := leaseConfig(clock, nil)
	cfg.AutoCheckpoint = true
	app := NewRecordApp("app", testStream, log.factory(), f, nil, cfg)
	startApp(t, app)
	waitFor(t, 5*time.Second, "records", func() bool { return log.distinct() == total })
	waitFor(t, 5*time.Second, "checkpoint", func() bool { return leaseTableOf(t, app)["X"].Checkpoint == f.lastSeq("X") })
	// Another process takes the lease behind w1's back.
	if _, err := app.table.Update(context.Background(), "X", func(l *Lease, _ bool) error {
		l.Owner, l.Counter = "intruder", l.Counter+1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	advance(t, clock, testRenew, app)
	waitFor(t, 5*time.Second, "shutdown for the lost lease", func() bool {
		return slices.Equal(log.reasons("X"), []ShutdownReason{ShutdownLeaseLost})
	})
	log.mu.Lock()
	if len(log.cpErrs) != 1 || !errors.Is(log.cpErrs[0], ErrLeaseLost) {
		t.Errorf("checkpoint after the lease was lost: got %v, want ErrLeaseLost", log.cpErrs)
	}
	log.mu.Unlock()
	s := app.Stats()
	if w, _ := s.Worker("w1"); w.Lost != 1 || len(w.Leases) != 0 {
		t.Errorf("w1: lost %d, leases %v; want 1 lost, none held", w.Lost, w.Leases)
	}
	if x, _ := shardStats(s, "X"); x.State != StateElsewhere || x.Owner != "intruder" {
		t.Errorf("shard X: state %s owner %q, want %s, intruder", x.State, x.Owner, StateElsewhere)
	}
}

func TestExpiredParentLeaseCountsAsEnded(t *testing.T) {
	f := newFakeSource(testStream)
	f.addShard(engine.Shard{ShardID: "A"})
	putRounds(f, "A", keysK, 0, 3)
	f.split("A", "B", "C")
	total := putRounds(f, "B", keysK[:3], 3, 6)
	total += putRounds(f, "C", keysK[3:], 3, 6)
	f.set("A", func(s *fakeShard) { s.hidden = true }) // A expired: no longer listed

	col := newCollector()
	for _, k := range keysK {
		col.next[k] = 3
	}
	app := NewApp("app", testStream, col, f, nil, testConfig())
	startApp(t, app)
	waitFor(t, 5*time.Second, "records of the children", func() bool { return col.distinct() == total })
	col.check(t, total)
	if n := f.count("GetShardIterator:A"); n != 0 {
		t.Errorf("GetShardIterator on the expired parent: %d calls, want 0", n)
	}
}

func TestWorkerControlsNeedARunningApp(t *testing.T) {
	app := NewApp("app", testStream, newCollector(), newFakeSource(testStream), nil, testConfig())
	if _, err := app.AddWorker(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("AddWorker when stopped: got %v, want ErrNotRunning", err)
	}
	if err := app.CrashWorker("w1"); !errors.Is(err, ErrNoWorker) {
		t.Errorf("CrashWorker when stopped: got %v, want ErrNoWorker", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = app.Run(ctx); close(done) }()
	waitFor(t, 5*time.Second, "running", func() bool { return len(app.Stats().Workers) == 1 })
	cancel()
	<-done
	if w, _ := app.Stats().Worker("w1"); w.State != WorkerStopped {
		t.Errorf("w1 after Run: got %s, want %s", w.State, WorkerStopped)
	}
}

func TestClockJumpMovesNoLease(t *testing.T) {
	clock := engine.NewManualClock(t0)
	f := newFakeSource(testStream, "A", "B", "C", "D")
	cfg := leaseConfig(clock, nil)
	cfg.Workers = 2
	app := NewApp("app", testStream, newCollector(), f, nil, cfg)
	startApp(t, app)
	waitFor(t, 5*time.Second, "the first leases", func() bool {
		h := holdings(t, app)
		return h[""] == 0 && h["w1"]+h["w2"] == 4
	})
	for !sameHoldings(holdings(t, app), map[string]int{"w1": 2, "w2": 2}) {
		advance(t, clock, testTake, app)
	}
	advance(t, clock, testRenew, app)
	before := leaseTableOf(t, app)
	moves := app.Stats().LeaseMoves

	// A time-lapse: the clock jumps an hour. Both workers renew; neither
	// takes the other's leases for having "not moved" during the jump.
	advance(t, clock, time.Hour, app)
	advance(t, clock, testTake, app)
	for id, l := range leaseTableOf(t, app) {
		if l.Owner != before[id].Owner {
			t.Errorf("lease %s moved from %s to %s after the clock jumped", id, before[id].Owner, l.Owner)
		}
	}
	if got := app.Stats().LeaseMoves; got != moves {
		t.Errorf("LeaseMoves: got %d, want %d", got, moves)
	}
}

// quickerTaker is a lease table in which another worker takes lease id
// just before this App's first attempt to.
type quickerTaker struct {
	LeaseTable
	id   string
	once sync.Once
}

func (q *quickerTaker) Update(ctx context.Context, id string, fn func(l *Lease, exists bool) error) (Lease, error) {
	if id == q.id {
		q.once.Do(func() {
			q.LeaseTable.Update(ctx, id, func(l *Lease, _ bool) error {
				l.Owner, l.Counter = "other", l.Counter+1
				return nil
			})
		})
	}
	return q.LeaseTable.Update(ctx, id, fn)
}

func TestTakerMovesOnWhenAnotherWorkerWasQuicker(t *testing.T) {
	ctx := context.Background()
	clock := engine.NewManualClock(t0)
	f := newFakeSource(testStream, "A", "B", "C", "D")
	table := NewMetaLeaseTable(NewMemoryMeta(), LeaseBucket("app"))
	for _, id := range []string{"A", "B", "C", "D"} {
		l := Lease{ShardID: id, Checkpoint: CheckpointTrimHorizon}
		if id == "D" {
			l.Owner = "x" // a live worker of another process
		}
		if _, _, err := table.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	cfg := leaseConfig(clock, nil)
	cfg.LeaseTable = &quickerTaker{LeaseTable: table, id: "A"}
	app := NewApp("app", testStream, newCollector(), f, nil, cfg)
	startApp(t, app)
	// w1's share is 2 of the 4 leases: A goes to "other" under its nose,
	// so it takes B and C at once, with the clock standing still.
	waitFor(t, waitLong, "w1 holding B and C", func() bool {
		return sameHoldings(holdings(t, app), map[string]int{"w1": 2, "other": 1, "x": 1})
	})
	if l := leaseTableOf(t, app); l["B"].Owner != "w1" || l["C"].Owner != "w1" {
		t.Errorf("leases: got %+v, want B and C with w1", l)
	}
}
