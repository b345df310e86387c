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

// TestHandlerStopsBeforeDeadline checks that a shard stops between pages
// before the deadline, is released and reported failed, and that the next
// invocation resumes it without sending any page twice.
func TestHandlerStopsBeforeDeadline(t *testing.T) {
	var ids []string
	var pageList [][]string
	for p := range 10 {
		page := []string{fmt.Sprintf("c%d-0", p), fmt.Sprintf("c%d-1", p)}
		ids = append(ids, page...)
		pageList = append(pageList, page)
	}
	// One post a second on the fake clock: a page takes two seconds.
	hh := newHandlerHarness(t, map[int][][]string{0: pageList}, Config{PostsPerSecond: 1, Burst: 1}, SplitConfig{})
	ev := events.SQSEvent{Records: []events.SQSMessage{record("shard", shardBody(t, 0, 1))}}

	invoke := func() events.SQSEventResponse {
		t.Helper()
		// The deadline is 20 s away on both clocks; the margin is 5 s.
		hh.clock.mu.Lock()
		hh.clock.now = time.Now()
		hh.clock.mu.Unlock()
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(20*time.Second))
		defer cancel()
		resp, err := hh.h.Handle(ctx, ev)
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		return resp
	}

	resp := invoke()
	if diff := cmp.Diff([]string{"shard"}, failedIDs(resp)); diff != "" {
		t.Fatalf("first invocation: failed (-want +got):\n%s", diff)
	}
	if !cmp.Equal(hh.queue.released, []string{"handle-shard"}) {
		t.Errorf("released %v, want the stopped shard's handle", hh.queue.released)
	}
	cp := hh.cps.m[cpKey{testJobID, 0}]
	if cp.Finished || cp.Key == "" || cp.Counts.Delivered == 0 || cp.Counts.Delivered == len(ids) {
		t.Fatalf("checkpoint after the stop %+v, want part of the segment", cp)
	}
	if hh.counters.totals[testJobID].ShardsDone != 0 {
		t.Errorf("counts added for a stopped shard")
	}

	resp = invoke()
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("second invocation: failed %v", failedIDs(resp))
	}
	for _, id := range ids {
		if n := len(hh.poster.got[id]); n != 1 {
			t.Errorf("%s got %d posts, want 1", id, n)
		}
	}
	if got := hh.counters.totals[testJobID]; got.Delivered != len(ids) || got.ShardsDone != 1 {
		t.Errorf("totals %+v, want %d delivered in 1 shard", got, len(ids))
	}
}

// TestHandlerReleasesShardThrottledUntilStop checks that a shard whose post
// is throttled until the stop time is released and reported failed with
// the throttled page unsaved, and that the next invocation re-sends that
// page only, delivers to everyone and reports each connection once.
func TestHandlerReleasesShardThrottledUntilStop(t *testing.T) {
	pages := map[int][][]string{0: {{"a", "b"}, {"c", "d"}, {"e"}}}
	hh := newHandlerHarness(t, pages, noLimit(Config{MaxInFlight: 2}), SplitConfig{})
	hh.poster.script = map[string][]error{"c": slices.Repeat([]error{ErrThrottled}, 10000)}
	ev := events.SQSEvent{Records: []events.SQSMessage{record("shard", shardBody(t, 0, 1))}}
	invoke := func() events.SQSEventResponse {
		t.Helper()
		// The deadline is 20 s away on both clocks; the margin is 5 s.
		hh.clock.mu.Lock()
		hh.clock.now = time.Now()
		hh.clock.mu.Unlock()
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(20*time.Second))
		defer cancel()
		resp, err := hh.h.Handle(ctx, ev)
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		return resp
	}

	resp := invoke()
	if diff := cmp.Diff([]string{"shard"}, failedIDs(resp)); diff != "" {
		t.Fatalf("first invocation: failed (-want +got):\n%s", diff)
	}
	if !cmp.Equal(hh.queue.released, []string{"handle-shard"}) {
		t.Errorf("released %v, want the stopped shard's handle", hh.queue.released)
	}
	if cp := hh.cps.m[cpKey{testJobID, 0}]; cp.Key != "p1" || cp.Counts != (Counts{Delivered: 2}) {
		t.Fatalf("checkpoint %+v, want after page 1 only", cp)
	}
	hh.poster.mu.Lock()
	throttled := hh.poster.attempts["c"]
	hh.poster.script = nil // the throttling ends
	hh.poster.mu.Unlock()
	if throttled < 2 {
		t.Errorf("c attempted %d times, want retries until the stop time", throttled)
	}
	if diff := cmp.Diff([]metrics.Shard{{Delivered: 2, PostThrottled: throttled}}, hh.metrics.shards); diff != "" {
		t.Errorf("first Shard record (-want +got):\n%s", diff)
	}

	if resp := invoke(); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("second invocation: failed %v", failedIDs(resp))
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		n := len(hh.poster.got[id])
		if n == 0 || (n > 1 && id != "d") || n > 2 {
			t.Errorf("%s got %d posts; want 1 (d, on the re-sent page, may get 2)", id, n)
		}
	}
	want := Counts{Delivered: 5}
	if got := hh.counters.totals[testJobID]; got.Counts != want || got.ShardsDone != 1 {
		t.Errorf("totals %+v, want %+v in 1 shard", got, want)
	}
	if reports := hh.poster.got[testSender]; len(reports) != 1 || !strings.Contains(string(reports[0]), `"delivered":5,"stale":0,"failed":0`) {
		t.Errorf("sender got %q, want one report of 5 delivered", reports)
	}
}
