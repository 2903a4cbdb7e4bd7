package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestRoundTrip(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"orders", 3}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 13)
	}
	ehk := bytes.Repeat([]byte{0xAB}, 16)
	in := []Record{
		{Position: 0, Arrival: 10, PartitionKey: "a", Data: []byte("hello")},
		{Position: 1, Arrival: 10, PartitionKey: "b", Data: []byte{}},
		{Position: 2, Arrival: 11, PartitionKey: "", Data: nil},
		{Position: 3, Arrival: 12, PartitionKey: "c", ExplicitHashKey: ehk, Data: []byte("x")},
		{Position: 4, Arrival: 13, PartitionKey: strings.Repeat("k", 256), Data: big},
		{Position: 9, Arrival: 13, PartitionKey: "gap", Data: []byte("after a gap")},
	}
	mustAppend(t, db, Append{Shard: s, Records: in})

	check := func(db *DB) {
		t.Helper()
		got := readAll(t, db, s)
		if len(got) != len(in) {
			t.Fatalf("read %d records, want %d", len(got), len(in))
		}
		var wantBytes int64
		for i := range in {
			if !bytes.Equal(got[i].Data, in[i].Data) || got[i].Position != in[i].Position ||
				got[i].Arrival != in[i].Arrival || got[i].PartitionKey != in[i].PartitionKey ||
				!bytes.Equal(got[i].ExplicitHashKey, in[i].ExplicitHashKey) {
				t.Errorf("record %d differs: got pos=%d arr=%d pk=%.10q ehk=%x len=%d", i,
					got[i].Position, got[i].Arrival, got[i].PartitionKey, got[i].ExplicitHashKey, len(got[i].Data))
			}
			if in[i].ExplicitHashKey == nil && got[i].ExplicitHashKey != nil {
				t.Errorf("record %d: explicit hash key %x, want nil", i, got[i].ExplicitHashKey)
			}
			wantBytes += int64(len(in[i].Data) + len(in[i].PartitionKey))
		}
		first, last, ok, err := db.Bounds(s)
		if err != nil || !ok || first != 0 || last != 9 {
			t.Errorf("Bounds = %d, %d, %v, %v; want 0, 9, true", first, last, ok, err)
		}
		head, ok, err := db.Head(s)
		if err != nil || !ok || !sameRecord(head, in[0]) {
			t.Errorf("Head = %+v, %v, %v", head, ok, err)
		}
		n, b, err := db.Stats(s)
		if err != nil || n != int64(len(in)) || b != wantBytes {
			t.Errorf("Stats = %d, %d, %v; want %d, %d", n, b, err, len(in), wantBytes)
		}
	}
	check(db)
	// The copies are the caller's: scribbling on them changes nothing stored.
	got := readAll(t, db, s)
	got[0].Data[0] = 'J'
	if again := readAll(t, db, s); string(again[0].Data) != "hello" {
		t.Fatalf("stored record changed through a returned slice: %q", again[0].Data)
	}
	check(reopen(t, db, Options{}))
}

