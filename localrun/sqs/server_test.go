package sqs_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"wsapi/internal/testutil"
	localsqs "wsapi/localrun/sqs"
)

type env struct {
	srv   *localsqs.Server
	clock *testutil.Clock
	c     *awssqs.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := testutil.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	srv := localsqs.New(localsqs.Options{Now: clock.Now})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	c := awssqs.New(awssqs.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(ts.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""),
		RetryMaxAttempts: 1,
	})
	return &env{srv: srv, clock: clock, c: c}
}

func (e *env) create(t *testing.T, name string, attrs map[string]string) string {
	t.Helper()
	out, err := e.c.CreateQueue(context.Background(), &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	return *out.QueueUrl
}

func (e *env) send(t *testing.T, url, body string) string {
	t.Helper()
	out, err := e.c.SendMessage(context.Background(), &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	return *out.MessageId
}

func (e *env) receive(t *testing.T, url string, max int32) []types.Message {
	t.Helper()
	out, err := e.c.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: max,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	return out.Messages
}

func (e *env) counts(t *testing.T, url string) (visible, notVisible string) {
	t.Helper()
	out, err := e.c.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	return out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]
}

func receiveCount(t *testing.T, m types.Message) int {
	t.Helper()
	n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if err != nil {
		t.Fatalf("ApproximateReceiveCount %q: %v", m.Attributes["ApproximateReceiveCount"], err)
	}
	return n
}

func TestSendReceiveDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.create(t, "jobs", nil)
	got, err := e.c.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("jobs")})
	if err != nil || *got.QueueUrl != url {
		t.Fatalf("GetQueueUrl = %v, %v; want %s", got, err, url)
	}
	sentAt := e.clock.Now()
	id := e.send(t, url, `{"job":"j1","segment":3}`)
	if v, nv := e.counts(t, url); v != "1" || nv != "0" {
		t.Fatalf("counts after send = %s/%s, want 1/0", v, nv)
	}
	e.clock.Advance(2 * time.Second)
	msgs := e.receive(t, url, 10)
	if len(msgs) != 1 {
		t.Fatalf("received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if *m.MessageId != id || *m.Body != `{"job":"j1","segment":3}` {
		t.Errorf("message = %s %q", *m.MessageId, *m.Body)
	}
	wantAttrs := map[string]string{
		"ApproximateReceiveCount":          "1",
		"SentTimestamp":                    strconv.FormatInt(sentAt.UnixMilli(), 10),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(sentAt.Add(2*time.Second).UnixMilli(), 10),
	}
	for k, v := range wantAttrs {
		if m.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, m.Attributes[k], v)
		}
	}
	if v, nv := e.counts(t, url); v != "0" || nv != "1" {
		t.Fatalf("counts in flight = %s/%s, want 0/1", v, nv)
	}
	if _, err := e.c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	if v, nv := e.counts(t, url); v != "0" || nv != "0" {
		t.Fatalf("counts after delete = %s/%s, want 0/0", v, nv)
	}
	// Deleting again (a message already deleted) succeeds.
	if _, err := e.c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatalf("second DeleteMessage: %v", err)
	}
}

