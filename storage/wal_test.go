package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// crashImage copies the store file and its log segments, as a power cut
// would leave them right now, into a new directory and returns the copy's
// path. The caller makes sure no bbolt write transaction runs meanwhile (no
// checkpoint is due, or the checkpointer is held).
func crashImage(t testing.TB, db *DB) string {
	t.Helper()
	dir := t.TempDir()
	src := db.Path()
	matches, err := filepath.Glob(src + ".wal.*")
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range append([]string{src}, matches...) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(from)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, filepath.Base(src))
}

// holdCheckpoints makes the checkpointer wait before each checkpoint until
// released; it returns how many checkpoints have started waiting so far.
func holdCheckpoints(t testing.TB, db *DB) (waiting func() int, release func()) {
	gate := make(chan struct{})
	var n atomic.Int32
	db.hooks.Store(&testHooks{beforeCheckpoint: func(uint64) error {
		n.Add(1)
		<-gate
		return nil
	}})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return func() int { return int(n.Load()) }, release
}

func walFiles(t testing.TB, store string) []string {
	t.Helper()
	m, err := filepath.Glob(store + ".wal.*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkImage opens a crash image and checks every shard holds exactly
// records [0, n) of testRecords, then checks the file.
func checkImage(t *testing.T, path string, want map[ShardRef]int) *DB {
	t.Helper()
	db := openAt(t, path, Options{})
	for s, n := range want {
		got := readAll(t, db, s)
		if len(got) != n {
			t.Fatalf("%s: %d records after the crash, want %d", s, len(got), n)
		}
		for i, r := range got {
			if !sameRecord(r, testRecord(s.Shard, uint64(i))) {
				t.Fatalf("%s: record %d is %+v", s, i, r)
			}
		}
		if c, _, err := db.Stats(s); err != nil || c != int64(n) {
			t.Fatalf("%s: Stats = %d, %v; want %d", s, c, err, n)
		}
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestAcknowledgedAppendsSurviveACrashBeforeAnyCheckpoint(t *testing.T) {
	db := openTest(t, Options{})
	shards := []ShardRef{{"a", 0}, {"a", 1}, {"b", 7}}
	for i := range 20 {
		for _, s := range shards {
			mustAppend(t, db, Append{Shard: s, Records: testRecords(s.Shard, uint64(i*5), 5)})
		}
	}
	path := crashImage(t, db)
	img := checkImage(t, path, map[ShardRef]int{shards[0]: 100, shards[1]: 100, shards[2]: 100})
	// Check checkpointed the replayed records; a clean close leaves no log.
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	if f := walFiles(t, path); len(f) != 0 {
		t.Fatalf("log files left after a clean close: %v", f)
	}
	checkImage(t, path, map[ShardRef]int{shards[0]: 100, shards[1]: 100, shards[2]: 100})
}

func TestTornLastFrameIsIgnored(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"t", 0}
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 0, 10)})
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 10, 10)})
	seg := db.wal.seg

	// A frame of this segment cut short, and one whose CRC fails.
	short := appendFrame(nil, seg, db.wal.salt, []*appendReq{mustEncode(t, db, Append{Shard: s, Records: testRecords(0, 20, 5)})})
	badCRC := appendFrame(nil, seg, db.wal.salt, []*appendReq{mustEncode(t, db, Append{Shard: s, Records: testRecords(0, 20, 5)})})
	badCRC[len(badCRC)-1] ^= 0xFF
	for name, tail := range map[string][]byte{"cut short": short[:len(short)-3], "bad crc": badCRC, "half a header": short[:7]} {
		t.Run(name, func(t *testing.T) {
			path := crashImage(t, db)
			f, err := os.OpenFile(segmentPath(path, seg), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tail)
			f.Close()
			checkImage(t, path, map[ShardRef]int{s: 20})
		})
	}
}

