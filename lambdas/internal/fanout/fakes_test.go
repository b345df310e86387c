package fanout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"wsapi/lambdas/internal/reply"
)

// fakePager serves pages[segment] in order; the key of page i is "p<i>".
type fakePager struct {
	mu    sync.Mutex
	pages map[int][][]string
	calls []string // "segment:startKey"
	// failAt makes the call for this "segment:startKey" fail, panicAt
	// panic.
	failAt, panicAt string
}

var errPager = errors.New("scan failed")

func (p *fakePager) Page(_ context.Context, segment, total int, startKey string) ([]string, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	call := fmt.Sprintf("%d:%s", segment, startKey)
	p.calls = append(p.calls, call)
	if call == p.failAt {
		return nil, "", errPager
	}
	if call == p.panicAt {
		panic("pager bug")
	}
	i := 0
	if startKey != "" {
		n, err := strconv.Atoi(startKey[1:])
		if err != nil {
			return nil, "", fmt.Errorf("bad key %q", startKey)
		}
		i = n
	}
	pages := p.pages[segment]
	if i >= len(pages) {
		return nil, "", nil
	}
	next := ""
	if i+1 < len(pages) {
		next = "p" + strconv.Itoa(i+1)
	}
	return pages[i], next, nil
}

// fakePoster records delivered frames per connection. script[id] is the
// errors the successive attempts for id return (then success); gone ids
// always return a gone error, broken ids a plain one.
type fakePoster struct {
	mu       sync.Mutex
	got      map[string][][]byte
	attempts map[string]int
	times    []time.Time // when each delivered post happened, on clock
	clock    Clock
	script   map[string][]error
	gone     map[string]bool
	broken   map[string]bool
	panics   map[string]bool // a bug in a Poster
	// afterPosts, when > 0, calls cancel once that many posts were
	// delivered (the worker is "killed" mid-page).
	afterPosts int
	cancel     context.CancelFunc
}

var errBroken = errors.New("internal server error")

func (p *fakePoster) Send(ctx context.Context, id string, data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.attempts == nil {
		p.attempts = map[string]int{}
	}
	n := p.attempts[id]
	p.attempts[id]++
	if n < len(p.script[id]) {
		return fmt.Errorf("post to %s: %w", id, p.script[id][n])
	}
	if p.gone[id] {
		return fmt.Errorf("post to %s: %w", id, reply.ErrGone)
	}
	if p.broken[id] {
		return fmt.Errorf("post to %s: %w", id, errBroken)
	}
	if p.panics[id] {
		panic("poster bug")
	}
	if p.got == nil {
		p.got = map[string][][]byte{}
	}
	p.got[id] = append(p.got[id], data)
	if p.clock != nil {
		p.times = append(p.times, p.clock.Now())
	}
	if p.afterPosts > 0 && p.total() == p.afterPosts {
		p.cancel()
	}
	return nil
}

func (p *fakePoster) total() int {
	n := 0
	for _, g := range p.got {
		n += len(g)
	}
	return n
}

type fakeRemover struct {
	mu      sync.Mutex
	deleted []string
}

func (r *fakeRemover) Delete(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deleted = append(r.deleted, id)
	return nil
}

type cpKey struct {
	job     string
	segment int
}

type fakeCheckpoints struct {
	mu    sync.Mutex
	m     map[cpKey]Checkpoint
	saves int
}

func (c *fakeCheckpoints) Load(_ context.Context, job string, segment int) (Checkpoint, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.m[cpKey{job, segment}]
	return cp, ok, nil
}

func (c *fakeCheckpoints) Save(_ context.Context, job string, segment int, cp Checkpoint) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[cpKey]Checkpoint{}
	}
	c.m[cpKey{job, segment}] = cp
	c.saves++
	return nil
}

// fakeCounters applies once per (job, segment), as Counters requires.
type fakeCounters struct {
	mu     sync.Mutex
	totals map[string]Totals
	done   map[cpKey]bool
}

func (c *fakeCounters) Add(_ context.Context, job string, segment int, n Counts) (Totals, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.totals == nil {
		c.totals, c.done = map[string]Totals{}, map[cpKey]bool{}
	}
	t := c.totals[job]
	if c.done[cpKey{job, segment}] {
		return t, nil
	}
	c.done[cpKey{job, segment}] = true
	t.add(n)
	t.ShardsDone++
	c.totals[job] = t
	return t, nil
}

// fakeClock never blocks: Sleep moves its time forward to at least the
// caller's wake-up time and records the duration.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// halfRand records the ceilings it is asked for and returns half of each.
type halfRand struct {
	mu    sync.Mutex
	asked []int64
}

func (r *halfRand) n(n int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, n)
	return n / 2
}
