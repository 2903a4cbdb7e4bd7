// Package storage owns shardscope's durable state: one bbolt file holding
// every shard's records (a bucket per shard, keyed by big-endian uint64
// position), stream metadata and consumer leases, with a write-ahead log
// beside it that makes appends durable with one fdatasync and reaches bbolt
// in checkpoints (wal.go). It knows nothing of Kinesis rules; the engine
// decides what to write.
package storage

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// File layout (top-level buckets):
//
//	system      "schema" → 4-byte big-endian version (schemaVersion)
//	records     stream → shard (4-byte big-endian index) → 8-byte big-endian
//	            position → value (see codec.go)
//	shardstats  stream → shard (4-byte big-endian index) → shardStat, kept in
//	            the transactions that append and trim so Stats is O(1)
//	meta        name → key → value, for the engine (streams, leases, ...)
var (
	bucketSystem     = []byte("system")
	bucketRecords    = []byte("records")
	bucketShardStats = []byte("shardstats")
	bucketMeta       = []byte("meta")
	keySchema        = []byte("schema")
)

// schemaVersion 2 stores every record with a checksum (codec.go); a store
// of version 1 is upgraded when opened.
const (
	schemaVersion   = 2
	schemaVersionV1 = 1
)

// SyncMode says when a commit reaches the disk.
type SyncMode int

const (
	// SyncAlways fsyncs every commit before acknowledging it (the default).
	SyncAlways SyncMode = iota
	// SyncNone never fsyncs: fast, but a machine crash may lose acknowledged records.
	SyncNone
)

// String returns "fsync" or "none".
func (m SyncMode) String() string {
	switch m {
	case SyncAlways:
		return "fsync"
	case SyncNone:
		return "none"
	}
	return fmt.Sprintf("SyncMode(%d)", int(m))
}

// ParseSyncMode reads "always"/"fsync" or "none" (case-insensitive).
func ParseSyncMode(s string) (SyncMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "always", "fsync":
		return SyncAlways, nil
	case "none":
		return SyncNone, nil
	}
	return 0, fmt.Errorf("storage: unknown sync mode %q (want \"always\", \"fsync\" or \"none\")", s)
}

// Options configure Open. The zero value is valid.
type Options struct {
	// Sync is the durability mode; default SyncAlways.
	Sync SyncMode
	// LockTimeout bounds how long Open waits for a file held by another
	// process; default 1s. A negative value tries once.
	LockTimeout time.Duration
	// Codec seals record payloads; default the identity codec.
	Codec Codec
	// MaxBatchRecords caps how many records one group commit gathers; default 20000.
	// A single Append larger than the cap is still committed whole.
	MaxBatchRecords int

	rotateBytes int64         // tests: checkpoint after this many bytes, not 8 MiB
	ckptRetry   time.Duration // tests: first retry of a failed checkpoint
	recorder    *fsRecorder   // tests: observes file operations
	hooks       *testHooks    // tests: hooks in place from the start
}

// pageSize is the bbolt page size of new stores (an existing file keeps its
// own). Checkpoints write several MiB at a time and bbolt issues one write
// per page, so 64 KiB pages instead of the OS's 4 KiB cut the checkpoint's
// cost about in half (1 KiB records on the wire: +15 %).
const pageSize = 64 << 10

const (
	defaultLockTimeout     = time.Second
	defaultMaxBatchRecords = 20000
)

// Errors returned by Open (wrapped with the path; test with errors.Is).
var (
	ErrLocked  = errors.New("database file is in use by another process")
	ErrCorrupt = errors.New("database file is corrupt or not a shardscope store")
	ErrSchema  = errors.New("database schema version is not supported")
	ErrClosed  = errors.New("store is closed")
)

// ShardRef names a shard's record bucket.
type ShardRef struct {
	Stream string
	Shard  uint32
}

// String returns "stream/shard", for messages.
func (s ShardRef) String() string { return fmt.Sprintf("%s/%d", s.Stream, s.Shard) }

