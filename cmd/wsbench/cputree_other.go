//go:build !linux

package main

import "time"

// treeCPU needs /proc: nothing elsewhere.
func treeCPU() map[string]time.Duration { return nil }

func loadAverage() string { return "" }
