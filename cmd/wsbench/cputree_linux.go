package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// treeCPU is the CPU time (user and system) used so far by this process
// and its descendants, by part: "bench" (this process: the gateway,
// DynamoDB, SQS, the event source mappings), "clients" (the real
// connections' process) and each function by name (its instances summed).
func treeCPU() map[string]time.Duration {
	self := os.Getpid()
	type proc struct {
		ppid int
		cpu  time.Duration
	}
	procs := map[int]proc{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		// After "(comm)": state ppid ... utime is field 14, stime 15.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = proc{ppid: ppid, cpu: time.Duration(ut+st) * time.Second / clockTicks}
	}
	out := map[string]time.Duration{}
	for pid, p := range procs {
		// Is pid self or a descendant of it?
		q, depth := pid, 0
		for q != self && q > 1 && depth < 64 {
			q, depth = procs[q].ppid, depth+1
		}
		if q != self {
			continue
		}
		out[cpuPart(pid, pid == self)] += p.cpu
	}
	return out
}

func cpuPart(pid int, self bool) string {
	if self {
		return "bench"
	}
	dir := "/proc/" + strconv.Itoa(pid)
	if env, err := os.ReadFile(dir + "/environ"); err == nil {
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("AWS_LAMBDA_FUNCTION_NAME=")); ok {
				return string(v)
			}
		}
	}
	if cmd, err := os.ReadFile(dir + "/cmdline"); err == nil && bytes.Contains(cmd, []byte("-clients")) {
		return "clients"
	}
	return "other"
}

// loadAverage is the 1-minute load average, or "" if unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
