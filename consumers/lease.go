package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// The checkpoint sentinels a lease may hold besides a sequence number
// (ShardEnd is the third).
const (
	// CheckpointTrimHorizon: read the shard from its oldest record.
	CheckpointTrimHorizon = "TRIM_HORIZON"
	// CheckpointLatest: read the shard from its tip.
	CheckpointLatest = "LATEST"
	// CheckpointAtTimestamp: read the shard from the first record that
	// arrived at or after Config.StartTimestamp.
	CheckpointAtTimestamp = "AT_TIMESTAMP"
)

// LeaseBucket returns the metadata bucket holding an application's lease
// table: "leases/<app>", one key per shard ID.
func LeaseBucket(app string) string { return "leases/" + app }

// Lease is one shard's row of an application's lease table, as the KCL
// keeps it: who holds the shard, a counter that every take, renewal,
// checkpoint and release moves (the fencing token every write is
// conditional on), and how far the application got.
type Lease struct {
	// ShardID is the lease key.
	ShardID string `json:"-"`
	// Owner is the worker holding the lease, "" when it is free.
	Owner string `json:"owner,omitempty"`
	// Counter moves on every write by an owner or a taker.
	Counter int64 `json:"counter"`
	// Checkpoint is a sequence number, CheckpointTrimHorizon,
	// CheckpointLatest or ShardEnd; CheckpointSubSequenceNumber goes with
	// a sequence number of a KPL aggregate.
	Checkpoint                  string `json:"checkpoint"`
	CheckpointSubSequenceNumber int64  `json:"checkpointSubSequenceNumber,omitempty"`
	// ParentShardIDs are the shards that must end (checkpoint ShardEnd, or
	// vanish from the stream) before this one is read.
	ParentShardIDs []string `json:"parentShardIds,omitempty"`
	// StartingHashKey and EndingHashKey are the shard's hash range,
	// decimal, "" when unknown.
	StartingHashKey string `json:"startingHashKey,omitempty"`
	EndingHashKey   string `json:"endingHashKey,omitempty"`
	// LastRenewed is when the counter last moved, by the writer's clock.
	LastRenewed time.Time `json:"lastRenewed"`
	// OwnerSwitchesSinceCheckpoint counts owner changes since the last
	// checkpoint.
	OwnerSwitchesSinceCheckpoint int64 `json:"ownerSwitchesSinceCheckpoint,omitempty"`
}

// Ended reports whether the shard was processed to its end.
func (l Lease) Ended() bool { return l.Checkpoint == ShardEnd }

// Position returns the checkpoint as an ExtendedSequenceNumber.
func (l Lease) Position() ExtendedSequenceNumber {
	return ExtendedSequenceNumber{SequenceNumber: l.Checkpoint, SubSequenceNumber: l.CheckpointSubSequenceNumber}
}

// hashRange returns the shard's range, ok false when unknown.
func (l Lease) hashRange() (r engine.HashKeyRange, ok bool) {
	s, ok1 := engine.ParseHashKey(l.StartingHashKey)
	e, ok2 := engine.ParseHashKey(l.EndingHashKey)
	if !ok1 || !ok2 {
		return r, false
	}
	return engine.HashKeyRange{Start: s, End: e}, true
}

// knownRange reports whether a range from the source is real: the fake
// sources of tests leave it zero.
func knownRange(r engine.HashKeyRange) bool { return r != engine.HashKeyRange{} }

// MetaTx is a metadata bucket inside one write transaction; it has the
// methods of storage.MetaTx.
type MetaTx interface {
	// Get returns a copy of the value, nil when absent.
	Get(key string) []byte
	// Put stores value under key.
	Put(key string, value []byte) error
	// Delete removes key.
	Delete(key string) error
	// ForEach calls fn for every key in order, over a snapshot.
	ForEach(fn func(key string, value []byte) error) error
}

