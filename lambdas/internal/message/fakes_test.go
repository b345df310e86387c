package message

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"wsapi/contract"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/metrics"
)

// fakeMetrics keeps the fan-out records.
type fakeMetrics struct {
	mu  sync.Mutex
	got []metrics.FanOut
}

var _ Metrics = (*fakeMetrics)(nil)

func (f *fakeMetrics) FanOut(_ context.Context, r metrics.FanOut) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, r)
}

func (f *fakeMetrics) all() []metrics.FanOut {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// journal records, in order, the calls the fakes see, so a test can check
// that posting starts before the last page is read.
type journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, fmt.Sprintf(format, args...))
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

type row struct{ id, principal string }

// fakeTable is an in-memory connections table behind the DynamoDB calls the
// message function makes. Scan and Query page by pageSize, continuing after
// ExclusiveStartKey as DynamoDB does.
type fakeTable struct {
	journal  *journal
	pageSize int
	failPage int // 1-based page whose Scan or Query fails; 0: none
	err      error
	delErr   error

	mu      sync.Mutex
	rows    []row
	scans   int
	queries int
	deleted []string
}

var (
	// Scan only records a scan, which the handler must never make: the
	// tests count them.
	_ dynamodb.ScanAPIClient  = (*fakeTable)(nil)
	_ connections.Querier     = (*fakeTable)(nil)
	_ connections.ItemDeleter = (*fakeTable)(nil)
)

func (f *fakeTable) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scans++
	f.journal.add("scan %d", f.scans)
	if f.scans == f.failPage {
		return nil, f.err
	}
	items, last := f.page(f.rows, in.ExclusiveStartKey)
	return &dynamodb.ScanOutput{Items: items, LastEvaluatedKey: last}, nil
}

func (f *fakeTable) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	f.journal.add("query %d", f.queries)
	if f.queries == f.failPage {
		return nil, f.err
	}
	principal := in.ExpressionAttributeValues[":p"].(*types.AttributeValueMemberS).Value
	var rows []row
	for _, r := range f.rows {
		if r.principal == principal {
			rows = append(rows, r)
		}
	}
	items, last := f.page(rows, in.ExclusiveStartKey)
	return &dynamodb.QueryOutput{Items: items, LastEvaluatedKey: last}, nil
}

func (f *fakeTable) page(rows []row, start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue) {
	from := 0
	if start != nil {
		after := start[contract.AttrConnectionID].(*types.AttributeValueMemberS).Value
		from = slices.IndexFunc(rows, func(r row) bool { return r.id == after }) + 1
	}
	to := min(from+f.pageSize, len(rows))
	var items []map[string]types.AttributeValue
	for _, r := range rows[from:to] {
		items = append(items, map[string]types.AttributeValue{contract.AttrConnectionID: &types.AttributeValueMemberS{Value: r.id}})
	}
	var last map[string]types.AttributeValue
	if to < len(rows) {
		last = map[string]types.AttributeValue{contract.AttrConnectionID: &types.AttributeValueMemberS{Value: rows[to-1].id}}
	}
	return items, last
}

func (f *fakeTable) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := in.Key[contract.AttrConnectionID].(*types.AttributeValueMemberS).Value
	f.deleted = append(f.deleted, id)
	if f.delErr != nil {
		return nil, f.delErr
	}
	f.rows = slices.DeleteFunc(f.rows, func(r row) bool { return r.id == id })
	return &dynamodb.DeleteItemOutput{}, nil
}

// fakePoster stands in for the Management API. It answers per connection
// id (nil error by default) and measures concurrency: with hold > 0, each
// call waits until hold calls are in flight at once (or a second passes),
// so a limit that is never reached shows as a lower maximum, and the first
// hold calls stay in flight 50 ms more, so a limit that is exceeded shows
// as a higher one.
type fakePoster struct {
	journal *journal
	errs    map[string]error
	hold    int

	inFlight, maxInFlight atomic.Int64
	reached               chan struct{}
	reachedOnce           sync.Once

	mu     sync.Mutex
	posted map[string][]byte
}

func (f *fakePoster) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	id := aws.ToString(in.ConnectionId)
	f.journal.add("post %s", id)

	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for m := f.maxInFlight.Load(); n > m && !f.maxInFlight.CompareAndSwap(m, n); m = f.maxInFlight.Load() {
	}
	if f.hold > 0 {
		if n >= int64(f.hold) {
			// Keep the held calls in flight a little longer, so a
			// handler that lets more through gets caught doing it.
			f.reachedOnce.Do(func() { time.AfterFunc(50*time.Millisecond, func() { close(f.reached) }) })
		}
		select {
		case <-f.reached:
		case <-time.After(time.Second):
		}
	}

	if err := f.errs[id]; err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.posted == nil {
		f.posted = map[string][]byte{}
	}
	if _, dup := f.posted[id]; dup {
		return nil, errors.New("fake: posted twice to " + id)
	}
	f.posted[id] = in.Data
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

func (f *fakePoster) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.posted))
	for id := range f.posted {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// testQueueURL is the fan-out queue of the tests.
const testQueueURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/wsapi-fanout"

// fakeQueue stands in for SQS: it keeps what SendMessage was given, or
// fails with err.
type fakeQueue struct {
	journal *journal
	err     error

	mu   sync.Mutex
	sent []*sqs.SendMessageInput
}

var _ SQSAPI = (*fakeQueue)(nil)

func (f *fakeQueue) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, in)
	f.journal.add("publish %d", len(f.sent))
	if f.err != nil {
		return nil, f.err
	}
	return &sqs.SendMessageOutput{MessageId: aws.String(fmt.Sprintf("sqs-%d", len(f.sent)))}, nil
}

func (f *fakeQueue) all() []*sqs.SendMessageInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}
