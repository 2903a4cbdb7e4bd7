package agent

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// fileID names a file across renames: device and inode, or the path where
// the system has no inodes.
type fileID struct {
	Dev, Ino uint64
	Path     string `json:",omitempty"`
}

// chunkSize is how much one read takes from a file.
const chunkSize = 64 << 10

// idleFlush is how long a file must stay unchanged before the multi-line
// record it ends with, or a last line without a newline in a file that was
// rotated away, is sent.
const idleFlush = time.Second

// line is one record cut from a file, before processing.
type line struct {
	data []byte
	file *tracked
	gen  int   // the file's truncation generation when it was read
	end  int64 // offset just past the record
}

// tracked is one file the flow follows.
type tracked struct {
	id   fileID
	path string // its name when last seen
	f    *os.File
	gen  int   // bumped when the file is truncated
	off  int64 // where the next read starts
	sent int64 // end of the last acknowledged record (the checkpoint)
	// buf holds bytes read but not yet cut into records; bufOff is the
	// offset of buf[0].
	buf    []byte
	bufOff int64
	// pending is the multi-line record being assembled, ending at pendingEnd.
	pending    []byte
	pendingEnd int64
	headerLeft int
	footer     bool
	gone       bool // no longer matched by the pattern
	changed    time.Time
	// size and mod are from the last scan that found the file.
	size int64
	mod  time.Time
}

// tailer follows the files of one flow.
type tailer struct {
	flow  *Flow
	files map[fileID]*tracked
	now   func() time.Time
	// first is true until the first scan: then files found get the flow's
	// initial position unless a checkpoint names them.
	first bool
	saved map[fileID]int64 // checkpointed offsets, consumed by the first scan
	// known is true when the checkpoint file has the flow: it ran before,
	// so files it has not seen are new and read whole.
	known bool
	// events are sentences for the console (rotation, truncation).
	events      []string
	truncations int
}

func newTailer(flow *Flow, saved []fileCheckpoint, known bool, now func() time.Time) *tailer {
	t := &tailer{flow: flow, files: make(map[fileID]*tracked), now: now, first: true, saved: make(map[fileID]int64), known: known}
	for _, c := range saved {
		t.saved[c.ID] = c.Offset
	}
	return t
}

// scan lists the flow's files and notices new, renamed, truncated and
// vanished ones.
func (t *tailer) scan() error {
	dir := filepath.Dir(t.flow.FilePattern)
	pattern := filepath.Base(t.flow.FilePattern)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	seen := make(map[fileID]bool, len(entries))
	for _, e := range entries {
		if ok, _ := filepath.Match(pattern, e.Name()); !ok || !e.Type().IsRegular() && e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		if ext := strings.ToLower(filepath.Ext(e.Name())); ext == ".gz" || ext == ".bz2" || ext == ".zip" {
			continue // the agent skips compressed files
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		id, ok := idOf(fi)
		if !ok {
			id = fileID{Path: path}
		}
		seen[id] = true
		tf := t.files[id]
		if tf == nil {
			tf = &tracked{id: id, path: path, headerLeft: t.flow.SkipHeaderLines, changed: t.now()}
			if off, ok := t.saved[id]; ok {
				if off > fi.Size() {
					off = 0 // truncated while we were away
					t.events = append(t.events, "truncated while the agent was down: "+path)
				}
				tf.off, tf.sent, tf.bufOff = off, off, off
				if off > 0 {
					tf.headerLeft = 0
				}
			} else if t.first && !t.known && t.flow.StartAtEnd {
				off := lastBoundary(path, fi.Size())
				tf.off, tf.sent, tf.bufOff = off, off, off
				tf.headerLeft = 0
			}
			t.files[id] = tf
		} else if tf.path != path {
			t.events = append(t.events, "rotated: "+tf.path+" → "+path)
			tf.path = path
		}
		tf.gone = false
		tf.size, tf.mod = fi.Size(), fi.ModTime()
	}
	for id, tf := range t.files {
		if !seen[id] && !tf.gone {
			tf.gone = true
			tf.changed = t.now()
		}
	}
	t.first = false
	t.saved = nil
	return nil
}

// lastBoundary is the offset just past the last newline of the file's
// first size bytes: END_OF_FILE starts at a record boundary.
func lastBoundary(path string, size int64) int64 {
	f, err := os.Open(path)
	if err != nil {
		return size
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return size
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1
		}
		end = start
	}
	return 0
}

