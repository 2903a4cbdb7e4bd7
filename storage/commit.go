package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Group commit. Append (Submit then Wait) encodes its records in the
// caller's goroutine, queues them and waits. One committer goroutine takes
// everything queued (up to MaxBatchRecords records, whole Appends only),
// writes it as ONE frame of the write-ahead log (wal.go) with one fdatasync
// under SyncAlways, adds the records to the active memtable (memtable.go)
// and only then answers each waiting caller. While it writes, new Appends
// queue up for the next round, so the number of fsyncs follows the disk, not
// the callers. Queue order is call order and batches are taken from the
// front, so appends to one shard commit in the order they were queued.
//
// An Append whose positions are not all above everything its shards hold
// (the engine never sends one) takes the direct path instead: the committer
// checkpoints every memtable into bbolt, then checks for overwrites and
// writes it in a bbolt transaction, as before the log existed. Operations
// that delete records (DropShard, DropStream) run on the committer the same
// way, after a checkpoint, so no log segment can bring deleted records back.
//
// bbolt's db.Batch is not used: it waits a timer before committing and
// reruns a failing function on its own, where here order and
// acknowledgement must be explicit.

// appendReq is one Append call (or one exclusive operation) waiting for
// the committer.
type appendReq struct {
	items   []encodedAppend
	records int
	bytes   int64        // stored value bytes
	op      func() error // set for an exclusive operation instead of items
	done    chan error   // buffered: the committer never blocks on a caller
}

// encodedAppend is one Append with its values already sealed.
type encodedAppend struct {
	ref      ShardRef
	pos      []uint64 // strictly increasing
	keys     []byte   // 8 bytes per position, one allocation
	vals     [][]byte
	arrivals []int64
	payload  []int64 // len(Data)+len(PartitionKey) per record
	bytes    int64   // sum of payload
}

// Append durably writes all the given records in one group commit
// (atomically) and returns after the commit; on error nothing was written.
//
// Records of one Append must have strictly increasing positions; Append
// refuses (and writes none of) an Append whose positions repeat one already
// stored. If ctx ends while Append waits for the commit, Append returns
// ctx.Err() but the records stay queued and may still be committed: the
// caller cannot tell, exactly as with a timeout on any remote write.
func (db *DB) Append(ctx context.Context, appends []Append) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.Submit(appends).Wait(ctx)
}

// encode validates and seals appends; errors here concern only this caller.
func (db *DB) encode(appends []Append) (*appendReq, error) {
	req := &appendReq{done: make(chan error, 1)}
	for _, a := range appends {
		if len(a.Records) == 0 {
			continue
		}
		if a.Shard.Stream == "" {
			return nil, errors.New("storage: append: empty stream name")
		}
		it := encodedAppend{
			ref:      a.Shard,
			pos:      make([]uint64, len(a.Records)),
			keys:     make([]byte, 0, 8*len(a.Records)),
			vals:     make([][]byte, len(a.Records)),
			arrivals: make([]int64, len(a.Records)),
			payload:  make([]int64, len(a.Records)),
		}
		for i := range a.Records {
			r := &a.Records[i]
			if i > 0 && r.Position <= it.pos[i-1] {
				return nil, fmt.Errorf("storage: append to %s: position %d does not follow %d", a.Shard, r.Position, it.pos[i-1])
			}
			v, err := encodeValue(db.codec, r, a.Seal, a.Shard)
			if err != nil {
				return nil, fmt.Errorf("storage: append to %s at %d: %w", a.Shard, r.Position, err)
			}
			if len(v) > bolt.MaxValueSize {
				return nil, fmt.Errorf("storage: append to %s at %d: record of %d bytes is too large", a.Shard, r.Position, len(v))
			}
			it.pos[i] = r.Position
			it.keys = binary.BigEndian.AppendUint64(it.keys, r.Position)
			it.vals[i] = v
			it.arrivals[i] = r.Arrival
			it.payload[i] = recordPayload(r)
			it.bytes += it.payload[i]
			req.bytes += int64(len(v))
		}
		req.items = append(req.items, it)
		req.records += len(a.Records)
	}
	if req.bytes > maxFrameBytes/2 {
		return nil, fmt.Errorf("storage: append of %d bytes is too large for one commit", req.bytes)
	}
	return req, nil
}

