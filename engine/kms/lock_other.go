//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package kms

import "os"

// lockFile does nothing where flock(2) is not available: writers in one
// process are still serialised by the keyring's mutex.
func lockFile(*os.File) error { return nil }
