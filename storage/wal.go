package storage

import (
	"bytes"
	cryptorand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The write-ahead log. A group commit is one frame appended to the active
// segment file and made durable with one fdatasync; the records then join
// the active memtable (memtable.go) and the callers are answered. A bbolt
// commit costs two fsyncs and rewrites every page on the path to each
// touched shard's last leaf, so doing it per group commit bound the wire
// benchmark; now bbolt sees the same records in checkpoints of several MiB.
//
// Segments are files beside the store, "<store>.wal.<16 hex digits>", one
// per memtable. When the active memtable reaches rotateBytes the committer
// starts a new segment and the checkpointer goroutine writes the frozen
// memtable into bbolt in one transaction that also records the segment
// number as checkpointed (keyWALCheckpoint), then deletes the file. Open
// replays, in order, the segments above the checkpointed number and deletes
// the rest, so a crash anywhere in between neither loses nor repeats a
// record.
//
// Segment file layout (little-endian): a 32-byte file header, then frames.
//
//	file header: [0:8] segMagic | [8:16] segment number | [16:24] salt |
//	             [24:28] CRC-32C of [0:24] | [28:32] zero
//	frame:       [0:4]   CRC-32C of [4:] (header rest and payload)
//	             [4:8]   payload length
//	             [8:16]  segment number
//	             [16:24] the segment's salt
//	payload: uvarint item count, then per item
//	         uvarint len(stream) | stream | uvarint shard | uvarint n |
//	         n × (8-byte position | uvarint len(value) | value)
//
// The salt is random, drawn for each segment and written (and synced) in
// its file header before any frame. A frame belongs to the
// segment only if its number and salt match the file header and its CRC
// checks out, so bytes left in a recycled file, or record data shaped like a
// frame (a client cannot know the salt), never replay.
//
// The frames of a segment end at the first place where no frame of the
// segment starts. If any later frame of the segment checks out, what lies in
// between is damage (ErrCorrupt naming the file and offset; Repair salvages
// the frames that check out), never "the end of the log". A torn write can
// only be the last frame written, so a frame of the segment that is cut
// short or fails its CRC with nothing valid after it is tolerated in the
// newest segment (a commit that never returned; Open cuts it off before
// writing anything else) and is damage in an older one.
//
// Checkpointed segment files are recycled: renamed to "<store>.wal.spare"
// and renamed again into place at the next rotation. Writing over blocks
// the file already has spares fdatasync the inode update that growing a
// file needs, about halving its latency here. The checkpointer also writes
// and syncs the next segment's header into the spare beforehand
// (prepareSpare), so a rotation on the commit path is a rename and a
// directory sync.

const (
	segHeaderLen = 32
	walHeaderLen = 24
	// defaultRotateBytes is the memtable size that triggers a checkpoint.
	defaultRotateBytes = 8 << 20
	// maxFrozen memtables may wait for the checkpointer before the committer
	// waits too (backpressure bounds memory when bbolt falls behind).
	maxFrozen = 2
	// A failed checkpoint is retried after defaultCheckpointRetry, doubling
	// up to maxCheckpointRetry.
	defaultCheckpointRetry = 50 * time.Millisecond
	maxCheckpointRetry     = 5 * time.Second
	// maxFrameBytes caps one frame's payload (the length field is 32 bits).
	maxFrameBytes = 1 << 30
)

var (
	keyWALCheckpoint = []byte("walCheckpoint")
	crcTable         = crc32.MakeTable(crc32.Castagnoli)
	segMagic         = []byte("sscpWAL2")
)

func segmentPath(store string, seg uint64) string {
	return fmt.Sprintf("%s.wal.%016x", store, seg)
}

func sparePath(store string) string { return store + ".wal.spare" }

// listSegments returns the segment numbers present beside the store, sorted.
func listSegments(store string) ([]uint64, error) {
	dir, base := filepath.Split(store)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	prefix := base + ".wal."
	var segs []uint64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || len(name) != len(prefix)+16 {
			continue
		}
		n, err := strconv.ParseUint(name[len(prefix):], 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, n)
	}
	slices.Sort(segs)
	return segs, nil
}

// segmentHeader is the file header of segment seg with the given salt.
func segmentHeader(seg, salt uint64) []byte {
	h := make([]byte, segHeaderLen)
	copy(h, segMagic)
	binary.LittleEndian.PutUint64(h[8:], seg)
	binary.LittleEndian.PutUint64(h[16:], salt)
	binary.LittleEndian.PutUint32(h[24:], crc32.Checksum(h[:24], crcTable))
	return h
}

