package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"wsapi/contract"
	"wsapi/internal/testutil"
	"wsapi/lambdas/internal/reply"
)

const (
	testJobID  = "m1"
	testSender = "sender"
	base       = 100 * time.Millisecond
)

var testFrame = []byte(`{"type":"message","id":"m1","from":"alice","message":"hi <3","sentAt":"2026-01-01T00:00:00Z"}`)

func testShard(segment, total int) Shard {
	return Shard{Job: Job{ID: testJobID, Sender: testSender, Frame: testFrame, TotalShards: total}, Segment: segment}
}

type harness struct {
	pager    *fakePager
	poster   *fakePoster
	remover  *fakeRemover
	cps      *fakeCheckpoints
	counters *fakeCounters
	clock    *fakeClock
	rand     *halfRand
	w        *Worker
}

func newHarness(t *testing.T, pages map[int][][]string, cfg Config) *harness {
	t.Helper()
	h := &harness{
		pager:    &fakePager{pages: pages},
		remover:  &fakeRemover{},
		cps:      &fakeCheckpoints{},
		counters: &fakeCounters{},
		clock:    newFakeClock(),
		rand:     &halfRand{},
	}
	h.poster = &fakePoster{clock: h.clock}
	h.w = New(h.pager, h.poster, h.remover, h.cps, h.counters, cfg, WithClock(h.clock), WithRand(h.rand.n))
	return h
}

func noLimit(cfg Config) Config {
	cfg.PostsPerSecond = math.Inf(1)
	cfg.BaseBackoff = base
	return cfg
}

