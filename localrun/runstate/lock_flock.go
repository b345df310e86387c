//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package runstate

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// errNoLocking is returned by tryLock where flock is unavailable.
var errNoLocking = errors.New("file locking unavailable")

// tryLock tries, without waiting, to take the exclusive flock on path.
// held is false when another open file (a live run, in this process or
// another) holds it. create makes the file when missing; otherwise a
// missing file is an error matching fs.ErrNotExist.
//
// flock, not fcntl: its locks belong to the open file, so two runs in one
// process exclude each other too, and the kernel drops it when the
// process dies.
func tryLock(path string, create bool) (release func(), held bool, err error) {
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EWOULDBLOCK {
		_ = f.Close()
		return nil, false, nil
	}
	if err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	// The holder before us may have removed the file after we opened it:
	// a lock on a removed file guards nothing, so start again.
	opened, err1 := f.Stat()
	current, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(opened, current) {
		_ = f.Close()
		if !create {
			return nil, false, fmt.Errorf("open lock file: %w", os.ErrNotExist)
		}
		return tryLock(path, create)
	}
	return func() { _ = f.Close() }, true, nil
}
