package esm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"wsapi/internal/testutil"
	"wsapi/localrun/esm"
	"wsapi/localrun/gateway"
	"wsapi/localrun/sqs"
)

// The local run's functions can be mapped as they are.
var _ esm.Invoker = gateway.Function(nil)

const wait = 5 * time.Second // Eventually's limit; conditions hold much sooner

// fakeFunction records every event and answers with respond.
type fakeFunction struct {
	respond func(ctx context.Context, ev events.SQSEvent) (gateway.Result, error)

	mu      sync.Mutex
	events  []events.SQSEvent
	cur     int
	maxCur  int
	release chan struct{} // when not nil, invocations block until it is closed
}

func (f *fakeFunction) Invoke(ctx context.Context, payload []byte) (gateway.Result, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return gateway.Result{}, err
	}
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.cur++
	f.maxCur = max(f.maxCur, f.cur)
	release := f.release
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.cur--
		f.mu.Unlock()
	}()
	if release != nil {
		select {
		case <-release:
		case <-ctx.Done():
			return gateway.Result{}, ctx.Err()
		}
	}
	if f.respond == nil {
		return gateway.Result{}, nil
	}
	return f.respond(ctx, ev)
}

func (f *fakeFunction) invocations() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

// received is every record delivered so far, by message id.
func (f *fakeFunction) received() map[string][]events.SQSMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]events.SQSMessage{}
	for _, ev := range f.events {
		for _, r := range ev.Records {
			out[r.MessageId] = append(out[r.MessageId], r)
		}
	}
	return out
}

type env struct {
	srv   *sqs.Server
	clock *testutil.Clock
	q     *sqs.Queue
	dlq   *sqs.Queue
}

// newEnv makes a queue "jobs" with a 30 s visibility timeout and, when
// maxReceive > 0, a dead-letter queue "jobs-dlq".
func newEnv(t *testing.T, maxReceive int) *env {
	t.Helper()
	clock := testutil.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	e := &env{srv: sqs.New(sqs.Options{Region: "eu-west-1", Now: clock.Now}), clock: clock}
	attrs := map[string]string{"VisibilityTimeout": "30"}
	if maxReceive > 0 {
		dlq, err := e.srv.CreateQueue("jobs-dlq", nil)
		if err != nil {
			t.Fatal(err)
		}
		e.dlq = dlq
		attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, dlq.ARN(), maxReceive)
	}
	q, err := e.srv.CreateQueue("jobs", attrs)
	if err != nil {
		t.Fatal(err)
	}
	e.q = q
	return e
}