func TestProcessShard(t *testing.T) {
	threePages := map[int][][]string{0: {{"a", "b", "c"}, {"d", "e", "f"}, {"g", "h"}}}
	all := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	throttled := []error{ErrThrottled, ErrThrottled}
	tests := []struct {
		name         string
		pages        map[int][][]string
		cfg          Config
		gone, broken []string
		panics       []string
		script       map[string][]error
		want         Counts
		wantGot      []string // connections that got the frame, once each
		wantDeleted  []string
		wantAttempts map[string]int
		wantAsked    []time.Duration // backoff ceilings
		wantSleeps   []time.Duration
	}{
		{
			name:    "three pages deliver to all",
			pages:   threePages,
			want:    Counts{Delivered: 8},
			wantGot: all,
		},
		{
			name:    "the sender's own connection is skipped",
			pages:   map[int][][]string{0: {{"a", testSender}, {"b"}}},
			want:    Counts{Delivered: 2},
			wantGot: []string{"a", "b"},
		},
		{
			name:         "gone connections are deleted and counted stale",
			pages:        threePages,
			gone:         []string{"b", "g"},
			want:         Counts{Delivered: 6, Stale: 2},
			wantGot:      []string{"a", "c", "d", "e", "f", "h"},
			wantDeleted:  []string{"b", "g"},
			wantAttempts: map[string]int{"b": 1, "g": 1},
		},
		{
			name:         "other errors are counted failed, not retried, not deleted",
			pages:        threePages,
			broken:       []string{"e"},
			want:         Counts{Delivered: 7, Failed: 1},
			wantGot:      []string{"a", "b", "c", "d", "f", "g", "h"},
			wantAttempts: map[string]int{"e": 1},
		},
		{
			name:         "a post that panics is counted failed, the others delivered",
			pages:        threePages,
			panics:       []string{"c"},
			want:         Counts{Delivered: 7, Failed: 1},
			wantGot:      []string{"a", "b", "d", "e", "f", "g", "h"},
			wantAttempts: map[string]int{"c": 1},
		},
		{
			name:         "throttled twice then delivered once, after exponential jittered backoff",
			pages:        threePages,
			script:       map[string][]error{"d": throttled},
			want:         Counts{Delivered: 8},
			wantGot:      all,
			wantAttempts: map[string]int{"d": 3},
			wantAsked:    []time.Duration{base, 2 * base},
			wantSleeps:   []time.Duration{base / 2, base},
		},
		{
			name:         "throttled more than the old cap of 5 is still delivered, never failed, backoff capped",
			pages:        threePages,
			cfg:          Config{MaxBackoff: 3 * base},
			script:       map[string][]error{"d": slices.Repeat(throttled, 4)},
			want:         Counts{Delivered: 8},
			wantGot:      all,
			wantAttempts: map[string]int{"d": 9},
			wantAsked:    []time.Duration{base, 2 * base, 3 * base, 3 * base, 3 * base, 3 * base, 3 * base, 3 * base},
			wantSleeps:   []time.Duration{base / 2, base, 3 * base / 2, 3 * base / 2, 3 * base / 2, 3 * base / 2, 3 * base / 2, 3 * base / 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.pages, noLimit(tt.cfg))
			h.poster.script = tt.script
			h.poster.gone = set(tt.gone)
			h.poster.broken = set(tt.broken)
			h.poster.panics = set(tt.panics)

			// Two shards: this one is not the last, so no report.
			res, err := h.w.ProcessShard(context.Background(), testShard(0, 2))
			if err != nil {
				t.Fatalf("ProcessShard: %v", err)
			}
			if diff := cmp.Diff(tt.want, res.Counts); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			if res.Last || res.Resumed {
				t.Errorf("Last, Resumed = %t, %t; want false, false", res.Last, res.Resumed)
			}
			if want := len(tt.pages[0]); res.Pages != want || h.cps.saves != want {
				t.Errorf("pages %d, checkpoints saved %d; want %d", res.Pages, h.cps.saves, want)
			}
			var got []string
			for id, frames := range h.poster.got {
				got = append(got, id)
				if len(frames) != 1 || string(frames[0]) != string(testFrame) {
					t.Errorf("%s got %q, want the frame once", id, frames)
				}
			}
			sort.Strings(got)
			if diff := cmp.Diff(tt.wantGot, got); diff != "" {
				t.Errorf("delivered to (-want +got):\n%s", diff)
			}
			deleted := slices.Sorted(slices.Values(h.remover.deleted))
			if diff := cmp.Diff(tt.wantDeleted, deleted); diff != "" {
				t.Errorf("deleted (-want +got):\n%s", diff)
			}
			for id, want := range tt.wantAttempts {
				if got := h.poster.attempts[id]; got != want {
					t.Errorf("attempts for %s = %d, want %d", id, got, want)
				}
			}
			var asked []time.Duration
			for _, n := range h.rand.asked {
				asked = append(asked, time.Duration(n))
			}
			if diff := cmp.Diff(tt.wantAsked, asked); diff != "" {
				t.Errorf("backoff ceilings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSleeps, h.clock.recorded()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			if got := h.counters.totals[testJobID]; got.Counts != tt.want || got.ShardsDone != 1 {
				t.Errorf("job totals = %+v, want %+v and 1 shard done", got, tt.want)
			}
		})
	}
}

func TestBackoffWithinFullJitterBounds(t *testing.T) {
	// Real jitter: every wait is in [0, ceiling) and the ceilings double
	// up to the cap.
	w := New(nil, nil, nil, nil, nil, Config{BaseBackoff: base, MaxBackoff: 1 * time.Second})
	wantCeilings := []time.Duration{base, 2 * base, 4 * base, 8 * base, time.Second, time.Second}
	for attempt, want := range wantCeilings {
		if got := w.ceiling(attempt); got != want {
			t.Errorf("ceiling(%d) = %v, want %v", attempt, got, want)
		}
		for range 200 {
			if d := w.backoff(attempt); d < 0 || d >= want {
				t.Fatalf("backoff(%d) = %v, want in [0, %v)", attempt, d, want)
			}
		}
	}
	if got := w.ceiling(200); got != time.Second {
		t.Errorf("ceiling(200) = %v, want the cap", got)
	}
}

