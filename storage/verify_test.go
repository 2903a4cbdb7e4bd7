package storage

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCheckStore(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		path := needleStore(t)
		rep, err := CheckStore(path, time.Second)
		if err != nil || rep.Damage() || rep.Records != 800 || rep.Shards != 4 || rep.Streams != 1 || rep.Version != schemaVersion || len(rep.Segments) != 0 {
			t.Fatalf("CheckStore = %+v, %v", rep, err)
		}
	})
	t.Run("damaged record", func(t *testing.T) {
		path := needleStore(t)
		flipIn(t, path, "needle-1-42|", 2)
		rep, err := CheckStore(path, time.Second)
		if err != nil || !rep.Damage() || rep.Damaged != 1 || rep.Records != 800 {
			t.Fatalf("CheckStore = %+v, %v", rep, err)
		}
		if p := rep.Problems[0]; !strings.Contains(p, "n/1") || !strings.Contains(p, "position 42") {
			t.Fatalf("problem %q does not name the record", p)
		}
	})
	t.Run("log", func(t *testing.T) {
		db := openTest(t, Options{rotateBytes: 4096})
		waiting, release := holdCheckpoints(t, db)
		s := ShardRef{"l", 0}
		var n uint64
		for waiting() == 0 {
			mustAppend(t, db, Append{Shard: s, Records: testRecords(0, n, 10)})
			n += 10
		}
		mustAppend(t, db, Append{Shard: s, Records: testRecords(0, n, 10)})
		path, path2 := crashImage(t, db), crashImage(t, db)
		release()
		// The newest segment ends in a torn frame.
		segs, err := listSegments(path)
		if err != nil || len(segs) < 2 {
			t.Fatalf("segments %v, %v", segs, err)
		}
		newest := segs[len(segs)-1]
		head, _ := os.ReadFile(segmentPath(path, newest))
		salt, ok := parseSegmentHeader(head, newest)
		if !ok {
			t.Fatalf("segment %d has no valid header", newest)
		}
		f, err := os.OpenFile(segmentPath(path, newest), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		torn := appendFrame(nil, newest, salt, []*appendReq{mustEncode(t, db, Append{Shard: s, Records: testRecords(0, n+10, 3)})})
		f.Write(torn[:len(torn)-2])
		f.Close()
		rep, err := CheckStore(path, time.Second)
		if err != nil || rep.Damage() || len(rep.Segments) != len(segs) || !rep.Segments[len(segs)-1].TornTail {
			t.Fatalf("CheckStore = %+v, %v", rep, err)
		}
		logged := 0
		for _, sr := range rep.Segments {
			logged += sr.Records
		}
		if logged != int(n)+10 {
			t.Fatalf("the log holds %d records, want %d", logged, n+10)
		}
		// The check changed nothing: the store opens with every record.
		checkImage(t, path, map[ShardRef]int{s: int(n) + 10}).Close()

		// A damaged older segment is damage.
		path = path2
		old := segmentPath(path, segs[0])
		data, _ := os.ReadFile(old)
		data[walHeaderLen+3] ^= 0x10
		os.WriteFile(old, data, 0o600)
		rep, err = CheckStore(path, time.Second)
		if err != nil || !rep.Damage() || !strings.Contains(rep.Problems[0], "write-ahead log") {
			t.Fatalf("CheckStore with a damaged older segment = %+v, %v", rep, err)
		}
	})
	t.Run("in use", func(t *testing.T) {
		db := openTest(t, Options{})
		if _, err := CheckStore(db.Path(), -1); !errors.Is(err, ErrLocked) {
			t.Fatalf("CheckStore of an open store = %v, want ErrLocked", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := CheckStore(t.TempDir()+"/none.db", -1); err == nil {
			t.Fatal("CheckStore of a missing file succeeded")
		}
	})
}
