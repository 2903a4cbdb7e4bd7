package storage

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReplay opens a store whose log segments were mutated. Open must not
// panic or hang; it fails with ErrCorrupt or succeeds, and then every
// record of a frame that the mutation left intact is there, exact.
//
//	go test -run '^$' -fuzz FuzzReplay -fuzztime 60s ./storage/
func FuzzReplay(f *testing.F) {
	// A store with two segments (the first frozen, its checkpoint held).
	db := openTest(f, Options{rotateBytes: 2048})
	waiting, release := holdCheckpoints(f, db)
	var next [2]uint64
	for i := 0; waiting() == 0 || i%4 != 2; i++ { // then two appends into the second
		sh := uint32(i % 2)
		mustAppend(f, db, Append{Shard: ShardRef{"fz", sh}, Records: testRecords(sh, next[sh], 3)})
		next[sh] += 3
	}
	segs, err := listSegments(db.Path())
	if err != nil || len(segs) != 2 {
		f.Fatalf("segments %v, %v", segs, err)
	}
	base := crashImage(f, db)
	release()
	files := make(map[string][]byte)
	for _, p := range append([]string{base}, walFiles(f, base)...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		files[filepath.Base(p)] = data
	}
	segName := func(i int) string { return filepath.Base(segmentPath(base, segs[i])) }
	// What each original frame holds.
	type frameRecs struct {
		end  int
		recs map[ShardRef][]uint64
	}
	frames := make([][]frameRecs, 2)
	for i := range 2 {
		sc := scanSegment(files[segName(i)], segs[i])
		for _, fr := range sc.frames {
			r := frameRecs{end: fr.off + walHeaderLen + len(fr.payload), recs: make(map[ShardRef][]uint64)}
			decodeFrame(fr.payload, func(ref ShardRef, pos []uint64, _ [][]byte) error {
				r.recs[ref] = append(r.recs[ref], pos...)
				return nil
			})
			frames[i] = append(frames[i], r)
		}
	}

	for i := range 2 {
		orig := files[segName(i)]
		f.Add(uint8(i), orig)
		f.Add(uint8(i), orig[:len(orig)-5])
		flipped := append([]byte(nil), orig...)
		flipped[len(flipped)/2] ^= 0x20
		f.Add(uint8(i), flipped)
		f.Add(uint8(i), append(append([]byte(nil), orig...), orig[segHeaderLen:]...))
	}

	f.Fuzz(func(t *testing.T, which uint8, seg []byte) {
		i := int(which % 2)
		dir := t.TempDir()
		for name, data := range files {
			if name == segName(i) {
				data = seg
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, filepath.Base(base))
		db, err := Open(path, Options{Sync: SyncNone})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want success or ErrCorrupt", err)
			}
			return
		}
		defer db.Close()
		// The first byte the mutation changed.
		orig := files[segName(i)]
		d := 0
		for d < len(orig) && d < len(seg) && orig[d] == seg[d] {
			d++
		}
		for j := range 2 {
			for _, fr := range frames[j] {
				if j == i && fr.end > d {
					break
				}
				for ref, pos := range fr.recs {
					for _, p := range pos {
						rs, err := db.Read(ref, p, 1, 0)
						if err != nil {
							t.Fatal(err)
						}
						if len(rs) != 1 || !sameRecord(rs[0], testRecord(ref.Shard, p)) {
							t.Fatalf("%s position %d of an intact frame is missing or wrong after the mutation at %d of segment %d", ref, p, d, i)
						}
					}
				}
			}
		}
	})
}
