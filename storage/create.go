package storage

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A new store is built whole under a temporary name beside it, "<store>.new-*",
// synced, and then linked to its name: a crash while bbolt writes the first
// pages leaves a stray temporary file, never a half-written store that Open
// would have to call corrupt. Link, unlike rename, fails if the name exists,
// so of two processes creating the same store at once one wins and the
// other opens its store. bbolt holds a flock on a temporary file while it
// is being built: one that is not locked is left from a crash and removed.

// createHook, for tests, runs after the temporary store is complete and
// before it is linked into place; an error stops creation there, as a crash
// would (the temporary file stays).
var createHook func(tmp string) error

// createStore creates an empty store at path unless a file exists there.
func createStore(path string, bopts *bolt.Options) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return err // exists (or cannot tell): Open takes it from here
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	removeStaleNew(dir, base)
	f, err := os.CreateTemp(dir, base+".new-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	opts := *bopts
	opts.OpenFile = nil
	opts.NoSync, opts.NoGrowSync = false, false // creation is always durable
	bdb, err := bolt.Open(tmp, 0o600, &opts)
	if err == nil {
		err = bdb.Update(createSchema)
		if cerr := bdb.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil && createHook != nil {
		if err = createHook(tmp); err != nil {
			return err
		}
	}
	if err == nil {
		if err = os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
			err = nil // another process created it first: use theirs
		}
	}
	if err == nil {
		err = syncDir(dir)
	}
	os.Remove(tmp)
	return err
}

// staleAfter: a temporary store this old and unlocked is left from a crash
// (building one takes milliseconds; the age guards the moment between
// CreateTemp and bbolt's lock).
const staleAfter = time.Minute

// removeStaleNew removes temporary stores no process is building.
func removeStaleNew(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), base+".new-") {
			continue
		}
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < staleAfter {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		// A creator that died released its lock; a live one holds it.
		if lockFile(f, -time.Nanosecond) == nil {
			os.Remove(p)
		}
		f.Close()
	}
}

// createSchema creates the buckets of a new store.
func createSchema(tx *bolt.Tx) error {
	sys, err := tx.CreateBucket(bucketSystem)
	if err != nil {
		return err
	}
	if err := sys.Put(keySchema, be32(schemaVersion)); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketRecords, bucketShardStats, bucketMeta} {
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	return nil
}
