package storage

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Group commit. Append (Submit then Wait) encodes its records in the
// caller's goroutine, queues them and waits. One committer goroutine takes
// everything queued (up to MaxBatchRecords records, whole Appends only),
// writes it in ONE bbolt write transaction, commits (one fsync with
// SyncAlways) and only then answers each waiting caller. While it commits,
// new Appends queue up for the next round, so the number of fsyncs follows
// the disk, not the callers. Queue order is call order and batches are taken
// from the front, so appends to one shard commit in the order they were
// queued. bbolt's db.Batch is not used: it waits a timer before committing
// and reruns a failing function on its own, where here order and
// acknowledgement must be explicit.

// appendReq is one Append call waiting for the committer.
type appendReq struct {
	items   []encodedAppend
	records int
	done    chan error // buffered: the committer never blocks on a caller
}

// encodedAppend is one Append with its values already sealed.
type encodedAppend struct {
	ref   ShardRef
	pos   []uint64 // strictly increasing
	keys  []byte   // 8 bytes per position, one allocation
	vals  [][]byte
	bytes int64
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
			ref:  a.Shard,
			pos:  make([]uint64, len(a.Records)),
			keys: make([]byte, 0, 8*len(a.Records)),
			vals: make([][]byte, len(a.Records)),
		}
		for i := range a.Records {
			r := &a.Records[i]
			if i > 0 && r.Position <= it.pos[i-1] {
				return nil, fmt.Errorf("storage: append to %s: position %d does not follow %d", a.Shard, r.Position, it.pos[i-1])
			}
			v, err := encodeValue(db.codec, r)
			if err != nil {
				return nil, fmt.Errorf("storage: append to %s at %d: %w", a.Shard, r.Position, err)
			}
			if len(v) > bolt.MaxValueSize {
				return nil, fmt.Errorf("storage: append to %s at %d: record of %d bytes is too large", a.Shard, r.Position, len(v))
			}
			it.pos[i] = r.Position
			it.keys = append(it.keys, posKey(r.Position)...)
			it.vals[i] = v
			it.bytes += recordPayload(r)
		}
		req.items = append(req.items, it)
		req.records += len(a.Records)
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
			return
		}
		db.commit(batch)
	}
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
	for n < len(db.queue) {
		r := db.queue[n].records
		if n > 0 && recs+r > db.maxBatch {
			break
		}
		n++
		recs += r
	}
	batch := slices.Clone(db.queue[:n])
	m := copy(db.queue, db.queue[n:])
	clear(db.queue[m:])
	db.queue = db.queue[:m]
	return batch
}

// commit writes a batch in one transaction and answers its callers.
func (db *DB) commit(batch []*appendReq) {
	hooks := db.hooks.Load()
	if hooks != nil && hooks.beforeCommit != nil {
		hooks.beforeCommit(batch)
	}
	refused := make([]error, len(batch))
	err := db.update(func(tx *bolt.Tx) error {
		clear(refused)
		w, err := newBatchWriter(tx)
		if err != nil {
			return err
		}
		for i, req := range batch {
			if refused[i] = w.check(req); refused[i] != nil {
				continue
			}
			if err := w.apply(req); err != nil {
				return err
			}
		}
		if err := w.flush(); err != nil {
			return err
		}
		if hooks != nil && hooks.inTx != nil {
			return hooks.inTx(tx)
		}
		return nil
	})
	if err == nil {
		db.commits.Add(1)
	} else {
		err = fmt.Errorf("storage: group commit: %w", err)
	}
	if hooks != nil && hooks.afterCommit != nil {
		hooks.afterCommit(batch, err)
	}
	for i, req := range batch {
		if err != nil {
			req.done <- err
		} else {
			req.done <- refused[i]
		}
	}
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
