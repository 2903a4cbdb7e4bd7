package storage

import "sort"

// Recent appends live in memtables until a checkpoint moves them into bbolt.
// Every memtable is backed by exactly one write-ahead log segment (wal.go):
// a record is in a memtable if and only if its segment is not yet
// checkpointed, so the log never has to be read except at Open.
//
// Memtables are ordered oldest first; the last one is active (the committer
// appends to it), the others are frozen and wait for the checkpointer. Within
// a shard every memtable position is above every position in bbolt and in
// older memtables (appends that would break this take the direct path in
// commit.go), so a shard's records are: bbolt, then each memtable in order.

// memtable is the set of records of one log segment.
type memtable struct {
	seg    uint64
	shards map[ShardRef]*memShard
	bytes  int64 // stored value bytes, for the rotation threshold
}

// memShard is one shard's records in a memtable, in position order. The
// slice only grows (under db.memMu): a reader keeps the header it copied and
// never sees later appends half-written.
type memShard struct {
	recs []memRecord
}

type memRecord struct {
	pos     uint64
	arrival int64
	payload int64 // len(Data)+len(PartitionKey), what Stats counts as bytes
	// cumPayload is the payload of this record and every earlier one in the
	// memShard, so any run sums in O(1).
	cumPayload int64
	val        []byte // the stored value (codec.go), written to bbolt as is
}

func newMemtable(seg uint64) *memtable {
	return &memtable{seg: seg, shards: make(map[ShardRef]*memShard)}
}

func (m *memtable) add(ref ShardRef, it *encodedAppend) {
	ms := m.shards[ref]
	if ms == nil {
		ms = &memShard{recs: make([]memRecord, 0, max(len(it.pos), 64))}
		m.shards[ref] = ms
	}
	var cum int64
	if n := len(ms.recs); n > 0 {
		cum = ms.recs[n-1].cumPayload
	}
	for j, p := range it.pos {
		cum += it.payload[j]
		v := it.vals[j]
		ms.recs = append(ms.recs, memRecord{pos: p, arrival: it.arrivals[j], payload: it.payload[j], cumPayload: cum, val: v})
		m.bytes += int64(len(v)) + 8
	}
}

// memView is one shard's memtable records at one moment: runs in position
// order, each non-empty, oldest memtable first.
type memView [][]memRecord

// memSnapshot copies the headers of a shard's memtable runs. Take it BEFORE
// opening a bbolt read transaction: a checkpoint that lands in between then
// shows its records twice (both copies equal, deduplicated by position),
// never zero times.
func (db *DB) memSnapshot(ref ShardRef) memView {
	db.memMu.RLock()
	defer db.memMu.RUnlock()
	var v memView
	for _, m := range db.mem {
		if ms := m.shards[ref]; ms != nil && len(ms.recs) > 0 {
			v = append(v, ms.recs)
		}
	}
	return v
}

func (v memView) empty() bool { return len(v) == 0 }

func (v memView) first() *memRecord { return &v[0][0] }

func (v memView) last() *memRecord {
	r := v[len(v)-1]
	return &r[len(r)-1]
}

// from returns the records at or after position p, as runs.
func (v memView) from(p uint64) memView {
	for i, run := range v {
		if run[len(run)-1].pos < p {
			continue
		}
		j := sort.Search(len(run), func(k int) bool { return run[k].pos >= p })
		out := make(memView, 0, len(v)-i)
		out = append(out, run[j:])
		return append(out, v[i+1:]...)
	}
	return nil
}

// count returns how many records the view holds at or after position p and
// their payload bytes.
func (v memView) count(p uint64) (records, bytes int64) {
	for _, run := range v.from(p) {
		first, last := &run[0], &run[len(run)-1]
		records += int64(len(run))
		bytes += last.cumPayload - first.cumPayload + first.payload
	}
	return records, bytes
}

// firstArrivalAtLeast returns the first record whose arrival is >= ms.
func (v memView) firstArrivalAtLeast(ms int64) (*memRecord, bool) {
	for _, run := range v {
		if run[len(run)-1].arrival < ms {
			continue
		}
		j := sort.Search(len(run), func(k int) bool { return run[k].arrival >= ms })
		return &run[j], true
	}
	return nil, false
}
