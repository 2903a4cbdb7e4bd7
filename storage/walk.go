package storage

import (
	"encoding/binary"
	"fmt"
	"os"
)

// walkPages checks the B+tree structure that bbolt's cursors and its Check
// follow without looking: every page reachable from the root bucket lies
// inside the file, has its own id in its header, is a branch or a leaf
// page whose elements stay inside it, and is reachable once. bbolt would
// descend a cycle (a child pointing back up) until memory or the stack runs
// out, which no recover catches; here it is an error wrapping ErrCorrupt.
// It reads the file, not bbolt's mapping, so it needs no bbolt handle.
// It returns how many pages it walked.
//
// quick skips the element arrays of the leaves of shard buckets (the
// bulk of the file), reading only their headers: enough for the cursors
// of Read, which never descend into a nested bucket, so Open can afford it.
func walkPages(f *os.File, quick bool) (int, error) {
	m, err := precheck(f)
	if err != nil {
		return 0, err
	}
	// bbolt's Check asserts (in a goroutine of its own, where a panic ends
	// the process) that both meta pages say who they are. Nothing else
	// reads a meta page's header (its checksum starts after it) and the
	// next commits rewrite both: Open need not refuse the store for it.
	for id := range uint64(2) {
		if quick {
			break
		}
		hdr, err := readAtFull(f, boltPageHeaderSize, id*m.pageSize)
		if err != nil {
			return 0, fmt.Errorf("%w: meta page %d: %v", ErrCorrupt, id, err)
		}
		if binary.NativeEndian.Uint64(hdr) != id || binary.NativeEndian.Uint16(hdr[8:]) != boltMetaFlag {
			return 0, fmt.Errorf("%w: meta page %d has a bad header", ErrCorrupt, id)
		}
	}
	w := &pageWalker{f: f, ps: m.pageSize, pgid: m.pgid, seen: make([]uint64, (m.pgid+63)/64), quick: quick}
	if err := w.page(m.root, 0, 0); err != nil {
		return w.pages, err
	}
	return w.pages, nil
}

const (
	boltElemSize     = 16 // branch and leaf page elements alike
	boltMetaFlag     = 0x04
	boltBucketFlag   = 0x01
	boltInBucketSize = 16 // root page id, sequence
	maxTreeDepth     = 64
)

type pageWalker struct {
	f        *os.File
	ps, pgid uint64
	seen     []uint64 // one bit per page
	pages    int
	quick    bool
}

// shardLevel is how deep shard buckets nest: records → stream → shard.
const shardLevel = 3

func (w *pageWalker) corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
}

// page checks page id and everything below it; level is how deep the
// bucket it belongs to nests (0 for the root bucket's own tree).
func (w *pageWalker) page(id uint64, depth, level int) error {
	if depth > maxTreeDepth {
		return w.corrupt("the tree is more than %d pages deep at page %d", maxTreeDepth, id)
	}
	if id < 2 || id >= w.pgid {
		return w.corrupt("page %d is outside the file's %d pages", id, w.pgid)
	}
	hdr, err := readAtFull(w.f, boltPageHeaderSize, id*w.ps)
	if err != nil {
		return w.corrupt("page %d: %v", id, err)
	}
	ne := binary.NativeEndian
	hid, flags, count, overflow := ne.Uint64(hdr), ne.Uint16(hdr[8:]), int(ne.Uint16(hdr[10:])), uint64(ne.Uint32(hdr[12:]))
	if hid != id {
		return w.corrupt("page %d says it is page %d", id, hid)
	}
	if overflow >= w.pgid-id {
		return w.corrupt("page %d runs past the end of the file", id)
	}
	for p := id; p <= id+overflow; p++ {
		if w.seen[p/64]&(1<<(p%64)) != 0 {
			return w.corrupt("page %d is reachable twice (a loop in the tree?)", p)
		}
		w.seen[p/64] |= 1 << (p % 64)
	}
	w.pages++
	size := (overflow + 1) * w.ps
	if flags != boltBranchFlag && flags != boltLeafFlag {
		return w.corrupt("page %d has type %#x, want a branch or leaf page", id, flags)
	}
	if boltPageHeaderSize+uint64(count)*boltElemSize > size {
		return w.corrupt("page %d: %d elements do not fit it", id, count)
	}
	if w.quick && flags == boltLeafFlag && level >= shardLevel {
		return nil
	}
	elems, err := readAtFull(w.f, count*boltElemSize, id*w.ps+boltPageHeaderSize)
	if err != nil {
		return w.corrupt("page %d: %v", id, err)
	}
	for i := range count {
		e := elems[i*boltElemSize:]
		at := boltPageHeaderSize + uint64(i)*boltElemSize // element offset in the page
		if flags == boltBranchFlag {
			pos, ksize, child := uint64(ne.Uint32(e)), uint64(ne.Uint32(e[4:])), ne.Uint64(e[8:])
			if at+pos+ksize > size {
				return w.corrupt("page %d: branch element %d points outside the page", id, i)
			}
			if err := w.page(child, depth+1, level); err != nil {
				return err
			}
			continue
		}
		eflags, pos, ksize, vsize := ne.Uint32(e), uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
		if at+pos+ksize+vsize > size {
			return w.corrupt("page %d: leaf element %d points outside the page", id, i)
		}
		if eflags&boltBucketFlag == 0 {
			continue
		}
		// A bucket's value is its root page id and sequence, then, for an
		// inline bucket, a page smaller than a quarter of a real one.
		if vsize < boltInBucketSize || vsize > boltInBucketSize+w.ps/4 {
			return w.corrupt("page %d: bucket element %d is %d bytes", id, i, vsize)
		}
		v, err := readAtFull(w.f, int(vsize), id*w.ps+at+pos+ksize)
		if err != nil {
			return w.corrupt("page %d: %v", id, err)
		}
		if root := ne.Uint64(v); root != 0 {
			if err := w.page(root, depth+1, level+1); err != nil {
				return err
			}
		} else if err := w.inline(id, i, v[boltInBucketSize:]); err != nil {
			return err
		}
	}
	return nil
}

// inline checks a bucket stored inside its parent's leaf element: one leaf
// page without sub-buckets.
func (w *pageWalker) inline(id uint64, i int, p []byte) error {
	ne := binary.NativeEndian
	if len(p) < boltPageHeaderSize || ne.Uint16(p[8:]) != boltLeafFlag {
		return w.corrupt("page %d: inline bucket %d is not a leaf page", id, i)
	}
	count := int(ne.Uint16(p[10:]))
	if boltPageHeaderSize+count*boltElemSize > len(p) {
		return w.corrupt("page %d: inline bucket %d: %d elements do not fit it", id, i, count)
	}
	for j := range count {
		e := p[boltPageHeaderSize+j*boltElemSize:]
		at := uint64(boltPageHeaderSize + j*boltElemSize)
		if ne.Uint32(e)&boltBucketFlag != 0 {
			return w.corrupt("page %d: inline bucket %d holds a bucket", id, i)
		}
		if at+uint64(ne.Uint32(e[4:]))+uint64(ne.Uint32(e[8:]))+uint64(ne.Uint32(e[12:])) > uint64(len(p)) {
			return w.corrupt("page %d: inline bucket %d: element %d points outside it", id, i, j)
		}
	}
	return nil
}

// precheckOpen is what Open runs on a file before bbolt sees it: the
// pre-check, then the quick page walk, so that reads cannot follow a loop.
// An empty file passes (bbolt makes it a new store).
func precheckOpen(f *os.File) error {
	_, err := walkPages(f, true)
	if err == errEmptyFile {
		return nil
	}
	return err
}
