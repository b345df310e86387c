package fanout

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"wsapi/lambdas/internal/metrics"
)

type fakeMetrics struct {
	mu     sync.Mutex
	shards []metrics.Shard
	splits []int
}

func (m *fakeMetrics) Shard(_ context.Context, s metrics.Shard) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.Duration = 0 // not compared
	m.shards = append(m.shards, s)
}

func (m *fakeMetrics) JobSplit(_ context.Context, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.splits = append(m.splits, n)
}

type handlerHarness struct {
	*harness
	queue   *fakeQueue
	store   *fakeJobStore
	metrics *fakeMetrics
	logs    *bytes.Buffer
	h       *Handler
}

func newHandlerHarness(t *testing.T, pages map[int][][]string, cfg Config, split SplitConfig) *handlerHarness {
	t.Helper()
	hh := &handlerHarness{
		harness: newHarness(t, pages, cfg),
		queue:   &fakeQueue{},
		store:   &fakeJobStore{},
		metrics: &fakeMetrics{},
		logs:    &bytes.Buffer{},
	}
	log := slog.New(slog.NewJSONHandler(hh.logs, nil))
	sp := NewSplitter(fakeCounter{n: 10}, hh.store, hh.queue, split, log)
	hh.h = NewHandler(hh.w, sp, hh.queue, hh.metrics, HandlerConfig{Concurrency: 2}, log)
	hh.h.now = hh.clock.Now
	return hh
}

func record(id string, body string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, ReceiptHandle: "handle-" + id, Body: body}
}

