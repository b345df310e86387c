//go:build !unix

package gateway

// fdLimit is the process's soft limit on open files, 0 when unknown.
func fdLimit() uint64 { return 0 }