func mustEncode(t *testing.T, db *DB, a ...Append) *appendReq {
	t.Helper()
	req, err := db.encode(a)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestDamageInAnOlderSegmentIsCorruption(t *testing.T) {
	db := openTest(t, Options{rotateBytes: 2048})
	waiting, release := holdCheckpoints(t, db)
	s := ShardRef{"c", 0}
	var n uint64
	for waiting() == 0 {
		mustAppend(t, db, Append{Shard: s, Records: testRecords(0, n, 10)})
		n += 10
	}
	segs, err := listSegments(db.Path())
	if err != nil || len(segs) < 2 {
		t.Fatalf("segments %v, %v: want a frozen and an active one", segs, err)
	}
	path := crashImage(t, db)
	release()

	old := segmentPath(path, segs[0])
	data, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	data[segHeaderLen+walHeaderLen+5] ^= 0x01 // inside the first frame's payload
	if err := os.WriteFile(old, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "write-ahead log") {
		t.Fatalf("Open with a damaged older segment = %v, want ErrCorrupt naming the log", err)
	}
}

// A segment already checkpointed is never replayed, even when its file
// outlived the checkpoint (a crash before it was recycled).
func TestCheckpointedSegmentIsNotReplayed(t *testing.T) {
	db := openTest(t, Options{rotateBytes: 2048})
	waiting, release := holdCheckpoints(t, db)
	s := ShardRef{"d", 3}
	var n int
	for waiting() == 0 {
		mustAppend(t, db, Append{Shard: s, Records: testRecords(3, uint64(n), 10)})
		n += 10
	}
	segs, _ := listSegments(db.Path())
	first := segs[0]
	stale, err := os.ReadFile(segmentPath(db.Path(), first))
	if err != nil {
		t.Fatal(err)
	}
	release()
	checkpointNow(t, db)
	path := crashImage(t, db)
	if err := os.WriteFile(segmentPath(path, first), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	checkImage(t, path, map[ShardRef]int{s: n})
	if _, err := os.Stat(segmentPath(path, first)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale segment still there after Open: %v", err)
	}
}

// Records dropped with their stream must not come back from the log.
func TestDroppedRecordsStayDropped(t *testing.T) {
	db := openTest(t, Options{})
	gone, kept := ShardRef{"gone", 0}, ShardRef{"kept", 0}
	mustAppend(t, db, Append{Shard: gone, Records: testRecords(0, 0, 10)}, Append{Shard: kept, Records: testRecords(0, 0, 10)})
	mustAppend(t, db, Append{Shard: ShardRef{"gone", 1}, Records: testRecords(1, 0, 10)})
	if err := db.DropStream("gone"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, db, Append{Shard: kept, Records: testRecords(0, 10, 10)})
	if err := db.DropShard(ShardRef{"kept", 9}); err != nil { // absent: a no-op
		t.Fatal(err)
	}
	path := crashImage(t, db)
	img := checkImage(t, path, map[ShardRef]int{gone: 0, {"gone", 1}: 0, kept: 20})
	if _, _, ok, _ := img.Bounds(gone); ok {
		t.Fatalf("dropped shard has bounds after the crash")
	}
}

// Readers never see a gap or a repeat while checkpoints move records from
// memtables into bbolt under them.
func TestReadsStayExactAcrossCheckpoints(t *testing.T) {
	db := openTest(t, Options{rotateBytes: 4096})
	s := ShardRef{"r", 1}
	const total = 3000
	var acked atomic.Int64
	done := make(chan error, 1)
	go func() {
		var n uint64
		for n < total {
			k := 1 + uint64(n%7)
			if err := db.Append(context.Background(), []Append{{Shard: s, Records: testRecords(1, n, int(k))}}); err != nil {
				done <- err
				return
			}
			n += k
			acked.Store(int64(n))
		}
		done <- nil
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	check := func() {
		n := acked.Load() // everything below n is acknowledged
		if n == 0 {
			return
		}
		from := uint64(rng.Int64N(n))
		recs, err := db.Read(s, from, 50, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(50, int(n-int64(from))); len(recs) < want {
			t.Fatalf("Read from %d (acked %d) returned %d records, want at least %d", from, n, len(recs), want)
		}
		for i, r := range recs {
			if !sameRecord(r, testRecord(1, from+uint64(i))) {
				t.Fatalf("Read from %d: record %d is position %d", from, i, r.Position)
			}
		}
		if c, _, err := db.Stats(s); err != nil || c < n {
			t.Fatalf("Stats = %d, %v with %d acknowledged", c, err, n)
		}
		if first, last, ok, err := db.Bounds(s); err != nil || !ok || first != 0 || int64(last) < n-1 {
			t.Fatalf("Bounds = %d, %d, %v, %v with %d acknowledged", first, last, ok, err, n)
		}
		arr := testRecord(1, from).Arrival
		if p, ok, err := db.SeekArrival(s, arr); err != nil || !ok || p != from {
			t.Fatalf("SeekArrival(%d) = %d, %v, %v", arr, p, ok, err)
		}
		if h, ok, err := db.Head(s); err != nil || !ok || h.Position != 0 {
			t.Fatalf("Head = %d, %v, %v", h.Position, ok, err)
		}
	}
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			check()
			var ckpt uint64
			db.view(func(tx *bolt.Tx) error {
				ckpt = binary.BigEndian.Uint64(tx.Bucket(bucketSystem).Get(keyWALCheckpoint))
				return nil
			})
			if ckpt < 5 {
				t.Fatalf("only %d checkpoints ran: the test did not cross any", ckpt)
			}
			if got := readAll(t, db, s); int64(len(got)) != acked.Load() {
				t.Fatalf("read %d records, want %d", len(got), acked.Load())
			}
			return
		default:
			check()
		}
	}
}

// When bbolt refuses a checkpoint, appends stop with that error, every
// acknowledged record stays readable, and the next Open replays the log.
func TestCheckpointFailureStopsAppendsAndLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := Open(path, Options{rotateBytes: 2048})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	db.hooks.Store(&testHooks{beforeCheckpoint: func(uint64) error { return boom }})
	s := ShardRef{"f", 0}
	var n int
	for ; n < 100000; n += 10 {
		if err := db.Append(context.Background(), []Append{{Shard: s, Records: testRecords(0, uint64(n), 10)}}); err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("Append after a failed checkpoint = %v, want %v", err, boom)
			}
			break
		}
	}
	if n == 100000 {
		t.Fatalf("appends never stopped")
	}
	if got := readAll(t, db, s); len(got) != n {
		t.Fatalf("read %d records, want the %d acknowledged", len(got), n)
	}
	if err := db.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want the checkpoint error", err)
	}
	img := checkImage(t, path, map[ShardRef]int{s: n})
	mustAppend(t, img, Append{Shard: s, Records: testRecords(0, uint64(n), 10)})
}