func shardBody(t *testing.T, segment, total int) string {
	t.Helper()
	b, err := EncodeShard(testShard(segment, total))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jobBody(t *testing.T) string {
	t.Helper()
	b, err := EncodeJob(testJobID, testSender, testFrame)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func failedIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}

func TestHandlerBatch(t *testing.T) {
	pages := map[int][][]string{0: {{"a", "b"}, {"c"}}, 1: {{"d"}}}
	hh := newHandlerHarness(t, pages, noLimit(Config{}), SplitConfig{Segments: 3})
	hh.pager.failAt = "1:"
	const secret = "do-not-log-me"
	ev := events.SQSEvent{Records: []events.SQSMessage{
		record("job", jobBody(t)),
		record("shard0", shardBody(t, 0, 2)),
		record("shard1", shardBody(t, 1, 2)), // its scan fails
		record("bad", `{"id":"`+secret+`"}`),
	}}
	resp, err := hh.h.Handle(t.Context(), ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if diff := cmp.Diff([]string{"bad", "shard1"}, failedIDs(resp)); diff != "" {
		t.Errorf("failed records (-want +got):\n%s", diff)
	}
	if strings.Contains(hh.logs.String(), secret) {
		t.Errorf("the malformed body was logged:\n%s", hh.logs)
	}
	if !strings.Contains(hh.logs.String(), "malformed fan-out record") {
		t.Errorf("the malformed record was not logged:\n%s", hh.logs)
	}
	// The job: three shards enqueued, the split recorded.
	var segs []int
	for _, b := range hh.queue.sent {
		s, err := DecodeShard(b)
		if err != nil || s.TotalShards != 3 || s.ID != testJobID {
			t.Errorf("enqueued %s: %+v, %v", b, s, err)
		}
		segs = append(segs, s.Segment)
	}
	slices.Sort(segs)
	if !cmp.Equal(segs, []int{0, 1, 2}) {
		t.Errorf("enqueued segments %v, want 0 1 2", segs)
	}
	if !cmp.Equal(hh.metrics.splits, []int{3}) {
		t.Errorf("JobSplit records %v, want [3]", hh.metrics.splits)
	}
	// Shard 0 posted to a, b, c; the failed one posted nothing.
	for _, id := range []string{"a", "b", "c"} {
		if len(hh.poster.got[id]) != 1 {
			t.Errorf("%s got %d posts, want 1", id, len(hh.poster.got[id]))
		}
	}
	if len(hh.poster.got["d"]) != 0 {
		t.Errorf("d got a post from a failed scan")
	}
	want := []metrics.Shard{{Delivered: 3}, {}}
	got := slices.Clone(hh.metrics.shards)
	slices.SortFunc(got, func(a, b metrics.Shard) int { return b.Delivered - a.Delivered })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Shard records (-want +got):\n%s", diff)
	}
	if len(hh.queue.released) != 0 {
		t.Errorf("released %v; only stopped shards are", hh.queue.released)
	}
}

// TestHandlerOneSegmentInline checks that a job of one segment is
// processed at once, without a shard message, and reports delivery.
// TestHandlerPanickingRecord checks that a bug panicking in one record's
// processing fails that record only: the invocation goes on and the
// batch's other records are done.
func TestHandlerPanickingRecord(t *testing.T) {
	pages := map[int][][]string{0: {{"a"}}, 1: {{"b"}}}
	hh := newHandlerHarness(t, pages, noLimit(Config{}), SplitConfig{Segments: 2})
	hh.pager.panicAt = "1:"
	resp, err := hh.h.Handle(t.Context(), events.SQSEvent{Records: []events.SQSMessage{
		record("shard0", shardBody(t, 0, 2)),
		record("shard1", shardBody(t, 1, 2)),
	}})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if diff := cmp.Diff([]string{"shard1"}, failedIDs(resp)); diff != "" {
		t.Errorf("failed records (-want +got):\n%s", diff)
	}
	if len(hh.poster.got["a"]) != 1 {
		t.Errorf("a got %d posts, want 1", len(hh.poster.got["a"]))
	}
	if !strings.Contains(hh.logs.String(), `"msg":"panic"`) || !strings.Contains(hh.logs.String(), "pager bug") {
		t.Errorf("the panic was not logged:\n%s", hh.logs)
	}
}

func TestHandlerOneSegmentInline(t *testing.T) {
	hh := newHandlerHarness(t, map[int][][]string{0: {{"a", testSender, "b"}}}, noLimit(Config{}), SplitConfig{})
	resp, err := hh.h.Handle(t.Context(), events.SQSEvent{Records: []events.SQSMessage{record("job", jobBody(t))}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	if len(hh.queue.calls) != 0 {
		t.Errorf("enqueued %d batches for a one-segment job", len(hh.queue.calls))
	}
	if len(hh.poster.got["a"]) != 1 || len(hh.poster.got["b"]) != 1 {
		t.Errorf("posts %v", hh.poster.got)
	}
	if reports := hh.poster.got[testSender]; len(reports) != 1 || !strings.Contains(string(reports[0]), `"delivered":2`) {
		t.Errorf("sender got %q, want one delivery report", reports)
	}
}

// invoke runs the handler on recs with a deadline 20 s away on both
// clocks (the margin is 5 s: shards stop 15 s in, on the fake clock).
func (hh *handlerHarness) invoke(t *testing.T, recs ...events.SQSMessage) events.SQSEventResponse {
	t.Helper()
	hh.clock.mu.Lock()
	hh.clock.now = time.Now()
	hh.clock.mu.Unlock()
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(20*time.Second))
	defer cancel()
	resp, err := hh.h.Handle(ctx, events.SQSEvent{Records: recs})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	return resp
}

// sentSince returns the fan-out queue's messages from the n-th on.
func (hh *handlerHarness) sentSince(n int) [][]byte {
	hh.queue.mu.Lock()
	defer hh.queue.mu.Unlock()
	return slices.Clone(hh.queue.sent[n:])
}

// drive invokes the handler with recs, then as the event source mapping
// would: with the continuations each invocation sent (new messages) and
// the records it reported failed (received again), until none is left or
// most invocations were made. It returns how many were made.
func (hh *handlerHarness) drive(t *testing.T, most int, recs ...events.SQSMessage) int {
	t.Helper()
	n := 0
	for ; len(recs) > 0; n++ {
		if n == most {
			t.Fatalf("records left after %d invocations: %d", most, len(recs))
		}
		sent := len(hh.sentSince(0))
		resp := hh.invoke(t, recs...)
		failed := failedIDs(resp)
		var next []events.SQSMessage
		for _, r := range recs {
			if slices.Contains(failed, r.MessageId) {
				next = append(next, r)
			}
		}
		for i, b := range hh.sentSince(sent) {
			next = append(next, record(fmt.Sprintf("cont%d-%d", n, i), string(b)))
		}
		recs = next
	}
	return n
}

// pagesOf returns count pages of two connections each, and their ids.
func pagesOf(count int) ([][]string, []string) {
	var pages [][]string
	var ids []string
	for p := range count {
		page := []string{fmt.Sprintf("c%d-0", p), fmt.Sprintf("c%d-1", p)}
		ids = append(ids, page...)
		pages = append(pages, page)
	}
	return pages, ids
}

// TestHandlerStoppedShard checks what happens to a shard stopped before
// the deadline: with progress in this invocation it continues in a new
// message (the record is done, not released); without, or when the new
// message cannot be sent, the record is released and reported failed.
// Then the rest of the broadcast is driven to its end: every connection
// gets the frame (once, but for a page abandoned while throttled) and the
// sender one delivery report.
func TestHandlerStoppedShard(t *testing.T) {
	tenPages, tenIDs := pagesOf(10)
	// One post a second on the fake clock: a page takes two seconds and
	// the shard stops part way through its ten.
	slow := Config{PostsPerSecond: 1, Burst: 1}
	throttled := slices.Repeat([]error{ErrThrottled}, 10000)
	tests := []struct {
		name       string
		pages      [][]string
		ids        []string
		cfg        Config
		script     map[string][]error
		sendFails  bool // the continuation's sends all fail
		wantFailed bool // released and reported failed, else continued
		wantCP     Checkpoint
		wantPartCP bool     // a checkpoint part way, not wantCP
		resent     []string // may get the frame twice
	}{
		{
			name: "stopped between pages after some", pages: tenPages, ids: tenIDs, cfg: slow,
			wantPartCP: true,
		},
		{
			name:  "throttled after a page",
			pages: [][]string{{"a", "b"}, {"c", "d"}, {"e"}}, ids: []string{"a", "b", "c", "d", "e"},
			cfg: noLimit(Config{MaxInFlight: 2}), script: map[string][]error{"c": throttled},
			wantCP: Checkpoint{Key: "p1", Counts: Counts{Delivered: 2}}, resent: []string{"d"},
		},
		{
			name:  "throttled on its first page",
			pages: [][]string{{"a", "b"}, {"c", "d"}, {"e"}}, ids: []string{"a", "b", "c", "d", "e"},
			cfg: noLimit(Config{MaxInFlight: 2}), script: map[string][]error{"a": throttled},
			wantFailed: true, resent: []string{"b"},
		},
		{
			name: "continuation not sent", pages: tenPages, ids: tenIDs, cfg: slow,
			sendFails: true, wantFailed: true, wantPartCP: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hh := newHandlerHarness(t, map[int][][]string{0: tt.pages}, tt.cfg, SplitConfig{})
			hh.poster.script = tt.script
			body := shardBody(t, 0, 1)
			if tt.sendFails {
				hh.queue.failFirst = map[string]int{body: -1}
			}
			rec := record("shard", body)

			resp := hh.invoke(t, rec)
			var wantFailed []string
			var wantReleased []string
			var wantSent [][]byte
			if tt.wantFailed {
				wantFailed, wantReleased = []string{"shard"}, []string{"handle-shard"}
			} else {
				wantSent = [][]byte{[]byte(body)}
			}
			if diff := cmp.Diff(wantFailed, failedIDs(resp)); diff != "" {
				t.Errorf("failed records (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantReleased, hh.queue.released); diff != "" {
				t.Errorf("released (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantSent, hh.queue.sent); diff != "" {
				t.Errorf("continuations sent (-want +got):\n%s", diff)
			}
			if tt.sendFails && len(hh.queue.calls) != DefaultSendAttempts {
				t.Errorf("%d sends of the continuation, want %d", len(hh.queue.calls), DefaultSendAttempts)
			}
			cp := hh.cps.m[cpKey{testJobID, 0}]
			if tt.wantPartCP {
				if cp.Finished || cp.Key == "" || cp.Counts.Delivered == 0 || cp.Counts.Delivered == len(tt.ids) {
					t.Errorf("checkpoint after the stop %+v, want part of the segment", cp)
				}
			} else if cp != tt.wantCP {
				t.Errorf("checkpoint after the stop %+v, want %+v", cp, tt.wantCP)
			}
			if hh.counters.totals[testJobID].ShardsDone != 0 {
				t.Errorf("counts added for a stopped shard")
			}

			// The throttling ends, the queue works: the rest as SQS would.
			hh.poster.mu.Lock()
			hh.poster.script = nil
			hh.poster.mu.Unlock()
			hh.queue.mu.Lock()
			hh.queue.failFirst = nil
			hh.queue.mu.Unlock()
			var next []events.SQSMessage
			if tt.wantFailed {
				next = append(next, rec)
			}
			for i, b := range hh.sentSince(0) {
				next = append(next, record(fmt.Sprintf("cont-%d", i), string(b)))
			}
			hh.drive(t, 10, next...)
			for _, id := range tt.ids {
				n := len(hh.poster.got[id])
				if n == 0 || n > 2 || (n == 2 && !slices.Contains(tt.resent, id)) {
					t.Errorf("%s got %d posts; want 1 (2 for %v, on a page re-sent)", id, n, tt.resent)
				}
			}
			want := Counts{Delivered: len(tt.ids)}
			if got := hh.counters.totals[testJobID]; got.Counts != want || got.ShardsDone != 1 {
				t.Errorf("totals %+v, want %+v in 1 shard", got, want)
			}
			report := fmt.Sprintf(`"delivered":%d,"stale":0,"failed":0`, len(tt.ids))
			if reports := hh.poster.got[testSender]; len(reports) != 1 || !strings.Contains(string(reports[0]), report) {
				t.Errorf("sender got %q, want one report of %s", reports, report)
			}
		})
	}
}

// TestHandlerPlannedStopWithoutPage checks that a record that waited for a
// slot until the stop time, and so stopped before its first page, is
// continued too: it did not fail to progress, it had no time.
func TestHandlerPlannedStopWithoutPage(t *testing.T) {
	pages, _ := pagesOf(10)
	hh := newHandlerHarness(t, map[int][][]string{0: pages, 1: {{"x"}}}, Config{PostsPerSecond: 1, Burst: 1}, SplitConfig{})
	hh.h.cfg.Concurrency = 1 // shard 1 starts once shard 0 has stopped
	resp := hh.invoke(t, record("shard0", shardBody(t, 0, 2)), record("shard1", shardBody(t, 1, 2)))
	if len(resp.BatchItemFailures) != 0 || len(hh.queue.released) != 0 {
		t.Errorf("failed %v, released %v; want both continued", failedIDs(resp), hh.queue.released)
	}
	want := [][]byte{[]byte(shardBody(t, 0, 2)), []byte(shardBody(t, 1, 2))}
	if diff := cmp.Diff(want, hh.queue.sent); diff != "" {
		t.Errorf("continuations (-want +got):\n%s", diff)
	}
	if _, found := hh.cps.m[cpKey{testJobID, 1}]; found || len(hh.poster.got["x"]) != 0 {
		t.Errorf("shard 1 did a page after the stop time")
	}
}

// slowPager takes d on the fake clock for each page.
type slowPager struct {
	*fakePager
	clock *fakeClock
	d     time.Duration
}

func (p slowPager) Page(ctx context.Context, segment, total int, startKey string) ([]string, string, error) {
	if err := p.clock.Sleep(ctx, p.d); err != nil {
		return nil, "", err
	}
	return p.fakePager.Page(ctx, segment, total, startKey)
}

// TestHandlerLongShardContinues checks that a shard needing 8 invocations,
// more than the default maxReceiveCount of 5, is handed over in new
// messages, never released or failed, and completes with every connection
// posted to once and one delivery report. It starts as a one-segment job
// (processed inline, continued as a shard message).
func TestHandlerLongShardContinues(t *testing.T) {
	// A page takes 4 s on the fake clock and shards stop 15 s in: 4 pages
	// an invocation, 32 pages in 8.
	pages, ids := pagesOf(32)
	hh := newHandlerHarness(t, nil, noLimit(Config{}), SplitConfig{})
	pager := slowPager{fakePager: &fakePager{pages: map[int][][]string{0: pages}}, clock: hh.clock, d: 4 * time.Second}
	hh.h.worker = New(pager, hh.poster, hh.remover, hh.cps, hh.counters, noLimit(Config{}), WithClock(hh.clock), WithRand(hh.rand.n))

	if n := hh.drive(t, 20, record("job", jobBody(t))); n != 8 {
		t.Errorf("%d invocations, want 8", n)
	}
	if len(hh.queue.released) != 0 {
		t.Errorf("released %v; a progressing shard is continued", hh.queue.released)
	}
	if n := len(hh.sentSince(0)); n != 7 {
		t.Errorf("%d continuations, want 7", n)
	}
	for _, id := range ids {
		if n := len(hh.poster.got[id]); n != 1 {
			t.Errorf("%s got %d posts, want 1", id, n)
		}
	}
	if got := hh.counters.totals[testJobID]; got.Delivered != len(ids) || got.ShardsDone != 1 {
		t.Errorf("totals %+v, want %d delivered in 1 shard", got, len(ids))
	}
	report := fmt.Sprintf(`"delivered":%d,"stale":0,"failed":0`, len(ids))
	if reports := hh.poster.got[testSender]; len(reports) != 1 || !strings.Contains(string(reports[0]), report) {
		t.Errorf("sender got %q, want one report of %s", reports, report)
	}
}