func TestProcessShardResumesAfterKill(t *testing.T) {
	// Four pages of three; the worker dies during page 3 (index 2).
	pages := map[int][][]string{0: {{"a", "b", "c"}, {"d", "e", "f"}, {"g", "h", "i"}, {"j", "k", "l"}}}
	tests := []struct {
		name       string
		afterPosts int    // cancel the context after this many posts
		failAt     string // or fail the listing of this page
	}{
		{name: "context cancelled during page 3", afterPosts: 7},
		{name: "listing page 3 fails", failAt: "0:p2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, inFlight := range []int{1, 3} {
				h := newHarness(t, pages, noLimit(Config{MaxInFlight: inFlight}))
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				h.poster.afterPosts, h.poster.cancel = tt.afterPosts, cancel
				h.pager.failAt = tt.failAt

				if _, err := h.w.ProcessShard(ctx, testShard(0, 2)); err == nil {
					t.Fatal("first run: no error, want the kill's")
				}
				if cp := h.cps.m[cpKey{testJobID, 0}]; cp.Key != "p2" || cp.Finished || cp.Counts.Delivered != 6 {
					t.Fatalf("checkpoint after the kill = %+v, want after page 2 with 6 delivered", cp)
				}

				// SQS redelivers the message; a new invocation picks it up.
				h.poster.afterPosts, h.pager.failAt = 0, ""
				h.pager.calls = nil
				res, err := h.w.ProcessShard(context.Background(), testShard(0, 2))
				if err != nil {
					t.Fatalf("retry: %v", err)
				}
				if !res.Resumed || res.Pages != 2 {
					t.Errorf("retry: Resumed %t, Pages %d; want true, 2", res.Resumed, res.Pages)
				}
				if diff := cmp.Diff([]string{"0:p2", "0:p3"}, h.pager.calls); diff != "" {
					t.Errorf("retry listed (-want +got):\n%s", diff)
				}
				if res.Counts != (Counts{Delivered: 12}) {
					t.Errorf("retry counts = %+v, want 12 delivered, each once", res.Counts)
				}
				var dups []string
				for _, page := range pages[0] {
					for _, id := range page {
						switch n := len(h.poster.got[id]); {
						case n == 0:
							t.Errorf("%s missed", id)
						case n > 1:
							dups = append(dups, id)
						}
					}
				}
				// Only page 3 may be sent twice.
				for _, id := range dups {
					if !slices.Contains(pages[0][2], id) {
						t.Errorf("%s (not on page 3) sent %d times", id, len(h.poster.got[id]))
					}
				}
				if tt.afterPosts > 0 && len(dups) == 0 {
					t.Errorf("in flight %d: no duplicate, want page 3's first post sent again", inFlight)
				}
			}
		})
	}
}

func TestDeliveryReportAfterLastShard(t *testing.T) {
	pages := map[int][][]string{
		0: {{"a", testSender}, {"b"}},
		1: {{"c", "gone1"}, {"d", "e"}},
		2: {{"f", "broken1", "g"}},
	}
	want := reply.Delivery{Type: contract.FrameTypeDelivery, ID: testJobID, Delivered: 7, Stale: 1, Failed: 1}
	tests := []struct {
		name       string
		order      []int
		senderGone bool
	}{
		{name: "in order", order: []int{0, 1, 2}},
		{name: "out of order", order: []int{2, 0, 1}},
		{name: "sender gone", order: []int{1, 2, 0}, senderGone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, pages, noLimit(Config{}))
			h.poster.gone = set([]string{"gone1"})
			h.poster.broken = set([]string{"broken1"})
			if tt.senderGone {
				h.poster.gone[testSender] = true
			}
			for i, seg := range tt.order {
				res, err := h.w.ProcessShard(context.Background(), testShard(seg, 3))
				if err != nil {
					t.Fatalf("shard %d: %v", seg, err)
				}
				last := i == len(tt.order)-1
				if res.Last != last {
					t.Errorf("shard %d: Last = %t, want %t", seg, res.Last, last)
				}
				if got := len(h.poster.got[testSender]); !last && got != 0 {
					t.Fatalf("after shard %d of %d: the sender got %d frames before the last shard", i+1, len(tt.order), got)
				}
			}
			reports := h.poster.got[testSender]
			if tt.senderGone {
				if len(reports) != 0 {
					t.Fatalf("gone sender got %q", reports)
				}
				return
			}
			if len(reports) != 1 {
				t.Fatalf("sender got %d frames, want one report", len(reports))
			}
			var got reply.Delivery
			if err := json.Unmarshal(reports[0], &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if s := string(reports[0]); s != `{"type":"delivery","id":"m1","delivered":7,"stale":1,"failed":1}` {
				t.Errorf("report = %s", s)
			}

			// A redelivered shard counts nothing twice and sends nothing
			// but the report again (at least once; clients drop it by id).
			before := h.poster.total()
			res, err := h.w.ProcessShard(context.Background(), testShard(tt.order[0], 3))
			if err != nil {
				t.Fatal(err)
			}
			if !res.Last || res.Pages != 0 || !res.Resumed {
				t.Errorf("redelivered: %+v, want Last, Resumed, no page", res)
			}
			if h.poster.total() != before+1 || len(h.poster.got[testSender]) != 2 || string(h.poster.got[testSender][1]) != string(reports[0]) {
				t.Errorf("redelivered: posts %d -> %d, sender frames %q; want the same report once more", before, h.poster.total(), h.poster.got[testSender])
			}
		})
	}
}