// Record is a stored record. Bytes are owned by the caller after a read.
type Record struct {
	Position     uint64
	Arrival      int64 // Unix milliseconds; non-decreasing within a shard
	PartitionKey string
	// ExplicitHashKey is the writer's explicit hash key, or nil.
	ExplicitHashKey []byte
	Data            []byte
	// Sealed, on a record read back, is its sealed body when it was written
	// with Append.Seal: PartitionKey, ExplicitHashKey and Data are then
	// empty until Unseal. Ignored on writes.
	Sealed []byte
}

// Append is a set of records for one shard, in position order.
type Append struct {
	Shard   ShardRef
	Records []Record
	// Seal, when set, seals each record's partition key, explicit hash key
	// and data before they are written anywhere; arrival and position stay
	// in clear.
	Seal Sealer
}

// DB is an open store.
type DB struct {
	path     string
	sync     SyncMode
	codec    Codec
	maxBatch int
	bolt     *bolt.DB
	// legacy: the store may still hold format-1 values (no checksum), until
	// Open has upgraded them. Set during Open only.
	legacy bool

	// The group-commit queue: Append pushes, the committer goroutine pops.
	mu      sync.Mutex
	cond    *sync.Cond // queue became non-empty, or closing
	queue   []*appendReq
	closing bool
	stopped chan struct{} // closed when the committer has drained and exited

	// The log and memtables (wal.go, memtable.go). wal, walBuf and high
	// belong to the committer goroutine; mem, walErr and the checkpointer's
	// fields are guarded by memMu.
	rotateBytes int64 // memtable size that starts a checkpoint
	wal         *walSegment
	active      *memtable // the last of mem
	walBuf      []byte
	high        map[ShardRef]uint64
	memMu       sync.RWMutex
	memCond     *sync.Cond // a memtable was frozen or checkpointed, or stop
	mem         []*memtable
	walErr      error
	ckptErr     error
	ckptStop    bool
	ckptWake    chan struct{} // closed at stop: ends a retry's wait
	ckptKick    chan struct{} // retry now (Close)
	ckptRetry   time.Duration
	ckptStopped chan struct{}
	// spareMu guards the spare segment file and prepared, the header the
	// checkpointer already wrote (and synced) into it for the segment the
	// next rotation will create (wal.go, prepareSpare).
	spareMu  sync.Mutex
	prepared preparedSpare
	rec      *fsRecorder
	runErr   error // from the final checkpoint at Close

	closeOnce sync.Once
	closeErr  error

	commits atomic.Uint64
	hooks   atomic.Pointer[testHooks]
}

// testHooks let in-package tests pause and observe the committer.
type testHooks struct {
	beforeCommit     func(batch []*appendReq)
	failCommit       func() error // an error fails the group commit
	afterCommit      func(batch []*appendReq, err error)
	beforeCheckpoint func(seg uint64) error // an error stops checkpoints
}

