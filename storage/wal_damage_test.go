package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// appendFile appends b to the file at path.
func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// dirState maps every file name in dir to its contents (directories to "dir").
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for _, e := range entries {
		if e.IsDir() {
			out[e.Name()] = "dir"
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// segmentSalt reads the salt from a segment file's header.
func segmentSalt(t *testing.T, path string, seg uint64) uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	salt, ok := parseSegmentHeader(data, seg)
	if !ok {
		t.Fatalf("%s has no valid header", path)
	}
	return salt
}

// Issue 10 item 1: a recycled segment whose new frames end a few bytes
// before its old size ends in stale bytes; once a newer segment exists they
// must not read as damage.
func TestStaleTailOfAnOlderSegmentIsNotDamage(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"st", 0}
	for i := range 5 {
		mustAppend(t, db, Append{Shard: s, Records: testRecords(0, uint64(i*10), 10)})
	}
	seg := db.wal.seg
	for name, tail := range map[string][]byte{
		"8 bytes":         bytes.Repeat([]byte{0xA5}, 8),
		"a stale frame":   appendFrame(nil, seg-3, 77, []*appendReq{mustEncode(t, db, Append{Shard: s, Records: testRecords(0, 0, 3)})}),
		"half old header": appendFrame(nil, seg, 77, []*appendReq{mustEncode(t, db, Append{Shard: s, Records: testRecords(0, 0, 3)})})[5:30],
	} {
		t.Run(name, func(t *testing.T) {
			path := crashImage(t, db)
			appendFile(t, segmentPath(path, seg), tail)
			appendFile(t, segmentPath(path, seg+1), nil) // the next segment exists, empty
			checkImage(t, path, map[ShardRef]int{s: 50})
		})
	}
}

// Issue 10 item 2: Open cuts a torn last frame off (and syncs) before it
// writes anything, so a crash during recovery leaves no damage behind.
func TestTornTailIsCutBeforeRecoveryWrites(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"tt", 0}
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 0, 10)})
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 10, 10)})
	seg := db.wal.seg
	torn := appendFrame(nil, seg, db.wal.salt, []*appendReq{mustEncode(t, db, Append{Shard: s, Records: testRecords(0, 20, 5)})})
	path := crashImage(t, db)
	segFile := segmentPath(path, seg)
	before, _ := os.ReadFile(segFile)
	appendFile(t, segFile, torn[:len(torn)-9])

	// Recovery opens the store and is "killed" before it checkpoints: the
	// image of that moment has the torn frame's segment as an older one.
	gate := make(chan struct{})
	defer close(gate)
	rec := openAt(t, path, Options{hooks: &testHooks{beforeCheckpoint: func(uint64) error { <-gate; return nil }}})
	after, _ := os.ReadFile(segFile)
	if !bytes.Equal(after, before) {
		t.Fatalf("Open left the newest segment at %d bytes, want it cut back to %d", len(after), len(before))
	}
	checkImage(t, crashImage(t, rec), map[ShardRef]int{s: 20})
}

// Issue 10 item 4: a failed Open changes nothing, e.g. a directory named
// like the spare segment.
func TestFailedOpenChangesNothing(t *testing.T) {
	t.Run("spare is a directory", func(t *testing.T) {
		db := openTest(t, Options{})
		s := ShardRef{"fo", 0}
		mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 0, 10)})
		path := crashImage(t, db)
		if err := os.Mkdir(sparePath(path), 0o700); err != nil {
			t.Fatal(err)
		}
		want := dirState(t, filepath.Dir(path))
		if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "wal.spare") {
			t.Fatalf("Open with a directory as spare = %v, want an error naming it", err)
		}
		if got := dirState(t, filepath.Dir(path)); !equalState(got, want) {
			t.Fatalf("failed Open changed the directory: %v", diffState(got, want))
		}
	})
	t.Run("damaged older segment", func(t *testing.T) {
		db := openTest(t, Options{rotateBytes: 2048})
		waiting, release := holdCheckpoints(t, db)
		s := ShardRef{"fo", 1}
		var n uint64
		for waiting() == 0 {
			mustAppend(t, db, Append{Shard: s, Records: testRecords(1, n, 10)})
			n += 10
		}
		mustAppend(t, db, Append{Shard: s, Records: testRecords(1, n, 10)})
		segs, _ := listSegments(db.Path())
		path := crashImage(t, db)
		release()
		old := segmentPath(path, segs[0])
		data, _ := os.ReadFile(old)
		data[segHeaderLen+walHeaderLen+3] ^= 0x10
		os.WriteFile(old, data, 0o600)
		// Stale bytes in the newest, which a successful Open would cut.
		appendFile(t, segmentPath(path, segs[len(segs)-1]), []byte{1, 2, 3})
		want := dirState(t, filepath.Dir(path))
		if _, err := Open(path, Options{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open = %v, want ErrCorrupt", err)
		}
		if got := dirState(t, filepath.Dir(path)); !equalState(got, want) {
			t.Fatalf("failed Open changed the directory: %v", diffState(got, want))
		}
	})
}

