package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"

	bolt "go.etcd.io/bbolt"
)

// shardFillPercent is the split point of shard buckets. Positions only grow,
// so every insert lands on the right-most page and the room bbolt's default
// (0.5) leaves on the left half of a split is never used: fill pages fully.
const shardFillPercent = 1.0

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func beUint32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

func posKey(p uint64) []byte { return binary.BigEndian.AppendUint64(nil, p) }

func keyPos(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("%w: record key of %d bytes", ErrCorrupt, len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}

// shardStat is a shard's shardstats entry.
type shardStat struct {
	records, bytes int64
	// high is one past the highest position ever appended (saturating), so
	// an append starting at or above it cannot overwrite a record.
	high uint64
}

const shardStatLen = 24

func (s shardStat) encode() []byte {
	b := make([]byte, 0, shardStatLen)
	b = binary.BigEndian.AppendUint64(b, uint64(s.records))
	b = binary.BigEndian.AppendUint64(b, uint64(s.bytes))
	return binary.BigEndian.AppendUint64(b, s.high)
}

func decodeShardStat(b []byte) (shardStat, error) {
	if len(b) != shardStatLen {
		return shardStat{}, fmt.Errorf("%w: shard stats entry of %d bytes", ErrCorrupt, len(b))
	}
	return shardStat{
		records: int64(binary.BigEndian.Uint64(b)),
		bytes:   int64(binary.BigEndian.Uint64(b[8:])),
		high:    binary.BigEndian.Uint64(b[16:]),
	}, nil
}

// nextHigh is high after appending position last.
func nextHigh(high, last uint64) uint64 {
	if last == math.MaxUint64 {
		return math.MaxUint64
	}
	return max(high, last+1)
}

// shardBucket is the shard's record bucket, nil when it does not exist.
func shardBucket(tx *bolt.Tx, s ShardRef) *bolt.Bucket {
	recs := tx.Bucket(bucketRecords)
	if recs == nil {
		return nil
	}
	sb := recs.Bucket([]byte(s.Stream))
	if sb == nil {
		return nil
	}
	return sb.Bucket(be32(s.Shard))
}

// readStat returns the shard's stats entry (zero when absent).
func readStat(tx *bolt.Tx, s ShardRef) (shardStat, error) {
	stats := tx.Bucket(bucketShardStats)
	if stats == nil {
		return shardStat{}, nil
	}
	sb := stats.Bucket([]byte(s.Stream))
	if sb == nil {
		return shardStat{}, nil
	}
	v := sb.Get(be32(s.Shard))
	if v == nil {
		return shardStat{}, nil
	}
	return decodeShardStat(v)
}

// writeStat stores the shard's stats entry.
func writeStat(tx *bolt.Tx, s ShardRef, st shardStat) error {
	stats, err := tx.CreateBucketIfNotExists(bucketShardStats)
	if err != nil {
		return err
	}
	sb, err := stats.CreateBucketIfNotExists([]byte(s.Stream))
	if err != nil {
		return err
	}
	return sb.Put(be32(s.Shard), st.encode())
}

// storedValue rejects a value that cannot have come from this file before
// anything copies it: a corrupt page can claim a length of gigabytes, and
// allocating that would kill the process instead of failing the call. Then
// it reads the last byte, so a slice running off the mapping faults now,
// where view/update recover it. Only for values read from pages, before the
// transaction has Put anything.
func storedValue(tx *bolt.Tx, v []byte) error {
	if int64(len(v)) > tx.Size() {
		return fmt.Errorf("%w: a value of %d bytes in a file of %d", ErrCorrupt, len(v), tx.Size())
	}
	if len(v) > 0 {
		runtime.KeepAlive(v[len(v)-1])
	}
	return nil
}

// storedRecord vets a record value read from a page (storedValue), then
// checks it against its key (checkValue).
func (db *DB) storedRecord(tx *bolt.Tx, ref ShardRef, k, v []byte) error {
	if err := storedValue(tx, v); err != nil {
		return err
	}
	return checkValue(ref, k, v, db.legacy)
}

// badRecord names the record in an error from decoding a value that passed
// its checksum (a codec that refuses it, or a bug).
func badRecord(ref ShardRef, k []byte, err error) error {
	reason := err.Error()
	if errors.Is(err, errBadValue) {
		reason = "malformed value"
	}
	return damage(ref, k, reason)
}