// read cuts up to budget records from the flow's files, oldest file first
// (so a file rotated away is finished before its successor goes on).
func (t *tailer) read(budget int) ([]line, error) {
	var out []line
	files := t.ordered()
	for i, tf := range files {
		if budget-len(out) <= 0 {
			break
		}
		// The newest file keeps its descriptor: were it renamed out of the
		// pattern while closed, what it still gets would be lost.
		got, err := t.readFile(tf, budget-len(out), i == len(files)-1 && !tf.gone)
		out = append(out, got...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// ordered returns the tracked files by modification time (as the last
// scan saw it), oldest first.
func (t *tailer) ordered() []*tracked {
	out := make([]*tracked, 0, len(t.files))
	for _, tf := range t.files {
		out = append(out, tf)
	}
	slices.SortFunc(out, func(a, b *tracked) int {
		if c := a.mod.Compare(b.mod); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	return out
}

func (t *tailer) readFile(tf *tracked, budget int, keepOpen bool) ([]line, error) {
	var out []line
	// First what is already buffered, then read more.
	out = t.cut(tf, out, budget)
	for len(out) < budget && !tf.footer {
		if tf.f == nil {
			f, err := os.Open(tf.path)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					tf.gone = true
					break
				}
				return out, err
			}
			if fi, err := f.Stat(); err == nil {
				if id, ok := idOf(fi); ok && id != tf.id {
					f.Close() // another file took the name; scan will find it
					break
				}
			}
			tf.f = f
		}
		fi, err := tf.f.Stat()
		if err != nil {
			return out, err
		}
		if fi.Size() < tf.off {
			// Truncated (copytruncate): what was not cut yet is gone with it.
			t.events = append(t.events, "truncated: "+tf.path)
			t.truncations++
			out = t.flushPending(tf, out)
			tf.gen++
			tf.off, tf.sent, tf.bufOff, tf.buf = 0, 0, 0, nil
			tf.headerLeft = t.flow.SkipHeaderLines
		}
		if fi.Size() == tf.off {
			break
		}
		n := min(int64(chunkSize), fi.Size()-tf.off)
		start := len(tf.buf)
		tf.buf = slices.Grow(tf.buf, int(n))[:start+int(n)]
		m, err := tf.f.ReadAt(tf.buf[start:], tf.off)
		tf.buf = tf.buf[:start+m]
		tf.off += int64(m)
		if m > 0 {
			tf.changed = t.now()
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return out, err
		}
		out = t.cut(tf, out, budget)
		if m == 0 {
			break
		}
	}
	idle := t.now().Sub(tf.changed) >= idleFlush
	if idle && len(out) < budget {
		out = t.flushPending(tf, out)
		if tf.gone && len(tf.buf) > 0 {
			// The last line of a rotated file never got its newline.
			out = t.emit(tf, out, tf.buf, tf.bufOff+int64(len(tf.buf)))
			tf.bufOff += int64(len(tf.buf))
			tf.buf = nil
		}
	}
	if idle && !keepOpen && tf.f != nil && len(tf.buf) == 0 && tf.pending == nil {
		// Nothing to read now: give the descriptor back; a file that grows
		// is opened again by name.
		tf.f.Close()
		tf.f = nil
	}
	return out, nil
}

// cut turns the complete lines of tf.buf into records.
func (t *tailer) cut(tf *tracked, out []line, budget int) []line {
	for len(out) < budget && !tf.footer {
		i := bytes.IndexByte(tf.buf, '\n')
		if i < 0 {
			break
		}
		l := tf.buf[:i+1]
		end := tf.bufOff + int64(i) + 1
		tf.buf = tf.buf[i+1:]
		tf.bufOff = end
		switch {
		case tf.headerLeft > 0:
			tf.headerLeft--
		case t.flow.FileFooter != nil && t.flow.FileFooter.Match(bytes.TrimRight(l, "\r\n")):
			out = t.flushPending(tf, out)
			tf.footer = true
		case t.flow.MultiLineStart != nil:
			if t.flow.MultiLineStart.Match(bytes.TrimRight(l, "\r\n")) {
				out = t.flushPending(tf, out)
			}
			tf.pending = append(tf.pending, l...)
			tf.pendingEnd = end
		default:
			out = t.emit(tf, out, l, end)
		}
	}
	if len(tf.buf) == 0 {
		tf.buf = nil // let a drained chunk go
	}
	return out
}

func (t *tailer) flushPending(tf *tracked, out []line) []line {
	if tf.pending == nil {
		return out
	}
	out = t.emit(tf, out, tf.pending, tf.pendingEnd)
	tf.pending = nil
	return out
}

func (t *tailer) emit(tf *tracked, out []line, data []byte, end int64) []line {
	return append(out, line{data: slices.Clone(data), file: tf, gen: tf.gen, end: end})
}

// acknowledged moves the files' checkpoints past the records sent.
func (t *tailer) acknowledged(lines []line) {
	for _, l := range lines {
		if l.gen == l.file.gen && l.end > l.file.sent {
			l.file.sent = l.end
		}
	}
}

// forget drops files that left the pattern and were read and sent to the
// end; they are out of the checkpoint from then on.
func (t *tailer) forget() {
	for id, tf := range t.files {
		if tf.gone && tf.f == nil && len(tf.buf) == 0 && tf.pending == nil && tf.sent >= tf.bufOff {
			delete(t.files, id)
		}
	}
}

// checkpoints is the flow's part of the checkpoint file.
func (t *tailer) checkpoints() []fileCheckpoint {
	out := make([]fileCheckpoint, 0, len(t.files))
	for _, tf := range t.files {
		out = append(out, fileCheckpoint{ID: tf.id, Path: tf.path, Offset: tf.sent})
	}
	slices.SortFunc(out, func(a, b fileCheckpoint) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// behind is how many bytes of the flow's files are not acknowledged yet.
func (t *tailer) behind() (bytes int64, files int) {
	for _, tf := range t.files {
		size := tf.off
		if !tf.gone {
			size = max(size, tf.size)
		}
		if size > tf.sent {
			bytes += size - tf.sent
			files++
		}
	}
	return bytes, files
}

func (t *tailer) close() {
	for _, tf := range t.files {
		if tf.f != nil {
			tf.f.Close()
			tf.f = nil
		}
	}
}

func (t *tailer) takeEvents() []string {
	ev := t.events
	t.events = nil
	return ev
}
