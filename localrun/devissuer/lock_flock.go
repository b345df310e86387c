//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package devissuer

import (
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive lock on dir/.lock, so two processes opening
// the same directory for the first time do not create two different CAs.
// The kernel drops a flock when its holder dies, so a crash leaves no stale
// lock behind.
func lockDir(dir string) (unlock func(), err error) {
	path := dir + string(os.PathSeparator) + lockFileName
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, keyFileMode)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		// Closing the descriptor releases the lock.
		_ = f.Close()
	}, nil
}