// run is the committer goroutine.
func (db *DB) run() {
	defer close(db.stopped)
	// A memory fault in bbolt (a corrupt page) becomes a panic that update
	// recovers, instead of killing the process.
	debug.SetPanicOnFault(true)
	for {
		batch := db.take()
		if batch == nil {
			break
		}
		db.commit(batch)
	}
	db.runErr = db.shutdownLog()
}

// take waits for queued appends and removes a batch from the front of the
// queue; nil once closing and drained.
func (db *DB) take() []*appendReq {
	db.mu.Lock()
	defer db.mu.Unlock()
	for len(db.queue) == 0 {
		if db.closing {
			return nil
		}
		db.cond.Wait()
	}
	n, recs := 0, 0
	var bytes int64
	for n < len(db.queue) {
		r := db.queue[n]
		if n > 0 && (recs+r.records > db.maxBatch || bytes+r.bytes > maxFrameBytes/2) {
			break
		}
		n++
		recs += r.records
		bytes += r.bytes
	}
	batch := slices.Clone(db.queue[:n])
	m := copy(db.queue, db.queue[n:])
	clear(db.queue[m:])
	db.queue = db.queue[:m]
	return batch
}

// commit answers a batch: runs of appends that extend their shards go to
// the log as one frame each; anything else is handled on its own, in order.
func (db *DB) commit(batch []*appendReq) {
	hooks := db.hooks.Load()
	if hooks != nil && hooks.beforeCommit != nil {
		hooks.beforeCommit(batch)
	}
	for i := 0; i < len(batch); {
		j := i
		for j < len(batch) && batch[j].op == nil && db.extends(batch[j]) {
			j++
		}
		if j > i {
			db.commitLogged(batch[i:j], hooks)
		}
		if j < len(batch) {
			req := batch[j]
			if req.op != nil {
				req.done <- db.exclusiveNow(req.op)
			} else {
				db.commitDirect(req, hooks)
			}
			j++
		}
		i = j
	}
}

// extends reports whether every part of req starts above everything its
// shard has ever held (so it cannot overwrite a record), and if so counts
// req into the shards' high marks.
func (db *DB) extends(req *appendReq) bool {
	for i, it := range req.items {
		h, err := db.highOf(it.ref)
		if err != nil || h == ^uint64(0) || it.pos[0] < h || sameShardBefore(req.items[:i], it.ref) {
			return false
		}
	}
	for _, it := range req.items {
		db.high[it.ref] = nextHigh(db.high[it.ref], it.pos[len(it.pos)-1])
	}
	return true
}

// highOf is one past the highest position the shard ever held, from bbolt's
// stats entry and the memtables; cached while only the committer appends.
func (db *DB) highOf(ref ShardRef) (uint64, error) {
	if h, ok := db.high[ref]; ok {
		return h, nil
	}
	mem := db.memSnapshot(ref)
	var st shardStat
	err := db.view(func(tx *bolt.Tx) error {
		var err error
		st, err = readStat(tx, ref)
		return err
	})
	if err != nil {
		return 0, err
	}
	h := st.high
	if !mem.empty() {
		h = nextHigh(h, mem.last().pos)
	}
	db.high[ref] = h
	return h, nil
}

// commitLogged writes reqs as one log frame, then makes them readable.
func (db *DB) commitLogged(reqs []*appendReq, hooks *testHooks) {
	err := db.logErr()
	if err == nil && hooks != nil && hooks.failCommit != nil {
		err = hooks.failCommit()
	}
	if err == nil {
		db.walBuf = appendFrame(db.walBuf[:0], db.wal.seg, db.wal.salt, reqs)
		err = db.wal.writeFrame(db.walBuf, db.sync == SyncAlways)
		if cap(db.walBuf) > 4*defaultRotateBytes {
			db.walBuf = nil // one huge batch should not pin its buffer
		}
	}
	if err != nil {
		if errors.Is(err, errLogBroken) {
			db.setLogErr(err)
		}
		err = fmt.Errorf("storage: group commit: %w", err)
		clear(db.high) // extends counted these appends in
	} else {
		db.memMu.Lock()
		for _, req := range reqs {
			for i := range req.items {
				db.active.add(req.items[i].ref, &req.items[i])
			}
		}
		db.memMu.Unlock()
		db.commits.Add(1)
	}
	if hooks != nil && hooks.afterCommit != nil {
		hooks.afterCommit(reqs, err)
	}
	if err == nil {
		db.rec.ack(reqs)
	}
	for _, req := range reqs {
		req.done <- err
	}
	if err == nil && db.active.bytes >= db.rotateBytes {
		// On failure (a full disk, a checkpoint failing) the active
		// segment just grows; the next commit tries again.
		db.rotate()
	}
}