// With SyncNone the log is written but not fsynced: a killed process still
// loses nothing (the page cache survives it).
func TestSyncNoneStillLogs(t *testing.T) {
	db := openTest(t, Options{Sync: SyncNone})
	s := ShardRef{"n", 0}
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 0, 30)})
	checkImage(t, crashImage(t, db), map[ShardRef]int{s: 30})
}

// Segments are recycled, so a busy store keeps a bounded number of files.
func TestSegmentsAreRecycled(t *testing.T) {
	db := openTest(t, Options{rotateBytes: 2048})
	s := ShardRef{"y", 0}
	for i := range 300 {
		mustAppend(t, db, Append{Shard: s, Records: testRecords(0, uint64(i*5), 5)})
	}
	checkpointNow(t, db)
	if f := walFiles(t, db.Path()); len(f) > maxFrozen+2 {
		t.Fatalf("%d log files: %v", len(f), f)
	}
	if _, err := os.Stat(sparePath(db.Path())); err != nil {
		t.Fatalf("no recycled segment: %v", err)
	}
}

// Remove takes the log with the file, so a new store at the same path
// starts empty instead of replaying the old one's appends.
func TestRemoveTakesTheLogWithIt(t *testing.T) {
	db := openTest(t, Options{rotateBytes: 2048})
	waiting, release := holdCheckpoints(t, db)
	s := ShardRef{"old", 0}
	for i := 0; waiting() == 0; i++ {
		mustAppend(t, db, Append{Shard: s, Records: testRecords(0, uint64(i*5), 5)})
	}
	path := crashImage(t, db) // the files of a store that was not closed
	release()
	if len(walFiles(t, path)) == 0 {
		t.Fatalf("the image has no log to remove")
	}
	if err := Remove(path); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(path + "*"); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	checkImage(t, path, map[ShardRef]int{s: 0})
	if err := Remove(filepath.Join(t.TempDir(), "never.db")); err != nil {
		t.Fatalf("Remove of nothing = %v", err)
	}
}

