package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"wsapi/contract"
)

// contract.EnvFanOutCPUProfile, when set (local benchmarks only: the
// stack never sets it), is a path prefix: the function writes a CPU profile of itself every
// profileEvery to <prefix>-<pid>-<n>.prof, because a Lambda instance is
// stopped without notice and a profile written at exit would be lost.
const profileEvery = 10 * time.Second

func startCPUProfiles(log *slog.Logger) {
	prefix := os.Getenv(contract.EnvFanOutCPUProfile)
	if prefix == "" {
		return
	}
	go func() {
		for n := 0; ; n++ {
			path := fmt.Sprintf("%s-%d-%d.prof", prefix, os.Getpid(), n)
			f, err := os.Create(path)
			if err != nil {
				log.Warn("cpu profile", "error", err)
				return
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				log.Warn("cpu profile", "error", err)
				_ = f.Close()
				return
			}
			time.Sleep(profileEvery)
			pprof.StopCPUProfile()
			_ = f.Close()
		}
	}()
}