// Open opens or creates the store at path. The parent directory must exist.
// Errors name the path and wrap ErrLocked, ErrCorrupt or ErrSchema where
// they apply. A new store appears whole or not at all (create.go); an
// existing zero-length file, or a bbolt file without buckets, is
// initialised as a new store (there is nothing in it to lose).
func Open(path string, opts Options) (*DB, error) {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = defaultLockTimeout
	}
	if opts.MaxBatchRecords <= 0 {
		opts.MaxBatchRecords = defaultMaxBatchRecords
	}
	if opts.Codec == nil {
		opts.Codec = identityCodec{}
	}
	if opts.Sync != SyncAlways && opts.Sync != SyncNone {
		return nil, fmt.Errorf("open %s: unknown sync mode %d", path, int(opts.Sync))
	}
	if dir := filepath.Dir(path); dir != "" {
		switch st, err := os.Stat(dir); {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("open %s: directory %s does not exist: %w", path, dir, fs.ErrNotExist)
		case err != nil:
			return nil, fmt.Errorf("open %s: %w", path, err)
		case !st.IsDir():
			return nil, fmt.Errorf("open %s: %s is not a directory", path, dir)
		}
	}

	noSync := opts.Sync == SyncNone
	bopts := &bolt.Options{
		Timeout:    max(opts.LockTimeout, time.Millisecond),
		NoSync:     noSync,
		NoGrowSync: noSync,
		// NoFreelistSync stays off even with SyncNone: without a synced
		// freelist bbolt rebuilds it by scanning the whole file on every
		// open and on every rolled-back write transaction (an UpdateMeta
		// whose fn refuses, a Check), which costs far more than writing it.
		NoFreelistSync: false,
		// Trimming frees many pages; the hashmap freelist stays fast when
		// fragmented where the array one degrades.
		FreelistType: bolt.FreelistMapType,
		PageSize:     pageSize,
	}
	lockTimeout := opts.LockTimeout
	var file *os.File
	bopts.OpenFile = func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, mode)
		if err != nil {
			return nil, err
		}
		if err := lockFile(f, lockTimeout); err != nil {
			f.Close()
			return nil, err
		}
		if err := precheckOpen(f); err != nil {
			f.Close()
			return nil, err
		}
		file = f
		return f, nil
	}

	if err := createStore(path, bopts); err != nil {
		return nil, openError(path, err)
	}
	bdb, err := openBolt(path, bopts, &file)
	if err != nil {
		return nil, openError(path, err)
	}
	db := &DB{
		path:        path,
		sync:        opts.Sync,
		codec:       opts.Codec,
		maxBatch:    opts.MaxBatchRecords,
		bolt:        bdb,
		stopped:     make(chan struct{}),
		ckptStopped: make(chan struct{}),
		high:        make(map[ShardRef]uint64),
		rotateBytes: cmp.Or(opts.rotateBytes, defaultRotateBytes),
		ckptRetry:   cmp.Or(opts.ckptRetry, defaultCheckpointRetry),
		ckptWake:    make(chan struct{}),
		ckptKick:    make(chan struct{}, 1),
		rec:         opts.recorder,
	}
	if err := db.initSchema(); err != nil {
		bdb.Close()
		return nil, openError(path, err)
	}
	// Everything is checked before the log files change at all.
	var plan *walPlan
	err = checkSpare(path)
	if err == nil {
		plan, err = db.replayWAL()
	}
	if err == nil {
		err = db.applyWAL(plan)
	}
	if err == nil {
		db.wal, err = db.createSegment(plan.next)
	}
	if err != nil {
		bdb.Close()
		return nil, openError(path, err)
	}
	db.active = newMemtable(plan.next)
	db.mem = append(plan.mems, db.active)
	db.cond = sync.NewCond(&db.mu)
	db.memCond = sync.NewCond(&db.memMu)
	if opts.hooks != nil {
		db.hooks.Store(opts.hooks)
	}
	go db.checkpointer()
	go db.run()
	if db.legacy {
		if err := db.upgrade(); err != nil {
			db.Close()
			return nil, openError(path, fmt.Errorf("add checksums to the records of a version %d store: %w", schemaVersionV1, err))
		}
	}
	return db, nil
}

// checkSpare refuses a spare segment name that is not a regular file
// (recycling would rename it into the log).
func checkSpare(path string) error {
	st, err := os.Lstat(sparePath(path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file: move it away", sparePath(path))
	}
	return nil
}

// openBolt is bolt.Open with panics and memory faults (bbolt reading a
// corrupt file) turned into ErrCorrupt.
func openBolt(path string, bopts *bolt.Options, file **os.File) (bdb *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			// bbolt never returned its DB, so release the lock ourselves
			// (the mapping, if any, is leaked: there is no handle to it).
			if *file != nil {
				(*file).Close()
			}
			bdb, err = nil, fmt.Errorf("%w: bbolt: %v", ErrCorrupt, p)
		}
	}()
	return bolt.Open(path, 0o600, bopts)
}

