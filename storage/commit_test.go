package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// With the committer held on its first commit, every Append queued meanwhile
// must go out in one more transaction.
func TestGroupCommitGroups(t *testing.T) {
	db := openTest(t, Options{})
	started, release := pauseCommitter(db)
	defer release()

	const callers = 64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := ShardRef{"g", uint32(i)}
			errs <- db.Append(context.Background(), []Append{{Shard: s, Records: testRecords(s.Shard, 0, 10)}})
		}()
		if i == 0 {
			<-started // the first call is being committed; the rest must queue
		}
	}
	waitFor(t, "all other appends to queue", func() bool { return db.queued() == callers-1 })
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := db.Commits(); c != 2 {
		t.Fatalf("%d Append calls took %d commits, want 2", callers, c)
	}
	for shard := range uint32(callers) {
		if n, _, _ := db.Stats(ShardRef{"g", shard}); n != 10 {
			t.Errorf("shard %d holds %d records, want 10", shard, n)
		}
	}
}

// Free-running: many concurrent appenders, fsync on. Commits must be far
// fewer than calls, since each fsync lets the queue fill.
func TestGroupCommitConcurrent(t *testing.T) {
	db := openTest(t, Options{})
	const callers, calls = 32, 20
	var wg sync.WaitGroup
	var failed atomic.Value
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := ShardRef{"c", uint32(g)}
			for i := range calls {
				if err := db.Append(context.Background(), []Append{{Shard: s, Records: testRecords(s.Shard, uint64(i)*5, 5)}}); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
	c := db.Commits()
	t.Logf("%d Append calls, %d commits (%.1f appends per commit)", callers*calls, c, float64(callers*calls)/float64(c))
	if c > callers*calls/4 {
		t.Fatalf("%d Append calls took %d commits: not grouped", callers*calls, c)
	}
}

// Appends to one shard commit in call (queue) order, across several
// transactions, while other shards interleave.
func TestFIFOPerShard(t *testing.T) {
	db := openTest(t, Options{MaxBatchRecords: 7})
	started, release := pauseCommitter(db)
	defer release()

	var mu sync.Mutex
	var committed []*appendReq
	hooks := *db.hooks.Load()
	hooks.afterCommit = func(batch []*appendReq, err error) {
		if err == nil {
			mu.Lock()
			committed = append(committed, batch...)
			mu.Unlock()
		}
	}
	db.hooks.Store(&hooks)

	// The first Append holds the committer; then one-record Appends are
	// queued round-robin over the shards, each issued once the previous one
	// is in the queue, so the call order per shard is known.
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- db.Append(context.Background(), []Append{{Shard: ShardRef{"hold", 0}, Records: testRecords(0, 0, 1)}})
	}()
	<-started
	const shards, perShard = 4, 40
	issued := 0
	for p := range uint64(perShard) {
		for sh := range uint32(shards) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- db.Append(context.Background(), []Append{{Shard: ShardRef{"f", sh}, Records: testRecords(sh, p, 1)}})
			}()
			issued++
			waitFor(t, "append to queue", func() bool { return db.queued() == issued })
		}
	}
	waitFor(t, "all appends queued", func() bool { return db.queued() == shards*perShard })
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := db.Commits(); c < shards*perShard/7 {
		t.Fatalf("only %d commits: MaxBatchRecords not respected", c)
	}
	next := make(map[ShardRef]uint64)
	for _, req := range committed {
		for _, it := range req.items {
			if it.ref.Stream != "f" {
				continue
			}
			if it.pos[0] != next[it.ref] {
				t.Fatalf("%s: committed position %d, expected %d next", it.ref, it.pos[0], next[it.ref])
			}
			next[it.ref]++
		}
	}
	for sh := range uint32(shards) {
		if next[ShardRef{"f", sh}] != perShard {
			t.Fatalf("shard %d: %d appends committed", sh, next[ShardRef{"f", sh}])
		}
	}
}