func (e *env) send(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id, err := e.q.Send(fmt.Sprintf("body %d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// expire moves the clock past the visibility timeout and wakes the pollers.
func (e *env) expire() {
	e.clock.Advance(31 * time.Second)
	e.srv.Wake()
}

func start(t *testing.T, m *esm.Mapping) {
	t.Helper()
	if m.PollWait == 0 {
		m.PollWait = 50 * time.Millisecond
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
}

func counts(q *sqs.Queue) [3]int {
	v, nv, d := q.Counts()
	return [3]int{v, nv, d}
}

func TestAllDeliveredAndDeleted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report bool
		resp   string
		batch  int
	}{
		{"no report, batch 10", false, "", 0},
		{"no report ignores the response", false, `{"batchItemFailures":[{"itemIdentifier":""}]}`, 3},
		{"report, empty response", true, "", 10},
		{"report, null", true, "null", 4},
		{"report, empty list", true, `{"batchItemFailures":[]}`, 10},
		{"report, null list", true, `{"batchItemFailures":null}`, 1},
		{"report, other keys", true, `{"ok":true}`, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 0)
			ids := e.send(t, 25)
			f := &fakeFunction{respond: func(context.Context, events.SQSEvent) (gateway.Result, error) {
				return gateway.Result{Payload: []byte(tc.resp)}, nil
			}}
			start(t, &esm.Mapping{Queue: e.q, Function: f, BatchSize: tc.batch, ReportBatchItemFailures: tc.report})
			testutil.Eventually(t, wait, func() bool { return counts(e.q) == [3]int{} }, "queue not emptied")
			got := f.received()
			if len(got) != len(ids) {
				t.Fatalf("%d distinct messages delivered, want %d", len(got), len(ids))
			}
			size := tc.batch
			if size == 0 {
				size = 10
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, ev := range f.events {
				if len(ev.Records) > size {
					t.Errorf("batch of %d records, BatchSize %d", len(ev.Records), size)
				}
			}
			for i, id := range ids {
				rs := got[id]
				if len(rs) != 1 {
					t.Fatalf("message %s delivered %d times", id, len(rs))
				}
				r := rs[0]
				if r.Body != fmt.Sprintf("body %d", i) || r.ReceiptHandle == "" || r.Md5OfBody == "" ||
					r.EventSource != "aws:sqs" || r.EventSourceARN != e.q.ARN() || r.AWSRegion != "eu-west-1" ||
					r.Attributes["ApproximateReceiveCount"] != "1" || r.Attributes["SentTimestamp"] == "" ||
					r.Attributes["ApproximateFirstReceiveTimestamp"] == "" {
					t.Errorf("record %+v", r)
				}
			}
		})
	}
}

func TestPartialBatchFailure(t *testing.T) {
	e := newEnv(t, 0)
	ids := e.send(t, 6)
	failing := []string{ids[1], ids[4]}
	f := &fakeFunction{respond: func(_ context.Context, ev events.SQSEvent) (gateway.Result, error) {
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			if slices.Contains(failing, r.MessageId) && r.Attributes["ApproximateReceiveCount"] == "1" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		b, err := json.Marshal(resp)
		return gateway.Result{Payload: b}, err
	}}
	start(t, &esm.Mapping{Queue: e.q, Function: f, MaximumConcurrency: 2, ReportBatchItemFailures: true})

	// The failed ones stay in flight; the rest are deleted.
	testutil.Eventually(t, wait, func() bool { return counts(e.q) == [3]int{0, 2, 0} }, "want 2 in flight")
	if n := f.invocations(); n != 1 {
		t.Fatalf("%d invocations before the visibility timeout, want 1", n)
	}

	e.expire()
	testutil.Eventually(t, wait, func() bool { return counts(e.q) == [3]int{} }, "queue not emptied")
	got := f.received()
	for _, id := range ids {
		want := 1
		if slices.Contains(failing, id) {
			want = 2
		}
		if len(got[id]) != want {
			t.Fatalf("message %s delivered %d times, want %d", id, len(got[id]), want)
		}
		if c := got[id][want-1].Attributes["ApproximateReceiveCount"]; c != fmt.Sprint(want) {
			t.Errorf("message %s: ApproximateReceiveCount %s, want %d", id, c, want)
		}
	}
}

func TestWholeBatchFails(t *testing.T) {
	for _, tc := range []struct {
		name    string
		report  bool
		respond func(ctx context.Context, ev events.SQSEvent) (gateway.Result, error)
		timeout time.Duration
	}{
		{"function error", false, func(context.Context, events.SQSEvent) (gateway.Result, error) {
			return gateway.Result{Error: &gateway.FunctionError{Type: "Error", Message: "boom"}}, nil
		}, 0},
		{"function error with report", true, func(context.Context, events.SQSEvent) (gateway.Result, error) {
			return gateway.Result{Error: &gateway.FunctionError{Type: "Error", Message: "boom"}}, nil
		}, 0},
		{"invocation failed", false, func(context.Context, events.SQSEvent) (gateway.Result, error) {
			return gateway.Result{}, fmt.Errorf("no instance")
		}, 0},
		{"timeout", false, func(ctx context.Context, _ events.SQSEvent) (gateway.Result, error) {
			<-ctx.Done()
			return gateway.Result{}, nil // a late success still timed out
		}, 20 * time.Millisecond},
		{"empty itemIdentifier", true, payload(`{"batchItemFailures":[{"itemIdentifier":""}]}`), 0},
		{"null itemIdentifier", true, payload(`{"batchItemFailures":[{"itemIdentifier":null}]}`), 0},
		{"bad key name", true, payload(`{"batchItemFailures":[{"itemId":"x"}]}`), 0},
		{"unknown message id", true, payload(`{"batchItemFailures":[{"itemIdentifier":"not-in-batch"}]}`), 0},
		{"not JSON", true, payload(`oops`), 0},
		{"not an object", true, payload(`"done"`), 0},
		{"list not a list", true, payload(`{"batchItemFailures":{}}`), 0},
		{"null item", true, payload(`{"batchItemFailures":[null]}`), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 0)
			ids := e.send(t, 4)
			f := &fakeFunction{respond: func(ctx context.Context, ev events.SQSEvent) (gateway.Result, error) {
				if ev.Records[0].Attributes["ApproximateReceiveCount"] != "1" {
					return gateway.Result{}, nil // succeeds the second time
				}
				return tc.respond(ctx, ev)
			}}
			start(t, &esm.Mapping{Queue: e.q, Function: f, ReportBatchItemFailures: tc.report, FunctionTimeout: tc.timeout})
			testutil.Eventually(t, wait, func() bool { return f.invocations() == 1 && counts(e.q) == [3]int{0, 4, 0} }, "want the batch in flight")
			e.expire()
			testutil.Eventually(t, wait, func() bool { return counts(e.q) == [3]int{} }, "queue not emptied")
			got := f.received()
			for _, id := range ids {
				if len(got[id]) != 2 || got[id][1].Attributes["ApproximateReceiveCount"] != "2" {
					t.Fatalf("message %s: %+v", id, got[id])
				}
			}
		})
	}
}

