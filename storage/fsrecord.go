package storage

import "bytes"

// fsRecorder observes the file operations of the log and the store's
// transactions, in the order they completed, and each acknowledgement: the
// tests' power-loss simulation rebuilds from it what a disk that honours
// fsync could hold at any moment. Its methods do nothing on a nil recorder,
// so outside tests each costs a nil check.
type fsRecorder struct {
	on func(fsOp)
}

// fsOpKind names a recorded operation.
type fsOpKind int

const (
	opCreate    fsOpKind = iota // a new empty file at path
	opWrite                     // data at off
	opTruncate                  // to size
	opSync                      // fdatasync/fsync of path
	opRename                    // path to to
	opRemove                    // path
	opSyncDir                   // the directory path
	opBoltBegin                 // a bbolt write transaction starts
	opBoltEnd                   // it ended (err says whether it committed)
	opAck                       // the committer answers reqs with success
)

// fsOp is one recorded operation.
type fsOp struct {
	kind fsOpKind
	path string
	to   string
	off  int64
	size int64
	data []byte
	err  error
	reqs []*appendReq
}

func (r *fsRecorder) create(path string) {
	if r != nil {
		r.on(fsOp{kind: opCreate, path: path})
	}
}

func (r *fsRecorder) write(path string, off int64, p []byte) {
	if r != nil {
		r.on(fsOp{kind: opWrite, path: path, off: off, data: bytes.Clone(p)})
	}
}

func (r *fsRecorder) truncate(path string, size int64) {
	if r != nil {
		r.on(fsOp{kind: opTruncate, path: path, size: size})
	}
}

func (r *fsRecorder) sync(path string) {
	if r != nil {
		r.on(fsOp{kind: opSync, path: path})
	}
}

func (r *fsRecorder) rename(from, to string) {
	if r != nil {
		r.on(fsOp{kind: opRename, path: from, to: to})
	}
}

func (r *fsRecorder) remove(path string) {
	if r != nil {
		r.on(fsOp{kind: opRemove, path: path})
	}
}

func (r *fsRecorder) syncDir(dir string) {
	if r != nil {
		r.on(fsOp{kind: opSyncDir, path: dir})
	}
}

func (r *fsRecorder) boltBegin() {
	if r != nil {
		r.on(fsOp{kind: opBoltBegin})
	}
}

func (r *fsRecorder) boltEnd(err error) {
	if r != nil {
		r.on(fsOp{kind: opBoltEnd, err: err})
	}
}

func (r *fsRecorder) ack(reqs []*appendReq) {
	if r != nil {
		r.on(fsOp{kind: opAck, reqs: reqs})
	}
}