func TestSendMessageBatch(t *testing.T) {
	entries := func(n, size int) []types.SendMessageBatchRequestEntry {
		out := make([]types.SendMessageBatchRequestEntry, n)
		for i := range out {
			out[i] = types.SendMessageBatchRequestEntry{Id: aws.String("e" + strconv.Itoa(i)), MessageBody: aws.String(strings.Repeat("x", size))}
		}
		return out
	}
	tests := []struct {
		name      string
		entries   []types.SendMessageBatchRequestEntry
		wantErr   any // a pointer to the SDK's typed error
		wantOK    int
		wantFails []string // codes of Failed entries
	}{
		{name: "ten entries", entries: entries(10, 100), wantOK: 10},
		{name: "256 KiB in all", entries: entries(4, 65536), wantOK: 4},
		{name: "empty", entries: []types.SendMessageBatchRequestEntry{}, wantErr: new(*types.EmptyBatchRequest)},
		{name: "eleven entries", entries: entries(11, 1), wantErr: new(*types.TooManyEntriesInBatchRequest)},
		{name: "over 256 KiB in all", entries: entries(5, 65536), wantErr: new(*types.BatchRequestTooLong)},
		{name: "repeated id", entries: append(entries(2, 1), entries(1, 1)...), wantErr: new(*types.BatchEntryIdsNotDistinct)},
		{name: "bad id", entries: []types.SendMessageBatchRequestEntry{{Id: aws.String("a.b"), MessageBody: aws.String("x")}}, wantErr: new(*types.InvalidBatchEntryId)},
		{
			name: "one entry fails alone",
			entries: append(entries(2, 10), types.SendMessageBatchRequestEntry{Id: aws.String("bad"), MessageBody: aws.String("nul \x00 byte")},
				types.SendMessageBatchRequestEntry{Id: aws.String("empty"), MessageBody: aws.String("")}),
			wantOK: 2, wantFails: []string{"InvalidMessageContents", "InvalidParameterValue"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			url := e.create(t, "jobs", nil)
			out, err := e.c.SendMessageBatch(context.Background(), &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: tt.entries})
			if tt.wantErr != nil {
				if !errors.As(err, tt.wantErr) {
					t.Fatalf("err = %v (%T), want %T", err, err, tt.wantErr)
				}
				if v, _ := e.counts(t, url); v != "0" {
					t.Fatalf("%s messages sent by a refused batch", v)
				}
				return
			}
			if err != nil {
				t.Fatalf("SendMessageBatch: %v", err)
			}
			if len(out.Successful) != tt.wantOK || len(out.Failed) != len(tt.wantFails) {
				t.Fatalf("Successful %d, Failed %d; want %d, %d", len(out.Successful), len(out.Failed), tt.wantOK, len(tt.wantFails))
			}
			for i, f := range out.Failed {
				if *f.Code != tt.wantFails[i] || !f.SenderFault {
					t.Errorf("Failed[%d] = %s %s sender %v, want %s", i, *f.Id, *f.Code, f.SenderFault, tt.wantFails[i])
				}
			}
			if v, _ := e.counts(t, url); v != strconv.Itoa(tt.wantOK) {
				t.Errorf("queue holds %s messages, want %d", v, tt.wantOK)
			}
		})
	}
}

func TestVisibilityTimeout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.create(t, "jobs", map[string]string{"VisibilityTimeout": "30"})
	id := e.send(t, url, "m")

	first := e.receive(t, url, 1)
	if len(first) != 1 || receiveCount(t, first[0]) != 1 {
		t.Fatalf("first receive = %+v", first)
	}
	steps := []struct {
		advance time.Duration
		want    int // messages received, 0 or 1
		count   int
	}{
		{advance: 0, want: 0},
		{advance: 29 * time.Second, want: 0},
		{advance: time.Second, want: 1, count: 2},
		{advance: 30 * time.Second, want: 1, count: 3},
	}
	last := first[0]
	for i, st := range steps {
		e.clock.Advance(st.advance)
		got := e.receive(t, url, 1)
		if len(got) != st.want {
			t.Fatalf("step %d: received %d, want %d", i, len(got), st.want)
		}
		if st.want == 1 {
			if *got[0].MessageId != id || receiveCount(t, got[0]) != st.count {
				t.Fatalf("step %d: %s count %d, want %s count %d", i, *got[0].MessageId, receiveCount(t, got[0]), id, st.count)
			}
			if *got[0].ReceiptHandle == *last.ReceiptHandle {
				t.Fatalf("step %d: receipt handle unchanged", i)
			}
			last = got[0]
		}
	}
	// An old handle: the call succeeds, the message stays.
	if _, err := e.c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage with an old handle: %v", err)
	}
	if _, nv := e.counts(t, url); nv != "1" {
		t.Fatalf("an old handle deleted the message")
	}
	// The per-receive override.
	e.clock.Advance(30 * time.Second)
	out, err := e.c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 5})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("ReceiveMessage with VisibilityTimeout 5 = %v, %v", out, err)
	}
	if out.Messages[0].Attributes != nil {
		t.Errorf("attributes %v returned unasked", out.Messages[0].Attributes)
	}
	e.clock.Advance(5 * time.Second)
	got := e.receive(t, url, 1)
	if len(got) != 1 {
		t.Fatal("message still invisible after the 5 s override")
	}
	if _, err := e.c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: got[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	if v, nv := e.counts(t, url); v != "0" || nv != "0" {
		t.Fatalf("counts after delete = %s/%s", v, nv)
	}
}

