//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package storage

import (
	"os"
	"time"
)

// lockFile leaves locking to bbolt (its Timeout option) where flock(2) is
// not available; precheckOpen then reads the file unlocked.
func lockFile(*os.File, time.Duration) error { return nil }
