package storage

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The power-loss simulation. A store runs with a recorder that sees every
// file operation of the log (writes, truncates, syncs, creates, renames,
// removes, directory syncs), every bbolt write transaction (with the file
// as it stood when the transaction had committed: bbolt syncs before it
// returns, and its meta pages make a commit all or nothing) and every
// acknowledgement. From the record, fsModel rebuilds what a disk that
// honours fsync may hold after a power cut at any point: everything synced,
// plus a torn and reordered subset of what was not. Each such state must
// open with every acknowledged record in it.

// recording is the operations of one run.
type recording struct {
	mu    sync.Mutex
	store string
	ops   []fsOp
}

func newRecording(store string) *recording { return &recording{store: store} }

func (r *recording) recorder() *fsRecorder {
	var boltMu sync.Mutex // one bbolt writer at a time, so the snapshot is whole
	return &fsRecorder{on: func(op fsOp) {
		switch op.kind {
		case opBoltBegin:
			boltMu.Lock()
		case opBoltEnd:
			if op.err == nil {
				data, err := os.ReadFile(r.store)
				if err != nil {
					panic(err)
				}
				op.data = data
			}
		}
		r.mu.Lock()
		r.ops = append(r.ops, op)
		r.mu.Unlock()
		if op.kind == opBoltEnd {
			boltMu.Unlock()
		}
	}}
}

func (r *recording) snapshot() []fsOp {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops)
}

type simInode struct {
	cur, dur []byte
	pending  []fsOp // writes and truncates since the last sync
}

// fsModel is the disk as the recorded operations left it.
type fsModel struct {
	inodes     []*simInode
	names      map[string]int // current directory (base names)
	durNames   map[string]int // as of the last directory sync
	pendingDir []fsOp
	bolt       []byte // the last committed store file
}

// newModel starts from files that are all durable; bolt is the store file.
func newModel(files map[string][]byte, bolt []byte) *fsModel {
	m := &fsModel{names: make(map[string]int), durNames: make(map[string]int), bolt: bolt}
	for name, data := range files {
		m.inodes = append(m.inodes, &simInode{cur: slices.Clone(data), dur: slices.Clone(data)})
		m.names[name] = len(m.inodes) - 1
		m.durNames[name] = len(m.inodes) - 1
	}
	return m
}

func applyWrite(data []byte, op fsOp) []byte {
	switch op.kind {
	case opWrite:
		end := int(op.off) + len(op.data)
		if end > len(data) {
			data = append(data, make([]byte, end-len(data))...)
		}
		copy(data[op.off:], op.data)
	case opTruncate:
		if int(op.size) <= len(data) {
			data = data[:op.size]
		} else {
			data = append(data, make([]byte, int(op.size)-len(data))...)
		}
	}
	return data
}

func applyDir(names map[string]int, op fsOp, newInode func() int) {
	switch op.kind {
	case opCreate:
		names[filepath.Base(op.path)] = newInode()
	case opRename:
		names[filepath.Base(op.to)] = names[filepath.Base(op.path)]
		delete(names, filepath.Base(op.path))
	case opRemove:
		delete(names, filepath.Base(op.path))
	}
}

func (m *fsModel) apply(op fsOp) {
	switch op.kind {
	case opCreate:
		m.inodes = append(m.inodes, &simInode{})
		id := len(m.inodes) - 1
		applyDir(m.names, op, func() int { return id })
		op.size = int64(id) // remembered for replaying the directory
		m.pendingDir = append(m.pendingDir, op)
	case opRename, opRemove:
		applyDir(m.names, op, nil)
		m.pendingDir = append(m.pendingDir, op)
	case opSyncDir:
		m.durNames = maps.Clone(m.names)
		m.pendingDir = nil
	case opWrite, opTruncate:
		in := m.inodes[m.names[filepath.Base(op.path)]]
		in.cur = applyWrite(in.cur, op)
		in.pending = append(in.pending, op)
	case opSync:
		in := m.inodes[m.names[filepath.Base(op.path)]]
		in.dur = slices.Clone(in.cur)
		in.pending = nil
	case opBoltEnd:
		if op.err == nil {
			m.bolt = op.data
		}
	}
}