func TestRedriveToDeadLetterQueue(t *testing.T) {
	for _, maxReceive := range []string{"1", "2", `"3"`} {
		t.Run("maxReceiveCount "+maxReceive, func(t *testing.T) {
			e := newEnv(t)
			dlqURL := e.create(t, "jobs-dlq", nil)
			q, ok := e.srv.Queue("jobs-dlq")
			if !ok {
				t.Fatal("Queue(jobs-dlq) not found")
			}
			url := e.create(t, "jobs", map[string]string{
				"VisibilityTimeout": "10",
				"RedrivePolicy":     `{"deadLetterTargetArn":"` + q.ARN() + `","maxReceiveCount":` + maxReceive + `}`,
			})
			n, _ := strconv.Atoi(strings.Trim(maxReceive, `"`))
			id := e.send(t, url, "poison")
			for i := 1; i <= n; i++ {
				got := e.receive(t, url, 1)
				if len(got) != 1 || receiveCount(t, got[0]) != i {
					t.Fatalf("receive %d: %+v", i, got)
				}
				e.clock.Advance(10 * time.Second)
			}
			if got := e.receive(t, url, 1); len(got) != 0 {
				t.Fatalf("receive %d returned the message; want it moved", n+1)
			}
			if v, nv := e.counts(t, url); v != "0" || nv != "0" {
				t.Fatalf("source counts = %s/%s", v, nv)
			}
			got := e.receive(t, dlqURL, 1)
			if len(got) != 1 || *got[0].MessageId != id || *got[0].Body != "poison" || receiveCount(t, got[0]) != 1 {
				t.Fatalf("dead-letter queue holds %+v", got)
			}
		})
	}
}

func TestChangeMessageVisibility(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.create(t, "jobs", map[string]string{"VisibilityTimeout": "60"})
	e.send(t, url, "a")
	e.send(t, url, "b")
	got := e.receive(t, url, 10)
	if len(got) != 2 {
		t.Fatalf("received %d", len(got))
	}
	if _, err := e.c.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: got[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatalf("ChangeMessageVisibility 0: %v", err)
	}
	again := e.receive(t, url, 10)
	if len(again) != 1 || *again[0].Body != "a" || receiveCount(t, again[0]) != 2 {
		t.Fatalf("after visibility 0: %+v", again)
	}
	// The old handle of a is outdated now.
	_, err := e.c.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: got[0].ReceiptHandle, VisibilityTimeout: 10})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
		t.Fatalf("old handle: err = %v, want InvalidParameterValue", err)
	}

	batch, err := e.c.ChangeMessageVisibilityBatch(ctx, &awssqs.ChangeMessageVisibilityBatchInput{
		QueueUrl: aws.String(url),
		Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
			{Id: aws.String("b"), ReceiptHandle: got[1].ReceiptHandle, VisibilityTimeout: 120},
			{Id: aws.String("bogus"), ReceiptHandle: aws.String("not-a-handle"), VisibilityTimeout: 0},
		},
	})
	if err != nil {
		t.Fatalf("ChangeMessageVisibilityBatch: %v", err)
	}
	if len(batch.Successful) != 1 || *batch.Successful[0].Id != "b" || len(batch.Failed) != 1 || *batch.Failed[0].Code != "ReceiptHandleIsInvalid" {
		t.Fatalf("batch = %+v", batch)
	}
	e.clock.Advance(60 * time.Second) // a is visible again, b (120 s) is not
	if v, nv := e.counts(t, url); v != "1" || nv != "1" {
		t.Fatalf("counts = %s/%s, want 1/1", v, nv)
	}
	// a's visibility ran out: its latest handle is no longer in flight.
	_, err = e.c.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: again[0].ReceiptHandle, VisibilityTimeout: 10})
	var notInflight *types.MessageNotInflight
	if !errors.As(err, &notInflight) {
		t.Fatalf("expired visibility: err = %v, want MessageNotInflight", err)
	}
	// Past 12 hours from the receive.
	_, err = e.c.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: got[1].ReceiptHandle, VisibilityTimeout: 43200})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
		t.Fatalf("beyond 12 hours: err = %v, want InvalidParameterValue", err)
	}

	del, err := e.c.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{
		QueueUrl: aws.String(url),
		Entries: []types.DeleteMessageBatchRequestEntry{
			{Id: aws.String("b"), ReceiptHandle: got[1].ReceiptHandle},
			{Id: aws.String("bogus"), ReceiptHandle: aws.String("bogus")},
		},
	})
	if err != nil {
		t.Fatalf("DeleteMessageBatch: %v", err)
	}
	if len(del.Successful) != 1 || len(del.Failed) != 1 || *del.Failed[0].Code != "ReceiptHandleIsInvalid" {
		t.Fatalf("delete batch = %+v", del)
	}
	if v, nv := e.counts(t, url); v != "1" || nv != "0" {
		t.Fatalf("counts after delete = %s/%s, want 1/0", v, nv)
	}
}

