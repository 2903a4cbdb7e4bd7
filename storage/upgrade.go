package storage

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// A store of schema version 1 holds format-1 record values, which carry no
// checksum (codec.go). Open upgrades it in place before returning: after a
// checkpoint of everything the log replayed, every format-1 value is
// rewritten with its checksum, a few MiB per transaction, and the version
// becomes 2 in the last one. The codec tells the formats apart, so a crash
// midway only leaves the rest for the next Open; from version 2 on, a value
// without a checksum is damage.
//
// Upgrading rather than accepting both formats for ever: a store that may
// hold unchecked values cannot tell a damaged value that now looks like a
// format-1 one from an old value, and the upgrade costs one pass, once.

// upgradeTxBytes bounds the values one upgrade transaction rewrites: bbolt
// holds a write transaction's dirty pages in memory.
const upgradeTxBytes = 16 << 20

// upgrade rewrites every format-1 value and sets the schema version to 2.
func (db *DB) upgrade() error {
	return db.exclusive(func() error {
		var refs []ShardRef
		err := db.view(func(tx *bolt.Tx) error {
			recs := tx.Bucket(bucketRecords)
			return recs.ForEachBucket(func(stream []byte) error {
				return recs.Bucket(stream).ForEachBucket(func(shard []byte) error {
					if len(shard) != 4 {
						return fmt.Errorf("%w: stream %q has shard bucket %x", ErrCorrupt, stream, shard)
					}
					refs = append(refs, ShardRef{Stream: string(stream), Shard: beUint32(shard)})
					return nil
				})
			})
		})
		if err != nil {
			return err
		}
		for _, ref := range refs {
			if err := db.upgradeShard(ref); err != nil {
				return fmt.Errorf("upgrade %s: %w", ref, err)
			}
		}
		err = db.update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketSystem).Put(keySchema, be32(schemaVersion))
		})
		if err != nil {
			return err
		}
		db.legacy = false
		return nil
	})
}

// upgradeShard rewrites the shard's format-1 values, upgradeTxBytes at a time.
func (db *DB) upgradeShard(ref ShardRef) error {
	for from, more := uint64(0), true; more; {
		more = false
		err := db.update(func(tx *bolt.Tx) error {
			b := shardBucket(tx, ref)
			if b == nil {
				return nil
			}
			// Collect first: a Put moves the cursor's pages under it.
			var keys, vals [][]byte
			size := 0
			c := b.Cursor()
			for k, v := c.Seek(posKey(from)); k != nil; k, v = c.Next() {
				pos, err := keyPos(k)
				if err != nil {
					return err
				}
				if err := storedValue(tx, v); err != nil {
					return err
				}
				if size >= upgradeTxBytes {
					from, more = pos, true
					break
				}
				if !isV1(v) {
					continue
				}
				if len(v) < v1HeaderLen {
					return damage(ref, k, "malformed value")
				}
				keys = append(keys, posKey(pos))
				vals = append(vals, upgradeValue(k, v))
				size += len(v)
			}
			b.FillPercent = shardFillPercent
			for i := range keys {
				if err := b.Put(keys[i], vals[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// upgradeValue turns the format-1 value v stored under key k into format
// 2: the rest of the layout is the same, after the tag and checksum.
func upgradeValue(k, v []byte) []byte {
	nv := make([]byte, headerLen-v1HeaderLen+len(v))
	nv[0] = valueTag
	copy(nv[1+crcLen:], v)
	binary.BigEndian.PutUint32(nv[1:], recordCRC(k, nv))
	return nv
}