// LeaseStore keeps lease tables: transactional updates of a bucket, and
// reads. NewMetaLeases turns a *storage.DB into one; MemoryMeta is one.
type LeaseStore interface {
	// UpdateMeta runs fn in one write transaction over bucket; when fn
	// returns an error nothing it did is kept and that error is returned.
	// fn must not call the store.
	UpdateMeta(bucket string, fn func(tx MetaTx) error) error
	// GetMeta returns the value under key, or nil when absent.
	GetMeta(bucket, key string) ([]byte, error)
	// ForEachMeta calls fn for every key of bucket in key order.
	ForEachMeta(bucket string, fn func(key string, value []byte) error) error
}

// MetaTxStore is a store whose transactional updates hand fn its own
// transaction type T. *storage.DB is a MetaTxStore[storage.MetaTx]; this
// package names the methods without importing storage.
type MetaTxStore[T MetaTx] interface {
	UpdateMeta(bucket string, fn func(tx T) error) error
	GetMeta(bucket, key string) ([]byte, error)
	ForEachMeta(bucket string, fn func(key string, value []byte) error) error
}

// NewMetaLeases returns a LeaseStore over s, such as a *storage.DB:
// consumers.NewMetaLeases(db).
func NewMetaLeases[T MetaTx](s MetaTxStore[T]) LeaseStore { return metaLeases[T]{s} }

type metaLeases[T MetaTx] struct{ s MetaTxStore[T] }

func (m metaLeases[T]) UpdateMeta(bucket string, fn func(tx MetaTx) error) error {
	return m.s.UpdateMeta(bucket, func(tx T) error { return fn(tx) })
}

func (m metaLeases[T]) GetMeta(bucket, key string) ([]byte, error) { return m.s.GetMeta(bucket, key) }

func (m metaLeases[T]) ForEachMeta(bucket string, fn func(key string, value []byte) error) error {
	return m.s.ForEachMeta(bucket, fn)
}

// MemoryMeta is an in-memory metadata store: a LeaseStore and a MetaStore
// (for NewMetaCheckpoints) for tests and for runs that need not survive a
// restart. The zero value is ready to use; it is safe for concurrent use.
type MemoryMeta struct {
	mu sync.Mutex
	m  map[string]map[string][]byte
}

var (
	_ LeaseStore = (*MemoryMeta)(nil)
	_ MetaStore  = (*MemoryMeta)(nil)
)

// NewMemoryMeta returns an empty MemoryMeta.
func NewMemoryMeta() *MemoryMeta { return &MemoryMeta{} }

// GetMeta returns a copy of the value, or nil when absent.
func (m *MemoryMeta) GetMeta(bucket, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[bucket][key]
	if !ok {
		return nil, nil
	}
	return append([]byte{}, v...), nil
}

// PutMeta stores a copy of value under key.
func (m *MemoryMeta) PutMeta(bucket, key string, value []byte) error {
	return m.UpdateMeta(bucket, func(tx MetaTx) error { return tx.Put(key, value) })
}

// ForEachMeta calls fn for every key of the bucket in key order, over a
// snapshot taken first.
func (m *MemoryMeta) ForEachMeta(bucket string, fn func(key string, value []byte) error) error {
	m.mu.Lock()
	kvs := snapshotBucket(m.m[bucket])
	m.mu.Unlock()
	for _, kv := range kvs {
		if err := fn(kv.key, kv.value); err != nil {
			return err
		}
	}
	return nil
}