func payload(s string) func(context.Context, events.SQSEvent) (gateway.Result, error) {
	return func(context.Context, events.SQSEvent) (gateway.Result, error) {
		return gateway.Result{Payload: []byte(s)}, nil
	}
}

func TestDeadLetterQueue(t *testing.T) {
	for _, maxReceive := range []int{1, 3} {
		t.Run(fmt.Sprint("maxReceiveCount ", maxReceive), func(t *testing.T) {
			e := newEnv(t, maxReceive)
			ids := e.send(t, 1)
			f := &fakeFunction{respond: func(context.Context, events.SQSEvent) (gateway.Result, error) {
				return gateway.Result{Error: &gateway.FunctionError{Type: "Error", Message: "poison"}}, nil
			}}
			start(t, &esm.Mapping{Queue: e.q, Function: f})
			for i := 1; i <= maxReceive; i++ {
				testutil.Eventually(t, wait, func() bool { return f.invocations() == i && counts(e.q) == [3]int{0, 1, 0} }, "invocation %d", i)
				e.expire()
			}
			testutil.Eventually(t, wait, func() bool { return counts(e.dlq) == [3]int{1, 0, 0} }, "not in the DLQ")
			if c := counts(e.q); c != [3]int{} {
				t.Fatalf("source queue counts %v", c)
			}
			if n := f.invocations(); n != maxReceive {
				t.Fatalf("%d invocations, want %d", n, maxReceive)
			}
			msgs, err := e.dlq.Receive(context.Background(), sqs.ReceiveOptions{Max: 10})
			if err != nil || len(msgs) != 1 || msgs[0].MessageID != ids[0] {
				t.Fatalf("DLQ holds %+v, %v", msgs, err)
			}
		})
	}
}

func TestMaximumConcurrency(t *testing.T) {
	for _, tc := range []struct{ max, want int }{{2, 2}, {3, 3}, {0, esm.DefaultPollers}} {
		t.Run(fmt.Sprint("MaximumConcurrency ", tc.max), func(t *testing.T) {
			e := newEnv(t, 0)
			e.send(t, 20)
			release := make(chan struct{})
			f := &fakeFunction{release: release}
			start(t, &esm.Mapping{Queue: e.q, Function: f, BatchSize: 1, MaximumConcurrency: tc.max})
			cur := func() int {
				f.mu.Lock()
				defer f.mu.Unlock()
				return f.cur
			}
			testutil.Eventually(t, wait, func() bool { return cur() == tc.want }, "want %d concurrent", tc.want)
			time.Sleep(50 * time.Millisecond) // room for an extra invocation to show up
			if c := cur(); c != tc.want {
				t.Fatalf("%d concurrent invocations, want %d", c, tc.want)
			}
			close(release)
			testutil.Eventually(t, wait, func() bool { return counts(e.q) == [3]int{} }, "queue not emptied")
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.maxCur != tc.want {
				t.Fatalf("at most %d concurrent invocations, want %d", f.maxCur, tc.want)
			}
		})
	}
}