func TestValueLayout(t *testing.T) {
	// The on-disk value layout is documented in codec.go; pin it.
	db := openTest(t, Options{})
	s := ShardRef{"s", 0x01020304}
	ehk := bytes.Repeat([]byte{7}, 16)
	mustAppend(t, db, Append{Shard: s, Records: []Record{
		{Position: 0x0A0B, Arrival: 0x1122334455, PartitionKey: "pk", ExplicitHashKey: ehk, Data: []byte("data")},
	}})
	checkpointNow(t, db)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("records")).Bucket([]byte("s")).Bucket([]byte{1, 2, 3, 4})
		v := b.Get([]byte{0, 0, 0, 0, 0, 0, 0x0A, 0x0B})
		rest := append([]byte{0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 2, 'p', 'k', 16}, ehk...)
		rest = append(rest, "data"...)
		// The checksum covers everything after it, then the key (the position).
		crc := crc32.Checksum(append(append([]byte(nil), rest...), 0, 0, 0, 0, 0, 0, 0x0A, 0x0B), crc32.MakeTable(crc32.Castagnoli))
		want := append(binary.BigEndian.AppendUint32([]byte{0x96}, crc), rest...)
		if !bytes.Equal(v, want) {
			t.Errorf("value = %x\nwant   %x", v, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadLimits(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"s", 0}
	var recs []Record
	for i := range 10 {
		recs = append(recs, Record{Position: uint64(i * 2), Arrival: 1, PartitionKey: "pk", Data: make([]byte, 98)})
	}
	mustAppend(t, db, Append{Shard: s, Records: recs}) // 100 payload bytes each, positions 0,2,..,18

	positions := func(rs []Record) []uint64 {
		var out []uint64
		for _, r := range rs {
			out = append(out, r.Position)
		}
		return out
	}
	cases := []struct {
		name             string
		from             uint64
		maxRecs, maxByte int
		want             []uint64
	}{
		{"maxRecords", 0, 3, 0, []uint64{0, 2, 4}},
		{"maxBytes", 0, 0, 250, []uint64{0, 2}},
		{"maxBytes exact", 0, 0, 300, []uint64{0, 2, 4}},
		{"at least one", 0, 10, 1, []uint64{0}},
		{"both", 4, 2, 1000, []uint64{4, 6}},
		{"from inside a gap", 5, 2, 0, []uint64{6, 8}},
		{"tail", 17, 100, 0, []uint64{18}},
		{"past the end", 19, 100, 0, nil},
	}
	for _, c := range cases {
		got, err := db.Read(s, c.from, c.maxRecs, c.maxByte)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if g := positions(got); !equalU64(g, c.want) {
			t.Errorf("%s: got positions %v, want %v", c.name, g, c.want)
		}
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMissingShardIsEmpty(t *testing.T) {
	db := openTest(t, Options{})
	mustAppend(t, db, Append{Shard: ShardRef{"exists", 0}, Records: testRecords(0, 0, 3)})
	for _, s := range []ShardRef{{"nope", 0}, {"exists", 1}, {"", 0}} {
		if rs, err := db.Read(s, 0, 10, 0); err != nil || len(rs) != 0 {
			t.Errorf("Read %s = %v, %v", s, rs, err)
		}
		if _, _, ok, err := db.Bounds(s); err != nil || ok {
			t.Errorf("Bounds %s = %v, %v", s, ok, err)
		}
		if _, ok, err := db.Head(s); err != nil || ok {
			t.Errorf("Head %s = %v, %v", s, ok, err)
		}
		if _, ok, err := db.SeekArrival(s, 0); err != nil || ok {
			t.Errorf("SeekArrival %s = %v, %v", s, ok, err)
		}
		if n, b, err := db.Stats(s); err != nil || n != 0 || b != 0 {
			t.Errorf("Stats %s = %d, %d, %v", s, n, b, err)
		}
		if d, _, more, err := db.TrimBefore(s, 1<<62, 10); err != nil || d != 0 || more {
			t.Errorf("TrimBefore %s = %d, %v, %v", s, d, more, err)
		}
		if err := db.DropShard(s); err != nil {
			t.Errorf("DropShard %s: %v", s, err)
		}
	}
	if err := db.DropStream("nope"); err != nil {
		t.Errorf("DropStream: %v", err)
	}
}

func TestSeekArrivalEdges(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"s", 1}
	// Positions with gaps, arrivals non-decreasing with repeats.
	pos := []uint64{3, 4, 5, 9, 10, 11, 100, 1000, 1 << 40, 1<<40 + 1}
	arr := []int64{100, 100, 105, 110, 110, 110, 120, 130, 130, 140}
	var recs []Record
	for i := range pos {
		recs = append(recs, Record{Position: pos[i], Arrival: arr[i], Data: []byte{byte(i)}})
	}
	mustAppend(t, db, Append{Shard: s, Records: recs})

	seek := func(ms int64) (uint64, bool) {
		t.Helper()
		p, ok, err := db.SeekArrival(s, ms)
		if err != nil {
			t.Fatalf("SeekArrival(%d): %v", ms, err)
		}
		return p, ok
	}
	cases := []struct {
		ms   int64
		want uint64
		ok   bool
	}{
		{-5, 3, true},     // before first
		{100, 3, true},    // exact first
		{101, 5, true},    // between
		{110, 9, true},    // exact, first of a run
		{111, 100, true},  // between, across a gap
		{125, 1000, true}, // between, across a bigger gap
		{130, 1000, true}, // exact, run spanning a huge gap
		{131, 1<<40 + 1, true},
		{140, 1<<40 + 1, true}, // exact last
		{141, 0, false},        // after last
	}
	for _, c := range cases {
		if p, ok := seek(c.ms); p != c.want || ok != c.ok {
			t.Errorf("SeekArrival(%d) = %d, %v; want %d, %v", c.ms, p, ok, c.want, c.ok)
		}
	}
	// After trimming the head, the search starts at the new first record.
	if d, _, _, err := db.TrimBefore(s, 110, 0); err != nil || d != 3 {
		t.Fatalf("TrimBefore = %d, %v", d, err)
	}
	for _, c := range []struct {
		ms   int64
		want uint64
	}{{0, 9}, {110, 9}, {111, 100}, {140, 1<<40 + 1}} {
		if p, ok := seek(c.ms); !ok || p != c.want {
			t.Errorf("after trim, SeekArrival(%d) = %d, %v; want %d", c.ms, p, ok, c.want)
		}
	}
	if _, ok := seek(141); ok {
		t.Errorf("after trim, SeekArrival(141) found something")
	}
}

func TestSeekArrivalMatchesScan(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	db := openTest(t, Options{})
	for shard := range uint32(20) {
		s := ShardRef{"r", shard}
		n := 1 + rng.IntN(60)
		var recs []Record
		p, a := uint64(rng.IntN(5)), int64(rng.IntN(5))
		for range n {
			recs = append(recs, Record{Position: p, Arrival: a})
			p += 1 + uint64(rng.IntN(3))*uint64(rng.IntN(1000))
			a += int64(rng.IntN(3))
		}
		mustAppend(t, db, Append{Shard: s, Records: recs})
		for ms := int64(-1); ms <= recs[n-1].Arrival+1; ms++ {
			wantOK, want := false, uint64(0)
			for _, r := range recs {
				if r.Arrival >= ms {
					wantOK, want = true, r.Position
					break
				}
			}
			got, ok, err := db.SeekArrival(s, ms)
			if err != nil || ok != wantOK || got != want {
				t.Fatalf("shard %d SeekArrival(%d) = %d, %v, %v; want %d, %v", shard, ms, got, ok, err, want, wantOK)
			}
		}
	}
}

func TestTrimBefore(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"s", 0}
	recs := testRecords(0, 0, 100) // arrival = 1_000_000 + pos
	mustAppend(t, db, Append{Shard: s, Records: recs})
	payload := func(from, to int) (b int64) {
		for _, r := range recs[from:to] {
			b += int64(len(r.Data) + len(r.PartitionKey))
		}
		return b
	}
	totalBytes := payload(0, 100)

	txid := func() (id int) {
		db.bolt.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
		return id
	}
	before := txid()
	if d, _, more, err := db.TrimBefore(s, 1_000_000, 10); err != nil || d != 0 || more {
		t.Fatalf("trim before the head = %d, %v, %v", d, more, err)
	}
	if txid() != before {
		t.Fatalf("a trim with nothing to delete committed a transaction")
	}
	var trimmed int64
	for round := 0; ; round++ {
		d, db2, more, err := db.TrimBefore(s, 1_000_050, 20)
		if err != nil {
			t.Fatal(err)
		}
		wantD := min(int64(20), 50-trimmed)
		if d != wantD || db2 != payload(int(trimmed), int(trimmed+d)) {
			t.Fatalf("round %d: deleted %d records/%d bytes, want %d/%d", round, d, db2, wantD, payload(int(trimmed), int(trimmed+d)))
		}
		trimmed += d
		if more != (trimmed < 50) {
			t.Fatalf("round %d: more=%v with %d trimmed", round, more, trimmed)
		}
		n, b, err := db.Stats(s)
		if err != nil || n != 100-trimmed || b != totalBytes-payload(0, int(trimmed)) {
			t.Fatalf("round %d: Stats = %d, %d, %v", round, n, b, err)
		}
		if !more {
			break
		}
	}
	if first, last, ok, _ := db.Bounds(s); !ok || first != 50 || last != 99 {
		t.Fatalf("Bounds after trim = %d, %d, %v", first, last, ok)
	}
	// Exactly max expired records left: more must be false.
	if d, _, more, err := db.TrimBefore(s, 1_000_060, 10); err != nil || d != 10 || more {
		t.Fatalf("trim of exactly max = %d, %v, %v", d, more, err)
	}
	// Trim everything; the shard stays usable and positions go on.
	if d, _, more, err := db.TrimBefore(s, 1<<62, 0); err != nil || d != 40 || more {
		t.Fatalf("trim all = %d, %v, %v", d, more, err)
	}
	if n, b, _ := db.Stats(s); n != 0 || b != 0 {
		t.Fatalf("Stats after trimming all = %d, %d", n, b)
	}
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 100, 5)})
	if first, last, ok, _ := db.Bounds(s); !ok || first != 100 || last != 104 {
		t.Fatalf("Bounds after re-append = %d, %d, %v", first, last, ok)
	}
}

