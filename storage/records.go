package storage

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Reading a shard or stream that does not exist gives empty results, not an
// error: the engine owns the list of streams, storage only holds records.

// Read returns up to maxRecords records (and at most maxBytes of payload,
// always at least one record if any exists) with Position >= from.
// Payload is len(Data)+len(PartitionKey); maxRecords or maxBytes <= 0 means
// no limit of that kind.
func (db *DB) Read(s ShardRef, from uint64, maxRecords, maxBytes int) ([]Record, error) {
	mem := db.memSnapshot(s)
	var (
		out   []Record
		total int64
	)
	// full reports whether one more record of size bytes would pass a limit.
	full := func(size int64) bool {
		return (maxRecords > 0 && len(out) >= maxRecords) ||
			(maxBytes > 0 && len(out) > 0 && total+size > int64(maxBytes))
	}
	if mem.empty() || from < mem.first().pos {
		stop := ^uint64(0) // bbolt holds everything below the memtables
		if !mem.empty() {
			stop = mem.first().pos
		}
		done := false
		err := db.view(func(tx *bolt.Tx) error {
			out, total, done = out[:0], 0, false
			b := shardBucket(tx, s)
			if b == nil {
				return nil
			}
			c := b.Cursor()
			for k, v := c.Seek(posKey(from)); k != nil; k, v = c.Next() {
				pos, err := keyPos(k)
				if err != nil {
					return err
				}
				if pos >= stop {
					return nil
				}
				if maxRecords > 0 && len(out) >= maxRecords {
					done = true
					return nil
				}
				if err := db.storedRecord(tx, s, k, v); err != nil {
					return err
				}
				arrival, err := valueArrival(v)
				if err != nil {
					return badRecord(s, k, err)
				}
				pk, ehk, data, sealed, size, err := valueParts(db.codec, v)
				if err != nil {
					return badRecord(s, k, err)
				}
				if full(size) {
					done = true
					return nil
				}
				out = append(out, copyRecord(pos, arrival, pk, ehk, data, sealed))
				total += size
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("storage: read %s: %w", s, err)
		}
		if done {
			return out, nil
		}
	}
	for _, run := range mem.from(from) {
		for i := range run {
			r := &run[i]
			if full(r.payload) {
				return out, nil
			}
			pk, ehk, data, sealed, _, err := valueParts(db.codec, r.val)
			if err != nil {
				return nil, fmt.Errorf("storage: read %s: %w", s, err)
			}
			out = append(out, copyRecord(r.pos, r.arrival, pk, ehk, data, sealed))
			total += r.payload
		}
	}
	return out, nil
}

// Bounds returns the first and last positions held, ok=false when empty.
func (db *DB) Bounds(s ShardRef) (first, last uint64, ok bool, err error) {
	mem := db.memSnapshot(s)
	defer func() {
		if err != nil || mem.empty() {
			return
		}
		// Records checkpointed since the snapshot are in both: min and max
		// are right either way.
		if !ok || mem.first().pos < first {
			first = mem.first().pos
		}
		last, ok = max(last, mem.last().pos), true
	}()
	err = db.view(func(tx *bolt.Tx) error {
		b := shardBucket(tx, s)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		fk, _ := c.First()
		if fk == nil {
			return nil
		}
		lk, _ := c.Last()
		if first, err = keyPos(fk); err != nil {
			return err
		}
		if last, err = keyPos(lk); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("storage: bounds %s: %w", s, err)
	}
	return first, last, ok, nil
}

// Head returns the first record (ok=false when empty).
func (db *DB) Head(s ShardRef) (Record, bool, error) {
	mem := db.memSnapshot(s)
	var (
		r  Record
		ok bool
	)
	err := db.view(func(tx *bolt.Tx) error {
		b := shardBucket(tx, s)
		if b == nil {
			return nil
		}
		k, v := b.Cursor().First()
		if k == nil {
			return nil
		}
		pos, err := keyPos(k)
		if err != nil {
			return err
		}
		if err := db.storedRecord(tx, s, k, v); err != nil {
			return err
		}
		if r, err = decodeValue(db.codec, pos, v); err != nil {
			return badRecord(s, k, err)
		}
		ok = true
		return nil
	})
	if err == nil && !ok && !mem.empty() {
		m := mem.first()
		r, err = decodeValue(db.codec, m.pos, m.val)
		ok = err == nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("storage: head %s: %w", s, err)
	}
	return r, ok, nil
}

// SeekArrival returns the position of the first record with Arrival >= ms
// (ok=false when none), relying on arrivals being non-decreasing.
//
// It binary-searches the position range with cursor seeks, reading only the
// clear arrival prefix: O(log range · log n), gaps in positions allowed.
func (db *DB) SeekArrival(s ShardRef, ms int64) (pos uint64, ok bool, err error) {
	mem := db.memSnapshot(s)
	defer func() {
		// bbolt holds the earlier records: only when none of them is late
		// enough can the answer be in the memtables.
		if err == nil && !ok {
			var r *memRecord
			if r, ok = mem.firstArrivalAtLeast(ms); ok {
				pos = r.pos
			}
		}
	}()
	err = db.view(func(tx *bolt.Tx) error {
		b := shardBucket(tx, s)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		// at returns the first record at or after p and its arrival.
		at := func(k, v []byte) (uint64, int64, error) {
			p, err := keyPos(k)
			if err != nil {
				return 0, 0, err
			}
			if err := db.storedRecord(tx, s, k, v); err != nil {
				return 0, 0, err
			}
			a, err := valueArrival(v)
			if err != nil {
				return 0, 0, badRecord(s, k, err)
			}
			return p, a, nil
		}
		lk, lv := c.Last()
		if lk == nil {
			return nil
		}
		last, lastArr, err := at(lk, lv)
		if err != nil || lastArr < ms {
			return err
		}
		first, firstArr, err := at(c.First())
		if err != nil {
			return err
		}
		if firstArr >= ms {
			pos, ok = first, true
			return nil
		}
		// Search the smallest x in [lo, hi] whose first record at or after x
		// is late enough; that predicate only flips once as x grows. The
		// record at/after hi is always late enough; every x < lo is not.
		lo, hi := first+1, last
		for lo < hi {
			mid := lo + (hi-lo)/2
			p, a, err := at(c.Seek(posKey(mid)))
			if err != nil {
				return err
			}
			if a >= ms {
				hi = mid
			} else {
				lo = p + 1 // no record in [mid, p) and p is too early
			}
		}
		p, _, err := at(c.Seek(posKey(hi)))
		if err != nil {
			return err
		}
		pos, ok = p, true
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("storage: seek arrival %s: %w", s, err)
	}
	return pos, ok, nil
}

// Stats returns how many records and payload bytes the shard holds, from
// its stats entry: O(1).
func (db *DB) Stats(s ShardRef) (records, bytes int64, err error) {
	mem := db.memSnapshot(s)
	err = db.view(func(tx *bolt.Tx) error {
		st, err := readStat(tx, s)
		// Memtable records below bbolt's high mark were checkpointed after
		// the snapshot and are already counted.
		mr, mb := mem.count(st.high)
		records, bytes = st.records+mr, st.bytes+mb
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("storage: stats %s: %w", s, err)
	}
	return records, bytes, nil
}

// TrimBefore deletes records from the head with Arrival < ms, at most max in
// one transaction (max <= 0: no limit); more reports that further expired
// records may remain. The stats entry changes in the same transaction. A
// damaged record stops it: records before it are deleted (more is set),
// and a call that starts at it returns its *DamageError.
func (db *DB) TrimBefore(s ShardRef, ms int64, max int) (deleted, deletedBytes int64, more bool, err error) {
	// Expired records still in a memtable (a shard idle since they came, or
	// a test's clock) are checkpointed first: trimming happens in bbolt only.
	if mem := db.memSnapshot(s); !mem.empty() && mem.first().arrival < ms {
		if err := db.exclusive(func() error { return nil }); err != nil {
			return 0, 0, false, fmt.Errorf("storage: trim %s: %w", s, err)
		}
	}
	// Look first in a read transaction: with nothing to trim, a write
	// transaction would still commit (and fsync) an unchanged file.
	var expired bool
	err = db.view(func(tx *bolt.Tx) error {
		if b := shardBucket(tx, s); b != nil {
			if k, v := b.Cursor().First(); k != nil {
				if err := db.storedRecord(tx, s, k, v); err != nil {
					return err
				}
				a, err := valueArrival(v)
				expired = a < ms
				return err
			}
		}
		return nil
	})
	if err != nil || !expired {
		if err != nil {
			err = fmt.Errorf("storage: trim %s: %w", s, err)
		}
		return 0, 0, false, err
	}
	err = db.update(func(tx *bolt.Tx) error {
		deleted, deletedBytes, more = 0, 0, false
		b := shardBucket(tx, s)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		// Re-seek First after each Delete: Next after Cursor.Delete can skip
		// a key (etcd-io/bbolt#146).
		for k, v := c.First(); k != nil; k, v = c.First() {
			// A damaged record's arrival and size cannot be trusted: stop
			// before it, keeping what was trimmed; the next call reports it.
			if err := db.storedRecord(tx, s, k, v); err != nil {
				if deleted == 0 {
					return err
				}
				more = true
				break
			}
			a, err := valueArrival(v)
			if err != nil {
				return badRecord(s, k, err)
			}
			if a >= ms {
				break
			}
			if max > 0 && deleted >= int64(max) {
				more = true
				break
			}
			n, err := valuePayload(db.codec, v)
			if err != nil {
				return badRecord(s, k, err)
			}
			if err := c.Delete(); err != nil {
				return err
			}
			deleted++
			deletedBytes += n
		}
		if deleted == 0 {
			return nil
		}
		st, err := readStat(tx, s)
		if err != nil {
			return err
		}
		st.records -= deleted
		st.bytes -= deletedBytes
		return writeStat(tx, s, st)
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("storage: trim %s: %w", s, err)
	}
	return deleted, deletedBytes, more, nil
}

// DropShard deletes a shard's bucket and all its records.
func (db *DB) DropShard(s ShardRef) error {
	err := db.exclusive(func() error {
		return db.update(func(tx *bolt.Tx) error {
			for _, top := range [][]byte{bucketRecords, bucketShardStats} {
				tb := tx.Bucket(top)
				if tb == nil {
					continue
				}
				sb := tb.Bucket([]byte(s.Stream))
				if sb == nil {
					continue
				}
				key := be32(s.Shard)
				var err error
				if sb.Bucket(key) != nil {
					err = sb.DeleteBucket(key)
				} else {
					err = sb.Delete(key)
				}
				if err != nil {
					return err
				}
				// Leave no empty stream bucket behind.
				if k, _ := sb.Cursor().First(); k == nil {
					if err := tb.DeleteBucket([]byte(s.Stream)); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("storage: drop shard %s: %w", s, err)
	}
	return nil
}

// DropStream deletes every shard bucket of a stream.
func (db *DB) DropStream(stream string) error {
	err := db.exclusive(func() error {
		return db.update(func(tx *bolt.Tx) error {
			for _, top := range [][]byte{bucketRecords, bucketShardStats} {
				tb := tx.Bucket(top)
				if tb == nil {
					continue
				}
				if err := tb.DeleteBucket([]byte(stream)); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("storage: drop stream %q: %w", stream, err)
	}
	return nil
}