// image is one state the disk may be in after a power cut now. With rng
// nil it holds exactly what was synced; otherwise also a random prefix of
// the directory changes since the last directory sync and a random subset,
// in random order, of the unsynced writes, each whole or torn (some of its
// 512-byte sectors).
func (m *fsModel) image(rng *rand.Rand) map[string][]byte {
	names := maps.Clone(m.durNames)
	if rng != nil && len(m.pendingDir) > 0 {
		for _, op := range m.pendingDir[:rng.IntN(len(m.pendingDir)+1)] {
			applyDir(names, op, func() int { return int(op.size) })
		}
	}
	files := map[string][]byte{"store.db": slices.Clone(m.bolt)}
	for name, id := range names {
		in := m.inodes[id]
		data := slices.Clone(in.dur)
		if rng != nil {
			for _, i := range rng.Perm(len(in.pending)) {
				op := in.pending[i]
				switch {
				case rng.IntN(3) == 0: // not written
				case op.kind == opWrite && rng.IntN(2) == 0: // torn
					for s := 0; s < len(op.data); s += 512 {
						if rng.IntN(2) == 0 {
							part := op
							part.off = op.off + int64(s)
							part.data = op.data[s:min(s+512, len(op.data))]
							data = applyWrite(data, part)
						}
					}
				default:
					data = applyWrite(data, op)
				}
			}
		}
		files[name] = data
	}
	return files
}

// acked is how many records of each shard were acknowledged.
type acked map[ShardRef]uint64

func (a acked) add(reqs []*appendReq) {
	for _, r := range reqs {
		for _, it := range r.items {
			a[it.ref] = max(a[it.ref], it.pos[len(it.pos)-1]+1)
		}
	}
}

// checkAckAfterSync returns an error if an acknowledgement came before the
// frame it answers was synced (or the segment's name made durable).
func checkAckAfterSync(m *fsModel, ops []fsOp, i int) error {
	for j := i - 1; j >= 0; j-- {
		switch ops[j].kind {
		case opBoltEnd:
			return nil // the direct path: bbolt synced before it returned
		case opWrite:
			if strings.HasSuffix(ops[j].path, ".wal.spare") {
				continue // the checkpointer preparing the spare: no frame
			}
			name := filepath.Base(ops[j].path)
			id, ok := m.names[name]
			if !ok {
				return fmt.Errorf("op %d: acknowledged a frame of %s, which is gone", i, name)
			}
			if in := m.inodes[id]; len(in.pending) > 0 {
				return fmt.Errorf("op %d: acknowledged before %s was synced", i, name)
			}
			if d, ok := m.durNames[name]; !ok || d != id {
				return fmt.Errorf("op %d: acknowledged before the name %s was durable", i, name)
			}
			return nil
		}
	}
	return nil
}

// writeImage lays files out in a new directory and returns the store path.
func writeImage(t testing.TB, files map[string][]byte) string {
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "store.db")
}

// verifyImage opens a crash state and checks that every acknowledged record
// is there, exact, with no gap; records beyond may be there too.
func verifyImage(path string, want acked, opts Options) (*DB, error) {
	db, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	for ref, n := range want {
		var got uint64
		for {
			rs, err := db.Read(ref, got, 1000, 0)
			if err != nil {
				db.Close()
				return nil, err
			}
			if len(rs) == 0 {
				break
			}
			for _, r := range rs {
				if r.Position != got || !sameRecord(r, testRecord(ref.Shard, got)) {
					db.Close()
					return nil, fmt.Errorf("%s: record %d is wrong (position %d)", ref, got, r.Position)
				}
				got++
			}
		}
		if got < n {
			db.Close()
			return nil, fmt.Errorf("%s: %d records, %d acknowledged", ref, got, n)
		}
	}
	return db, nil
}

// powerRun runs a recorded workload: writers appending to 3 shards with
// small segments, so that rotations, checkpoints and recycled files happen.
func powerRun(t testing.TB, mode SyncMode, appends int) (*recording, string) {
	path := filepath.Join(t.TempDir(), "store.db")
	rec := newRecording(path)
	db, err := Open(path, Options{Sync: mode, rotateBytes: 6 << 10, recorder: rec.recorder()})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for shard := range uint32(3) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(shard), 9))
			var next uint64
			for i := 0; i < appends; i++ {
				n := 1 + rng.IntN(12)
				if err := db.Append(context.Background(), []Append{{Shard: ShardRef{"p", shard}, Records: testRecords(shard, next, n)}}); err != nil {
					t.Error(err)
					return
				}
				next += uint64(n)
			}
		}()
	}
	wg.Wait()
	// Leave the store running (no Close): the run ends in a power cut.
	t.Cleanup(func() { db.Close() })
	return rec, path
}

// crashState is one state to open: files as the disk holds them and what
// was acknowledged by then.
type crashState struct {
	at    int
	files map[string][]byte
	want  acked
}

// crashStates walks the recording and returns, at each chosen point, the
// synced-only state and torn variants; ackErr is the first acknowledgement
// that came before its sync.
func crashStates(ops []fsOp, start *fsModel, points []int, variants int, rng *rand.Rand) (states []crashState, ackErr error) {
	m := start
	a := acked{}
	pi := 0
	for i := 0; i <= len(ops); i++ {
		for pi < len(points) && points[pi] == i {
			if m.bolt != nil {
				states = append(states, crashState{at: i, files: m.image(nil), want: maps.Clone(a)})
				for range variants {
					states = append(states, crashState{at: i, files: m.image(rng), want: maps.Clone(a)})
				}
			}
			pi++
		}
		if i == len(ops) {
			break
		}
		if ops[i].kind == opAck {
			if err := checkAckAfterSync(m, ops, i); err != nil && ackErr == nil {
				ackErr = err
			}
			a.add(ops[i].reqs)
		}
		m.apply(ops[i])
	}
	return states, ackErr
}