func TestReopenKeepsState(t *testing.T) {
	db := openTest(t, Options{})
	type state struct {
		first, last uint64
		ok          bool
		n, b        int64
	}
	refs := []ShardRef{{"a", 0}, {"a", 1}, {"a", 7}, {"b", 0}, {"empty", 0}}
	mustAppend(t, db,
		Append{Shard: refs[0], Records: testRecords(0, 0, 50)},
		Append{Shard: refs[1], Records: testRecords(1, 10, 20)},
		Append{Shard: refs[3], Records: testRecords(0, 5, 1)},
	)
	mustAppend(t, db, Append{Shard: refs[2], Records: testRecords(7, 0, 30)})
	mustAppend(t, db, Append{Shard: refs[4], Records: testRecords(0, 0, 3)})
	if _, _, _, err := db.TrimBefore(refs[0], 1_000_020, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := db.TrimBefore(refs[4], 1<<62, 0); err != nil {
		t.Fatal(err)
	}
	snap := func(db *DB) map[ShardRef]state {
		m := make(map[ShardRef]state)
		for _, r := range refs {
			var st state
			var err error
			if st.first, st.last, st.ok, err = db.Bounds(r); err != nil {
				t.Fatal(err)
			}
			if st.n, st.b, err = db.Stats(r); err != nil {
				t.Fatal(err)
			}
			m[r] = st
		}
		return m
	}
	before := snap(db)
	db = reopen(t, db, Options{})
	after := snap(db)
	for _, r := range refs {
		if before[r] != after[r] {
			t.Errorf("%s: before %+v, after reopen %+v", r, before[r], after[r])
		}
	}
	if before[refs[0]].first != 20 || before[refs[4]].ok {
		t.Errorf("unexpected state %+v", before)
	}
	// Appending after reopen continues the same shards.
	mustAppend(t, db, Append{Shard: refs[1], Records: testRecords(1, 30, 5)})
	if n, _, _ := db.Stats(refs[1]); n != 25 {
		t.Errorf("Stats after append = %d, want 25", n)
	}
}

func TestDropShardAndStream(t *testing.T) {
	db := openTest(t, Options{})
	mustAppend(t, db,
		Append{Shard: ShardRef{"a", 0}, Records: testRecords(0, 0, 10)},
		Append{Shard: ShardRef{"a", 1}, Records: testRecords(1, 0, 10)},
		Append{Shard: ShardRef{"b", 0}, Records: testRecords(0, 0, 10)},
	)
	if err := db.DropShard(ShardRef{"a", 0}); err != nil {
		t.Fatal(err)
	}
	if rs := readAll(t, db, ShardRef{"a", 0}); len(rs) != 0 {
		t.Fatalf("dropped shard still has %d records", len(rs))
	}
	if n, _, _ := db.Stats(ShardRef{"a", 0}); n != 0 {
		t.Fatalf("dropped shard Stats = %d", n)
	}
	if n, _, _ := db.Stats(ShardRef{"a", 1}); n != 10 {
		t.Fatalf("sibling shard Stats = %d", n)
	}
	// A dropped shard can be created again from position 0.
	mustAppend(t, db, Append{Shard: ShardRef{"a", 0}, Records: testRecords(0, 0, 2)})
	if err := db.DropStream("a"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []ShardRef{{"a", 0}, {"a", 1}} {
		if rs := readAll(t, db, s); len(rs) != 0 {
			t.Fatalf("%s has %d records after DropStream", s, len(rs))
		}
	}
	if rs := readAll(t, db, ShardRef{"b", 0}); len(rs) != 10 {
		t.Fatalf("other stream lost records: %d", len(rs))
	}
	if err := db.DropShard(ShardRef{"b", 0}); err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

// xorCodec stands in for encryption: sealed bytes differ from plain ones.
type xorCodec struct{}

func (xorCodec) Seal(p []byte) ([]byte, error) {
	out := make([]byte, len(p)+1)
	out[0] = 0x5A // a version byte
	for i, b := range p {
		out[i+1] = b ^ 0xFF
	}
	return out, nil
}

func (xorCodec) Open(s []byte) ([]byte, error) {
	if len(s) == 0 || s[0] != 0x5A {
		return nil, errors.New("bad seal")
	}
	out := make([]byte, len(s)-1)
	for i, b := range s[1:] {
		out[i] = b ^ 0xFF
	}
	return out, nil
}

func TestCodec(t *testing.T) {
	db := openTest(t, Options{Codec: xorCodec{}})
	s := ShardRef{"enc", 0}
	recs := testRecords(0, 0, 30)
	mustAppend(t, db, Append{Shard: s, Records: recs})
	got := readAll(t, db, s)
	for i := range recs {
		if !sameRecord(got[i], recs[i]) {
			t.Fatalf("record %d: got %+v want %+v", i, got[i], recs[i])
		}
	}
	checkpointNow(t, db)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := shardBucket(tx, s).Get(posKey(1))
		if binary.BigEndian.Uint64(v[headerLen-arrivalLen:]) != uint64(recs[1].Arrival) || v[headerLen] != 0x5A {
			t.Errorf("stored value %x is not arrival + sealed body", v)
		}
		if bytes.Contains(v, []byte(recs[1].PartitionKey)) {
			t.Errorf("partition key stored in clear: %x", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d, _, _, err := db.TrimBefore(s, 1_000_010, 0); err != nil || d != 10 {
		t.Fatalf("TrimBefore = %d, %v", d, err)
	}
	if p, ok, err := db.SeekArrival(s, 1_000_015); err != nil || !ok || p != 15 {
		t.Fatalf("SeekArrival = %d, %v, %v", p, ok, err)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestSyncModes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want SyncMode
	}{{"always", SyncAlways}, {"fsync", SyncAlways}, {" None ", SyncNone}} {
		if m, err := ParseSyncMode(c.in); err != nil || m != c.want {
			t.Errorf("ParseSyncMode(%q) = %v, %v", c.in, m, err)
		}
	}
	if _, err := ParseSyncMode("sometimes"); err == nil {
		t.Errorf("ParseSyncMode accepted nonsense")
	}
	if SyncAlways.String() != "fsync" || SyncNone.String() != "none" {
		t.Errorf("String = %q, %q", SyncAlways, SyncNone)
	}

	db := openTest(t, Options{Sync: SyncNone})
	if db.SyncMode() != SyncNone || !db.bolt.NoSync {
		t.Fatalf("SyncNone not applied: %v, NoSync=%v", db.SyncMode(), db.bolt.NoSync)
	}
	s := ShardRef{"fast", 2}
	for i := range 20 {
		mustAppend(t, db, Append{Shard: s, Records: testRecords(2, uint64(i*10), 10)})
	}
	// Reopen with fsync: the freelist was not synced, bbolt rebuilds it.
	db = reopen(t, db, Options{})
	if db.bolt.NoSync {
		t.Fatalf("SyncAlways opened with NoSync")
	}
	if rs := readAll(t, db, s); len(rs) != 200 {
		t.Fatalf("read %d records after SyncNone session, want 200", len(rs))
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseAndAfterClose(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"s", 0}
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 0, 1)})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if err := db.Append(context.Background(), []Append{{Shard: s, Records: testRecords(0, 1, 1)}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := db.Read(s, 0, 1, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %v, want ErrClosed", err)
	}
	if err := db.PutMeta("m", "k", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("PutMeta after Close = %v, want ErrClosed", err)
	}
}