func TestLongPolling(t *testing.T) {
	e := newEnv(t)
	url := e.create(t, "jobs", nil)
	q, _ := e.srv.Queue("jobs")

	t.Run("returns when a message arrives", func(t *testing.T) {
		done := make(chan *awssqs.ReceiveMessageOutput, 1)
		start := time.Now()
		go func() {
			out, err := e.c.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20, MaxNumberOfMessages: 10})
			if err != nil {
				t.Errorf("ReceiveMessage: %v", err)
			}
			done <- out
		}()
		time.Sleep(20 * time.Millisecond)
		e.send(t, url, "late")
		out := <-done
		if len(out.Messages) != 1 || *out.Messages[0].Body != "late" {
			t.Fatalf("long poll got %+v", out.Messages)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("long poll took %v", d)
		}
	})
	t.Run("empty after the wait", func(t *testing.T) {
		got, err := q.Receive(context.Background(), localsqs.ReceiveOptions{Max: 10, Wait: 50 * time.Millisecond})
		if err != nil || len(got) != 0 {
			t.Fatalf("Receive = %v, %v", got, err)
		}
	})
	t.Run("wakes when the clock moves a message back", func(t *testing.T) {
		vt := 10
		if _, err := q.Send("again"); err != nil {
			t.Fatal(err)
		}
		got, err := q.Receive(context.Background(), localsqs.ReceiveOptions{VisibilityTimeout: &vt})
		if err != nil || len(got) != 1 {
			t.Fatalf("Receive = %v, %v", got, err)
		}
		done := make(chan []localsqs.Message, 1)
		go func() {
			got, err := q.Receive(context.Background(), localsqs.ReceiveOptions{Wait: 20 * time.Second})
			if err != nil {
				t.Errorf("Receive: %v", err)
			}
			done <- got
		}()
		time.Sleep(20 * time.Millisecond)
		e.clock.Advance(10 * time.Second)
		e.srv.Wake()
		got2 := <-done
		if len(got2) != 1 || got2[0].MessageID != got[0].MessageID || got2[0].Attributes["ApproximateReceiveCount"] != "2" {
			t.Fatalf("woken receive = %+v", got2)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := q.Receive(ctx, localsqs.ReceiveOptions{Wait: 20 * time.Second}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.create(t, "jobs", map[string]string{"VisibilityTimeout": "30"})
	gone := strings.Replace(url, "/jobs", "/nope", 1)
	tests := []struct {
		name     string
		call     func() error
		wantType any    // pointer to an SDK typed error, or nil
		wantCode string // with wantType nil: the smithy.APIError code
	}{
		{"GetQueueUrl of no queue", func() error {
			_, err := e.c.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("nope")})
			return err
		}, new(*types.QueueDoesNotExist), ""},
		{"SendMessage to no queue", func() error {
			_, err := e.c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(gone), MessageBody: aws.String("x")})
			return err
		}, new(*types.QueueDoesNotExist), ""},
		{"ReceiveMessage from no queue", func() error {
			_, err := e.c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(gone)})
			return err
		}, new(*types.QueueDoesNotExist), ""},
		{"MaxNumberOfMessages 11", func() error {
			_, err := e.c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
			return err
		}, nil, "InvalidParameterValue"},
		{"WaitTimeSeconds 21", func() error {
			_, err := e.c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 21})
			return err
		}, nil, "InvalidParameterValue"},
		{"message over 256 KiB", func() error {
			_, err := e.c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strings.Repeat("x", 262145))})
			return err
		}, nil, "InvalidParameterValue"},
		{"message attributes", func() error {
			_, err := e.c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"),
				MessageAttributes: map[string]types.MessageAttributeValue{"a": {DataType: aws.String("String"), StringValue: aws.String("b")}}})
			return err
		}, nil, "InvalidParameterValue"},
		{"DeleteMessage with no handle of ours", func() error {
			_, err := e.c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("AQEBbogus")})
			return err
		}, new(*types.ReceiptHandleIsInvalid), ""},
		{"CreateQueue again with other attributes", func() error {
			_, err := e.c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("jobs"), Attributes: map[string]string{"VisibilityTimeout": "31"}})
			return err
		}, new(*types.QueueNameExists), ""},
		{"unknown attribute", func() error {
			_, err := e.c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("q2"), Attributes: map[string]string{"Colour": "red"}})
			return err
		}, new(*types.InvalidAttributeName), ""},
		{"RedrivePolicy to no queue", func() error {
			_, err := e.c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("q3"), Attributes: map[string]string{
				"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:nope","maxReceiveCount":3}`}})
			return err
		}, new(*types.InvalidAttributeValue), ""},
		{"VisibilityTimeout over 12 hours", func() error {
			_, err := e.c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("q4"), Attributes: map[string]string{"VisibilityTimeout": "43201"}})
			return err
		}, new(*types.InvalidAttributeValue), ""},
		{"FIFO queue", func() error {
			_, err := e.c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("q5.fifo"), Attributes: map[string]string{"FifoQueue": "true"}})
			return err
		}, nil, "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if tt.wantType != nil {
				if !errors.As(err, tt.wantType) {
					t.Fatalf("err = %v (%T), want %T", err, err, tt.wantType)
				}
				return
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantCode {
				t.Fatalf("err = %v, want code %s", err, tt.wantCode)
			}
		})
	}
}

func TestQueueAttributes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create(t, "dlq", nil)
	attrs := map[string]string{
		"VisibilityTimeout":    "180",
		"KmsMasterKeyId":       "alias/aws/sqs",
		"SqsManagedSseEnabled": "false",
		"RedrivePolicy":        `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"5"}`,
	}
	url := e.create(t, "jobs", attrs)
	if again := e.create(t, "jobs", attrs); again != url {
		t.Fatalf("CreateQueue with the same attributes = %s, want %s", again, url)
	}
	out, err := e.c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameQueueArn, types.QueueAttributeNameVisibilityTimeout, types.QueueAttributeNameKmsMasterKeyId,
		types.QueueAttributeNameSqsManagedSseEnabled, types.QueueAttributeNameRedrivePolicy, types.QueueAttributeNameApproximateNumberOfMessages,
	}})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	want := map[string]string{
		"QueueArn":                    "arn:aws:sqs:us-east-1:000000000000:jobs",
		"VisibilityTimeout":           "180",
		"KmsMasterKeyId":              "alias/aws/sqs",
		"SqsManagedSseEnabled":        "false",
		"RedrivePolicy":               `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":5}`,
		"ApproximateNumberOfMessages": "0",
	}
	if len(out.Attributes) != len(want) {
		t.Errorf("attributes = %v", out.Attributes)
	}
	for k, v := range want {
		if out.Attributes[k] != v {
			t.Errorf("%s = %q, want %q", k, out.Attributes[k], v)
		}
	}
	if q, ok := e.srv.QueueByARN(want["QueueArn"]); !ok || q.URL() != url || q.VisibilityTimeout() != 180*time.Second {
		t.Errorf("QueueByARN = %v, %v", q, ok)
	}
	if !strings.HasSuffix(url, "/000000000000/jobs") {
		t.Errorf("QueueUrl = %s", url)
	}
}