func TestAllOrNothing(t *testing.T) {
	db := openTest(t, Options{})
	a, b := ShardRef{"x", 0}, ShardRef{"x", 1}
	mustAppend(t, db, Append{Shard: b, Records: testRecords(1, 0, 5)})

	// One bad Append in a group commit fails only its own call, and none of
	// its records (on any shard) is written.
	started, release := pauseCommitter(db)
	defer release()
	var wg sync.WaitGroup
	var errHold, errBad, errGood error
	wg.Add(1)
	go func() {
		defer wg.Done()
		errHold = db.Append(context.Background(), []Append{{Shard: ShardRef{"hold", 0}, Records: testRecords(0, 0, 1)}})
	}()
	<-started
	wg.Add(2)
	go func() {
		defer wg.Done()
		errBad = db.Append(context.Background(), []Append{
			{Shard: a, Records: testRecords(0, 0, 10)},
			{Shard: b, Records: testRecords(1, 4, 3)}, // 4 is already stored
		})
	}()
	waitFor(t, "bad append queued", func() bool { return db.queued() == 1 })
	go func() {
		defer wg.Done()
		errGood = db.Append(context.Background(), []Append{{Shard: b, Records: testRecords(1, 5, 5)}})
	}()
	waitFor(t, "good append queued", func() bool { return db.queued() == 2 })
	release()
	wg.Wait()
	if errHold != nil || errGood != nil {
		t.Fatalf("innocent appends failed: %v, %v", errHold, errGood)
	}
	if errBad == nil || !strings.Contains(errBad.Error(), "already stored") {
		t.Fatalf("overlapping append = %v, want an 'already stored' error", errBad)
	}
	if rs := readAll(t, db, a); len(rs) != 0 {
		t.Fatalf("refused append wrote %d records to %s", len(rs), a)
	}
	if n, _, _ := db.Stats(b); n != 10 {
		t.Fatalf("%s holds %d records, want 10", b, n)
	}

	// A transaction that fails fails every caller in it, writing nothing.
	boom := errors.New("disk on fire")
	db.hooks.Store(&testHooks{failCommit: func() error { return boom }})
	if err := db.Append(context.Background(), []Append{{Shard: a, Records: testRecords(0, 0, 3)}}); !errors.Is(err, boom) {
		t.Fatalf("Append in failed commit = %v", err)
	}
	db.hooks.Store(nil)
	if rs := readAll(t, db, a); len(rs) != 0 {
		t.Fatalf("failed commit left %d records", len(rs))
	}
	if n, _, _ := db.Stats(a); n != 0 {
		t.Fatalf("failed commit left stats %d", n)
	}
	commitsBefore := db.Commits()
	mustAppend(t, db, Append{Shard: a, Records: testRecords(0, 0, 3)})
	if db.Commits() != commitsBefore+1 {
		t.Fatalf("commit counter did not move")
	}
}

func TestAppendValidation(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"v", 0}
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 10, 5)}) // 10..14
	bad := []struct {
		name string
		a    []Append
		want string
	}{
		{"not increasing", []Append{{Shard: s, Records: []Record{{Position: 20}, {Position: 20}}}}, "does not follow"},
		{"empty stream", []Append{{Shard: ShardRef{}, Records: []Record{{Position: 1}}}}, "empty stream"},
		{"bad hash key", []Append{{Shard: s, Records: []Record{{Position: 30, ExplicitHashKey: []byte{1, 2}}}}}, "explicit hash key"},
		{"overwrite", []Append{{Shard: s, Records: testRecords(0, 14, 2)}}, "already stored"},
		{"twice in one call", []Append{{Shard: s, Records: testRecords(0, 40, 2)}, {Shard: s, Records: testRecords(0, 41, 1)}}, "given twice"},
	}
	for _, c := range bad {
		err := db.Append(context.Background(), c.a)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Append = %v, want error containing %q", c.name, err, c.want)
		}
	}
	// Positions below the highest but not stored (a late arrival into a gap)
	// are accepted; so are two Appends to one shard in one call.
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 0, 3)})
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 20, 2)}, Append{Shard: s, Records: testRecords(0, 22, 2)})
	if err := db.Append(context.Background(), nil); err != nil {
		t.Errorf("empty Append = %v", err)
	}
	var got []uint64
	for _, r := range readAll(t, db, s) {
		got = append(got, r.Position)
	}
	if want := []uint64{0, 1, 2, 10, 11, 12, 13, 14, 20, 21, 22, 23}; !equalU64(got, want) {
		t.Fatalf("positions %v, want %v", got, want)
	}
}

