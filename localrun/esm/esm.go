// Package esm emulates a Lambda event source mapping on an SQS queue of the
// local run's in-process SQS server (localrun/sqs): pollers long-poll the
// queue, hand batches to a function as an SQS event, and delete what the
// function processed. The local run (package localrun) starts one per
// enabled AWS::Lambda::EventSourceMapping of its template.
//
// What it follows, from AWS's documentation (docs/fanout-research.md, Part
// 1b, has the table; the row numbers below are its rows):
//
//   - The event is the aws-lambda-go events.SQSEvent shape: Records with
//     messageId, receiptHandle, body, md5OfBody, attributes
//     (ApproximateReceiveCount, SentTimestamp, SenderId,
//     ApproximateFirstReceiveTimestamp), messageAttributes (always empty:
//     the local queue refuses message attributes), eventSource "aws:sqs",
//     eventSourceARN and awsRegion (row 12,
//     https://docs.aws.amazon.com/powertools/typescript/2.14.0/api/types/_aws-lambda-powertools_parser.types.SqsEvent.html).
//   - BatchSize defaults to 10; MaximumBatchingWindow defaults to 0 and is
//     at most 300 s (rows 3 and 4,
//     https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html).
//   - A function error, a timeout or a failed invocation leaves the whole
//     batch on the queue: nothing is deleted, and the messages become
//     visible again after the queue's visibility timeout (rows 2 and 5,
//     https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html,
//     https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
//     The move to a dead-letter queue after maxReceiveCount receives is the
//     queue's business (row 11); localrun/sqs does it.
//   - With ReportBatchItemFailures, a successful invocation's response
//     {"batchItemFailures":[{"itemIdentifier":"<messageId>"}]} names the
//     messages to keep; every other one is deleted. An empty or null list,
//     or an empty or null response, is complete success; an empty or null
//     itemIdentifier, or a bad key name, is complete failure (row 8,
//     https://docs.amazonaws.cn/lambda/latest/dg/services-ddb-batchfailurereporting.html;
//     and row 7,
//     https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
//     Choices where the stored pages are silent: an itemIdentifier that is
//     not a messageId of the batch, a response that is not JSON, and a
//     response that is neither null nor an object are complete failure too.
//     Without ReportBatchItemFailures the response is ignored and a
//     successful invocation deletes the whole batch.
//   - MaximumConcurrency bounds the concurrent invocations; it is 2-1000, or
//     0 for none (row 10,
//     https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
//   - The function timeout must not exceed the queue's visibility timeout;
//     Lambda refuses such a mapping, and so does Start (row 1,
//     https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
//
// Simplifications: the emulator runs a fixed number of pollers, each
// invoking one batch at a time: MaximumConcurrency of them, or 5 (Lambda's
// starting concurrency, row 9) when it is 0; it does not scale up by 300 a
// minute, nor down after function errors (rows 5 and 9), and it has no
// throttling (row 6). BatchSize is 1-10 (a standard queue allows up to
// 10,000 with a batching window; one ReceiveMessage returns at most 10).
// The batching window may be a fraction of a second here (AWS takes whole
// seconds), so tests can be quick; it waits in real time. The 6 MB payload
// cap cannot be reached with 10 messages of at most 256 KiB. There is no
// FilterCriteria, Enabled flag, FIFO handling or ProvisionedPollerConfig
// (row 13).
package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"wsapi/localrun/gateway"
	"wsapi/localrun/sqs"
)

// Invoker invokes the mapping's function synchronously: the response
// payload or the function's error in the Result, or an error when the
// invocation could not be made. gateway.Function has this shape, so the
// local run's lambdaruntime pools (localrun.poolFunction) satisfy it.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) (gateway.Result, error)
}

// Defaults and limits.
const (
	DefaultBatchSize       = 10
	MaxBatchSize           = 10
	MaxBatchingWindow      = 300 * time.Second
	MinMaximumConcurrency  = 2
	MaxMaximumConcurrency  = 1000
	DefaultPollers         = 5               // Lambda's starting concurrency (row 9)
	DefaultFunctionTimeout = 3 * time.Second // Lambda's default function timeout
	DefaultPollWait        = 20 * time.Second
)

