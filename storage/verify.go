package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StoreReport is what CheckStore found in a store.
type StoreReport struct {
	Path     string
	Version  uint32 // schema version; 1 means records without checksums
	PageSize int
	Pages    int // reachable bbolt pages walked
	Streams  int
	Shards   int
	Records  int64 // records in the bbolt file
	Bytes    int64 // their payload (data + partition key)
	// Unchecked counts records of a version-1 store that have no checksum
	// yet (the next Open adds them).
	Unchecked int64
	Damaged   int64 // records that fail their checksum or do not decode
	Segments  []SegmentReport
	// Problems lists the damage found, at most maxProblems entries;
	// Damage() is true when there is any.
	Problems []string
	more     int // problems beyond maxProblems
}

const maxProblems = 20

// Damage reports whether the check found any damage.
func (r *StoreReport) Damage() bool { return len(r.Problems) > 0 }

// Unlisted is how many problems were found beyond those listed.
func (r *StoreReport) Unlisted() int { return r.more }

func (r *StoreReport) problem(format string, a ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, a...))
	} else {
		r.more++
	}
}

// CheckStore verifies the store at path without changing it: the page
// structure, bbolt's consistency check, every record's checksum against
// its shard's stats, and every log segment's frames and records. The store
// must not be open elsewhere (ErrLocked otherwise). Damage goes into the
// report; the error is for a check that could not run.
func CheckStore(path string, lockTimeout time.Duration) (rep *StoreReport, err error) {
	rep = &StoreReport{Path: path}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f, lockTimeout); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("check %s: %w (is another shardscope running?)", path, ErrLocked)
		}
		return nil, fmt.Errorf("check %s: %w", path, err)
	}
	m, err := precheck(f)
	if err == errEmptyFile {
		f.Close()
		return rep, nil // a store never written: Open makes it a new one
	}
	if err == nil {
		rep.PageSize = int(m.pageSize)
		rep.Pages, err = walkPages(f, false)
	}
	if err != nil {
		f.Close()
		if !errors.Is(err, ErrCorrupt) {
			return nil, fmt.Errorf("check %s: %w", path, err)
		}
		rep.problem("%v", err)
		return rep, nil // bbolt cannot be trusted with this file
	}
	var file *os.File
	bdb, err := openBolt(path, &bolt.Options{ReadOnly: true, Timeout: time.Millisecond,
		// The descriptor already locked: bbolt's shared flock on it keeps
		// writers out until Close.
		OpenFile: func(string, int, os.FileMode) (*os.File, error) { file = f; return f, nil },
	}, &file)
	if err != nil {
		if file == nil {
			f.Close()
		}
		rep.problem("%v", err)
		return rep, nil
	}
	defer bdb.Close()
	if err := rep.checkBolt(bdb); err != nil {
		rep.problem("%v", err)
		return rep, nil
	}
	rep.checkLog(bdb, path)
	return rep, nil
}

// checkBolt fills the report from the bbolt file. An error is damage that
// stopped the walk.
func (r *StoreReport) checkBolt(bdb *bolt.DB) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverCorrupt(&err)
	err = bdb.View(func(tx *bolt.Tx) error {
		if err := touchAll(tx, tx.Cursor()); err != nil {
			return err
		}
		sys := tx.Bucket(bucketSystem)
		if sys == nil {
			return fmt.Errorf("%w: no %q bucket", ErrCorrupt, bucketSystem)
		}
		if v := sys.Get(keySchema); len(v) == 4 {
			r.Version = beUint32(v)
		}
		if r.Version != schemaVersion && r.Version != schemaVersionV1 {
			return fmt.Errorf("%w: schema version %d", ErrCorrupt, r.Version)
		}
		// The log's checkpoint entry is read and checked by checkLog.
		recs := tx.Bucket(bucketRecords)
		if recs == nil || tx.Bucket(bucketShardStats) == nil || tx.Bucket(bucketMeta) == nil {
			return fmt.Errorf("%w: a top-level bucket is missing", ErrCorrupt)
		}
		legacy := r.Version == schemaVersionV1
		err := recs.ForEachBucket(func(stream []byte) error {
			r.Streams++
			sb := recs.Bucket(stream)
			return sb.ForEachBucket(func(shard []byte) error {
				if len(shard) != 4 {
					r.problem("stream %q has a shard bucket named %x", stream, shard)
					return nil
				}
				r.Shards++
				ref := ShardRef{Stream: string(stream), Shard: beUint32(shard)}
				var got shardStat
				c := sb.Bucket(shard).Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					got.records++
					r.Records++
					if _, err := keyPos(k); err != nil || v == nil {
						r.Damaged++
						r.problem("%s holds key %x that is not a record", ref, k)
						continue
					}
					if err := checkValue(ref, k, v, legacy); err != nil {
						r.Damaged++
						r.problem("%v", err)
						continue
					}
					if isV1(v) {
						r.Unchecked++
					}
					// The payload cannot be counted without the codec when
					// records are sealed: count the identity layout.
					if n, err := valuePayload(identityCodec{}, v); err == nil {
						got.bytes += n
						r.Bytes += n
					}
				}
				want, err := readStat(tx, ref)
				if err != nil {
					r.problem("%s: %v", ref, err)
				} else if got.records != want.records {
					r.problem("%s: its stats say %d records, it holds %d", ref, want.records, got.records)
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		for err := range tx.Check() {
			r.problem("bbolt check: %v", err)
		}
		return nil
	})
	return err
}

// checkLog verifies the write-ahead log beside the store exactly as Open
// would replay it (inspectLog, the same code as VerifyLog and Repair), and
// every logged record's checksum, which replay leaves to reads.
func (r *StoreReport) checkLog(bdb *bolt.DB, path string) {
	db := &DB{path: path, bolt: bdb, codec: identityCodec{}}
	rep, _, err := db.inspectLog(false)
	if err != nil && !rep.Damaged() {
		// Not a damaged segment (those are listed below): a bad checkpoint
		// entry, or a log that could not be read.
		r.problem("write-ahead log: %v", err)
	}
	for _, sr := range rep.Segments {
		if sr.Damage != "" {
			r.problem("write-ahead log %s: %s", sr.Name, sr.Damage)
		}
		if !sr.Checkpointed {
			r.checkLoggedRecords(segmentPath(path, sr.Seg), sr)
		}
	}
	r.Segments = rep.Segments
}

// checkLoggedRecords checks the checksum of every record in the frames of
// one segment that check out.
func (r *StoreReport) checkLoggedRecords(path string, sr SegmentReport) {
	data, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.problem("%s: %v", sr.Name, err)
		}
		return
	}
	for _, f := range scanSegment(data, sr.Seg).frames {
		_ = decodeFrame(f.payload, func(ref ShardRef, pos []uint64, vals [][]byte) error {
			for j, v := range vals {
				if err := checkValue(ref, posKey(pos[j]), v, r.Version == schemaVersionV1); err != nil {
					r.Damaged++
					r.problem("%s: %v", sr.Name, err)
				}
			}
			return nil
		})
	}
}
