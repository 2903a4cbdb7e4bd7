package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	berrors "go.etcd.io/bbolt/errors"
)

// bbolt trusts its file: a garbage freelist count makes it allocate without
// bound (a fatal out-of-memory, which recover cannot catch) and a truncated
// file makes it touch pages past the end of the mapping. precheck reads
// the few fields bbolt trusts at open (meta pages, freelist and root page
// headers) and refuses the file before bbolt sees it. It mirrors bbolt's
// on-disk format (go.etcd.io/bbolt/internal/common, format version 2), which
// bbolt keeps stable across releases.
const (
	boltMagic          = 0xED0CDAED
	boltVersion        = 2
	boltPageHeaderSize = 16
	boltMetaSize       = 64 // through the checksum
	boltNoFreelist     = ^uint64(0)
	boltBranchFlag     = 0x01
	boltLeafFlag       = 0x02
	boltFreelistFlag   = 0x10
)

type boltMeta struct {
	pageSize                  uint64
	root, freelist, pgid, txn uint64
}

// parseBoltMeta validates a meta struct (the bytes after a meta page's
// header) the way bbolt's Meta.Validate does and returns its fields.
func parseBoltMeta(b []byte) (boltMeta, error) {
	if len(b) < boltMetaSize {
		return boltMeta{}, berrors.ErrInvalid
	}
	ne := binary.NativeEndian // bbolt writes its structs in memory order
	if ne.Uint32(b[0:]) != boltMagic {
		return boltMeta{}, berrors.ErrInvalid
	}
	if ne.Uint32(b[4:]) != boltVersion {
		return boltMeta{}, berrors.ErrVersionMismatch
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if ne.Uint64(b[56:]) != h.Sum64() {
		return boltMeta{}, berrors.ErrChecksum
	}
	return boltMeta{
		pageSize: uint64(ne.Uint32(b[8:])),
		root:     ne.Uint64(b[16:]),
		freelist: ne.Uint64(b[32:]),
		pgid:     ne.Uint64(b[40:]),
		txn:      ne.Uint64(b[48:]),
	}, nil
}

func readAtFull(f *os.File, n int, off uint64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := f.ReadAt(b, int64(off)); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("file ends inside a page bbolt needs")
		}
		return nil, err
	}
	return b, nil
}

var errEmptyFile = fmt.Errorf("%w: the file is empty", ErrCorrupt)

// precheck returns the meta bbolt will use if the file's open-time
// structures are sane, else an error wrapping ErrCorrupt (or an I/O error);
// an empty file gives errEmptyFile.
func precheck(f *os.File) (boltMeta, error) {
	var m boltMeta
	st, err := f.Stat()
	if err != nil {
		return m, err
	}
	size := uint64(st.Size())
	if size == 0 {
		return m, errEmptyFile
	}
	corrupt := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
	}
	metaAt := func(off uint64) (boltMeta, error) {
		if off+boltPageHeaderSize+boltMetaSize > size {
			return boltMeta{}, berrors.ErrInvalid
		}
		b, err := readAtFull(f, boltMetaSize, off+boltPageHeaderSize)
		if err != nil {
			return boltMeta{}, err
		}
		return parseBoltMeta(b)
	}

	// Page size: from meta 0, else from meta 1 probed at 1 KiB .. 16 MiB,
	// as bbolt's getPageSize does.
	m0, err0 := metaAt(0)
	ps := m0.pageSize
	if err0 != nil {
		ps = 0
		for i := 0; i <= 14 && ps == 0; i++ {
			if m, err := metaAt(1024 << i); err == nil {
				ps = m.pageSize
			}
		}
		if ps == 0 {
			return m, fmt.Errorf("%w: not a bbolt file (%w)", ErrCorrupt, err0)
		}
	}
	if ps < 512 || ps > 1<<24 || ps&(ps-1) != 0 {
		return m, corrupt("implausible page size %d", ps)
	}
	if size < 2*ps {
		return m, corrupt("file is %d bytes, shorter than its two meta pages", size)
	}
	m0, err0 = metaAt(0)
	m1, err1 := metaAt(ps)
	// bbolt uses the valid meta with the highest transaction id.
	switch {
	case err0 != nil && err1 != nil:
		return m, fmt.Errorf("%w: both meta pages are invalid (%w)", ErrCorrupt, err0)
	case err0 != nil:
		m = m1
	case err1 != nil:
		m = m0
	case m1.txn > m0.txn:
		m = m1
	default:
		m = m0
	}
	if m.pageSize != ps {
		return m, corrupt("meta page size %d differs from %d", m.pageSize, ps)
	}
	if m.pgid > size/ps {
		return m, corrupt("file is truncated: %d bytes, its meta page needs %d pages of %d", size, m.pgid, ps)
	}
	if m.root < 2 || m.root >= m.pgid {
		return m, corrupt("root page %d out of range", m.root)
	}
	hdr, err := readAtFull(f, boltPageHeaderSize+8, m.root*ps)
	if err != nil {
		return m, err
	}
	ne := binary.NativeEndian
	if id, flags := ne.Uint64(hdr), ne.Uint16(hdr[8:]); id != m.root || (flags != boltBranchFlag && flags != boltLeafFlag) {
		return m, corrupt("root page %d has a bad header", m.root)
	}
	if m.freelist == boltNoFreelist {
		return m, nil
	}
	if m.freelist < 2 || m.freelist >= m.pgid {
		return m, corrupt("freelist page %d out of range", m.freelist)
	}
	hdr, err = readAtFull(f, boltPageHeaderSize+8, m.freelist*ps)
	if err != nil {
		return m, err
	}
	id, flags := ne.Uint64(hdr), ne.Uint16(hdr[8:])
	count, overflow := uint64(ne.Uint16(hdr[10:])), uint64(ne.Uint32(hdr[12:]))
	if id != m.freelist || flags != boltFreelistFlag {
		return m, corrupt("freelist page %d has a bad header", m.freelist)
	}
	if overflow >= m.pgid-m.freelist {
		return m, corrupt("freelist page %d overflows the file", m.freelist)
	}
	idx := uint64(0)
	if count == 0xFFFF { // the real count is in the first element
		idx, count = 1, ne.Uint64(hdr[boltPageHeaderSize:])
	}
	if avail := ((overflow+1)*ps - boltPageHeaderSize) / 8; count > avail || idx+count > avail {
		return m, corrupt("freelist count %d does not fit its pages", count)
	}
	return m, nil
}
