package consumers

import (
	"context"
	"sync"
)

// ShardEnd is the checkpoint of a shard that has been read to its end: its
// children may be read.
const ShardEnd = "SHARD_END"

// CheckpointStore keeps, per application and shard, how far the
// application has processed: a sequence number, ShardEnd, or "" for none.
type CheckpointStore interface {
	// Load returns the shard's checkpoint, "" when there is none.
	Load(ctx context.Context, app, shardID string) (checkpoint string, err error)
	// Save records the shard's checkpoint.
	Save(ctx context.Context, app, shardID, checkpoint string) error
}

// MemoryCheckpoints is a CheckpointStore in memory, for tests and for runs
// that need not survive a restart. The zero value is ready to use and it is
// safe for concurrent use.
type MemoryCheckpoints struct {
	mu sync.Mutex
	m  map[[2]string]string
}

var _ CheckpointStore = (*MemoryCheckpoints)(nil)

// NewMemoryCheckpoints returns an empty MemoryCheckpoints.
func NewMemoryCheckpoints() *MemoryCheckpoints { return &MemoryCheckpoints{} }

// Load returns the shard's checkpoint, "" when there is none.
func (m *MemoryCheckpoints) Load(_ context.Context, app, shardID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[[2]string{app, shardID}], nil
}

// Save records the shard's checkpoint.
func (m *MemoryCheckpoints) Save(_ context.Context, app, shardID, checkpoint string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[[2]string]string)
	}
	m.m[[2]string{app, shardID}] = checkpoint
	return nil
}

// MetaStore is a small key-value store of named buckets. *storage.DB has
// exactly these methods.
type MetaStore interface {
	// GetMeta returns the value under key, or nil when absent.
	GetMeta(bucket, key string) ([]byte, error)
	// PutMeta stores value under key.
	PutMeta(bucket, key string, value []byte) error
}

// MetaCheckpoints is a CheckpointStore over a MetaStore: one bucket per
// application, named CheckpointBucket(app), keyed by shard ID.
type MetaCheckpoints struct {
	store MetaStore
}

var _ CheckpointStore = (*MetaCheckpoints)(nil)

// NewMetaCheckpoints returns a CheckpointStore keeping checkpoints in store.
func NewMetaCheckpoints(store MetaStore) *MetaCheckpoints { return &MetaCheckpoints{store: store} }

// CheckpointBucket returns the metadata bucket holding an application's
// checkpoints: "checkpoints/<app>".
func CheckpointBucket(app string) string { return "checkpoints/" + app }

// Load returns the shard's checkpoint, "" when there is none.
func (m *MetaCheckpoints) Load(ctx context.Context, app, shardID string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	v, err := m.store.GetMeta(CheckpointBucket(app), shardID)
	if err != nil {
		return "", err
	}
	return string(v), nil
}

// Save records the shard's checkpoint.
func (m *MetaCheckpoints) Save(_ context.Context, app, shardID, checkpoint string) error {
	return m.store.PutMeta(CheckpointBucket(app), shardID, []byte(checkpoint))
}
