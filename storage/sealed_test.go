package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// tagSealer stands in for encryption: it XORs the body (in place, as the
// body is handed over) and appends the record's place, so a body opened at
// another place fails.
type tagSealer struct{}

func place(ref ShardRef, pos uint64, arrival int64) []byte {
	return fmt.Appendf(nil, "%s/%d/%d/%d|", ref.Stream, ref.Shard, pos, arrival)
}

func (tagSealer) Seal(dst []byte, ref ShardRef, pos uint64, arrival int64, body []byte) ([]byte, error) {
	for _, b := range body {
		dst = append(dst, b^0xA5)
	}
	return append(dst, place(ref, pos, arrival)...), nil
}

func (tagSealer) Open(dst []byte, ref ShardRef, pos uint64, arrival int64, sealed []byte) ([]byte, error) {
	p := place(ref, pos, arrival)
	if !bytes.HasSuffix(sealed, p) {
		return nil, errors.New("sealed elsewhere")
	}
	for _, b := range sealed[:len(sealed)-len(p)] {
		dst = append(dst, b^0xA5)
	}
	return dst, nil
}

// Sealed and clear records share a shard: reads return sealed ones with
// Sealed set and nothing in clear, Unseal restores them, and the payload
// counts (Stats, Check, replay of the log) need no key.
func TestSealedRecords(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"enc", 3}
	recs := testRecords(3, 1, 40)
	mustAppend(t, db, Append{Shard: s, Records: recs[:10]})
	mustAppend(t, db, Append{Shard: s, Records: recs[10:], Seal: tagSealer{}})
	check := func(db *DB) {
		t.Helper()
		got, err := db.Read(s, 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(recs) {
			t.Fatalf("read %d records, want %d", len(got), len(recs))
		}
		for i := range got {
			sealed := got[i].Sealed != nil
			if sealed != (i >= 10) {
				t.Fatalf("record %d: sealed %v", i, sealed)
			}
			if sealed && (got[i].Data != nil || got[i].PartitionKey != "") {
				t.Fatalf("record %d: sealed record has clear parts %+v", i, got[i])
			}
			if err := got[i].Unseal(s, tagSealer{}); err != nil {
				t.Fatal(err)
			}
			if !sameRecord(got[i], recs[i]) {
				t.Fatalf("record %d: got %+v want %+v", i, got[i], recs[i])
			}
		}
		n, b, err := db.Stats(s)
		var want int64
		for _, r := range recs {
			want += recordPayload(&r)
		}
		if err != nil || n != int64(len(recs)) || b != want {
			t.Fatalf("Stats = %d, %d, %v; want %d, %d", n, b, err, len(recs), want)
		}
		// maxBytes counts the clear payload of sealed records.
		page, err := db.Read(s, 11, 0, int(recordPayload(&recs[10])+recordPayload(&recs[11])))
		if err != nil || len(page) != 2 {
			t.Fatalf("Read with maxBytes = %d records, %v; want 2", len(page), err)
		}
	}
	check(db)                     // from the memtable
	db = reopen(t, db, Options{}) // replayed from the log
	check(db)
	checkpointNow(t, db)
	check(db) // from bbolt
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	// A record moved to another position (checksum recomputed) fails to open.
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := shardBucket(tx, s)
		v := append([]byte(nil), b.Get(posKey(20))...)
		if v[0] != sealedTag || bytes.Contains(v, []byte(recs[19].PartitionKey)) {
			t.Errorf("stored value %x is not sealed", v)
		}
		key := binary.BigEndian.AppendUint64(nil, 21)
		binary.BigEndian.PutUint32(v[1:], recordCRC(key, v))
		return b.Put(key, v)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Read(s, 21, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := got[0].Unseal(s, tagSealer{}); err == nil {
		t.Fatal("a sealed record moved to another position opened")
	}
	// Put it back so the cleanup check passes.
	mv := append([]Record(nil), recs[20:21]...)
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		v, err := encodeValue(identityCodec{}, &mv[0], tagSealer{}, s)
		if err != nil {
			return err
		}
		return shardBucket(tx, s).Put(posKey(21), v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A flipped format tag is caught by the checksum both ways: a sealed value
// never reads as a clear one, nor the reverse.
func TestSealedTagFlipIsDamage(t *testing.T) {
	r := testRecord(0, 5)
	key := posKey(5)
	for _, s := range []Sealer{nil, tagSealer{}} {
		v, err := encodeValue(identityCodec{}, &r, s, ShardRef{"x", 0})
		if err != nil {
			t.Fatal(err)
		}
		if err := checkValue(ShardRef{"x", 0}, key, v, false); err != nil {
			t.Fatal(err)
		}
		v[0] ^= valueTag ^ sealedTag
		var de *DamageError
		if err := checkValue(ShardRef{"x", 0}, key, v, false); !errors.As(err, &de) {
			t.Fatalf("flipped tag (sealer %v): checkValue = %v, want a DamageError", s != nil, err)
		}
	}
}