func TestBatchingWindow(t *testing.T) {
	t.Run("waits for the window", func(t *testing.T) {
		e := newEnv(t, 0)
		e.send(t, 1)
		f := &fakeFunction{}
		start(t, &esm.Mapping{Queue: e.q, Function: f, BatchSize: 3, MaximumConcurrency: 2, MaximumBatchingWindow: 300 * time.Millisecond})
		began := time.Now()
		testutil.Eventually(t, wait, func() bool { return f.invocations() == 1 }, "not invoked")
		if d := time.Since(began); d < 250*time.Millisecond {
			t.Fatalf("invoked after %s, before the window of 300ms", d)
		}
		testutil.Eventually(t, wait, func() bool { return counts(e.q) == [3]int{} }, "queue not emptied")
	})
	t.Run("a full batch does not wait", func(t *testing.T) {
		e := newEnv(t, 0)
		e.send(t, 3)
		f := &fakeFunction{}
		start(t, &esm.Mapping{Queue: e.q, Function: f, BatchSize: 3, MaximumConcurrency: 2, MaximumBatchingWindow: 10 * time.Second})
		testutil.Eventually(t, wait, func() bool { return f.invocations() == 1 }, "not invoked before the window ended")
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.events[0].Records) != 3 {
			t.Fatalf("%d records, want 3", len(f.events[0].Records))
		}
	})
}

func TestCloseStopsPollers(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newEnv(t, 0)
	e.send(t, 3)
	f := &fakeFunction{release: make(chan struct{})} // blocks until cancelled
	m := &esm.Mapping{Queue: e.q, Function: f, BatchSize: 1, PollWait: 20 * time.Second}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, wait, func() bool { return f.invocations() == 3 }, "3 invocations in flight")
	m.Close()
	m.Close()
	testutil.Eventually(t, wait, func() bool { return runtime.NumGoroutine() <= before }, "goroutines leaked")
	// The cancelled batches were not deleted.
	if c := counts(e.q); c != [3]int{0, 3, 0} {
		t.Fatalf("counts %v after Close", c)
	}
	if err := m.Start(context.Background()); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

func TestStartValidates(t *testing.T) {
	e := newEnv(t, 0)
	f := &fakeFunction{}
	for _, tc := range []struct {
		name string
		m    *esm.Mapping
	}{
		{"no queue", &esm.Mapping{Function: f}},
		{"no function", &esm.Mapping{Queue: e.q}},
		{"batch size 11", &esm.Mapping{Queue: e.q, Function: f, BatchSize: 11}},
		{"negative batch size", &esm.Mapping{Queue: e.q, Function: f, BatchSize: -1}},
		{"window over 300 s", &esm.Mapping{Queue: e.q, Function: f, MaximumBatchingWindow: 301 * time.Second}},
		{"concurrency 1", &esm.Mapping{Queue: e.q, Function: f, MaximumConcurrency: 1}},
		{"concurrency 1001", &esm.Mapping{Queue: e.q, Function: f, MaximumConcurrency: 1001}},
		{"timeout over visibility", &esm.Mapping{Queue: e.q, Function: f, FunctionTimeout: 31 * time.Second}},
		{"poll wait over 20 s", &esm.Mapping{Queue: e.q, Function: f, PollWait: 21 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.m.Start(context.Background()); err == nil {
				tc.m.Close()
				t.Fatal("Start succeeded")
			}
		})
	}
	m := &esm.Mapping{Queue: e.q, Function: f, FunctionTimeout: 30 * time.Second, PollWait: 10 * time.Millisecond}
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("timeout equal to the visibility timeout: %v", err)
	}
	defer m.Close()
	if err := m.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
}
