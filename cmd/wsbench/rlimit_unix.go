//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// raiseFileLimit lifts the soft limit on open files to the hard one: each
// side of 10,000 WebSocket connections holds 10,000 descriptors. (Go does
// the same at startup since 1.19; done here too so it does not depend on
// that, and to say what the limit is.)
func raiseFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, "wsbench: cannot raise the open-file limit:", err)
		}
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return uint64(lim.Cur)
}