// pickPoints chooses n crash points among ops, favouring the moments
// around syncs, directory syncs and bbolt commits.
func pickPoints(ops []fsOp, n int, rng *rand.Rand) []int {
	var interesting []int
	for i, op := range ops {
		switch op.kind {
		case opSync, opSyncDir, opBoltEnd, opRename, opCreate, opTruncate:
			interesting = append(interesting, i, i+1)
		}
	}
	set := make(map[int]bool)
	for len(set) < n && len(set) < len(ops)+1 {
		if len(interesting) > 0 && rng.IntN(2) == 0 {
			set[interesting[rng.IntN(len(interesting))]] = true
		} else {
			set[rng.IntN(len(ops)+1)] = true
		}
	}
	pts := slices.Collect(maps.Keys(set))
	slices.Sort(pts)
	return pts
}

// runPowerLoss checks states crash states of a run, half of them also
// through a second power cut during their recovery.
func runPowerLoss(t testing.TB, states int, seed uint64) {
	rec, store := powerRun(t, SyncAlways, 60)
	ops := rec.snapshot()
	rng := rand.New(rand.NewPCG(seed, 1))
	cs, ackErr := crashStates(ops, newModel(nil, nil), pickPoints(ops, states/3, rng), 2, rng)
	if ackErr != nil {
		t.Fatal(ackErr)
	}
	opened := 0
	for _, st := range cs {
		path := writeImage(t, st.files)
		second := rng.IntN(2) == 0
		var rrec *recording
		opts := Options{Sync: SyncNone}
		if second {
			rrec = newRecording(path)
			opts = Options{Sync: SyncAlways, recorder: rrec.recorder()}
		}
		db, err := verifyImage(path, st.want, opts)
		if err != nil {
			t.Fatalf("crash at op %d of %d: %v", st.at, len(ops), err)
		}
		opened++
		if second {
			// Let recovery checkpoint what it replayed, then cut power
			// somewhere in what it did.
			if err := db.exclusive(func() error { return nil }); err != nil {
				t.Fatal(err)
			}
			rops := rrec.snapshot()
			files := maps.Clone(st.files)
			start := newModel(withoutStore(files), files["store.db"])
			pts := pickPoints(rops, 2, rng)
			rcs, ackErr := crashStates(rops, start, pts, 1, rng)
			if ackErr != nil {
				t.Fatal(ackErr)
			}
			for _, r := range rcs {
				rdb, err := verifyImage(writeImage(t, r.files), st.want, Options{Sync: SyncNone})
				if err != nil {
					t.Fatalf("crash at op %d, then at op %d of %d of the recovery: %v", st.at, r.at, len(rops), err)
				}
				rdb.Close()
				opened++
			}
		}
		db.Close()
	}
	prepared, unprepared := rotationsByKind(ops, store)
	t.Logf("%d operations recorded (%d rotations into a prepared spare, %d not), %d crash states opened", len(ops), prepared, unprepared, opened)
}

func withoutStore(files map[string][]byte) map[string][]byte {
	out := maps.Clone(files)
	delete(out, "store.db")
	return out
}

// TestPowerLoss opens a few dozen crash states of a recorded run.
func TestPowerLoss(t *testing.T) {
	runPowerLoss(t, 36, rand.Uint64())
}

// BenchmarkPowerLossStates is the long form: ≥ 1,000 crash states per
// iteration. go test -run '^$' -bench PowerLoss -benchtime 1x ./storage/
func BenchmarkPowerLossStates(b *testing.B) {
	for range b.N {
		runPowerLoss(b, 1000, rand.Uint64())
	}
}

// The control: with SyncNone acknowledgements come before any sync, and
// some crash state loses acknowledged records. If this test failed, the
// simulation could not catch a missing fsync.
func TestPowerLossControlSyncNone(t *testing.T) {
	rec, _ := powerRun(t, SyncNone, 30)
	ops := rec.snapshot()
	rng := rand.New(rand.NewPCG(1, 1))
	cs, ackErr := crashStates(ops, newModel(nil, nil), []int{len(ops)}, 0, rng)
	if ackErr == nil {
		t.Fatal("with SyncNone no acknowledgement came before its sync")
	}
	lost := 0
	for _, st := range cs {
		db, err := verifyImage(writeImage(t, st.files), st.want, Options{Sync: SyncNone})
		if err != nil {
			lost++
			continue
		}
		db.Close()
	}
	if lost == 0 {
		t.Fatal("with SyncNone a power cut lost no acknowledged record")
	}
}
