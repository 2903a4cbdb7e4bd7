package storage

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Metadata lives in meta → name → key. Name buckets are created on first
// write; reading a missing one finds nothing.

func metaBucket(tx *bolt.Tx, name string) *bolt.Bucket {
	m := tx.Bucket(bucketMeta)
	if m == nil {
		return nil
	}
	return m.Bucket([]byte(name))
}

func createMetaBucket(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	m, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return nil, err
	}
	return m.CreateBucketIfNotExists([]byte(name))
}

// PutMeta stores value under key in the named metadata bucket.
func (db *DB) PutMeta(bucket, key string, value []byte) error {
	err := db.update(func(tx *bolt.Tx) error {
		b, err := createMetaBucket(tx, bucket)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("storage: put meta %s/%s: %w", bucket, key, err)
	}
	return nil
}

// GetMeta returns a copy of the value, or nil when absent.
func (db *DB) GetMeta(bucket, key string) ([]byte, error) {
	var out []byte
	err := db.view(func(tx *bolt.Tx) error {
		if b := metaBucket(tx, bucket); b != nil {
			if v := b.Get([]byte(key)); v != nil {
				out = append(make([]byte, 0, len(v)), v...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: get meta %s/%s: %w", bucket, key, err)
	}
	return out, nil
}

// DeleteMeta removes a key; a missing key or bucket is not an error.
func (db *DB) DeleteMeta(bucket, key string) error {
	err := db.update(func(tx *bolt.Tx) error {
		if b := metaBucket(tx, bucket); b != nil {
			return b.Delete([]byte(key))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: delete meta %s/%s: %w", bucket, key, err)
	}
	return nil
}

type metaKV struct {
	key   string
	value []byte
}

// snapshotMeta copies a bucket's pairs out, so callbacks run outside bbolt's
// iteration (they may then write, even to the same bucket).
func snapshotMeta(b *bolt.Bucket) ([]metaKV, error) {
	var kvs []metaKV
	if b == nil {
		return nil, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		if v == nil {
			return nil // a nested bucket, not a value
		}
		kvs = append(kvs, metaKV{string(k), append(make([]byte, 0, len(v)), v...)})
		return nil
	})
	return kvs, err
}

// ForEachMeta calls fn for every key of the bucket in key order. It reads a
// snapshot first and calls fn outside the transaction, so fn may use the DB
// and keep value. An error from fn stops the walk and is returned as is.
func (db *DB) ForEachMeta(bucket string, fn func(key string, value []byte) error) error {
	var kvs []metaKV
	err := db.view(func(tx *bolt.Tx) error {
		var err error
		kvs, err = snapshotMeta(metaBucket(tx, bucket))
		return err
	})
	if err != nil {
		return fmt.Errorf("storage: for each meta %s: %w", bucket, err)
	}
	for _, kv := range kvs {
		if err := fn(kv.key, kv.value); err != nil {
			return err
		}
	}
	return nil
}

// UpdateMeta runs fn in one write transaction over the named bucket, for
// conditional updates (leases): fn gets get/put/delete closures.
// If fn returns an error nothing it did is kept, and that error is returned
// as is. fn must not call other DB methods (they would wait for this
// transaction).
func (db *DB) UpdateMeta(bucket string, fn func(tx MetaTx) error) error {
	var fnErr error
	err := db.update(func(tx *bolt.Tx) error {
		b, err := createMetaBucket(tx, bucket)
		if err != nil {
			return err
		}
		fnErr = callMetaFn(fn, metaTx{b})
		return fnErr
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil && err == fnErr:
		return fnErr
	}
	return fmt.Errorf("storage: update meta %s: %w", bucket, err)
}

// callMetaFn marks a panic in fn as the caller's, so update re-panics it
// instead of reporting a corrupt file.
func callMetaFn(fn func(MetaTx) error, tx MetaTx) error {
	defer func() {
		if p := recover(); p != nil {
			panic(userPanic{p})
		}
	}()
	return fn(tx)
}

// MetaTx is a metadata bucket inside a write transaction.
type MetaTx interface {
	Get(key string) []byte // a copy, nil when absent
	Put(key string, value []byte) error
	Delete(key string) error
	ForEach(fn func(key string, value []byte) error) error
}

type metaTx struct{ b *bolt.Bucket }

func (m metaTx) Get(key string) []byte {
	v := m.b.Get([]byte(key))
	if v == nil {
		return nil
	}
	return append(make([]byte, 0, len(v)), v...)
}

// Put copies value: bbolt would otherwise keep the caller's slice until commit.
func (m metaTx) Put(key string, value []byte) error {
	return m.b.Put([]byte(key), append([]byte(nil), value...))
}

func (m metaTx) Delete(key string) error { return m.b.Delete([]byte(key)) }

// ForEach walks a snapshot, so fn may Put and Delete while it runs.
func (m metaTx) ForEach(fn func(key string, value []byte) error) error {
	kvs, err := snapshotMeta(m.b)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if err := fn(kv.key, kv.value); err != nil {
			return err
		}
	}
	return nil
}
