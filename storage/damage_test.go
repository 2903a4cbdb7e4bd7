package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// needleStore makes a closed store of 4 shards × 200 records whose data
// holds a findable marker, and returns its path.
func needleStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "needle.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for shard := range uint32(4) {
		mustAppend(t, db, Append{Shard: ShardRef{"n", shard}, Records: needleRecords(shard, 0, 200)})
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func needleRecords(shard uint32, from uint64, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		p := from + uint64(i)
		out[i] = Record{Position: p, Arrival: 1_000_000 + int64(p), PartitionKey: fmt.Sprintf("pk-%d", p),
			Data: []byte(fmt.Sprintf("needle-%d-%d|%s", shard, p, strings.Repeat("x", int(p%50))))}
	}
	return out
}

// flipIn flips one bit of the first occurrence of marker in the file.
func flipIn(t *testing.T, path, marker string, bit int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(marker))
	if i < 0 {
		t.Fatalf("%q not in the file", marker)
	}
	data[i+len(marker)-1] ^= 1 << bit
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func wantDamage(t *testing.T, what string, err error, s ShardRef, pos uint64) {
	t.Helper()
	var de *DamageError
	if !errors.As(err, &de) || !errors.Is(err, ErrCorrupt) || de.Shard != s || de.Position != pos {
		t.Fatalf("%s = %v; want a DamageError for %s at %d wrapping ErrCorrupt", what, err, s, pos)
	}
	if msg := err.Error(); !strings.Contains(msg, s.String()) || !strings.Contains(msg, fmt.Sprintf("position %d", pos)) {
		t.Fatalf("%s: %q does not name the shard and position", what, msg)
	}
}

// A bit flipped in a record's bytes in the file is an error naming the
// record on every path that reads it, never different data.
func TestDamagedRecordIsAnErrorNotData(t *testing.T) {
	for name, marker := range map[string]string{
		"data":          "needle-2-137|",
		"partition key": "pk-137",
	} {
		t.Run(name, func(t *testing.T) {
			path := needleStore(t)
			flipIn(t, path, marker, 0)
			db := openAt(t, path, Options{})
			s := ShardRef{"n", 2}
			if name == "partition key" {
				// Partition keys repeat across shards; the first one found is shard 0's.
				s = ShardRef{"n", 0}
			}
			// Records before the damage read as written.
			rs, err := db.Read(s, 0, 137, 0)
			if err != nil || len(rs) != 137 {
				t.Fatalf("Read before the damage = %d records, %v", len(rs), err)
			}
			_, err = db.Read(s, 100, 100, 0)
			wantDamage(t, "Read", err, s, 137)
			_, err = db.Read(s, 137, 1, 0)
			wantDamage(t, "Read at the damage", err, s, 137)
			_, _, err = db.SeekArrival(s, 1_000_137)
			wantDamage(t, "SeekArrival", err, s, 137)
			err = db.Check()
			wantDamage(t, "Check", err, s, 137)
			// Trimming past the damaged record stops before it, then reports it.
			if n, _, more, err := db.TrimBefore(s, 1_000_150, 0); n != 137 || !more || err != nil {
				t.Fatalf("TrimBefore past the damage = %d, %v, %v; want 137 deleted, more", n, more, err)
			}
			_, _, _, err = db.TrimBefore(s, 1_000_150, 0)
			wantDamage(t, "TrimBefore", err, s, 137)
			_, _, err = db.Head(s)
			wantDamage(t, "Head", err, s, 137)
			// Other shards are untouched.
			if got := readAll(t, db, ShardRef{"n", 3}); len(got) != 200 {
				t.Fatalf("shard 3: %d records", len(got))
			}
		})
	}
}