// parseSegmentHeader returns the salt of a valid file header of segment seg.
func parseSegmentHeader(data []byte, seg uint64) (salt uint64, ok bool) {
	if len(data) < segHeaderLen || !bytes.Equal(data[:8], segMagic) ||
		binary.LittleEndian.Uint64(data[8:]) != seg ||
		crc32.Checksum(data[:24], crcTable) != binary.LittleEndian.Uint32(data[24:]) ||
		binary.LittleEndian.Uint32(data[28:]) != 0 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(data[16:]), true
}

func newSalt() (uint64, error) {
	var b [8]byte
	if _, err := cryptorand.Read(b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// appendFrame encodes reqs as one frame of segment seg onto buf.
func appendFrame(buf []byte, seg, salt uint64, reqs []*appendReq) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, walHeaderLen)...)
	items := 0
	for _, r := range reqs {
		items += len(r.items)
	}
	buf = binary.AppendUvarint(buf, uint64(items))
	for _, r := range reqs {
		for i := range r.items {
			it := &r.items[i]
			buf = binary.AppendUvarint(buf, uint64(len(it.ref.Stream)))
			buf = append(buf, it.ref.Stream...)
			buf = binary.AppendUvarint(buf, uint64(it.ref.Shard))
			buf = binary.AppendUvarint(buf, uint64(len(it.pos)))
			for j, p := range it.pos {
				buf = binary.LittleEndian.AppendUint64(buf, p)
				buf = binary.AppendUvarint(buf, uint64(len(it.vals[j])))
				buf = append(buf, it.vals[j]...)
			}
		}
	}
	h := buf[start : start+walHeaderLen]
	binary.LittleEndian.PutUint32(h[4:], uint32(len(buf)-start-walHeaderLen))
	binary.LittleEndian.PutUint64(h[8:], seg)
	binary.LittleEndian.PutUint64(h[16:], salt)
	binary.LittleEndian.PutUint32(h[0:], crc32.Checksum(buf[start+4:], crcTable))
	return buf
}

// errLogBroken: a failed frame could not be cut off, so no later frame may
// follow it.
var errLogBroken = errors.New("the write-ahead log is unusable")

// segFrame is one frame of a segment that checks out.
type segFrame struct {
	off     int
	payload []byte
}

// segScan is what one segment file holds.
type segScan struct {
	headerOK bool // the file header is this segment's
	salt     uint64
	frames   []segFrame
	good     int  // end of the last frame of the unbroken run from the start
	torn     bool // at good starts a frame of this segment that is cut short or fails its CRC
	later    int  // offset of a frame of this segment that checks out after good, or -1
}

// frameAt returns the length of a frame of segment seg with the given salt
// that starts at off and checks out, or 0.
func frameAt(data []byte, off int, seg, salt uint64) (n int, ours bool) {
	if len(data)-off < walHeaderLen {
		return 0, false
	}
	h := data[off : off+walHeaderLen]
	if binary.LittleEndian.Uint64(h[8:]) != seg || binary.LittleEndian.Uint64(h[16:]) != salt {
		return 0, false
	}
	p := int(binary.LittleEndian.Uint32(h[4:]))
	if p > len(data)-off-walHeaderLen {
		return 0, true
	}
	if crc32.Checksum(data[off+4:off+walHeaderLen+p], crcTable) != binary.LittleEndian.Uint32(h) {
		return 0, true
	}
	return walHeaderLen + p, true
}

// scanSegment finds the frames of segment seg in a file's bytes. It only
// checks framing and CRCs; decoding the payloads is the caller's.
func scanSegment(data []byte, seg uint64) segScan {
	sc := segScan{later: -1}
	salt, ok := parseSegmentHeader(data, seg)
	if !ok {
		// No header of this segment: a file whose header never reached the
		// disk holds no frame of it. A damaged header does: the first frame
		// of the segment would sit right after it.
		if len(data) >= segHeaderLen+walHeaderLen {
			s := binary.LittleEndian.Uint64(data[segHeaderLen+16:])
			if n, _ := frameAt(data, segHeaderLen, seg, s); n > 0 {
				sc.later = segHeaderLen
			}
		}
		return sc
	}
	sc.headerOK, sc.salt = true, salt
	off := segHeaderLen
	for {
		n, ours := frameAt(data, off, seg, salt)
		if n == 0 {
			sc.torn = ours
			break
		}
		sc.frames = append(sc.frames, segFrame{off: off, payload: data[off+walHeaderLen : off+n]})
		off += n
	}
	sc.good = off
	// Anything valid further on means the run above ended at damage.
	var pat [16]byte
	binary.LittleEndian.PutUint64(pat[:], seg)
	binary.LittleEndian.PutUint64(pat[8:], salt)
	for from := off + 1; from+8 < len(data); {
		i := bytes.Index(data[from+8:], pat[:])
		if i < 0 {
			break
		}
		at := from + i
		if n, _ := frameAt(data, at, seg, salt); n > 0 {
			sc.later = at
			break
		}
		from = at + 1
	}
	return sc
}

