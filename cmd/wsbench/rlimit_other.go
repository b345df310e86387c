//go:build !unix

package main

// raiseFileLimit is a no-op where there is no RLIMIT_NOFILE; 0: unknown.
func raiseFileLimit() uint64 { return 0 }
