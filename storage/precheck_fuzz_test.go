package storage

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// smallBoltStore builds a store-shaped bbolt file with 4 KiB pages (the
// pre-check reads any page size), small enough for the fuzzer to mutate.
func smallBoltStore(tb testing.TB) []byte {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "small.db")
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{PageSize: 4096})
	if err != nil {
		tb.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		if err := createSchema(tx); err != nil {
			return err
		}
		sb, err := tx.Bucket(bucketRecords).CreateBucket([]byte("s"))
		if err != nil {
			return err
		}
		b, err := sb.CreateBucket(be32(0))
		if err != nil {
			return err
		}
		for i := range 60 { // a few leaf pages and a branch
			r := testRecord(0, uint64(i))
			v, err := encodeValue(identityCodec{}, &r, nil, ShardRef{})
			if err != nil {
				return err
			}
			if err := b.Put(posKey(uint64(i)), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = bdb.Close()
	}
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// FuzzPrecheck feeds mutated store files to the pre-check, the page walk
// and Open: none may panic or hang, and a file they refuse is refused with
// ErrCorrupt (or ErrSchema).
func FuzzPrecheck(f *testing.F) {
	good := smallBoltStore(f)
	f.Add(good)
	f.Add(good[:4096])
	f.Add(good[:2*4096])
	f.Add(good[:len(good)/2])
	f.Add([]byte("not a database"))
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, data []byte) {
	wd := time.AfterFunc(30*time.Second, func() {
		debug.SetTraceback("all")
		panic("fuzz body hangs")
	})
	defer wd.Stop()
	{
		path := filepath.Join(t.TempDir(), "fuzz.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, perr := precheck(file)
		_, werr := walkPages(file, false)
		if _, qerr := walkPages(file, true); werr == nil && qerr != nil {
			t.Fatalf("the quick walk refuses what the full one accepts: %v", qerr)
		}
		file.Close()
		for _, err := range []error{perr, werr} {
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("pre-check = %v, want nil or ErrCorrupt", err)
			}
		}
		db, err := Open(path, Options{Sync: SyncNone, LockTimeout: -1})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSchema) {
				t.Fatalf("Open = %v, want ErrCorrupt or ErrSchema", err)
			}
			return
		}
		if werr == nil {
			// Structure sound: the full check must finish, whatever it says.
			if err := db.Check(); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Check = %v, want nil or ErrCorrupt", err)
			}
		}
		db.Close()
	}
}

// Found by FuzzPrecheck: bbolt ignores a meta page header's id (its
// checksum starts after the header), but its Check asserts it in a
// goroutine where the panic ends the process.
func TestDamagedMetaPageHeaderIsCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	data := smallBoltStore(t)
	data[4096] ^= 0x01 // page 1's id
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db := openAt(t, path, Options{})
	if err := db.Check(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "meta page 1") {
		t.Fatalf("Check = %v, want ErrCorrupt naming meta page 1", err)
	}
	db.Close()
	rep, err := CheckStore(path, time.Second)
	if err != nil || !rep.Damage() {
		t.Fatalf("CheckStore = %+v, %v", rep, err)
	}
}

// A branch page whose child is itself would send bbolt's cursors down for
// ever (memory runs out: fatal, not a panic). Open refuses the file.
func TestLoopInTheTreeIsCorrupt(t *testing.T) {
	data := smallBoltStore(t)
	const ps = 4096
	ne := binary.NativeEndian
	looped := false
	for id := 2; (id+1)*ps <= len(data) && !looped; id++ {
		p := data[id*ps:]
		if ne.Uint16(p[8:]) == boltBranchFlag && ne.Uint64(p) == uint64(id) && ne.Uint16(p[10:]) > 0 {
			ne.PutUint64(p[boltPageHeaderSize+8:], uint64(id)) // element 0's child
			looped = true
		}
	}
	if !looped {
		t.Fatal("no branch page in the test store")
	}
	path := filepath.Join(t.TempDir(), "loop.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "reachable twice") {
		t.Fatalf("Open of a looped tree = %v, want ErrCorrupt", err)
	}
	rep, err := CheckStore(path, time.Second)
	if err != nil || !rep.Damage() || !strings.Contains(rep.Problems[0], "reachable twice") {
		t.Fatalf("CheckStore = %+v, %v", rep, err)
	}
}
