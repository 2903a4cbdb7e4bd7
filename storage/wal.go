package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

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
// Frame layout (little-endian):
//
//	[0:4]   CRC-32C of [4:] (header rest and payload)
//	[4:8]   payload length
//	[8:16]  segment number (a frame left from another segment never parses)
//	payload: uvarint item count, then per item
//	         uvarint len(stream) | stream | uvarint shard | uvarint n |
//	         n × (8-byte position | uvarint len(value) | value)
//
// A frame that is cut short or fails its CRC in the newest segment is a
// commit that never returned (the process died writing it): it and anything
// after it are ignored. In an older segment it is corruption.
//
// Checkpointed segment files are recycled: renamed to "<store>.wal.spare"
// and renamed again into place at the next rotation. Writing over blocks
// the file already has spares fdatasync the inode update that growing a
// file needs, about halving its latency here. Frames carry their segment
// number, so what a recycled file held before is never read as new.

const (
	walHeaderLen = 16
	// defaultRotateBytes is the memtable size that triggers a checkpoint.
	defaultRotateBytes = 8 << 20
	// maxFrozen memtables may wait for the checkpointer before the committer
	// waits too (backpressure bounds memory when bbolt falls behind).
	maxFrozen = 2
	// maxFrameBytes caps one frame's payload (the length field is 32 bits).
	maxFrameBytes = 1 << 30
)

var (
	keyWALCheckpoint = []byte("walCheckpoint")
	crcTable         = crc32.MakeTable(crc32.Castagnoli)
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

// appendFrame encodes reqs as one frame of segment seg onto buf.
func appendFrame(buf []byte, seg uint64, reqs []*appendReq) []byte {
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
	binary.LittleEndian.PutUint32(h[0:], crc32.Checksum(buf[start+4:], crcTable))
	return buf
}

var (
	// errTornFrame: a frame of this segment is cut short or fails its CRC.
	errTornFrame = errors.New("torn frame")
	// errLogBroken: a failed frame could not be cut off, so no later frame
	// may follow it.
	errLogBroken = errors.New("the write-ahead log is unusable")
)

// readFrames decodes the frames of one segment file's bytes, calling fn for
// each item, and returns how many bytes it used. The frames end cleanly at
// the end of the data or at a header that is not this segment's (zeros, or
// a frame left from the file's use as an older segment: files are
// recycled). A frame of this segment that is cut short or fails its CRC
// gives errTornFrame.
func readFrames(data []byte, seg uint64, fn func(ref ShardRef, pos []uint64, vals [][]byte) error) (good int, err error) {
	for off := 0; off < len(data); {
		if len(data)-off < walHeaderLen {
			if allZero(data[off:]) {
				return off, nil
			}
			return off, errTornFrame
		}
		h := data[off : off+walHeaderLen]
		if binary.LittleEndian.Uint64(h[8:]) != seg {
			return off, nil
		}
		n := int(binary.LittleEndian.Uint32(h[4:]))
		if n > len(data)-off-walHeaderLen {
			return off, errTornFrame
		}
		frame := data[off : off+walHeaderLen+n]
		if crc32.Checksum(frame[4:], crcTable) != binary.LittleEndian.Uint32(h) {
			return off, errTornFrame
		}
		if err := decodeFrame(frame[walHeaderLen:], fn); err != nil {
			return off, fmt.Errorf("%w: write-ahead log frame at offset %d: %v", ErrCorrupt, off, err)
		}
		off += len(frame)
	}
	return len(data), nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
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

// replayWAL rebuilds the memtables of the segments not yet checkpointed and
// deletes the others. It returns the memtables oldest first and the next
// free segment number.
func (db *DB) replayWAL() ([]*memtable, uint64, error) {
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
		return nil, 0, err
	}
	segs, err := listSegments(db.path)
	if err != nil {
		return nil, 0, err
	}
	next := done + 1
	var mems []*memtable
	for i, seg := range segs {
		next = max(next, seg+1)
		path := segmentPath(db.path, seg)
		if seg <= done {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, 0, err
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, 0, err
		}
		m := newMemtable(seg)
		good, err := readFrames(data, seg, func(ref ShardRef, pos []uint64, vals [][]byte) error {
			it := encodedAppend{ref: ref, pos: pos, vals: vals,
				arrivals: make([]int64, len(pos)), payload: make([]int64, len(pos))}
			for j, v := range vals {
				var err error
				if it.arrivals[j], err = valueArrival(v); err != nil {
					return err
				}
				if it.payload[j], err = valuePayload(db.codec, v); err != nil {
					return err
				}
			}
			if ms := m.shards[ref]; ms != nil && len(ms.recs) > 0 && pos[0] <= ms.recs[len(ms.recs)-1].pos {
				return fmt.Errorf("positions of %s go back", ref)
			}
			m.add(ref, &it)
			return nil
		})
		if errors.Is(err, errTornFrame) {
			if i != len(segs)-1 {
				return nil, 0, fmt.Errorf("%w: write-ahead log %s is damaged at offset %d "+
					"(moving it aside opens the store without the records it holds)", ErrCorrupt, filepath.Base(path), good)
			}
			err = nil // the last commit never completed
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		mems = append(mems, m)
	}
	return mems, next, nil
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
	file *os.File
	off  int64
}

// createSegment creates segment seg and makes its name durable before any
// frame in it is acknowledged.
func (db *DB) createSegment(seg uint64) (*walSegment, error) {
	path := segmentPath(db.path, seg)
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("storage: create write-ahead log: %s exists", path)
	}
	// A recycled file if there is one, else a new one.
	if err := os.Rename(sparePath(db.path), path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("storage: create write-ahead log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage: create write-ahead log: %w", err)
	}
	if db.sync == SyncAlways {
		if err := syncDir(filepath.Dir(db.path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("storage: create write-ahead log: %w", err)
		}
	}
	return &walSegment{seg: seg, file: f}, nil
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
	if err == nil && sync {
		err = fdatasync(w.file)
	}
	if err != nil {
		if terr := w.file.Truncate(w.off); terr != nil {
			return fmt.Errorf("%w (%w: cutting it back failed: %v)", err, errLogBroken, terr)
		}
		return err
	}
	w.off += int64(len(frame))
	return nil
}

// checkpointer writes frozen memtables into bbolt, oldest first.
func (db *DB) checkpointer() {
	defer close(db.ckptStopped)
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
			os.Rename(segmentPath(db.path, m.seg), sparePath(db.path))
		}

		db.memMu.Lock()
		if err != nil {
			db.ckptErr = err
			db.memCond.Broadcast()
			db.memMu.Unlock()
			return
		}
		db.mem = db.mem[1:]
		db.memCond.Broadcast()
		db.memMu.Unlock()
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
