package fanoutaws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	apitypes "github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"wsapi/contract"
	"wsapi/lambdas/internal/fanout"
	"wsapi/lambdas/internal/reply"
)

type fakeManagement struct {
	err error
	in  *apigatewaymanagementapi.PostToConnectionInput
}

func (f *fakeManagement) PostToConnection(_ context.Context, in *apigatewaymanagementapi.PostToConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	f.in = in
	return &apigatewaymanagementapi.PostToConnectionOutput{}, f.err
}

func TestPosterErrors(t *testing.T) {
	other := errors.New("connection reset")
	tests := []struct {
		name                string
		err                 error
		gone, throttled, ok bool
	}{
		{name: "posted", ok: true},
		{name: "gone", err: &apitypes.GoneException{}, gone: true},
		{name: "gone, wrapped", err: &smithyWrap{&apitypes.GoneException{}}, gone: true},
		{name: "throttled", err: &apitypes.LimitExceededException{}, throttled: true},
		{name: "forbidden", err: &apitypes.ForbiddenException{}},
		{name: "other", err: other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeManagement{err: tt.err}
			err := NewPoster(f).Send(t.Context(), "c1=", []byte(`{"id":"m1"}`))
			if aws.ToString(f.in.ConnectionId) != "c1=" || string(f.in.Data) != `{"id":"m1"}` {
				t.Errorf("input %+v", f.in)
			}
			if (err == nil) != tt.ok || errors.Is(err, reply.ErrGone) != tt.gone || errors.Is(err, fanout.ErrThrottled) != tt.throttled {
				t.Errorf("Send = %v; want ok %v, gone %v, throttled %v", err, tt.ok, tt.gone, tt.throttled)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("Send = %v, does not wrap %v", err, tt.err)
			}
		})
	}
}

type smithyWrap struct{ err error }

func (w *smithyWrap) Error() string { return "operation error: " + w.err.Error() }
func (w *smithyWrap) Unwrap() error { return w.err }

// TestManagementClientDoesNotRetry checks that a 429 reaches the worker
// after one request: the SDK's retryer would otherwise retry it.
func TestManagementClientDoesNotRetry(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/prod/@connections/c1=" {
			t.Errorf("path %q", r.URL.Path)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "LimitExceededException")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"message":"Too Many Requests"}`)
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	err := NewPoster(NewManagementClient(cfg, srv.URL+"/prod")).Send(t.Context(), "c1=", []byte(`{}`))
	if !errors.Is(err, fanout.ErrThrottled) {
		t.Errorf("Send = %v, want ErrThrottled", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1 (no SDK retry)", n)
	}
}

type fakeScanner struct {
	in  []*dynamodb.ScanInput
	out *dynamodb.ScanOutput
	err error
}

func (f *fakeScanner) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	f.in = append(f.in, in)
	return f.out, f.err
}

func TestScanPagerInput(t *testing.T) {
	lek := map[string]types.AttributeValue{contract.AttrConnectionID: &types.AttributeValueMemberS{Value: "c2="}}
	f := &fakeScanner{out: &dynamodb.ScanOutput{
		Items: []map[string]types.AttributeValue{
			{contract.AttrConnectionID: &types.AttributeValueMemberS{Value: "c1="}},
			{contract.AttrConnectionID: &types.AttributeValueMemberS{Value: "c2="}},
		},
		LastEvaluatedKey: lek,
	}}
	p := NewScanPager(f, "connections", 2)
	ids, next, err := p.Page(t.Context(), 3, 8, "")
	if err != nil || !cmp.Equal(ids, []string{"c1=", "c2="}) || next == "" {
		t.Fatalf("Page = %v, %q, %v", ids, next, err)
	}
	in := f.in[0]
	if aws.ToString(in.TableName) != "connections" || aws.ToInt32(in.Segment) != 3 || aws.ToInt32(in.TotalSegments) != 8 ||
		aws.ToInt32(in.Limit) != 2 || aws.ToString(in.ProjectionExpression) != "#id" ||
		in.ExpressionAttributeNames["#id"] != contract.AttrConnectionID || in.ExclusiveStartKey != nil {
		t.Errorf("first input %+v", in)
	}
	f.out = &dynamodb.ScanOutput{}
	ids, last, err := p.Page(t.Context(), 3, 8, next)
	if err != nil || len(ids) != 0 || last != "" {
		t.Fatalf("last Page = %v, %q, %v; want no ids and no key", ids, last, err)
	}
	if diff := cmp.Diff(lek, f.in[1].ExclusiveStartKey, cmp.AllowUnexported(types.AttributeValueMemberS{})); diff != "" {
		t.Errorf("ExclusiveStartKey (-want +got):\n%s", diff)
	}

	f.out = &dynamodb.ScanOutput{Items: []map[string]types.AttributeValue{{contract.AttrConnectionID: &types.AttributeValueMemberN{Value: "1"}}}}
	if _, _, err := p.Page(t.Context(), 0, 1, ""); err == nil {
		t.Error("an item without a string id: no error")
	}
	if _, _, err := p.Page(t.Context(), 0, 1, "not a key"); !errors.Is(err, errKey) {
		t.Errorf("a bad start key: %v, want errKey", err)
	}
	f.err = errors.New("throttled")
	if _, _, err := p.Page(t.Context(), 0, 1, ""); !errors.Is(err, f.err) {
		t.Errorf("scan failure: %v", err)
	}
}

func TestKeyRoundTrip(t *testing.T) {
	k := map[string]types.AttributeValue{
		"s": &types.AttributeValueMemberS{Value: `a"b`},
		"n": &types.AttributeValueMemberN{Value: "42"},
		"b": &types.AttributeValueMemberB{Value: []byte{0, 1, 255}},
	}
	s, err := encodeKey(k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeKey(s)
	if err != nil {
		t.Fatal(err)
	}
	opt := cmp.AllowUnexported(types.AttributeValueMemberS{}, types.AttributeValueMemberN{}, types.AttributeValueMemberB{})
	if diff := cmp.Diff(k, got, opt); diff != "" {
		t.Errorf("round trip of %s (-want +got):\n%s", s, diff)
	}
	if _, err := encodeKey(map[string]types.AttributeValue{"x": &types.AttributeValueMemberBOOL{}}); !errors.Is(err, errKey) {
		t.Errorf("a boolean key: %v", err)
	}
	for _, bad := range []string{`{}`, `[]`, `{"x":{}}`, `{"x":{"S":"a","N":"1"}}`} {
		if _, err := decodeKey(bad); !errors.Is(err, errKey) {
			t.Errorf("decodeKey(%s) = %v, want errKey", bad, err)
		}
	}
}

