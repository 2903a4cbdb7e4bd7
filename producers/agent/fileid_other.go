//go:build !unix

package agent

import "os"

// idOf has no inode to give here: files are known by name only, so a
// renamed file reads as a new one.
func idOf(os.FileInfo) (fileID, bool) { return fileID{}, false }
