package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// LogReport describes a store's write-ahead log (VerifyLog, Repair).
type LogReport struct {
	// Checkpointed is the last segment number whose records are in the
	// store file; segments up to it are left-overs that Open deletes.
	Checkpointed uint64
	Segments     []SegmentReport
}

// SegmentReport describes one segment file.
type SegmentReport struct {
	Name         string // file name
	Seg          uint64
	Checkpointed bool  // already in the store file: never replayed
	Size         int64 // bytes
	Frames       int   // frames that check out
	Records      int   // records in them
	// TornTail: the newest segment ends in a frame cut short or failing
	// its CRC, a commit that never returned (Open drops it).
	TornTail bool
	// Damage says what is wrong, with the offset; empty if nothing is.
	Damage string
	// Repair only: what it could not keep. LostRecords counts the records
	// of dropped frames whose contents could still be counted; LostUncounted
	// is how many damaged stretches could not be.
	LostFrames    int
	LostRecords   int
	LostUncounted int
}

// Damaged reports whether any segment is damaged.
func (r LogReport) Damaged() bool {
	for _, s := range r.Segments {
		if s.Damage != "" {
			return true
		}
	}
	return false
}

// VerifyLog checks every write-ahead log segment of the store at path
// offline, exactly as Open would replay it, without changing anything. The
// store must not be open. The error wraps ErrCorrupt when a segment is
// damaged (the report then says which and where), or says why the log could
// not be read.
func VerifyLog(path string) (LogReport, error) {
	db, err := openLogReader(path)
	if err != nil {
		return LogReport{}, err
	}
	defer db.bolt.Close()
	rep, _, err := db.inspectLog(false)
	return rep, err
}

// Repair rewrites every damaged write-ahead log segment of the store at
// path with the frames that still check out, so that the store opens again,
// and reports what was lost. Each damaged file is kept beside the store as
// "<segment>.damaged". The store must not be open.
func Repair(path string) (LogReport, error) {
	db, err := openLogReader(path)
	if err != nil {
		return LogReport{}, err
	}
	rep, fixes, err := db.inspectLog(true)
	db.bolt.Close()
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return rep, err
	}
	for _, f := range fixes {
		if err := rewriteSegment(path, f); err != nil {
			return rep, fmt.Errorf("repair %s: %w", filepath.Base(segmentPath(path, f.seg)), err)
		}
	}
	if len(fixes) > 0 {
		if err := syncDir(filepath.Dir(path)); err != nil {
			return rep, err
		}
	}
	// What Open will see now.
	after, err := VerifyLog(path)
	if err != nil {
		return rep, fmt.Errorf("after repair: %w", err)
	}
	for i := range rep.Segments {
		rep.Segments[i].Frames = after.Segments[i].Frames
		rep.Segments[i].Records = after.Segments[i].Records
	}
	return rep, nil
}

// openLogReader opens the store file read-only, enough to replay its log.
func openLogReader(path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	var file *os.File
	bdb, err := openBolt(path, &bolt.Options{ReadOnly: true, Timeout: time.Second}, &file)
	if err != nil {
		return nil, openError(path, err)
	}
	db := &DB{path: path, bolt: bdb, codec: identityCodec{}}
	if err := db.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSystem) == nil {
			return fmt.Errorf("%w: no %q bucket", ErrCorrupt, bucketSystem)
		}
		return nil
	}); err != nil {
		bdb.Close()
		return nil, openError(path, err)
	}
	return db, nil
}

// segmentFix is a damaged segment's salvageable frames.
type segmentFix struct {
	seg    uint64
	salt   uint64
	frames [][]byte // whole frames, in order
}

