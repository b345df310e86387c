// Package testutil holds the test helpers shared across the module that need
// nothing but the standard library: polling for a condition, a buffer that
// concurrent writers may share, a fake clock, and a router that lets one
// test endpoint serve the SQS and DynamoDB SDK clients. It sits at the module root, so lambdas/,
// localrun/ and cmd/ tests can all import it; it imports no CDK. Only tests
// import it.
package testutil

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Poll calls cond until it returns true or timeout has passed, and reports
// whether it did. It waits a few milliseconds between calls at first, then
// backs off to 50 ms; cond is called at least once, and once more at the
// deadline.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	wait := 2 * time.Millisecond
	for {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// Eventually fails the test (t.Fatal) unless cond returns true within
// timeout. msgAndArgs describes what was awaited: a string, or a format and
// its arguments. The arguments are formatted only on failure, so a
// fmt.Stringer such as a *LockedBuffer shows its content at that time.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	if Poll(timeout, cond) {
		return
	}
	t.Fatalf("%s: not within %v", message("condition", msgAndArgs), timeout)
}

func message(def string, msgAndArgs []any) string {
	if len(msgAndArgs) == 0 {
		return def
	}
	if format, ok := msgAndArgs[0].(string); ok {
		return fmt.Sprintf(format, msgAndArgs[1:]...)
	}
	return fmt.Sprint(msgAndArgs...)
}

// LockedBuffer is an io.Writer that goroutines may share, such as the sink of
// a logger or of a process's output; String returns what was written so far.
// The zero value is ready to use.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Clock is a clock that tests move instead of sleeping; its Now can be
// injected wherever a func() time.Time is taken. Safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// SQSOrDynamoDB sends AWS JSON protocol requests for SQS (X-Amz-Target
// AmazonSQS.*) to sqs and the rest (DynamoDB's) to ddb, so that one base
// endpoint serves both SDK clients of an integration test.
func SQSOrDynamoDB(sqs, ddb http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.") {
			sqs.ServeHTTP(w, r)
			return
		}
		ddb.ServeHTTP(w, r)
	})
}