// commitDirect writes one Append straight into bbolt after a checkpoint,
// refusing it if it would overwrite a stored record.
func (db *DB) commitDirect(req *appendReq, hooks *testHooks) {
	var refused error
	err := db.exclusiveNow(func() error {
		return db.update(func(tx *bolt.Tx) error {
			w, err := newBatchWriter(tx)
			if err != nil {
				return err
			}
			if refused = w.check(req); refused != nil {
				return nil
			}
			if hooks != nil && hooks.failCommit != nil {
				if err := hooks.failCommit(); err != nil {
					return err
				}
			}
			if err := w.apply(req); err != nil {
				return err
			}
			return w.flush()
		})
	})
	switch {
	case err != nil:
		err = fmt.Errorf("storage: group commit: %w", err)
	case refused == nil:
		db.commits.Add(1)
	}
	if hooks != nil && hooks.afterCommit != nil && refused == nil {
		hooks.afterCommit([]*appendReq{req}, err)
	}
	if err == nil {
		err = refused
	}
	if err == nil {
		db.rec.ack([]*appendReq{req})
	}
	req.done <- err
}

// exclusiveNow (committer only) checkpoints every memtable, then runs fn
// with the log empty; the high marks are reloaded afterwards.
func (db *DB) exclusiveNow(fn func() error) error {
	defer clear(db.high)
	if err := db.checkpointAll(); err != nil {
		return err
	}
	return fn()
}

// exclusive runs fn on the committer, in queue order, after a checkpoint of
// everything appended before it.
func (db *DB) exclusive(fn func() error) error {
	req := &appendReq{op: fn, done: make(chan error, 1)}
	db.mu.Lock()
	if db.closing {
		db.mu.Unlock()
		return ErrClosed
	}
	db.queue = append(db.queue, req)
	db.cond.Signal()
	db.mu.Unlock()
	return <-req.done
}

// rotate (committer only) freezes the active memtable for the
// checkpointer and starts a new log segment, first waiting while too many
// frozen memtables are already waiting. A failure changes nothing.
func (db *DB) rotate() error {
	db.memMu.Lock()
	for len(db.mem) > maxFrozen && db.ckptErr == nil {
		db.memCond.Wait()
	}
	err := db.ckptErr
	full := len(db.mem) > maxFrozen
	db.memMu.Unlock()
	if full {
		return err
	}
	seg, err := db.createSegment(db.wal.seg + 1)
	if err != nil {
		return err
	}
	db.wal.file.Close()
	db.wal = seg
	db.active = newMemtable(seg.seg)
	db.memMu.Lock()
	db.mem = append(db.mem, db.active)
	db.memCond.Broadcast()
	db.memMu.Unlock()
	return nil
}

// checkpointAll (committer only) returns once every record appended so far
// is in bbolt.
func (db *DB) checkpointAll() error {
	if err := db.logErr(); err != nil {
		return err
	}
	if len(db.active.shards) > 0 {
		if err := db.rotate(); err != nil {
			return err
		}
	}
	db.memMu.Lock()
	defer db.memMu.Unlock()
	for len(db.mem) > 1 && db.ckptErr == nil {
		db.memCond.Wait()
	}
	return db.ckptErr
}

// shutdownLog (committer, at Close) checkpoints everything, stops the
// checkpointer and removes the then empty active segment.
func (db *DB) shutdownLog() error {
	err := db.checkpointAll()
	if err != nil && db.logErrIsCheckpoint() {
		// A checkpoint failed earlier: one fresh attempt now rather than
		// the error of the last one.
		db.memMu.Lock()
		db.ckptErr = nil
		db.memMu.Unlock()
		select {
		case db.ckptKick <- struct{}{}:
		default:
		}
		err = db.checkpointAll()
	}
	db.memMu.Lock()
	db.ckptStop = true
	close(db.ckptWake)
	db.memCond.Broadcast()
	db.memMu.Unlock()
	<-db.ckptStopped
	db.wal.file.Close()
	if err == nil {
		// Everything is in bbolt: leave no log files behind.
		for _, p := range []string{segmentPath(db.path, db.wal.seg), sparePath(db.path)} {
			if os.Remove(p) == nil {
				db.rec.remove(p)
			}
		}
	}
	return err
}