// Mapping is one event source mapping. Set the fields, then Start; the
// fields must not change afterwards.
type Mapping struct {
	Queue    *sqs.Queue
	Function Invoker
	// BatchSize is the most records per event, 1-10; 0 means 10.
	BatchSize int
	// MaximumBatchingWindow is how long to gather records before invoking
	// with fewer than BatchSize, 0-300 s.
	MaximumBatchingWindow time.Duration
	// MaximumConcurrency bounds concurrent invocations, 2-1000; 0 means
	// no maximum (5 pollers here).
	MaximumConcurrency int
	// ReportBatchItemFailures is FunctionResponseTypes
	// ["ReportBatchItemFailures"].
	ReportBatchItemFailures bool
	// FunctionTimeout bounds each invocation; 0 means 3 s. It must not
	// exceed the queue's visibility timeout.
	FunctionTimeout time.Duration
	// PollWait is each ReceiveMessage's long-polling wait, up to 20 s;
	// 0 means 20 s. Tests make it short.
	PollWait time.Duration

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// validate checks the configuration as CreateEventSourceMapping would.
func (m *Mapping) validate() error {
	switch {
	case m.Queue == nil:
		return errors.New("esm: no queue")
	case m.Function == nil:
		return errors.New("esm: no function")
	case m.BatchSize < 0 || m.BatchSize > MaxBatchSize:
		return fmt.Errorf("esm: BatchSize %d is not 1-%d", m.BatchSize, MaxBatchSize)
	case m.MaximumBatchingWindow < 0 || m.MaximumBatchingWindow > MaxBatchingWindow:
		return fmt.Errorf("esm: MaximumBatchingWindow %s is not 0-300s", m.MaximumBatchingWindow)
	case m.MaximumConcurrency != 0 && (m.MaximumConcurrency < MinMaximumConcurrency || m.MaximumConcurrency > MaxMaximumConcurrency):
		return fmt.Errorf("esm: MaximumConcurrency %d is not %d-%d", m.MaximumConcurrency, MinMaximumConcurrency, MaxMaximumConcurrency)
	case m.FunctionTimeout < 0:
		return fmt.Errorf("esm: FunctionTimeout %s is negative", m.FunctionTimeout)
	case m.PollWait < 0 || m.PollWait > DefaultPollWait:
		return fmt.Errorf("esm: PollWait %s is not 0-20s", m.PollWait)
	}
	if t, vt := m.functionTimeout(), m.Queue.VisibilityTimeout(); t > vt {
		return fmt.Errorf("esm: function timeout %s exceeds the queue's visibility timeout %s", t, vt)
	}
	return nil
}

func (m *Mapping) batchSize() int {
	if m.BatchSize == 0 {
		return DefaultBatchSize
	}
	return m.BatchSize
}

func (m *Mapping) functionTimeout() time.Duration {
	if m.FunctionTimeout == 0 {
		return DefaultFunctionTimeout
	}
	return m.FunctionTimeout
}

func (m *Mapping) pollWait() time.Duration {
	if m.PollWait == 0 {
		return DefaultPollWait
	}
	return m.PollWait
}

// Pollers is how many pollers, so concurrent invocations, a mapping with
// that MaximumConcurrency runs: it, or DefaultPollers when it is 0.
func Pollers(maximumConcurrency int) int {
	if maximumConcurrency == 0 {
		return DefaultPollers
	}
	return maximumConcurrency
}

// Start validates the mapping and starts its pollers; they run until ctx
// is done or Close is called.
func (m *Mapping) Start(ctx context.Context) error {
	if err := m.validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return errors.New("esm: already started")
	}
	m.started = true
	ctx, m.cancel = context.WithCancel(ctx)
	n := Pollers(m.MaximumConcurrency)
	m.wg.Add(n)
	for range n {
		go func() {
			defer m.wg.Done()
			m.poll(ctx)
		}()
	}
	return nil
}

// Close stops the pollers and waits for them; an invocation in flight is
// cancelled and its batch stays on the queue. Close may be called more
// than once, and before Start.
func (m *Mapping) Close() {
	m.mu.Lock()
	cancel := m.cancel
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	m.wg.Wait()
}