func TestRateLimiterBoundsPostsPerSecond(t *testing.T) {
	const (
		perSecond = 10
		burst     = 2
		n         = 40
	)
	var ids []string
	for i := range n {
		ids = append(ids, string(rune('A'+i)))
	}
	pages := map[int][][]string{0: {ids[:25], ids[25:]}}
	for _, inFlight := range []int{1, 4} {
		h := newHarness(t, pages, Config{MaxInFlight: inFlight, PostsPerSecond: perSecond, Burst: burst})
		start := h.clock.Now()
		res, err := h.w.ProcessShard(context.Background(), testShard(0, 2))
		if err != nil || res.Counts.Delivered != n {
			t.Fatalf("in flight %d: %+v, %v", inFlight, res.Counts, err)
		}
		times := slices.SortedFunc(slices.Values(h.poster.times), func(a, b time.Time) int { return a.Compare(b) })
		// By any time t, at most burst + rate*t posts.
		for k, at := range times {
			if limit := burst + perSecond*at.Sub(start).Seconds() + 1e-6; float64(k+1) > limit {
				t.Errorf("in flight %d: post %d at +%v, over %v", inFlight, k+1, at.Sub(start), limit)
			}
		}
		// In any one second, at most burst + rate posts. Only checked
		// sequentially: with posts in flight together, the fake clock
		// advances by the sum of concurrent sleeps, so posts happen after
		// their token was due and may bunch up (as real scheduling delays
		// could); the cumulative bound above holds either way.
		for i, from := range times {
			if inFlight > 1 {
				break
			}
			j := i
			for j < len(times) && times[j].Before(from.Add(time.Second)) {
				j++
			}
			if j-i > burst+perSecond {
				t.Errorf("in flight %d: %d posts in the second from +%v", inFlight, j-i, from.Sub(start))
			}
		}
		// And it did pace them: the last post is no sooner than the bucket
		// allows (fake time; nothing really slept).
		if min := time.Duration(n-burst) * time.Second / perSecond; times[n-1].Sub(start) < min {
			t.Errorf("in flight %d: last post at +%v, want >= +%v", inFlight, times[n-1].Sub(start), min)
		}
		if inFlight == 1 && times[n-1].Sub(start) != time.Duration(n-burst)*time.Second/perSecond {
			t.Errorf("in flight 1: last post at +%v, want exactly +%v", times[n-1].Sub(start), time.Duration(n-burst)*time.Second/perSecond)
		}
	}
}