func TestGoAPI(t *testing.T) {
	clock := testutil.NewClock(time.Unix(1e9, 0))
	srv := localsqs.New(localsqs.Options{Now: clock.Now, Region: "eu-west-1", Account: "123456789012"})
	q, err := srv.CreateQueue("jobs", map[string]string{"VisibilityTimeout": "30"})
	if err != nil {
		t.Fatal(err)
	}
	if q.ARN() != "arn:aws:sqs:eu-west-1:123456789012:jobs" || q.URL() != "http://sqs.local/123456789012/jobs" {
		t.Fatalf("ARN %s URL %s", q.ARN(), q.URL())
	}
	for i := range 12 {
		if _, err := q.Send("m" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := q.Receive(context.Background(), localsqs.ReceiveOptions{Max: 10})
	if err != nil || len(got) != 10 || got[0].Body != "m0" || got[9].Body != "m9" {
		t.Fatalf("Receive = %d messages, %v", len(got), err)
	}
	if v, nv, d := q.Counts(); v != 2 || nv != 10 || d != 0 {
		t.Fatalf("Counts = %d %d %d", v, nv, d)
	}
	if err := q.ChangeVisibility(got[0].ReceiptHandle, 0); err != nil {
		t.Fatal(err)
	}
	for _, m := range got[1:] {
		if err := q.Delete(m.ReceiptHandle); err != nil {
			t.Fatal(err)
		}
	}
	if v, nv, _ := q.Counts(); v != 3 || nv != 0 {
		t.Fatalf("Counts = %d %d", v, nv)
	}
	if _, err := q.Receive(context.Background(), localsqs.ReceiveOptions{Max: 11}); err == nil {
		t.Fatal("Max 11 accepted")
	}
	if _, ok := srv.Queue("nope"); ok {
		t.Fatal("Queue(nope) found")
	}
}
