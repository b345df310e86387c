//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package runstate

import (
	"errors"
	"fmt"
	"os"
)

// errNoLocking is returned by tryLock where flock is unavailable.
var errNoLocking = errors.New("file locking unavailable")

// tryLock cannot lock here: Register always succeeds and readers cannot
// tell live runs from dead ones (Find reports them alive).
func tryLock(path string, create bool) (release func(), held bool, err error) {
	if create {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("open lock file: %w", err)
		}
		return func() { _ = f.Close() }, true, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, false, fmt.Errorf("open lock file: %w", err)
	}
	return nil, false, errNoLocking
}