// The checksum covers the key: a record found under another position is
// damage.
func TestRecordUnderAnotherKeyIsDamage(t *testing.T) {
	path := needleStore(t)
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := ShardRef{"n", 1}
	err = bdb.Update(func(tx *bolt.Tx) error {
		b := shardBucket(tx, s)
		v := append([]byte(nil), b.Get(posKey(5))...)
		return b.Put(posKey(6), v)
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	db := openAt(t, path, Options{})
	_, err = db.Read(s, 6, 1, 0)
	wantDamage(t, "Read", err, s, 6)
}

// The experiment: random bit flips in the pages of a store holding
// records. Each copy fails to open, or its damage is found, or it reads
// exactly as written.
func TestRandomBitFlipsNeverServeWrongData(t *testing.T) {
	orig := needleStore(t)
	clean, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	used := usedSize(t, orig)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	outcomes := map[string]int{}
	dir := t.TempDir()
	for i := range 100 {
		data := append([]byte(nil), clean...)
		off := 2*pageSize + rng.IntN(used-2*pageSize)
		data[off] ^= 1 << rng.IntN(8)
		path := filepath.Join(dir, fmt.Sprintf("flip-%d.db", i))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(path, Options{})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flip at %d: Open = %v", off, err)
			}
			outcomes["refused"]++
			continue
		}
		found := false
		for shard := range uint32(4) {
			s := ShardRef{"n", shard}
			want := needleRecords(shard, 0, 200)
			rs, err := db.Read(s, 0, 0, 0)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("flip at %d: Read = %v", off, err)
				}
				found = true
				continue
			}
			for _, r := range rs {
				if r.Position >= 200 || !sameRecord(r, want[r.Position]) {
					t.Fatalf("flip at %d: %s at %d read as %q: damage served as data", off, s, r.Position, r.Data)
				}
			}
		}
		if err := db.Check(); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flip at %d: Check = %v", off, err)
			}
			found = true
		}
		db.Close()
		if found {
			outcomes["damage found"]++
		} else {
			outcomes["read as written"]++
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

// A value without a checksum in a store of version 2 is damage, not an old
// record.
func TestUncheckedValueInANewStoreIsDamage(t *testing.T) {
	path := needleStore(t)
	s := ShardRef{"n", 3}
	rewriteValues(t, path, s, func(pos uint64) bool { return pos == 9 })
	db := openAt(t, path, Options{})
	_, err := db.Read(s, 9, 1, 0)
	wantDamage(t, "Read", err, s, 9)
}

// rewriteValues turns the chosen values of shard s into format 1 (no
// checksum), as a store of schema version 1 held them.
func rewriteValues(t *testing.T, path string, s ShardRef, which func(pos uint64) bool) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(tx *bolt.Tx) error {
		b := shardBucket(tx, s)
		type kv struct{ k, v []byte }
		var kvs []kv
		b.ForEach(func(k, v []byte) error {
			if which(keyPosMust(k)) {
				kvs = append(kvs, kv{append([]byte(nil), k...), append([]byte(nil), v[headerLen-v1HeaderLen:]...)})
			}
			return nil
		})
		for _, e := range kvs {
			if err := b.Put(e.k, e.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func keyPosMust(k []byte) uint64 {
	p, err := keyPos(k)
	if err != nil {
		panic(err)
	}
	return p
}

// A store of schema version 1 (values without checksums, some of them in a
// log segment not yet checkpointed, some already upgraded by an Open that
// crashed midway) opens, reads as written, and is upgraded: version 2,
// every value checked.
func TestVersion1StoreIsUpgraded(t *testing.T) {
	path := needleStore(t)
	for shard := range uint32(4) {
		rewriteValues(t, path, ShardRef{"n", shard}, func(pos uint64) bool { return shard != 1 || pos%2 == 0 })
	}
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seg uint64
	err = bdb.Update(func(tx *bolt.Tx) error {
		sys := tx.Bucket(bucketSystem)
		if v := sys.Get(keyWALCheckpoint); len(v) == 8 {
			seg = keyPosMust(v)
		}
		return sys.Put(keySchema, be32(schemaVersionV1))
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	// A segment holding values without checksums: records 200..249 of
	// shard 0. (Segments of builds before salted segments are refused, so
	// it is written in today's segment format.)
	tmp := openTest(t, Options{})
	req := mustEncode(t, tmp, Append{Shard: ShardRef{"n", 0}, Records: needleRecords(0, 200, 50)})
	for j, v := range req.items[0].vals {
		req.items[0].vals[j] = v[headerLen-v1HeaderLen:]
	}
	if err := os.WriteFile(segmentPath(path, seg+1), appendFrame(segmentHeader(seg+1, 7), seg+1, 7, []*appendReq{req}), 0o600); err != nil {
		t.Fatal(err)
	}

	// The offline check reads such a store as it is.
	rep, err := CheckStore(path, time.Second)
	if err != nil || rep.Damage() || rep.Version != schemaVersionV1 || rep.Unchecked != 700 || len(rep.Segments) != 1 || rep.Segments[0].Records != 50 {
		t.Fatalf("CheckStore of a version-1 store = %+v, %v", rep, err)
	}

	db := openAt(t, path, Options{})
	if db.legacy {
		t.Fatal("still legacy after Open")
	}
	for shard := range uint32(4) {
		s := ShardRef{"n", shard}
		want := needleRecords(shard, 0, 200)
		if shard == 0 {
			want = append(want, needleRecords(0, 200, 50)...)
		}
		got := readAll(t, db, s)
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", s, len(got), len(want))
		}
		for i := range want {
			if !sameRecord(got[i], want[i]) {
				t.Fatalf("%s: record %d is %+v", s, i, got[i])
			}
		}
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	err = db.view(func(tx *bolt.Tx) error {
		if v := beUint32(tx.Bucket(bucketSystem).Get(keySchema)); v != schemaVersion {
			t.Errorf("schema version %d after the upgrade", v)
		}
		return shardBucket(tx, ShardRef{"n", 0}).ForEach(func(k, v []byte) error {
			if v[0] != valueTag {
				t.Errorf("value at %d not upgraded: %x", keyPosMust(k), v)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