// UpdateMeta runs fn in one transaction over bucket: its writes are kept
// only when fn returns nil.
func (m *MemoryMeta) UpdateMeta(bucket string, fn func(tx MetaTx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{base: m.m[bucket], writes: map[string][]byte{}}
	if err := fn(tx); err != nil {
		return err
	}
	if len(tx.writes) == 0 {
		return nil
	}
	if m.m == nil {
		m.m = make(map[string]map[string][]byte)
	}
	b := m.m[bucket]
	if b == nil {
		b = make(map[string][]byte)
		m.m[bucket] = b
	}
	for k, v := range tx.writes {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return nil
}

type kv struct {
	key   string
	value []byte
}

func snapshotBucket(b map[string][]byte) []kv {
	out := make([]kv, 0, len(b))
	for k, v := range b {
		out = append(out, kv{k, append([]byte{}, v...)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// memTx buffers a transaction's writes; a nil value is a delete.
type memTx struct {
	base   map[string][]byte
	writes map[string][]byte
}

func (t *memTx) Get(key string) []byte {
	if v, ok := t.writes[key]; ok {
		if v == nil {
			return nil
		}
		return append([]byte{}, v...)
	}
	if v, ok := t.base[key]; ok {
		return append([]byte{}, v...)
	}
	return nil
}

func (t *memTx) Put(key string, value []byte) error {
	t.writes[key] = append([]byte{}, value...)
	return nil
}

func (t *memTx) Delete(key string) error {
	t.writes[key] = nil
	return nil
}

func (t *memTx) ForEach(fn func(key string, value []byte) error) error {
	merged := make(map[string][]byte, len(t.base))
	for k, v := range t.base {
		merged[k] = v
	}
	for k, v := range t.writes {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	for _, kv := range snapshotBucket(merged) {
		if err := fn(kv.key, kv.value); err != nil {
			return err
		}
	}
	return nil
}

// ErrLeaseChanged is returned by a LeaseTable's conditional writes when the
// lease is not as expected (its counter moved, or it appeared or vanished
// meanwhile), and by an Update whose fn returned it.
var ErrLeaseChanged = errors.New("consumers: lease changed")

// errConflict aborts a conditional lease write whose expectation failed.
var errConflict = ErrLeaseChanged

// ErrLeaseLost is returned by a Checkpointer (and lease writes) when the
// worker no longer holds the shard's lease: another worker took it, or this
// worker stopped or crashed.
var ErrLeaseLost = errors.New("consumers: lease lost")

// LeaseTable is one application's lease table, operation by operation.
// Every write is conditional on the one lease it changes (its counter, or
// its absence), the way the KCL writes DynamoDB items, so a table may live
// in a bucket of a LeaseStore (the default: transactions) or in a DynamoDB
// table (consumers/kcl). Implementations are safe for concurrent use.
type LeaseTable interface {
	// List reads the whole table, by shard ID.
	List(ctx context.Context) (map[string]Lease, error)
	// Get reads one lease; ok is false when there is none.
	Get(ctx context.Context, id string) (l Lease, ok bool, err error)
	// Update reads a lease, lets fn change it and writes it back on
	// condition that it did not change meanwhile (same counter, or still
	// absent when exists was false); otherwise it returns ErrLeaseChanged.
	// An error from fn cancels the write and is returned. Update returns
	// the lease as written.
	Update(ctx context.Context, id string, fn func(l *Lease, exists bool) error) (Lease, error)
	// Create adds l unless the shard has a lease already; it returns the
	// lease in the table and whether it was created.
	Create(ctx context.Context, l Lease) (got Lease, created bool, err error)
	// Remove deletes a lease if its counter is still counter, reporting
	// whether it did.
	Remove(ctx context.Context, id string, counter int64) (bool, error)
	// Renew moves the counter of each lease in expect (shard ID → the
	// counter owner last wrote) that owner still holds with that counter,
	// stamping LastRenewed with now, then reads the whole table. renewed
	// holds the leases as written, changed those found taken, changed or
	// gone. On an error, leases in neither map are in doubt and all may be
	// nil.
	Renew(ctx context.Context, owner string, expect map[string]int64, now time.Time) (renewed map[string]Lease, changed map[string]bool, all map[string]Lease, err error)
}

// NewMetaLeaseTable returns the lease table kept in bucket of store, one
// JSON value per shard ID; each operation is one transaction. An App uses
// it (bucket LeaseBucket(name)) unless Config.LeaseTable is set.
func NewMetaLeaseTable(store LeaseStore, bucket string) LeaseTable {
	return metaLeaseTable{store: store, bucket: bucket}
}

// metaLeaseTable is one application's lease table in a LeaseStore bucket.
type metaLeaseTable struct {
	store  LeaseStore
	bucket string
}

func decodeLease(id string, v []byte) (Lease, error) {
	var l Lease
	if err := json.Unmarshal(v, &l); err != nil {
		return l, fmt.Errorf("lease %s: %w", id, err)
	}
	l.ShardID = id
	return l, nil
}

func encodeLease(l Lease) []byte {
	b, err := json.Marshal(l)
	if err != nil {
		panic(err) // a Lease always marshals
	}
	return b
}

// List reads the whole table.
func (t metaLeaseTable) List(ctx context.Context) (map[string]Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]Lease)
	err := t.store.ForEachMeta(t.bucket, func(key string, value []byte) error {
		l, err := decodeLease(key, value)
		if err != nil {
			return err
		}
		out[key] = l
		return nil
	})
	return out, err
}

// Get reads one lease.
func (t metaLeaseTable) Get(ctx context.Context, id string) (Lease, bool, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, false, err
	}
	v, err := t.store.GetMeta(t.bucket, id)
	if err != nil || v == nil {
		return Lease{}, false, err
	}
	l, err := decodeLease(id, v)
	return l, err == nil, err
}

// Update reads, changes and writes a lease in one transaction, so it never
// conflicts with another writer: fn sees the latest lease.
func (t metaLeaseTable) Update(ctx context.Context, id string, fn func(l *Lease, exists bool) error) (Lease, error) {
	var out Lease
	err := t.store.UpdateMeta(t.bucket, func(tx MetaTx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var l Lease
		exists := false
		if v := tx.Get(id); v != nil {
			var err error
			if l, err = decodeLease(id, v); err != nil {
				return err
			}
			exists = true
		}
		l.ShardID = id
		if err := fn(&l, exists); err != nil {
			return err
		}
		out = l
		return tx.Put(id, encodeLease(l))
	})
	return out, err
}

// Create adds l unless the shard has a lease already.
func (t metaLeaseTable) Create(ctx context.Context, l Lease) (Lease, bool, error) {
	var out Lease
	created := false
	err := t.store.UpdateMeta(t.bucket, func(tx MetaTx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if v := tx.Get(l.ShardID); v != nil {
			var err error
			out, err = decodeLease(l.ShardID, v)
			return err
		}
		out, created = l, true
		return tx.Put(l.ShardID, encodeLease(l))
	})
	return out, created, err
}

// Remove deletes a lease if its counter is still counter.
func (t metaLeaseTable) Remove(ctx context.Context, id string, counter int64) (bool, error) {
	removed := false
	err := t.store.UpdateMeta(t.bucket, func(tx MetaTx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		v := tx.Get(id)
		if v == nil {
			return nil
		}
		l, err := decodeLease(id, v)
		if err != nil {
			return err
		}
		if l.Counter != counter {
			return nil
		}
		removed = true
		return tx.Delete(id)
	})
	return removed, err
}

// Renew renews and reads the table in one transaction: on an error nothing
// was renewed.
func (t metaLeaseTable) Renew(ctx context.Context, owner string, expect map[string]int64, now time.Time) (map[string]Lease, map[string]bool, map[string]Lease, error) {
	ids := make([]string, 0, len(expect))
	for id := range expect {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var renewed, all map[string]Lease
	var changed map[string]bool
	err := t.store.UpdateMeta(t.bucket, func(tx MetaTx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		renewed, changed = make(map[string]Lease), make(map[string]bool)
		for _, id := range ids {
			v := tx.Get(id)
			if v == nil {
				changed[id] = true
				continue
			}
			l, err := decodeLease(id, v)
			if err != nil {
				return err
			}
			if l.Owner != owner || l.Counter != expect[id] {
				changed[id] = true
				continue
			}
			l.Counter++
			l.LastRenewed = now
			if err := tx.Put(id, encodeLease(l)); err != nil {
				return err
			}
			renewed[id] = l
		}
		all = make(map[string]Lease)
		return tx.ForEach(func(key string, value []byte) error {
			l, err := decodeLease(key, value)
			if err == nil {
				all[key] = l
			}
			return err
		})
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return renewed, changed, all, nil
}
