//go:build unix

package gateway

import "syscall"

// fdLimit is the process's soft limit on open files, 0 when unknown.
func fdLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return uint64(lim.Cur)
}