// salvage returns every frame of the segment that checks out, anywhere in
// the file (Repair).
func salvage(data []byte, seg, salt uint64) []segFrame {
	var pat [16]byte
	binary.LittleEndian.PutUint64(pat[:], seg)
	binary.LittleEndian.PutUint64(pat[8:], salt)
	var frames []segFrame
	for off := segHeaderLen; off+8 < len(data); {
		i := bytes.Index(data[off+8:], pat[:])
		if i < 0 {
			break
		}
		at := off + i
		if n, _ := frameAt(data, at, seg, salt); n > 0 {
			frames = append(frames, segFrame{off: at, payload: data[at+walHeaderLen : at+n]})
			off = at + n
			continue
		}
		off = at + 1
	}
	return frames
}

func decodeFrame(p []byte, fn func(ref ShardRef, pos []uint64, vals [][]byte) error) error {
	next := func() (uint64, error) {
		v, w := binary.Uvarint(p)
		if w <= 0 {
			return 0, errors.New("bad varint")
		}
		p = p[w:]
		return v, nil
	}
	items, err := next()
	if err != nil {
		return err
	}
	for range items {
		sl, err := next()
		if err != nil || sl > uint64(len(p)) {
			return errors.New("bad stream name")
		}
		stream := string(p[:sl])
		p = p[sl:]
		shard, err := next()
		if err != nil || shard > 1<<32-1 {
			return errors.New("bad shard")
		}
		n, err := next()
		if err != nil || n > uint64(len(p)) {
			return errors.New("bad record count")
		}
		pos := make([]uint64, n)
		vals := make([][]byte, n)
		for j := range pos {
			if len(p) < 8 {
				return errors.New("short record")
			}
			pos[j] = binary.LittleEndian.Uint64(p)
			p = p[8:]
			vl, err := next()
			if err != nil || vl > uint64(len(p)) {
				return errors.New("bad record length")
			}
			vals[j] = p[:vl:vl]
			p = p[vl:]
		}
		if err := fn(ShardRef{stream, uint32(shard)}, pos, vals); err != nil {
			return err
		}
	}
	if len(p) != 0 {
		return errors.New("trailing bytes")
	}
	return nil
}

// walPlan is what Open does to the log files once everything checked out:
// a failed Open changes nothing.
type walPlan struct {
	mems   []*memtable // oldest first
	next   uint64      // the next free segment number
	remove []string    // segments already checkpointed
	cut    string      // the newest segment, cut back to cutAt (a torn last frame or stale bytes)
	cutAt  int64
}

// replayWAL rebuilds the memtables of the segments not yet checkpointed. It
// only reads; apply carries out the plan.
func (db *DB) replayWAL() (*walPlan, error) {
	var done uint64
	err := db.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketSystem).Get(keyWALCheckpoint); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("%w: checkpoint entry of %d bytes", ErrCorrupt, len(v))
			}
			done = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	segs, err := listSegments(db.path)
	if err != nil {
		return nil, err
	}
	plan := &walPlan{next: done + 1}
	rs := db.newReplayState()
	for i, seg := range segs {
		plan.next = max(plan.next, seg+1)
		path := segmentPath(db.path, seg)
		if seg <= done {
			plan.remove = append(plan.remove, path)
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(path)
		newest := i == len(segs)-1
		sc := scanSegment(data, seg)
		switch {
		case sc.later >= 0:
			return nil, fmt.Errorf("%w: write-ahead log %s is damaged at offset %d: a frame at offset %d checks out "+
				"after it (`shardscope repair` keeps every frame that checks out)", ErrCorrupt, name, sc.good, sc.later)
		case !sc.headerOK && legacyFrameAt(data, seg):
			return nil, fmt.Errorf("%w: write-ahead log %s was written by an older shardscope: open the store "+
				"with that version and close it cleanly first", ErrCorrupt, name)
		case !sc.headerOK && len(data) > 0 && !newest:
			return nil, fmt.Errorf("%w: write-ahead log %s has no valid header", ErrCorrupt, name)
		case sc.torn && !newest:
			return nil, fmt.Errorf("%w: write-ahead log %s is damaged at offset %d "+
				"(`shardscope repair` keeps every frame that checks out)", ErrCorrupt, name, sc.good)
		}
		m := newMemtable(seg)
		for _, f := range sc.frames {
			if err := rs.frame(m, f.payload); err != nil {
				return nil, fmt.Errorf("%w: write-ahead log %s, frame at offset %d: %v", ErrCorrupt, name, f.off, err)
			}
		}
		if newest && len(data) > sc.good {
			plan.cut, plan.cutAt = path, int64(sc.good)
		}
		plan.mems = append(plan.mems, m)
	}
	return plan, nil
}