type fakeDescriber struct{ count *int64 }

func (f fakeDescriber) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	if aws.ToString(in.TableName) != "connections" {
		return nil, errors.New("no such table")
	}
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{ItemCount: f.count}}, nil
}

func TestTableSize(t *testing.T) {
	if n, err := NewTableSize(fakeDescriber{aws.Int64(12345)}, "connections").ItemCount(t.Context()); n != 12345 || err != nil {
		t.Errorf("ItemCount = %d, %v", n, err)
	}
	if n, err := NewTableSize(fakeDescriber{}, "connections").ItemCount(t.Context()); n != 0 || err != nil {
		t.Errorf("ItemCount without a count = %d, %v", n, err)
	}
	if _, err := NewTableSize(fakeDescriber{}, "other").ItemCount(t.Context()); err == nil {
		t.Error("no error")
	}
}

// fakeJobsClient fails UpdateItem's condition without the item, as an
// older DynamoDB or an emulator would, so that Add reads it.
type fakeJobsClient struct {
	JobsClient
	item map[string]types.AttributeValue
	gets int
}

func (f *fakeJobsClient) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, &types.ConditionalCheckFailedException{}
}

func (f *fakeJobsClient) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.gets++
	if !aws.ToBool(in.ConsistentRead) {
		return nil, errors.New("want a consistent read")
	}
	return &dynamodb.GetItemOutput{Item: f.item}, nil
}

func TestAddReadsTotalsOnDuplicate(t *testing.T) {
	f := &fakeJobsClient{item: map[string]types.AttributeValue{
		contract.AttrJobDelivered: number(5), contract.AttrJobStale: number(1), contract.AttrJobFailed: number(0),
		contract.AttrJobShardsDone: number(2),
	}}
	got, err := newTestJobs(f).Add(t.Context(), "m1", 1, fanout.Counts{Delivered: 9})
	want := fanout.Totals{Counts: fanout.Counts{Delivered: 5, Stale: 1}, ShardsDone: 2}
	if err != nil || got != want || f.gets != 1 {
		t.Errorf("Add = %+v, %v after %d reads; want %+v after 1", got, err, f.gets, want)
	}
}

type fakeSQS struct {
	batches  []*sqs.SendMessageBatchInput
	fail     map[string]bool // entry ids reported failed
	drop     map[string]bool // entry ids in neither list
	released *sqs.ChangeMessageVisibilityInput
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.batches = append(f.batches, in)
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		id := aws.ToString(e.Id)
		switch {
		case f.fail[id]:
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError")})
		case f.drop[id]:
		default:
			out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id})
		}
	}
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.released = in
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func TestQueue(t *testing.T) {
	f := &fakeSQS{fail: map[string]bool{"1": true}, drop: map[string]bool{"3": true}}
	q := NewQueue(f, "https://sqs.eu-west-1.amazonaws.com/123456789012/fanout")
	failed, err := q.SendBatch(t.Context(), [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d")})
	if err != nil || !cmp.Equal(failed, []int{1, 3}) {
		t.Errorf("SendBatch = %v, %v; want [1 3]", failed, err)
	}
	in := f.batches[0]
	if aws.ToString(in.QueueUrl) != "https://sqs.eu-west-1.amazonaws.com/123456789012/fanout" || len(in.Entries) != 4 ||
		aws.ToString(in.Entries[2].Id) != "2" || aws.ToString(in.Entries[2].MessageBody) != "c" {
		t.Errorf("input %+v", in)
	}
	if err := q.Release(t.Context(), "handle-1"); err != nil {
		t.Fatal(err)
	}
	if r := f.released; r == nil || aws.ToString(r.ReceiptHandle) != "handle-1" || r.VisibilityTimeout != 0 ||
		!strings.HasSuffix(aws.ToString(r.QueueUrl), "/fanout") {
		t.Errorf("ChangeMessageVisibility input %+v", r)
	}
}