// logErr is the error that stopped the log for good, if any: appends are
// refused after it (records already acknowledged stay readable and are
// replayed by the next Open).
func (db *DB) logErr() error {
	db.memMu.RLock()
	defer db.memMu.RUnlock()
	switch {
	case db.walErr != nil:
		return db.walErr
	case db.ckptErr != nil:
		return db.ckptErr
	}
	return nil
}

// logErrIsCheckpoint reports whether appends are refused only because
// checkpoints fail.
func (db *DB) logErrIsCheckpoint() bool {
	db.memMu.RLock()
	defer db.memMu.RUnlock()
	return db.walErr == nil && db.ckptErr != nil
}

func (db *DB) setLogErr(err error) {
	db.memMu.Lock()
	if db.walErr == nil {
		db.walErr = err
	}
	db.memMu.Unlock()
}

// batchWriter applies appends inside one transaction, keeping each touched
// shard's bucket and stats entry at hand and writing the stats once.
type batchWriter struct {
	tx     *bolt.Tx
	recs   *bolt.Bucket
	shards map[ShardRef]*shardState
}

type shardState struct {
	b     *bolt.Bucket // nil until the shard has records
	st    shardStat
	dirty bool
}

func newBatchWriter(tx *bolt.Tx) (*batchWriter, error) {
	recs := tx.Bucket(bucketRecords)
	if recs == nil {
		return nil, fmt.Errorf("%w: no %q bucket", ErrCorrupt, bucketRecords)
	}
	return &batchWriter{tx: tx, recs: recs, shards: make(map[ShardRef]*shardState)}, nil
}

func (w *batchWriter) state(ref ShardRef) (*shardState, error) {
	if s, ok := w.shards[ref]; ok {
		return s, nil
	}
	st, err := readStat(w.tx, ref)
	if err != nil {
		return nil, err
	}
	s := &shardState{st: st, b: shardBucket(w.tx, ref)}
	if s.b != nil {
		s.b.FillPercent = shardFillPercent
	}
	w.shards[ref] = s
	return s, nil
}

// check refuses a request that would overwrite a stored record. The usual
// case (positions above every position ever appended) costs no lookup.
func (w *batchWriter) check(req *appendReq) error {
	var earlier map[ShardRef]map[uint64]bool // this request's own positions, slow path only
	for i, it := range req.items {
		s, err := w.state(it.ref)
		if err != nil {
			return err
		}
		if it.pos[0] >= s.st.high && s.st.high != ^uint64(0) && !sameShardBefore(req.items[:i], it.ref) {
			continue
		}
		if earlier == nil {
			earlier = make(map[ShardRef]map[uint64]bool)
			for _, e := range req.items {
				m := earlier[e.ref]
				if m == nil {
					m = make(map[uint64]bool)
					earlier[e.ref] = m
				}
				for _, p := range e.pos {
					if m[p] {
						return fmt.Errorf("storage: append to %s: position %d given twice", e.ref, p)
					}
					m[p] = true
				}
			}
		}
		if s.b == nil {
			continue
		}
		for j, p := range it.pos {
			if s.b.Get(it.keys[8*j:8*j+8]) != nil {
				return fmt.Errorf("storage: append to %s: position %d is already stored", it.ref, p)
			}
		}
	}
	return nil
}

func sameShardBefore(items []encodedAppend, ref ShardRef) bool {
	for _, e := range items {
		if e.ref == ref {
			return true
		}
	}
	return false
}

func (w *batchWriter) apply(req *appendReq) error {
	for _, it := range req.items {
		s, err := w.state(it.ref)
		if err != nil {
			return err
		}
		if s.b == nil {
			sb, err := w.recs.CreateBucketIfNotExists([]byte(it.ref.Stream))
			if err != nil {
				return err
			}
			if s.b, err = sb.CreateBucketIfNotExists(be32(it.ref.Shard)); err != nil {
				return err
			}
			s.b.FillPercent = shardFillPercent
		}
		for j := range it.pos {
			if err := s.b.Put(it.keys[8*j:8*j+8], it.vals[j]); err != nil {
				return fmt.Errorf("put %s at %d: %w", it.ref, it.pos[j], err)
			}
		}
		s.st.records += int64(len(it.pos))
		s.st.bytes += it.bytes
		s.st.high = nextHigh(s.st.high, it.pos[len(it.pos)-1])
		s.dirty = true
	}
	return nil
}

func (w *batchWriter) flush() error {
	for ref, s := range w.shards {
		if s.dirty {
			if err := writeStat(w.tx, ref, s.st); err != nil {
				return err
			}
		}
	}
	return nil
}
