package storage

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	bolt "go.etcd.io/bbolt"
)

// Check runs bbolt's consistency check; tests call it at cleanup. It also
// verifies every record's checksum and recounts every shard against its
// stats entry, so it reads the whole file: not for hot paths. Damage it
// finds wraps ErrCorrupt (a damaged record is a *DamageError).
//
// It runs in a write transaction that it rolls back, holding appends off
// meanwhile: bbolt documents tx.Check in a read transaction as unsafe while
// a writer commits (both touch the freelist).
func (db *DB) Check() error {
	// Check what is in bbolt with everything appended so far in it.
	if err := db.exclusive(func() error { return nil }); err != nil {
		return err
	}
	err := db.update(func(tx *bolt.Tx) error {
		// bbolt's cursors and tx.Check follow page references blindly: a
		// loop would run them out of memory. Check the structure first.
		if err := walkFile(db.path); err != nil {
			return err
		}
		// tx.Check runs in a goroutine of bbolt's where a fault on a corrupt
		// page cannot be recovered. Walk everything here first, where it can.
		if err := touchAll(tx, tx.Cursor()); err != nil {
			return err
		}
		if err := db.checkStats(tx); err != nil {
			return corrupt(err)
		}
		var first error
		for err := range tx.Check() { // drain: the checker goroutine sends them all
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return fmt.Errorf("storage: bbolt check: %w (%w)", first, ErrCorrupt)
		}
		return errRollback
	})
	if errors.Is(err, errRollback) {
		return nil
	}
	return err
}

var errRollback = errors.New("rollback")

// walkFile runs walkPages on the file at path. Under a write transaction
// the file holds exactly what the transaction sees: bbolt writes pages
// with pwrite, never through its mapping.
func walkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = walkPages(f, false)
	return err
}

// corrupt marks a finding of Check as damage.
func corrupt(err error) error {
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, ErrCorrupt)
}

// checkStats verifies that every shard's stats entry matches its records.
func (db *DB) checkStats(tx *bolt.Tx) error {
	sys := tx.Bucket(bucketSystem)
	if sys == nil || len(sys.Get(keySchema)) != 4 || (beUint32(sys.Get(keySchema)) != schemaVersion &&
		!(db.legacy && beUint32(sys.Get(keySchema)) == schemaVersionV1)) {
		return fmt.Errorf("storage: check: bad or missing schema version")
	}
	recs, stats := tx.Bucket(bucketRecords), tx.Bucket(bucketShardStats)
	if recs == nil || stats == nil || tx.Bucket(bucketMeta) == nil {
		return fmt.Errorf("storage: check: a top-level bucket is missing")
	}
	seen := make(map[ShardRef]bool)
	err := recs.ForEachBucket(func(stream []byte) error {
		sb := recs.Bucket(stream)
		if k, v := sb.Cursor().First(); k != nil && v != nil {
			return fmt.Errorf("storage: check: stream %q holds key %x outside a shard bucket", stream, k)
		}
		return sb.ForEachBucket(func(shard []byte) error {
			if len(shard) != 4 {
				return fmt.Errorf("storage: check: stream %q has shard bucket %x", stream, shard)
			}
			ref := ShardRef{Stream: string(stream), Shard: beUint32(shard)}
			seen[ref] = true
			var got shardStat
			var last uint64
			err := sb.Bucket(shard).ForEach(func(k, v []byte) error {
				pos, err := keyPos(k)
				if err != nil {
					return err
				}
				if v == nil {
					return fmt.Errorf("nested bucket at %d", pos)
				}
				if err := db.storedRecord(tx, ref, k, v); err != nil {
					return err
				}
				if _, err := valueArrival(v); err != nil {
					return badRecord(ref, k, err)
				}
				n, err := valuePayload(db.codec, v)
				if err != nil {
					return badRecord(ref, k, err)
				}
				got.records++
				got.bytes += n
				last = pos
				return nil
			})
			if err != nil {
				return fmt.Errorf("storage: check %s: %w", ref, err)
			}
			want, err := readStat(tx, ref)
			if err != nil {
				return fmt.Errorf("storage: check %s: %w", ref, err)
			}
			if got.records != want.records || got.bytes != want.bytes {
				return fmt.Errorf("storage: check %s: stats say %d records/%d bytes, the bucket holds %d/%d",
					ref, want.records, want.bytes, got.records, got.bytes)
			}
			if got.records > 0 && nextHigh(0, last) > want.high {
				return fmt.Errorf("storage: check %s: last position %d is not below the recorded high %d", ref, last, want.high)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	// Stats entries without records must be empty ones.
	return stats.ForEachBucket(func(stream []byte) error {
		return stats.Bucket(stream).ForEach(func(k, v []byte) error {
			if len(k) != 4 {
				return fmt.Errorf("storage: check: stats of stream %q hold key %x", stream, k)
			}
			ref := ShardRef{Stream: string(stream), Shard: beUint32(k)}
			if seen[ref] {
				return nil
			}
			st, err := decodeShardStat(v)
			if err != nil {
				return fmt.Errorf("storage: check %s: %w", ref, err)
			}
			if st.records != 0 || st.bytes != 0 {
				return fmt.Errorf("storage: check %s: stats say %d records/%d bytes but there is no shard bucket", ref, st.records, st.bytes)
			}
			return nil
		})
	})
}

// touchAll reads the first and last byte of every key and value of every
// bucket under c: a slice running off the mapping faults here, in a
// goroutine where update turns the fault into ErrCorrupt.
func touchAll(tx *bolt.Tx, c *bolt.Cursor) error {
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := storedValue(tx, k); err != nil {
			return err
		}
		if v == nil {
			if b := c.Bucket().Bucket(k); b != nil {
				if err := touchAll(tx, b.Cursor()); err != nil {
					return err
				}
			}
			continue
		}
		if err := storedValue(tx, v); err != nil {
			return err
		}
		if len(v) > 0 {
			runtime.KeepAlive(v[0])
		}
	}
	return nil
}