// replayState follows each shard's high mark through a replay: every
// replayed position must be above what the store already holds for its
// shard (a frame can only extend a shard).
type replayState struct {
	db    *DB
	highs map[ShardRef]uint64
}

func (db *DB) newReplayState() *replayState {
	return &replayState{db: db, highs: make(map[ShardRef]uint64)}
}

func (rs *replayState) highOf(ref ShardRef) (uint64, error) {
	if h, ok := rs.highs[ref]; ok {
		return h, nil
	}
	var st shardStat
	err := rs.db.view(func(tx *bolt.Tx) error {
		var err error
		st, err = readStat(tx, ref)
		return err
	})
	if err != nil {
		return 0, err
	}
	rs.highs[ref] = st.high
	return st.high, nil
}

// frame decodes one frame's payload into m (nil: check only). On error m
// and the high marks are unchanged.
func (rs *replayState) frame(m *memtable, payload []byte) error {
	var items []encodedAppend
	next := make(map[ShardRef]uint64)
	err := decodeFrame(payload, func(ref ShardRef, pos []uint64, vals [][]byte) error {
		it := encodedAppend{ref: ref, pos: pos, vals: vals,
			arrivals: make([]int64, len(pos)), payload: make([]int64, len(pos))}
		for j, v := range vals {
			var err error
			if it.arrivals[j], err = valueArrival(v); err != nil {
				return err
			}
			if it.payload[j], err = valuePayload(rs.db.codec, v); err != nil {
				return err
			}
		}
		if len(pos) == 0 {
			return fmt.Errorf("no records for %s", ref)
		}
		h, ok := next[ref]
		if !ok {
			var err error
			if h, err = rs.highOf(ref); err != nil {
				return err
			}
		}
		for k, p := range pos {
			if p < h || h == math.MaxUint64 || (k > 0 && p <= pos[k-1]) {
				return fmt.Errorf("position %d of %s is not above what the store already holds", p, ref)
			}
		}
		next[ref] = nextHigh(h, pos[len(pos)-1])
		items = append(items, it)
		return nil
	})
	if err != nil {
		return err
	}
	for ref, h := range next {
		rs.highs[ref] = h
	}
	if m != nil {
		for i := range items {
			m.add(items[i].ref, &items[i])
		}
	}
	return nil
}

// legacyFrameAt reports whether a file without a header starts with a frame
// of segment seg in the layout before salts (16-byte header, no file header).
func legacyFrameAt(data []byte, seg uint64) bool {
	if len(data) < 16 || binary.LittleEndian.Uint64(data[8:]) != seg {
		return false
	}
	n := int(binary.LittleEndian.Uint32(data[4:]))
	return n <= len(data)-16 && crc32.Checksum(data[4:16+n], crcTable) == binary.LittleEndian.Uint32(data)
}