func equalState(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func diffState(got, want map[string]string) string {
	var out []string
	for k, v := range got {
		if w, ok := want[k]; !ok {
			out = append(out, "new "+k)
		} else if w != v {
			out = append(out, fmt.Sprintf("changed %s (%d → %d bytes)", k, len(w), len(v)))
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			out = append(out, "gone "+k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// Issue 10 item 5: a frame not written by this segment never replays, even
// one whose bytes a client chose (record data shaped like a frame of the
// segment): it cannot carry the segment's random salt. A frame of the
// segment that would overwrite what the store holds is refused.
func TestForeignFramesDoNotReplay(t *testing.T) {
	db := openTest(t, Options{})
	victim, attacker := ShardRef{"victim", 0}, ShardRef{"attacker", 0}
	mustAppend(t, db, Append{Shard: victim, Records: testRecords(0, 0, 10)})
	seg := db.wal.seg
	// The attacker's record data is a frame of the next segments that
	// rewrites the victim's records, under guessed salts.
	var forged []byte
	for s := seg; s < seg+3; s++ {
		for _, salt := range []uint64{0, 1, db.wal.salt + 1} {
			forged = appendFrame(forged, s, salt, []*appendReq{mustEncode(t, db, Append{Shard: victim, Records: []Record{{Position: 3, Data: []byte("forged")}}})})
		}
	}
	mustAppend(t, db, Append{Shard: attacker, Records: []Record{{Position: 0, Data: forged}}})
	path := crashImage(t, db)
	// Crash images where the forged bytes sit where frames are looked for:
	// right after the last frame, and as the whole of a recycled next segment.
	appendFile(t, segmentPath(path, seg), forged)
	os.WriteFile(segmentPath(path, seg+1), append(segmentHeader(seg+1, 5), forged...), 0o600)
	img := checkImage(t, path, map[ShardRef]int{victim: 10})
	if got := readAll(t, img, attacker); len(got) != 1 || !bytes.Equal(got[0].Data, forged) {
		t.Fatalf("attacker's record = %d records", len(got))
	}
}

func TestReplayRefusesPositionsTheStoreHolds(t *testing.T) {
	db := openTest(t, Options{})
	s := ShardRef{"pos", 0}
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 0, 10)})
	checkpointNow(t, db)
	mustAppend(t, db, Append{Shard: s, Records: testRecords(0, 10, 10)})
	seg, salt := db.wal.seg, db.wal.salt
	path := crashImage(t, db)
	// A frame of this very segment (right salt) that rewrites position 5.
	over := appendFrame(nil, seg, salt, []*appendReq{mustEncode(t, db, Append{Shard: s, Records: []Record{{Position: 5, Data: []byte("over")}}})})
	appendFile(t, segmentPath(path, seg), over)
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "position 5") {
		t.Fatalf("Open = %v, want ErrCorrupt naming position 5", err)
	}
}

// damagedImage makes a crash image with one segment of several frames (10
// records each, shard "dm"/0) and returns it with the frames' offsets.
func damagedImage(t *testing.T) (path string, seg uint64, offs []int) {
	db := openTest(t, Options{})
	s := ShardRef{"dm", 0}
	seg = db.wal.seg
	off := segHeaderLen
	for i := range 6 {
		offs = append(offs, off)
		req := mustEncode(t, db, Append{Shard: s, Records: testRecords(0, uint64(i*10), 10)})
		off += len(appendFrame(nil, seg, db.wal.salt, []*appendReq{req}))
		mustAppend(t, db, Append{Shard: s, Records: testRecords(0, uint64(i*10), 10)})
	}
	if db.wal.off != int64(off) {
		t.Fatalf("frames end at %d, computed %d", db.wal.off, off)
	}
	return crashImage(t, db), seg, offs
}

// Issue 10 item 6: damage inside the log is corruption, never the end of
// the log; repair keeps every frame that checks out and counts the rest.
func TestDamageInsideTheLogIsCorruption(t *testing.T) {
	for name, at := range map[string]func(offs []int) int{
		"payload of frame 2":       func(offs []int) int { return offs[2] + walHeaderLen + 30 },
		"segment field of frame 1": func(offs []int) int { return offs[1] + 9 },
		"salt of frame 3":          func(offs []int) int { return offs[3] + 20 },
		"length of frame 0":        func(offs []int) int { return offs[0] + 5 },
		"crc of frame 4":           func(offs []int) int { return offs[4] + 1 },
	} {
		t.Run(name, func(t *testing.T) {
			path, seg, offs := damagedImage(t)
			file := segmentPath(path, seg)
			data, _ := os.ReadFile(file)
			data[at(offs)] ^= 0x04
			os.WriteFile(file, data, 0o600)
			_, err := Open(path, Options{})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), filepath.Base(file)) || !strings.Contains(err.Error(), "offset") {
				t.Fatalf("Open = %v, want ErrCorrupt naming %s and an offset", err, filepath.Base(file))
			}
			if rep, err := VerifyLog(path); !errors.Is(err, ErrCorrupt) || !rep.Damaged() {
				t.Fatalf("VerifyLog = %+v, %v; want damage", rep, err)
			}
			rep, err := Repair(path)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			var lost int
			for _, s := range rep.Segments {
				lost += s.LostRecords
				if s.LostUncounted != 0 {
					t.Errorf("%s: %d uncounted stretches", s.Name, s.LostUncounted)
				}
			}
			if lost != 10 {
				t.Fatalf("Repair reports %d records lost, want 10: %+v", lost, rep)
			}
			if _, err := os.Stat(file + ".damaged"); err != nil {
				t.Fatalf("damaged file not kept: %v", err)
			}
			img := openAt(t, path, Options{})
			got := readAll(t, img, ShardRef{"dm", 0})
			if len(got) != 50 {
				t.Fatalf("%d records after repair, want 50", len(got))
			}
			for _, r := range got {
				if !sameRecord(r, testRecord(0, r.Position)) {
					t.Fatalf("record %d damaged", r.Position)
				}
			}
		})
	}
}

