package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"wsapi/contract"
	"wsapi/internal/testutil"
	"wsapi/lambdas/internal/fanout"
	"wsapi/lambdas/internal/metrics"
	"wsapi/localrun/ddbscan"
	localsqs "wsapi/localrun/sqs"
)

// fakeAPI stands in for the Management API: it records each connection's
// frames, answers 410 GoneException for the ids in gone and 429
// LimitExceededException to every throttleEvery-th post.
type fakeAPI struct {
	mu            sync.Mutex
	got           map[string][]string
	gone          map[string]bool
	posts         int
	throttleEvery int
	throttled     int
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := strings.TrimPrefix(r.URL.Path, "/prod/@connections/")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts++
	w.Header().Set("Content-Type", "application/json")
	switch {
	case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "):
		w.WriteHeader(http.StatusForbidden)
	case f.throttleEvery > 0 && f.posts%f.throttleEvery == 0:
		f.throttled++
		w.Header().Set("X-Amzn-ErrorType", "LimitExceededException")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"message":"Too Many Requests"}`)
	case f.gone[id]:
		w.Header().Set("X-Amzn-ErrorType", "GoneException")
		w.WriteHeader(http.StatusGone)
		_, _ = io.WriteString(w, `{"message":"Gone"}`)
	default:
		if f.got == nil {
			f.got = map[string][]string{}
		}
		f.got[id] = append(f.got[id], string(body))
		w.WriteHeader(http.StatusOK)
	}
}

// TestIntegration runs a broadcast job through the fanout handler with the
// real SDK clients against the local run's DynamoDB (parallel scans) and
// SQS servers and a fake connections endpoint, all on 127.0.0.1: the job
// is split into shards on the queue, each shard posts to its segment, gone
// connections are removed, throttled posts retried, and the sender gets
// one delivery report with the totals.
func TestIntegration(t *testing.T) {
	ctx := t.Context()
	sqsSrv := localsqs.New(localsqs.Options{Region: "eu-west-1", Account: "123456789012"})
	queue, err := sqsSrv.CreateQueue("wsapi-fanout", nil)
	if err != nil {
		t.Fatal(err)
	}
	awsSrv := httptest.NewServer(testutil.SQSOrDynamoDB(sqsSrv, ddbscan.New()))
	defer awsSrv.Close()
	api := &fakeAPI{gone: map[string]bool{}, throttleEvery: 7}
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()

	awsCfg := aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		BaseEndpoint: aws.String(awsSrv.URL),
	}
	db := dynamodb.NewFromConfig(awsCfg)
	createTable(ctx, t, db, "connections", contract.AttrConnectionID)
	createTable(ctx, t, db, "jobs", contract.AttrJobKey)

	const sender = "sender="
	var live []string
	for i := range 60 {
		id := fmt.Sprintf("c%02d=", i)
		if i%10 == 3 {
			api.gone[id] = true
		} else {
			live = append(live, id)
		}
		putConnection(ctx, t, db, id)
	}
	putConnection(ctx, t, db, sender)

	env := map[string]string{
		"TABLE_NAME":           "connections",
		"JOBS_TABLE_NAME":      "jobs",
		"CONNECTIONS_ENDPOINT": apiSrv.URL + "/prod",
		"FANOUT_QUEUE_URL":     queue.URL(),
		"FANOUT_SEGMENTS":      "4",
		"FANOUT_PAGE_SIZE":     "5",
		"MAX_IN_FLIGHT":        "4",
	}
	cfg, err := fanout.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Worker.PostsPerSecond = 100_000 // keep the test fast
	h, err := newHandler(awsCfg, cfg, metrics.Nop{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}

	frame := []byte(`{"type":"message","id":"m1","from":"alice","message":"hi","sentAt":"2026-01-01T00:00:00Z"}`)
	body, err := fanout.EncodeJob("m1", sender, frame)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queue.Send(string(body)); err != nil {
		t.Fatal(err)
	}

	// The event source mapping: receive, invoke, delete what succeeded.
	for round := 0; ; round++ {
		if round > 20 {
			t.Fatal("the queue did not drain in 20 rounds")
		}
		msgs, err := queue.Receive(ctx, localsqs.ReceiveOptions{Max: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		var ev events.SQSEvent
		for _, m := range msgs {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: m.MessageID, ReceiptHandle: m.ReceiptHandle, Body: m.Body})
		}
		ictx, cancel := context.WithTimeout(ctx, time.Minute)
		resp, err := h.Handle(ictx, ev)
		cancel()
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("round %d: failed records %v", round, resp.BatchItemFailures)
		}
		for _, m := range msgs {
			if err := queue.Delete(m.ReceiptHandle); err != nil {
				t.Fatal(err)
			}
		}
	}

	api.mu.Lock()
	defer api.mu.Unlock()
	for _, id := range live {
		if got := api.got[id]; len(got) != 1 || got[0] != string(frame) {
			t.Errorf("%s got %q, want the frame once", id, got)
		}
	}
	if api.throttled == 0 {
		t.Error("no post was throttled; the retry path was not exercised")
	}
	reports := api.got[sender]
	if len(reports) != 1 {
		t.Fatalf("sender got %q, want one delivery report", reports)
	}
	var report map[string]any
	if err := json.Unmarshal([]byte(reports[0]), &report); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "delivery", "id": "m1", "delivered": float64(len(live)), "stale": float64(6), "failed": float64(0)}
	for k, v := range want {
		if report[k] != v {
			t.Errorf("report %s = %v, want %v (%s)", k, report[k], v, reports[0])
		}
	}
	for id := range api.gone {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String("connections"), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{contract.AttrConnectionID: &types.AttributeValueMemberS{Value: id}},
		})
		if err != nil || len(out.Item) != 0 {
			t.Errorf("gone %s: row %v, %v; want it deleted", id, out.Item, err)
		}
	}
}

func createTable(ctx context.Context, t *testing.T, db *dynamodb.Client, name, keyName string) {
	t.Helper()
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(keyName), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(keyName), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
}

func putConnection(ctx context.Context, t *testing.T, db *dynamodb.Client, id string) {
	t.Helper()
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("connections"), Item: map[string]types.AttributeValue{
		contract.AttrConnectionID: &types.AttributeValueMemberS{Value: id},
		contract.AttrPrincipalID:  &types.AttributeValueMemberS{Value: "p"},
	}})
	if err != nil {
		t.Fatal(err)
	}
}