// applyWAL carries out a replay plan: checkpointed segments go, the newest
// is cut back to its last good frame and made durable so, before anything
// else is written (a torn frame left in place would be damage once a newer
// segment exists).
func (db *DB) applyWAL(plan *walPlan) error {
	for _, path := range plan.remove {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		db.rec.remove(path)
	}
	if plan.cut != "" {
		f, err := os.OpenFile(plan.cut, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		err = f.Truncate(plan.cutAt)
		if err == nil {
			db.rec.truncate(plan.cut, plan.cutAt)
			if db.sync == SyncAlways {
				if err = f.Sync(); err == nil {
					db.rec.sync(plan.cut)
				}
			}
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("cut back write-ahead log %s: %w", filepath.Base(plan.cut), err)
		}
	}
	return nil
}

// Remove deletes the store at path with its log segments. The store must
// not be open.
func Remove(path string) error {
	segs, err := listSegments(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var errs []error
	for _, seg := range segs {
		errs = append(errs, os.Remove(segmentPath(path, seg)))
	}
	for _, p := range []string{sparePath(path), path} {
		if err := os.Remove(p); !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// walSegment is the open active segment, owned by the committer.
type walSegment struct {
	seg  uint64
	salt uint64
	path string
	file *os.File
	off  int64
	rec  *fsRecorder
}

// createSegment creates segment seg and makes its header and name durable
// before any frame in it is acknowledged. On failure it leaves no file at
// the segment's name, so a later rotation can try again.
func (db *DB) createSegment(seg uint64) (_ *walSegment, err error) {
	path := segmentPath(db.path, seg)
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("storage: create write-ahead log: %s exists", path)
	}
	db.spareMu.Lock()
	defer db.spareMu.Unlock()
	prep := db.prepared
	db.prepared = preparedSpare{}
	// A recycled file if there is one, else a new one.
	recycled := false
	if st, err := os.Lstat(sparePath(db.path)); err == nil && st.Mode().IsRegular() {
		if err := os.Rename(sparePath(db.path), path); err != nil {
			return nil, fmt.Errorf("storage: create write-ahead log: %w", err)
		}
		db.rec.rename(sparePath(db.path), path)
		recycled = true
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		if recycled {
			os.Remove(path)
		}
		return nil, fmt.Errorf("storage: create write-ahead log: %w", err)
	}
	if !recycled {
		db.rec.create(path)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
			db.rec.remove(path)
			err = fmt.Errorf("storage: create write-ahead log: %w", err)
		}
	}()
	salt := prep.salt
	if !recycled || !prep.ok || prep.seg != seg {
		// Nothing prepared for this number: write and sync the header now,
		// on the commit path.
		if salt, err = newSalt(); err != nil {
			return nil, err
		}
		if err := db.writeSegmentHeader(f, path, seg, salt); err != nil {
			return nil, err
		}
	}
	if db.sync == SyncAlways {
		if err := syncDir(filepath.Dir(db.path)); err != nil {
			return nil, err
		}
		db.rec.syncDir(filepath.Dir(db.path))
	}
	return &walSegment{seg: seg, salt: salt, path: path, file: f, off: segHeaderLen, rec: db.rec}, nil
}

// writeSegmentHeader writes the file header of segment seg into f (at
// path) and, under SyncAlways, makes it durable.
func (db *DB) writeSegmentHeader(f *os.File, path string, seg, salt uint64) error {
	h := segmentHeader(seg, salt)
	if _, err := f.WriteAt(h, 0); err != nil {
		return err
	}
	db.rec.write(path, 0, h)
	if db.sync == SyncAlways {
		if err := fdatasync(f); err != nil {
			return err
		}
		db.rec.sync(path)
	}
	return nil
}

// preparedSpare is a segment header already written and synced into the
// spare file.
type preparedSpare struct {
	ok        bool
	seg, salt uint64
}

// prepareSpare (checkpointer) writes into the spare file the header of the
// segment the next rotation will create, so that rotation costs a rename
// and a directory sync instead of a header write and an fdatasync more on
// the commit path (one per rotateBytes of records). The header alone never
// replays: the file keeps its spare name until that rotation, and a
// rotation that finds a different number (or nothing prepared) writes the
// header itself.
func (db *DB) prepareSpare() {
	db.memMu.RLock()
	next := db.mem[len(db.mem)-1].seg + 1
	db.memMu.RUnlock()
	db.spareMu.Lock()
	defer db.spareMu.Unlock()
	if db.prepared.ok && db.prepared.seg == next {
		return
	}
	db.prepared = preparedSpare{}
	path := sparePath(db.path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return // no spare (it could not be kept): rotation makes a file
	}
	defer f.Close()
	salt, err := newSalt()
	if err != nil {
		return
	}
	if db.writeSegmentHeader(f, path, next, salt) == nil {
		db.prepared = preparedSpare{ok: true, seg: next, salt: salt}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeFrame appends one frame and makes it durable. On failure it cuts the
// file back so the frame can never be replayed.
func (w *walSegment) writeFrame(frame []byte, sync bool) error {
	_, err := w.file.WriteAt(frame, w.off)
	if err == nil {
		w.rec.write(w.path, w.off, frame)
		if sync {
			if err = fdatasync(w.file); err == nil {
				w.rec.sync(w.path)
			}
		}
	}
	if err != nil {
		if terr := w.file.Truncate(w.off); terr != nil {
			return fmt.Errorf("%w (%w: cutting it back failed: %v)", err, errLogBroken, terr)
		}
		w.rec.truncate(w.path, w.off)
		return err
	}
	w.off += int64(len(frame))
	return nil
}

// checkpointer writes frozen memtables into bbolt, oldest first. A failed
// checkpoint (a full disk) is retried with backoff; while it fails, appends
// are refused with its error (WriteBlocked), and they resume by themselves
// once a checkpoint succeeds. At Close a failure ends it: Close reports it.
func (db *DB) checkpointer() {
	defer close(db.ckptStopped)
	backoff := db.ckptRetry
	for {
		db.memMu.Lock()
		for len(db.mem) < 2 && !db.ckptStop {
			db.memCond.Wait()
		}
		if len(db.mem) < 2 {
			db.memMu.Unlock()
			return
		}
		m := db.mem[0]
		db.memMu.Unlock()

		err := db.checkpoint(m)
		if err == nil {
			// Keep the file for the next rotation (replacing an older
			// spare); failing that, the next Open deletes it. Done before
			// anyone hears of the checkpoint, so no one sees it move.
			db.spareMu.Lock()
			if os.Rename(segmentPath(db.path, m.seg), sparePath(db.path)) == nil {
				db.rec.rename(segmentPath(db.path, m.seg), sparePath(db.path))
				db.prepared = preparedSpare{}
			}
			db.spareMu.Unlock()
		}

		db.memMu.Lock()
		if err != nil {
			db.ckptErr = err
			db.memCond.Broadcast()
			stop := db.ckptStop
			db.memMu.Unlock()
			if stop {
				return
			}
			select {
			case <-time.After(backoff):
			case <-db.ckptKick:
			case <-db.ckptWake:
			}
			backoff = min(2*backoff, maxCheckpointRetry)
			continue
		}
		backoff = db.ckptRetry
		db.ckptErr = nil
		db.mem = db.mem[1:]
		db.memCond.Broadcast()
		db.memMu.Unlock()
		db.prepareSpare()
	}
}

// checkpoint writes one memtable into bbolt and marks its segment done, in
// one transaction.
func (db *DB) checkpoint(m *memtable) error {
	if hooks := db.hooks.Load(); hooks != nil && hooks.beforeCheckpoint != nil {
		if err := hooks.beforeCheckpoint(m.seg); err != nil {
			return fmt.Errorf("storage: checkpoint: %w", err)
		}
	}
	refs := make([]ShardRef, 0, len(m.shards))
	for ref := range m.shards {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, compareRefs) // bbolt touches pages in key order
	err := db.update(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bucketRecords)
		if recs == nil {
			return fmt.Errorf("%w: no %q bucket", ErrCorrupt, bucketRecords)
		}
		for _, ref := range refs {
			ms := m.shards[ref]
			if len(ms.recs) == 0 {
				continue
			}
			sb, err := recs.CreateBucketIfNotExists([]byte(ref.Stream))
			if err != nil {
				return err
			}
			b, err := sb.CreateBucketIfNotExists(be32(ref.Shard))
			if err != nil {
				return err
			}
			b.FillPercent = shardFillPercent
			// bbolt keeps key and value slices until commit: the keys get
			// one buffer of their own; the values are the memtable's.
			keys := make([]byte, 8*len(ms.recs))
			for i := range ms.recs {
				r := &ms.recs[i]
				key := keys[8*i : 8*i+8 : 8*i+8]
				binary.BigEndian.PutUint64(key, r.pos)
				if err := b.Put(key, r.val); err != nil {
					return fmt.Errorf("put %s at %d: %w", ref, r.pos, err)
				}
			}
			st, err := readStat(tx, ref)
			if err != nil {
				return err
			}
			last := &ms.recs[len(ms.recs)-1]
			st.records += int64(len(ms.recs))
			st.bytes += last.cumPayload
			st.high = nextHigh(st.high, last.pos)
			if err := writeStat(tx, ref, st); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketSystem).Put(keyWALCheckpoint, binary.BigEndian.AppendUint64(nil, m.seg))
	})
	if err != nil {
		return fmt.Errorf("storage: checkpoint: %w", err)
	}
	return nil
}

func compareRefs(a, b ShardRef) int {
	if c := strings.Compare(a.Stream, b.Stream); c != 0 {
		return c
	}
	switch {
	case a.Shard < b.Shard:
		return -1
	case a.Shard > b.Shard:
		return 1
	}
	return 0
}