// poll is one poller: receive a batch, invoke, settle, until ctx is done.
func (m *Mapping) poll(ctx context.Context) {
	for ctx.Err() == nil {
		batch, err := m.receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Not expected from the local queue once validated; back off
			// instead of spinning.
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if len(batch) == 0 {
			continue
		}
		m.process(ctx, batch)
	}
}

// receive long-polls for a batch: it waits up to PollWait for a first
// message, then, with a batching window, gathers more until the batch is
// full or the window has passed.
func (m *Mapping) receive(ctx context.Context) ([]sqs.Message, error) {
	size := m.batchSize()
	batch, err := m.Queue.Receive(ctx, sqs.ReceiveOptions{Max: size, Wait: m.pollWait()})
	if err != nil || len(batch) == 0 || m.MaximumBatchingWindow == 0 {
		return batch, err
	}
	deadline := time.Now().Add(m.MaximumBatchingWindow)
	for len(batch) < size {
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		wait = min(wait, DefaultPollWait)
		more, err := m.Queue.Receive(ctx, sqs.ReceiveOptions{Max: size - len(batch), Wait: wait})
		batch = append(batch, more...)
		if err != nil {
			// The messages received so far return after their visibility
			// timeout; a cancelled poller does not invoke.
			return nil, err
		}
	}
	return batch, nil
}

// process invokes the function with one batch and deletes what it
// processed.
func (m *Mapping) process(ctx context.Context, batch []sqs.Message) {
	payload, err := json.Marshal(m.event(batch))
	if err != nil {
		return // cannot happen: strings and maps of strings
	}
	ictx, cancel := context.WithTimeout(ctx, m.functionTimeout())
	res, err := m.Function.Invoke(ictx, payload)
	timedOut := ictx.Err() != nil
	cancel()
	if err != nil || res.Error != nil || timedOut {
		return // the whole batch returns after the visibility timeout
	}
	keep := map[string]bool{}
	if m.ReportBatchItemFailures {
		var ok bool
		if keep, ok = batchItemFailures(res.Payload, batch); !ok {
			return // complete failure
		}
	}
	for _, msg := range batch {
		if !keep[msg.MessageID] {
			// An error here means the handle is no longer current; the
			// message then comes back, as it would on AWS.
			_ = m.Queue.Delete(msg.ReceiptHandle)
		}
	}
}

// event builds the SQS event for a batch.
func (m *Mapping) event(batch []sqs.Message) events.SQSEvent {
	arn := m.Queue.ARN()
	region := ""
	if parts := strings.Split(arn, ":"); len(parts) > 3 {
		region = parts[3]
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(batch))}
	for _, msg := range batch {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:         msg.MessageID,
			ReceiptHandle:     msg.ReceiptHandle,
			Body:              msg.Body,
			Md5OfBody:         msg.MD5OfBody,
			Attributes:        msg.Attributes, // a map of its own per receive
			MessageAttributes: map[string]events.SQSMessageAttribute{},
			EventSource:       "aws:sqs",
			EventSourceARN:    arn,
			AWSRegion:         region,
		})
	}
	return ev
}

// batchItemFailures parses a partial batch response: the message ids to
// keep, or false for a complete failure (see the package doc).
func batchItemFailures(payload []byte, batch []sqs.Message) (map[string]bool, bool) {
	keep := map[string]bool{}
	if len(strings.TrimSpace(string(payload))) == 0 {
		return keep, true // empty response: success
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(payload, &resp); err != nil {
		return nil, false // not JSON, or not an object or null
	}
	raw, found := resp["batchItemFailures"]
	if !found {
		return keep, true // null response, or no list: success
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, false
	}
	ids := make(map[string]bool, len(batch))
	for _, msg := range batch {
		ids[msg.MessageID] = true
	}
	for _, item := range items {
		if item == nil {
			return nil, false
		}
		for k := range item {
			if k != "itemIdentifier" {
				return nil, false // bad key name
			}
		}
		var id *string
		if err := json.Unmarshal(item["itemIdentifier"], &id); err != nil || id == nil || *id == "" || !ids[*id] {
			return nil, false
		}
		keep[*id] = true
	}
	return keep, true
}
