//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package kms

import (
	"errors"
	"os"
	"syscall"
)

// lockFile blocks until it holds an exclusive flock on f, so two processes
// (a server and `shardscope keys`) never interleave read-modify-write.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
