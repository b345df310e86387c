package testutil

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	var n atomic.Int32
	if !Poll(5*time.Second, func() bool { return n.Add(1) >= 3 }) {
		t.Fatal("Poll gave up on a condition that became true")
	}
	if got := n.Load(); got != 3 {
		t.Errorf("cond called %d times, want 3", got)
	}
	start := time.Now()
	calls := 0
	if Poll(30*time.Millisecond, func() bool { calls++; return false }) {
		t.Fatal("Poll reported a condition that never held")
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("Poll gave up after %v, before its 30ms timeout", d)
	}
	if calls < 2 {
		t.Errorf("cond called %d times in 30ms, want several", calls)
	}
	if Poll(0, func() bool { return true }) != true {
		t.Error("Poll(0) did not call cond once")
	}
}

// recorder is a testing.TB that records a Fatalf and ends its goroutine, as
// testing.T does.
type recorder struct {
	testing.TB // nil: only the methods below are called
	fatal      string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with a recorder on its own goroutine, as a test would be.
func run(f func(testing.TB)) *recorder {
	r := &recorder{}
	var wg sync.WaitGroup
	wg.Go(func() { f(r) })
	wg.Wait()
	return r
}

func TestEventually(t *testing.T) {
	var ready atomic.Bool
	time.AfterFunc(20*time.Millisecond, func() { ready.Store(true) })
	if r := run(func(tb testing.TB) { Eventually(tb, 5*time.Second, ready.Load) }); r.fatal != "" {
		t.Errorf("Eventually failed: %s", r.fatal)
	}

	logs := &LockedBuffer{}
	r := run(func(tb testing.TB) {
		Eventually(tb, 20*time.Millisecond, func() bool {
			fmt.Fprint(logs, "polled;")
			return false
		}, "a %s line; logs: %s", "ready", logs)
	})
	if !strings.HasPrefix(r.fatal, "a ready line; logs: polled;") || !strings.HasSuffix(r.fatal, ": not within 20ms") {
		t.Errorf("failure message %q", r.fatal)
	}
	if r := run(func(tb testing.TB) { Eventually(tb, 0, func() bool { return false }) }); r.fatal != "condition: not within 0s" {
		t.Errorf("failure message %q", r.fatal)
	}
}

func TestLockedBuffer(t *testing.T) {
	var b LockedBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprint(&b, "x")
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Errorf("%d bytes, want 800", got)
	}
}