// Once a checkpoint has recycled a segment, the checkpointer writes the
// next segment's header into the spare and syncs it, so the rotation on
// the commit path neither writes nor syncs the new segment before its
// first frame: it renames the spare and syncs the directory.
func TestRotationUsesThePreparedSpare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	rec := newRecording(path)
	db, err := Open(path, Options{Sync: SyncAlways, rotateBytes: 2048, recorder: rec.recorder()})
	if err != nil {
		t.Fatal(err)
	}
	s := ShardRef{"p", 0}
	n := 0
	// Append until some rotation found its header prepared; each append is
	// one commit, so checkpoints (and preparations) run between rotations.
	prepared := 0
	deadline := time.Now().Add(20 * time.Second)
	for prepared == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no rotation used a prepared spare in %d appends", n)
		}
		mustAppend(t, db, Append{Shard: s, Records: testRecords(0, uint64(n), 5)})
		n += 5
		prepared, _ = rotationsByKind(rec.snapshot(), path)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path, Options{})
	if got := readAll(t, db, s); len(got) != n {
		t.Fatalf("read %d records, want %d", len(got), n)
	}
}

// rotationsByKind counts the renames of the spare into a segment that were
// followed by no header write before the segment's first frame (prepared),
// and those that wrote one (unprepared).
func rotationsByKind(ops []fsOp, store string) (prepared, unprepared int) {
	for i, op := range ops {
		if op.kind != opRename || op.path != sparePath(store) {
			continue
		}
		wroteHeader := false
		for _, later := range ops[i+1:] {
			if later.path != op.to {
				continue
			}
			if later.kind == opWrite && later.off == 0 {
				wroteHeader = true
			}
			if later.kind == opWrite && later.off > 0 || later.kind != opWrite && later.kind != opSync {
				break
			}
		}
		if wroteHeader {
			unprepared++
		} else {
			prepared++
		}
	}
	return prepared, unprepared
}

// A header prepared for another number than the rotation's (the committer
// rotated first) is not used: the rotation writes its own, and every record
// reads back after a crash.
func TestRotationIgnoresAStalePreparedSpare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	rec := newRecording(path)
	db, err := Open(path, Options{Sync: SyncAlways, rotateBytes: 2048, recorder: rec.recorder()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := ShardRef{"q", 0}
	n := 0
	for i := 0; i < 100; i++ {
		mustAppend(t, db, Append{Shard: s, Records: testRecords(0, uint64(n), 5)})
		n += 5
	}
	checkpointNow(t, db)
	// Wait for the checkpointer's preparation, then make it stale.
	deadline := time.Now().Add(10 * time.Second)
	for {
		db.spareMu.Lock()
		if db.prepared.ok {
			db.prepared.seg += 1000
			db.spareMu.Unlock()
			break
		}
		db.spareMu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the checkpointer prepared no spare")
		}
		time.Sleep(time.Millisecond)
	}
	waiting, release := holdCheckpoints(t, db)
	_, before := rotationsByKind(rec.snapshot(), path)
	for waiting() == 0 {
		mustAppend(t, db, Append{Shard: s, Records: testRecords(0, uint64(n), 5)})
		n += 5
	}
	if _, after := rotationsByKind(rec.snapshot(), path); after <= before {
		t.Fatalf("the rotation after a stale preparation wrote no header (%d, then %d)", before, after)
	}
	img := crashImage(t, db)
	release()
	checkImage(t, img, map[ShardRef]int{s: n})
}