// openError words an Open failure: always the path, and the sentinel to test.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, ErrLocked), errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("open %s: %w (is another shardscope running?)", path, ErrLocked)
	case errors.Is(err, ErrCorrupt), errors.Is(err, ErrSchema):
		return fmt.Errorf("open %s: %w", path, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("open %s: %w (%w)", path, ErrCorrupt, err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return err // already "open <path>: ..."
	}
	return fmt.Errorf("open %s: %w", path, err)
}

// initSchema checks the layout of an opened file, creating it in a new one
// (a bbolt file without any bucket).
func (db *DB) initSchema() error {
	need := false
	err := db.view(func(tx *bolt.Tx) error {
		sys := tx.Bucket(bucketSystem)
		if sys == nil {
			if k, _ := tx.Cursor().First(); k != nil {
				return fmt.Errorf("%w: it has bucket %q but no %q bucket", ErrCorrupt, k, bucketSystem)
			}
			need = true
			return nil
		}
		v := sys.Get(keySchema)
		if len(v) != 4 {
			return fmt.Errorf("%w: no schema version in the %q bucket", ErrCorrupt, bucketSystem)
		}
		if ver := beUint32(v); ver == schemaVersionV1 {
			db.legacy = true
		} else if ver != schemaVersion {
			return fmt.Errorf("%w: file has version %d, this build reads %d", ErrSchema, ver, schemaVersion)
		}
		// A store is created whole in one transaction, so a missing bucket
		// means damage: refuse rather than write into a damaged file.
		for _, name := range [][]byte{bucketRecords, bucketShardStats, bucketMeta} {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: no %q bucket", ErrCorrupt, name)
			}
		}
		return nil
	})
	if err != nil || !need {
		return err
	}
	return db.update(createSchema)
}

// Close stops the committer after pending appends and closes the file.
// Closing again returns nil.
func (db *DB) Close() error {
	first := false
	db.closeOnce.Do(func() {
		first = true
		db.mu.Lock()
		db.closing = true
		db.cond.Broadcast()
		db.mu.Unlock()
		<-db.stopped
		db.closeErr = errors.Join(db.runErr, db.bolt.Close())
	})
	if !first {
		return nil
	}
	return db.closeErr
}

// WriteBlocked returns why appends are refused right now, or nil: a
// checkpoint that keeps failing (a full disk: appends resume by themselves
// once one succeeds) or a log that cannot be written any more (until a
// restart).
func (db *DB) WriteBlocked() error { return db.logErr() }

// Path returns the file's path.
func (db *DB) Path() string { return db.path }

// SyncMode returns the durability mode.
func (db *DB) SyncMode() SyncMode { return db.sync }

// Commits returns how many group commits (log frames, or bbolt transactions
// for appends that took the direct path) succeeded since Open; with Append calls counted by the caller it
// shows how well commits are grouped.
func (db *DB) Commits() uint64 { return db.commits.Load() }

// view and update run a bbolt transaction with a panic or memory fault
// inside bbolt (a corrupt page) turned into an error wrapping ErrCorrupt,
// and bbolt's "not open" turned into ErrClosed.
func (db *DB) view(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverCorrupt(&err)
	return closedErr(db.bolt.View(fn))
}

func (db *DB) update(fn func(*bolt.Tx) error) (err error) {
	if db.rec != nil {
		db.rec.boltBegin()
		defer func() { db.rec.boltEnd(err) }()
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverCorrupt(&err)
	return closedErr(db.bolt.Update(fn))
}

func recoverCorrupt(err *error) {
	if p := recover(); p != nil {
		if up, ok := p.(userPanic); ok {
			panic(up.v) // the caller's own callback panicked: not ours to hide
		}
		*err = fmt.Errorf("%w: bbolt: %v", ErrCorrupt, p)
	}
}

// userPanic carries a panic from a caller's callback through recoverCorrupt.
type userPanic struct{ v any }

func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