func TestAppendContextCancel(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"ctx", 0}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.Append(ctx, []Append{{Shard: s, Records: testRecords(0, 0, 1)}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a dead context = %v", err)
	}

	started, release := pauseCommitter(db)
	defer release()
	go db.Append(context.Background(), []Append{{Shard: ShardRef{"hold", 0}, Records: testRecords(0, 0, 1)}})
	<-started
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- db.Append(ctx, []Append{{Shard: s, Records: testRecords(0, 0, 4)}}) }()
	waitFor(t, "append queued", func() bool { return db.queued() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Append cancelled while waiting = %v", err)
	}
	release()
	// The records were already queued: they are committed anyway (documented).
	waitFor(t, "queued append to commit", func() bool { n, _, _ := db.Stats(s); return n == 4 })
}

func TestCloseDrainsPending(t *testing.T) {
	db := openTest(t, Options{})
	started, release := pauseCommitter(db)
	defer release()
	const callers = 10
	errs := make(chan error, callers)
	go func() {
		errs <- db.Append(context.Background(), []Append{{Shard: ShardRef{"d", 99}, Records: testRecords(99, 0, 1)}})
	}()
	<-started
	for i := 1; i < callers; i++ {
		go func() {
			errs <- db.Append(context.Background(), []Append{{Shard: ShardRef{"d", uint32(i)}, Records: testRecords(uint32(i), 0, 3)}})
		}()
	}
	waitFor(t, "appends queued", func() bool { return db.queued() == callers-1 })
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	waitFor(t, "Close to start", func() bool { db.mu.Lock(); defer db.mu.Unlock(); return db.closing })
	if err := db.Append(context.Background(), []Append{{Shard: ShardRef{"d", 0}, Records: testRecords(0, 0, 1)}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append during Close = %v, want ErrClosed", err)
	}
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Fatalf("pending Append failed across Close: %v", err)
		}
	}
	db2 := openAt(t, db.Path(), Options{})
	for i := 1; i < callers; i++ {
		if n, _, _ := db2.Stats(ShardRef{"d", uint32(i)}); n != 3 {
			t.Fatalf("shard %d: %d records after Close drained, want 3", i, n)
		}
	}
}

func TestManyShardsOneCall(t *testing.T) {
	db := openTest(t, Options{})
	var appends []Append
	for sh := range uint32(50) {
		appends = append(appends, Append{Shard: ShardRef{fmt.Sprintf("st%d", sh%5), sh}, Records: testRecords(sh, 0, 20)})
	}
	mustAppend(t, db, appends...)
	if db.Commits() != 1 {
		t.Fatalf("one Append took %d commits", db.Commits())
	}
	for _, a := range appends {
		got := readAll(t, db, a.Shard)
		if len(got) != 20 || !sameRecord(got[19], a.Records[19]) {
			t.Fatalf("%s: read %d records", a.Shard, len(got))
		}
	}
}

// Submit queues without waiting: the engine assigns positions and Submits
// under its shard lock, then Waits outside it.
func TestSubmitThenWait(t *testing.T) {
	db := openTest(t, Options{MaxBatchRecords: 10})
	s := ShardRef{"sub", 0}
	var pending []*Pending
	for i := range 50 {
		pending = append(pending, db.Submit([]Append{{Shard: s, Records: testRecords(0, uint64(i)*3, 3)}}))
	}
	bad := db.Submit([]Append{{Shard: s, Records: testRecords(0, 3, 1)}}) // queued after 3 was: refused
	for i, p := range pending {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatalf("pending %d: %v", i, err)
		}
	}
	if err := bad.Wait(context.Background()); err == nil || !strings.Contains(err.Error(), "already stored") {
		t.Fatalf("overlapping Submit = %v", err)
	}
	if err := bad.Wait(context.Background()); err == nil {
		t.Fatalf("second Wait lost the error")
	}
	if got := readAll(t, db, s); len(got) != 150 || got[149].Position != 149 {
		t.Fatalf("read %d records", len(got))
	}
	db.Close()
	if err := db.Submit([]Append{{Shard: s, Records: testRecords(0, 150, 1)}}).Wait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close = %v", err)
	}
}