// The last frame of the newest segment cut short or failing its CRC is a
// commit that never returned: the store opens without it, and VerifyLog
// and Repair agree that nothing is damaged.
func TestTornLastFrameIsNotDamage(t *testing.T) {
	path, seg, offs := damagedImage(t)
	file := segmentPath(path, seg)
	data, _ := os.ReadFile(file)
	data[offs[5]+walHeaderLen+40] ^= 0x01
	os.WriteFile(file, data, 0o600)
	rep, err := VerifyLog(path)
	if err != nil || rep.Damaged() || len(rep.Segments) != 1 || !rep.Segments[0].TornTail || rep.Segments[0].Records != 50 {
		t.Fatalf("VerifyLog = %+v, %v", rep, err)
	}
	if rep, err := Repair(path); err != nil || rep.Damaged() {
		t.Fatalf("Repair = %+v, %v", rep, err)
	}
	checkImage(t, path, map[ShardRef]int{{"dm", 0}: 50})
}

// Issue 10 item 8: a failed checkpoint refuses appends only while it
// fails; they resume by themselves once the disk has room.
func TestAppendsResumeAfterCheckpointsRecover(t *testing.T) {
	db := openTest(t, Options{rotateBytes: 2048, ckptRetry: time.Millisecond})
	boom := errors.New("no space left on device")
	var full atomic.Bool
	full.Store(true)
	db.hooks.Store(&testHooks{beforeCheckpoint: func(uint64) error {
		if full.Load() {
			return boom
		}
		return nil
	}})
	s := ShardRef{"full", 0}
	var n uint64
	for ; ; n += 10 {
		if err := db.Append(t.Context(), []Append{{Shard: s, Records: testRecords(0, n, 10)}}); err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("Append = %v, want %v", err, boom)
			}
			break
		}
		if n > 100000 {
			t.Fatal("appends never refused")
		}
	}
	if err := db.WriteBlocked(); !errors.Is(err, boom) {
		t.Fatalf("WriteBlocked = %v, want %v", err, boom)
	}
	full.Store(false)
	waitFor(t, "writes to resume", func() bool { return db.WriteBlocked() == nil })
	for i := range 50 {
		mustAppend(t, db, Append{Shard: s, Records: testRecords(0, n+uint64(i*10), 10)})
	}
	n += 500
	if got := readAll(t, db, s); uint64(len(got)) != n {
		t.Fatalf("%d records, want %d", len(got), n)
	}
}

// A checkpoint that failed but succeeds when Close tries again leaves a
// clean store; one that still fails makes Close return its error.
func TestCloseRetriesAFailedCheckpoint(t *testing.T) {
	for _, recovers := range []bool{true, false} {
		t.Run(fmt.Sprintf("recovers=%v", recovers), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			boom := errors.New("no space left on device")
			var full atomic.Bool
			full.Store(true)
			db, err := Open(path, Options{rotateBytes: 2048, ckptRetry: time.Hour, hooks: &testHooks{beforeCheckpoint: func(uint64) error {
				if full.Load() {
					return boom
				}
				return nil
			}}})
			if err != nil {
				t.Fatal(err)
			}
			s := ShardRef{"cl", 0}
			var n uint64
			for ; db.Append(t.Context(), []Append{{Shard: s, Records: testRecords(0, n, 10)}}) == nil; n += 10 {
			}
			full.Store(!recovers)
			err = db.Close()
			if recovers {
				if err != nil {
					t.Fatalf("Close = %v after the disk got room", err)
				}
				if f := walFiles(t, path); len(f) != 0 {
					t.Fatalf("log files left after a clean close: %v", f)
				}
			} else if !errors.Is(err, boom) {
				t.Fatalf("Close = %v, want %v", err, boom)
			}
			checkImage(t, path, map[ShardRef]int{s: int(n)})
		})
	}
}