// inspectLog replays the log as Open would, into nothing, reporting every
// segment. With salvage it also collects, for each damaged segment, the
// frames worth keeping.
func (db *DB) inspectLog(salvageFrames bool) (LogReport, []segmentFix, error) {
	var rep LogReport
	err := db.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketSystem).Get(keyWALCheckpoint); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("%w: checkpoint entry of %d bytes", ErrCorrupt, len(v))
			}
			rep.Checkpointed = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return rep, nil, err
	}
	segs, err := listSegments(db.path)
	if err != nil {
		return rep, nil, err
	}
	rs := db.newReplayState()
	var fixes []segmentFix
	var firstDamage error
	for i, seg := range segs {
		path := segmentPath(db.path, seg)
		sr := SegmentReport{Name: filepath.Base(path), Seg: seg, Checkpointed: seg <= rep.Checkpointed}
		data, err := os.ReadFile(path)
		if err != nil {
			return rep, nil, err
		}
		sr.Size = int64(len(data))
		if sr.Checkpointed {
			rep.Segments = append(rep.Segments, sr)
			continue
		}
		newest := i == len(segs)-1
		sc := scanSegment(data, seg)
		switch {
		case sc.later >= 0:
			sr.Damage = fmt.Sprintf("damaged at offset %d: a frame at offset %d checks out after it", sc.good, sc.later)
		case !sc.headerOK && legacyFrameAt(data, seg):
			sr.Damage = "written by an older shardscope"
		case !sc.headerOK && len(data) > 0 && !newest:
			sr.Damage = "no valid header"
		case sc.torn && !newest:
			sr.Damage = fmt.Sprintf("damaged at offset %d", sc.good)
		}
		sr.TornTail = sc.torn && newest && sr.Damage == ""
		before := maps.Clone(rs.highs)
		for _, f := range sc.frames {
			if err := rs.frame(nil, f.payload); err != nil {
				if sr.Damage == "" {
					sr.Damage = fmt.Sprintf("frame at offset %d: %v", f.off, err)
				}
				break
			}
			sr.Frames++
			sr.Records += countRecords(f.payload)
		}
		if sr.Damage != "" {
			if firstDamage == nil {
				firstDamage = fmt.Errorf("%w: write-ahead log %s: %s", ErrCorrupt, sr.Name, sr.Damage)
			}
			if salvageFrames && !legacyFrameAt(data, seg) {
				srs := &replayState{db: db, highs: before}
				fixes = append(fixes, srs.salvageSegment(data, seg, sc, &sr))
				rs = srs
			}
		}
		rep.Segments = append(rep.Segments, sr)
	}
	return rep, fixes, firstDamage
}

// salvageSegment picks the frames of a damaged segment that check out and
// still replay (in order, each extending its shards), counting what is lost.
func (rs *replayState) salvageSegment(data []byte, seg uint64, sc segScan, sr *SegmentReport) segmentFix {
	salt, ok := sc.salt, sc.headerOK
	if !ok && len(data) >= segHeaderLen+walHeaderLen {
		// A damaged file header: the first frame carries the salt.
		salt = binary.LittleEndian.Uint64(data[segHeaderLen+16:])
	}
	fix := segmentFix{seg: seg, salt: salt}
	prevEnd := segHeaderLen
	lost := func(from, to int) {
		if to <= from {
			return
		}
		sr.LostFrames++
		if n, ok := countDamaged(data[from:to], seg, salt); ok {
			sr.LostRecords += n
		} else {
			sr.LostUncounted++
		}
	}
	for _, f := range salvage(data, seg, salt) {
		lost(prevEnd, f.off)
		end := f.off + walHeaderLen + len(f.payload)
		prevEnd = end
		if rs.frame(nil, f.payload) != nil {
			lost(f.off, end)
			continue
		}
		fix.frames = append(fix.frames, data[f.off:end])
	}
	// After the last good frame: a frame of this segment that fails is lost
	// too; anything else is what a recycled file held before.
	if n, ours := frameAt(data, prevEnd, seg, salt); n == 0 && ours {
		lost(prevEnd, len(data))
	}
	return fix
}

// countRecords counts the records of a frame payload, -1 if it does not decode.
func countRecords(payload []byte) int {
	n := 0
	if err := decodeFrame(payload, func(_ ShardRef, pos []uint64, _ [][]byte) error {
		n += len(pos)
		return nil
	}); err != nil {
		return -1
	}
	return n
}

// countDamaged counts the records of a damaged stretch: one frame whose
// payload still decodes, whatever happened to its header (a stretch between
// two good frames is exactly one frame when one frame was hit), or a frame
// of this segment whose length is intact.
func countDamaged(b []byte, seg, salt uint64) (int, bool) {
	if len(b) < walHeaderLen {
		return 0, false
	}
	if n := countRecords(b[walHeaderLen:]); n >= 0 {
		return n, true
	}
	if binary.LittleEndian.Uint64(b[8:]) != seg || binary.LittleEndian.Uint64(b[16:]) != salt {
		return 0, false
	}
	p := int(binary.LittleEndian.Uint32(b[4:]))
	if p > len(b)-walHeaderLen {
		return 0, false
	}
	n := countRecords(b[walHeaderLen : walHeaderLen+p])
	return n, n >= 0
}

// rewriteSegment replaces a segment file with its salvaged frames: written
// to a temporary file, synced and renamed over it, the original kept as
// "<segment>.damaged".
func rewriteSegment(store string, f segmentFix) error {
	path := segmentPath(store, f.seg)
	tmp := path + ".repair"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	buf := segmentHeader(f.seg, f.salt)
	for _, fr := range f.frames {
		buf = append(buf, fr...)
	}
	_, err = out.Write(buf)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(path, path+".damaged")
		if errors.Is(err, os.ErrExist) {
			err = nil // from an earlier repair
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