func TestProcessShardRefusesInvalidShard(t *testing.T) {
	h := newHarness(t, nil, Config{})
	s := testShard(3, 2)
	if _, err := h.w.ProcessShard(context.Background(), s); !errors.Is(err, ErrInvalidShard) {
		t.Errorf("err = %v, want ErrInvalidShard", err)
	}
	if len(h.pager.calls) != 0 {
		t.Errorf("listed %v for an invalid shard", h.pager.calls)
	}
}

func set(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// gatedPoster holds every post until the test lets one through, and
// records the most posts in flight at once.
type gatedPoster struct {
	mu       sync.Mutex
	inFlight int
	most     int
	done     int
	gate     chan struct{}
}

func (p *gatedPoster) Send(ctx context.Context, _ string, _ []byte) error {
	p.mu.Lock()
	p.inFlight++
	p.most = max(p.most, p.inFlight)
	p.mu.Unlock()
	select {
	case <-p.gate:
	case <-ctx.Done():
	}
	p.mu.Lock()
	p.inFlight--
	p.done++
	p.mu.Unlock()
	return nil
}

func (p *gatedPoster) state() (inFlight, most, done int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inFlight, p.most, p.done
}

// TestMaxInFlightAcrossShards checks that MaxInFlight bounds the posts of
// every shard the worker processes at once, not each shard's.
func TestMaxInFlightAcrossShards(t *testing.T) {
	pages := map[int][][]string{0: {{"a", "b", "c"}}, 1: {{"d", "e", "f"}}}
	h := newHarness(t, pages, noLimit(Config{MaxInFlight: 2}))
	p := &gatedPoster{gate: make(chan struct{})}
	h.w.poster = p
	errs := make(chan error, 2)
	for seg := range 2 {
		go func() {
			_, err := h.w.ProcessShard(context.Background(), testShard(seg, 2))
			errs <- err
		}()
	}
	// Six posts, then the delivery report of the shard that ends last.
	for i := range 7 {
		testutil.Eventually(t, 10*time.Second, func() bool { n, _, _ := p.state(); return n > 0 }, "post %d never started", i+1)
		p.gate <- struct{}{}
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, most, done := p.state(); most > 2 || done != 7 {
		t.Errorf("%d posts done, at most %d in flight; want 7, at most 2", done, most)
	}
}

func TestResultCountsThrottles(t *testing.T) {
	h := newHarness(t, map[int][][]string{0: {{"a", "b"}}}, noLimit(Config{MaxAttempts: 3}))
	h.poster.script = map[string][]error{"a": {ErrThrottled}, "b": {ErrThrottled, ErrThrottled}}
	res, err := h.w.ProcessShard(context.Background(), testShard(0, 2))
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Delivered: 2}
	if res.Throttled != 3 || res.Posted != want || res.Counts != want {
		t.Errorf("result %+v, want 3 throttled, posted and counts %+v", res, want)
	}
}

// TestStillThrottledAfterMaxAttempts checks the safety cap: a post
// throttled MaxAttempts times abandons its page, which is neither counted
// nor checkpointed, and the shard is to be retried.
func TestStillThrottledAfterMaxAttempts(t *testing.T) {
	h := newHarness(t, map[int][][]string{0: {{"a"}, {"b", "c"}}}, noLimit(Config{MaxAttempts: 4, MaxInFlight: 1}))
	h.poster.script = map[string][]error{"b": slices.Repeat([]error{ErrThrottled}, 10)}
	res, err := h.w.ProcessShard(context.Background(), testShard(0, 2))
	if !errors.Is(err, ErrStillThrottled) || !errors.Is(err, ErrThrottled) || errors.Is(err, ErrStopped) {
		t.Fatalf("err = %v, want ErrStillThrottled wrapping ErrThrottled", err)
	}
	if got := h.poster.attempts["b"]; got != 4 {
		t.Errorf("attempts for b = %d, want 4", got)
	}
	if res.Throttled != 4 || res.Posted != (Counts{Delivered: 1}) || res.Pages != 1 {
		t.Errorf("result %+v, want 4 throttled, only page 1 posted and counted", res)
	}
	if cp := h.cps.m[cpKey{testJobID, 0}]; cp.Key != "p1" || cp.Counts != (Counts{Delivered: 1}) || cp.Finished {
		t.Errorf("checkpoint %+v, want after page 1 only", cp)
	}
	if len(h.counters.done) != 0 {
		t.Errorf("counts added for an abandoned shard: %+v", h.counters.totals)
	}
}

// TestThrottledUntilStop checks that a post throttled until the stop time
// abandons its page (not checkpointed, not counted, never failed), returns
// ErrStopped, and that the resumed run sends that page again, and only it,
// and counts every connection once.
func TestThrottledUntilStop(t *testing.T) {
	pages := map[int][][]string{0: {{"a", "b", "c"}, {"d", "e", "f"}, {"g", "h"}}}
	for _, inFlight := range []int{1, 3} {
		t.Run(fmt.Sprintf("in flight %d", inFlight), func(t *testing.T) {
			h := newHarness(t, pages, noLimit(Config{MaxInFlight: inFlight}))
			// Throttled for much longer than the stop time is away.
			h.poster.script = map[string][]error{"e": slices.Repeat([]error{ErrThrottled}, 1000)}
			stop := h.clock.Now().Add(2 * time.Second)

			res, err := h.w.ProcessShardBefore(context.Background(), testShard(0, 2), stop)
			if !errors.Is(err, ErrStopped) || !errors.Is(err, ErrThrottled) {
				t.Fatalf("first run: %v, want ErrStopped wrapping ErrThrottled", err)
			}
			if now := h.clock.Now(); !now.Before(stop) {
				t.Errorf("first run slept until +%v, past the stop time", now.Sub(stop.Add(-2*time.Second)))
			}
			if n := h.poster.attempts["e"]; n < 2 || n >= 1000 {
				t.Errorf("e attempted %d times, want retries until the stop time", n)
			}
			if res.Pages != 1 || res.Posted != (Counts{Delivered: 3}) || res.Throttled != h.poster.attempts["e"] {
				t.Errorf("first run %+v, want page 1 only, every attempt at e throttled", res)
			}
			if cp := h.cps.m[cpKey{testJobID, 0}]; cp.Key != "p1" || cp.Counts != (Counts{Delivered: 3}) || cp.Finished {
				t.Fatalf("checkpoint %+v, want after page 1 only", cp)
			}
			if len(h.counters.done) != 0 {
				t.Fatalf("counts added for a stopped shard")
			}

			// The throttling ends; another invocation resumes the shard.
			h.poster.mu.Lock()
			h.poster.script = nil
			h.poster.mu.Unlock()
			h.pager.calls = nil
			res, err = h.w.ProcessShardBefore(context.Background(), testShard(0, 2), h.clock.Now().Add(time.Hour))
			if err != nil {
				t.Fatalf("resumed run: %v", err)
			}
			if diff := cmp.Diff([]string{"0:p1", "0:p2"}, h.pager.calls); diff != "" {
				t.Errorf("resumed run listed (-want +got):\n%s", diff)
			}
			want := Counts{Delivered: 8}
			if !res.Resumed || res.Counts != want || res.Posted != (Counts{Delivered: 5}) {
				t.Errorf("resumed run %+v, want resumed, 8 delivered in all, 5 by this run", res)
			}
			if got := h.counters.totals[testJobID]; got.Counts != want || got.ShardsDone != 1 {
				t.Errorf("job totals %+v, want %+v once", got, want)
			}
			for _, page := range pages[0] {
				for _, id := range page {
					n := len(h.poster.got[id])
					switch {
					case n == 0:
						t.Errorf("%s missed", id)
					case n > 1 && !slices.Contains(pages[0][1], id):
						t.Errorf("%s (not on the abandoned page) got %d posts", id, n)
					}
				}
			}
			if n := len(h.poster.got["e"]); n != 1 {
				t.Errorf("e got %d posts, want 1", n)
			}
		})
	}
}

// TestAdaptiveRate checks the AIMD rate step by step: a 429 halves it down
// to the floor, at most once per CutInterval of attempts, and accepted posts
// raise it by RateIncrease/rate up to PostsPerSecond.
func TestAdaptiveRate(t *testing.T) {
	cfg := Config{PostsPerSecond: 100, Burst: 1, MinPostsPerSecond: 10, RateIncrease: 20, CutInterval: 200 * time.Millisecond}
	type step struct {
		throttledAfter time.Duration // a 429 to an attempt sent this long after the start
		accepted       bool          // or an accepted post
		advance        time.Duration // first, the clock moves on
		want           float64
	}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{
			name: "429s halve the rate once per interval, down to the floor",
			cfg:  cfg,
			steps: []step{
				{want: 50},
				{throttledAfter: 100 * time.Millisecond, advance: 150 * time.Millisecond, want: 50}, // in flight at the cut
				{throttledAfter: 199 * time.Millisecond, advance: 100 * time.Millisecond, want: 50},
				{throttledAfter: 200 * time.Millisecond, want: 25}, // sent CutInterval after the cut
				{throttledAfter: 450 * time.Millisecond, advance: 300 * time.Millisecond, want: 12.5},
				{throttledAfter: 700 * time.Millisecond, advance: 300 * time.Millisecond, want: 12.5}, // 150 ms after the cut at 550
				{throttledAfter: 750 * time.Millisecond, want: 10},
				{throttledAfter: 1050 * time.Millisecond, advance: 300 * time.Millisecond, want: 10},
			},
		},
		{
			name: "accepted posts add RateIncrease/rate up to the most",
			cfg:  cfg,
			steps: []step{
				{want: 50},
				{accepted: true, want: 50.4},
				{accepted: true, want: 50.4 + 20/50.4},
			},
		},
		{
			name: "an unlimited worker does not adapt",
			cfg:  Config{PostsPerSecond: math.Inf(1)},
			steps: []step{
				{want: math.Inf(1)},
				{accepted: true, want: math.Inf(1)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			start := clock.Now()
			w := New(nil, nil, nil, nil, nil, tt.cfg, WithClock(clock))
			for i, s := range tt.steps {
				_ = clock.Sleep(context.Background(), s.advance)
				switch {
				case s.accepted:
					w.accepted()
				default:
					w.throttledAt(start.Add(s.throttledAfter))
				}
				if got := w.Rate(); math.Abs(got-s.want) > 1e-9 && got != s.want {
					t.Fatalf("step %d: Rate() = %v, want %v", i, got, s.want)
				}
				got := float64(w.limiter.Limit())
				if w.limiter.Limit() == rate.Inf {
					got = math.Inf(1)
				}
				if got != w.Rate() {
					t.Fatalf("step %d: limiter at %v, Rate() %v", i, got, w.Rate())
				}
			}
		})
	}

	// Recovery: from the floor back to the most, additively, never past it.
	clock := newFakeClock()
	w := New(nil, nil, nil, nil, nil, cfg, WithClock(clock))
	for range 10 {
		w.throttledAt(clock.Now())
		_ = clock.Sleep(context.Background(), time.Second)
	}
	if w.Rate() != 10 {
		t.Fatalf("after sustained 429s Rate() = %v, want the floor 10", w.Rate())
	}
	// At rate r, r accepted posts take a second and add RateIncrease: from
	// 10 to 100 takes (100-10)/20 = 4.5 s of posts, sum of r over it ≈
	// 4.5 * (10+100)/2 ≈ 250 posts.
	n := 0
	for prev := w.Rate(); w.Rate() < 100; n++ {
		w.accepted()
		if w.Rate() <= prev || w.Rate() > 100 {
			t.Fatalf("after %d accepted posts: Rate() %v after %v", n+1, w.Rate(), prev)
		}
		prev = w.Rate()
	}
	if n < 200 || n > 300 {
		t.Errorf("back to 100/s after %d accepted posts, want about 250", n)
	}
	w.accepted()
	if w.Rate() != 100 {
		t.Errorf("Rate() = %v past the most", w.Rate())
	}
}

// gatewayPoster throttles posts beyond its own token bucket on the fake
// clock, as API Gateway does past the account's rate.
type gatewayPoster struct {
	mu        sync.Mutex
	clock     Clock
	bucket    *rate.Limiter
	delivered map[string]int
	throttled int
}

func (p *gatewayPoster) Send(_ context.Context, id string, _ []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.bucket.AllowN(p.clock.Now(), 1) {
		p.throttled++
		return fmt.Errorf("post to %s: %w", id, ErrThrottled)
	}
	p.delivered[id]++
	return nil
}

// TestAdaptiveRateConvergesUnderThrottling posts to 600 connections at a
// worker rate of 100/s through a gateway that takes 25/s: the adaptive
// worker delivers to all and converges near 25/s with few 429s, where a
// fixed rate gets several per post.
func TestAdaptiveRateConvergesUnderThrottling(t *testing.T) {
	var page []string
	for i := range 600 {
		page = append(page, fmt.Sprintf("c%03d", i))
	}
	pages := map[int][][]string{0: {page[:300], page[300:]}}
	tests := []struct {
		name          string
		minRate       float64 // the floor; 100 keeps the rate fixed
		wantThrottled func(n int) bool
		wantRate      func(r float64) bool
	}{
		{
			name:          "adaptive",
			wantThrottled: func(n int) bool { return n < 100 },
			wantRate:      func(r float64) bool { return r >= 12.5 && r <= 50 },
		},
		{
			name:          "fixed rate",
			minRate:       100,
			wantThrottled: func(n int) bool { return n > 600 },
			wantRate:      func(r float64) bool { return r == 100 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, pages, Config{PostsPerSecond: 100, Burst: 1, MaxInFlight: 1, MinPostsPerSecond: tt.minRate, BaseBackoff: 20 * time.Millisecond})
			p := &gatewayPoster{clock: h.clock, bucket: rate.NewLimiter(25, 1), delivered: map[string]int{}}
			h.w.poster = p
			start := h.clock.Now()
			res, err := h.w.ProcessShard(context.Background(), testShard(0, 2))
			if err != nil {
				t.Fatal(err)
			}
			if res.Counts != (Counts{Delivered: 600}) || len(p.delivered) != 600 {
				t.Errorf("counts %+v, %d connections got the frame; want all 600", res.Counts, len(p.delivered))
			}
			took := h.clock.Now().Sub(start)
			t.Logf("%s: %d throttled, rate at the end %.1f/s, %v for 600 posts", tt.name, p.throttled, h.w.Rate(), took)
			if res.Throttled != p.throttled || !tt.wantThrottled(p.throttled) {
				t.Errorf("%d throttled (result: %d)", p.throttled, res.Throttled)
			}
			if !tt.wantRate(h.w.Rate()) {
				t.Errorf("rate at the end %v", h.w.Rate())
			}
			// Nothing can beat the gateway's 25/s.
			if took < 23*time.Second {
				t.Errorf("600 posts in %v, faster than the gateway allows", took)
			}
		})
	}
}

func TestProcessShardBeforeStopsBetweenPages(t *testing.T) {
	h := newHarness(t, map[int][][]string{0: {{"a"}, {"b"}}}, noLimit(Config{}))
	// Past its stop time: not even a first page.
	res, err := h.w.ProcessShardBefore(context.Background(), testShard(0, 2), h.clock.Now())
	if !errors.Is(err, ErrStopped) || res.Pages != 0 || h.poster.total() != 0 {
		t.Errorf("ProcessShardBefore(now) = %+v, %v after %d posts; want ErrStopped before any page", res, err, h.poster.total())
	}
	res, err = h.w.ProcessShardBefore(context.Background(), testShard(0, 2), h.clock.Now().Add(time.Hour))
	if err != nil || res.Pages != 2 {
		t.Errorf("ProcessShardBefore(in an hour) = %+v, %v; want both pages", res, err)
	}
}
