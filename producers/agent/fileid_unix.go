//go:build unix

package agent

import (
	"os"
	"syscall"
)

// idOf is the file's device and inode: a renamed file keeps it.
func idOf(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, true //nolint:unconvert // int32 on some systems
}
