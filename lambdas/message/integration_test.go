package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/truora/minidyn/server"

	"wsapi/internal/testutil"
	"wsapi/lambdas/internal/connect"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/disconnect"
	"wsapi/lambdas/internal/fanout"
	"wsapi/lambdas/internal/message"
	localsqs "wsapi/localrun/sqs"
)

// post is one request the fake connections endpoint received.
type post struct {
	method, path, auth, body string
}

// fakeAPI stands in for the API Gateway Management API: it records posts and
// answers 410 GoneException, as API Gateway does, for the ids in gone.
type fakeAPI struct {
	mu    sync.Mutex
	posts []post
	gone  map[string]bool
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts = append(f.posts, post{r.Method, r.URL.Path, r.Header.Get("Authorization"), string(body)})
	if f.gone[strings.TrimPrefix(r.URL.Path, "/prod/@connections/")] {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "GoneException")
		w.WriteHeader(http.StatusGone)
		_, _ = io.WriteString(w, `{"message":"Gone"}`)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// take returns the posts received since the last call, sorted by path.
func (f *fakeAPI) take() []post {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.posts
	f.posts = nil
	slices.SortFunc(p, func(a, b post) int { return strings.Compare(a.path, b.path) })
	return p
}

var sigV4 = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDLOCAL/\d{8}/eu-west-1/execute-api/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`)

// TestIntegration runs connect, message and disconnect with the real SDK
// clients against an in-process DynamoDB API server, the local run's SQS
// server and a fake connections endpoint, all on 127.0.0.1.
func TestIntegration(t *testing.T) {
	ctx := t.Context()
	sqsSrv := localsqs.New(localsqs.Options{Region: "eu-west-1", Account: "123456789012"})
	queue, err := sqsSrv.CreateQueue("wsapi-fanout", nil)
	if err != nil {
		t.Fatal(err)
	}
	awsSrv := httptest.NewServer(testutil.SQSOrDynamoDB(sqsSrv, server.NewServer()))
	defer awsSrv.Close()
	api := &fakeAPI{gone: map[string]bool{}}
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()

	awsCfg := aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		BaseEndpoint: aws.String(awsSrv.URL), // the message function overrides it for the Management API
	}
	db := dynamodb.NewFromConfig(awsCfg)
	const table = "connections"
	createTable(ctx, t, db, table)

	log := slog.New(slog.DiscardHandler)
	connectH := connect.New(connections.NewWriter(db, table), 2*time.Hour, nil, log)
	disconnectH := disconnect.New(connections.NewDeleter(db, table), nil, log)
	env := map[string]string{
		"TABLE_NAME":           table,
		"PRINCIPAL_INDEX_NAME": "byPrincipal",
		"CONNECTIONS_ENDPOINT": apiSrv.URL + "/prod",
		"FANOUT_QUEUE_URL":     queue.URL(),
		"MAX_IN_FLIGHT":        "2",
	}
	cfg, err := message.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	messageH := newHandler(awsCfg, cfg, nil, log)

	// $connect: three connections of two principals.
	for _, c := range []struct{ id, principal string }{{"alice-1=", "alice"}, {"alice-2=", "alice"}, {"bob-1=", "bob"}} {
		resp, err := connectH.Handle(ctx, connectRequest(c.id, c.principal))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("connect %s: status %d, error %v; want 200, nil", c.id, resp.StatusCode, err)
		}
	}
	row := getRow(ctx, t, db, table, "bob-1=")
	if row["principalId"] != "bob" || row["connectedAt"] != "1700000000000" || row["expiresAt"] == "" {
		t.Errorf("bob-1= row = %v", row)
	}
	// A second $connect with the same id (ErrExists in the store) is
	// refused with a status, and the row stays bob's.
	resp, err := connectH.Handle(ctx, connectRequest("bob-1=", "mallory"))
	if err != nil || resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("a second $connect with the same id: status %d, error %v; want 500, nil", resp.StatusCode, err)
	}
	if row := getRow(ctx, t, db, table, "bob-1="); row["principalId"] != "bob" {
		t.Errorf("after a second $connect with the same id, bob-1= row = %v", row)
	}

	// send returns the reply as JSON with its message id replaced by
	// "ID", and the id.
	send := func(t *testing.T, from, principal, body string) (string, string) {
		t.Helper()
		ev := connections.MessageEvent{RequestContext: requestContext("sendmessage", from, principal), Body: body}
		r, err := messageH.Handle(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if !messageID.MatchString(r.ID) {
			t.Errorf("reply %+v: id %q, want 32 hex digits", r, r.ID)
		}
		id := r.ID
		r.ID = "ID"
		b, _ := json.Marshal(r)
		return string(b), id
	}
	frame := func(id, from, msg string) string {
		return `{"type":"message","id":"` + id + `","from":"` + from + `","message":"` + msg + `","sentAt":"2023-11-14T22:13:20Z"}`
	}
	checkPosts := func(t *testing.T, got []post, wantIDs []string, wantBody string) {
		t.Helper()
		var paths []string
		for _, p := range got {
			paths = append(paths, p.path)
			if p.method != http.MethodPost || p.body != wantBody || !sigV4.MatchString(p.auth) {
				t.Errorf("post %s: method %s, body %s, Authorization %q; want POST, %s, SigV4 for execute-api",
					p.path, p.method, p.body, p.auth, wantBody)
			}
		}
		var want []string
		for _, id := range wantIDs {
			want = append(want, "/prod/@connections/"+id)
		}
		if !slices.Equal(paths, want) {
			t.Errorf("posted to %q, want %q", paths, want)
		}
	}
	// jobs returns the messages on the fan-out queue, decoded, and deletes
	// them.
	jobs := func(t *testing.T) []*fanout.Job {
		t.Helper()
		var out []*fanout.Job
		for {
			msgs, err := queue.Receive(ctx, localsqs.ReceiveOptions{Max: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) == 0 {
				return out
			}
			for _, m := range msgs {
				job, shard, err := fanout.DecodeRecord([]byte(m.Body))
				if err != nil || shard != nil {
					t.Errorf("queued message %s: %v, shard %+v; want a job", m.Body, err, shard)
				}
				out = append(out, job)
				if err := queue.Delete(m.ReceiptHandle); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	t.Run("broadcast", func(t *testing.T) {
		got, id := send(t, "bob-1=", "bob", `{"action":"sendmessage","message":"hi all"}`)
		if want := `{"type":"ack","queued":true,"id":"ID"}`; got != want {
			t.Errorf("reply = %s, want %s", got, want)
		}
		checkPosts(t, api.take(), nil, "")
		queued := jobs(t)
		if len(queued) != 1 {
			t.Fatalf("%d jobs queued, want 1", len(queued))
		}
		if j := queued[0]; j.ID != id || j.Sender != "bob-1=" || string(j.Frame) != frame(id, "bob", "hi all") {
			t.Errorf("job {%s %s %s}, want {%s bob-1= %s}", j.ID, j.Sender, j.Frame, id, frame(id, "bob", "hi all"))
		}
	})
	t.Run("direct to oneself", func(t *testing.T) {
		got, id := send(t, "alice-1=", "alice", `{"action":"sendmessage","message":"note","to":"alice"}`)
		if want := `{"type":"ack","delivered":1,"stale":0,"id":"ID"}`; got != want {
			t.Errorf("reply = %s, want %s", got, want)
		}
		checkPosts(t, api.take(), []string{"alice-2="}, frame(id, "alice", "note"))
	})
	t.Run("direct", func(t *testing.T) {
		got, id := send(t, "alice-1=", "alice", `{"action":"sendmessage","message":"psst","to":"bob"}`)
		if want := `{"type":"ack","delivered":1,"stale":0,"id":"ID"}`; got != want {
			t.Errorf("reply = %s, want %s", got, want)
		}
		checkPosts(t, api.take(), []string{"bob-1="}, frame(id, "alice", "psst"))
	})
	t.Run("gone connection", func(t *testing.T) {
		api.mu.Lock()
		api.gone["alice-2="] = true
		api.mu.Unlock()
		got, id := send(t, "bob-1=", "bob", `{"action":"sendmessage","message":"anyone?","to":"alice"}`)
		if want := `{"type":"ack","delivered":1,"stale":1,"id":"ID"}`; got != want {
			t.Errorf("reply = %s, want %s", got, want)
		}
		checkPosts(t, api.take(), []string{"alice-1=", "alice-2="}, frame(id, "bob", "anyone?"))
		if row := getRow(ctx, t, db, table, "alice-2="); row != nil {
			t.Errorf("gone connection still in the table: %v", row)
		}
	})
	t.Run("disconnect", func(t *testing.T) {
		ev := connections.DisconnectEvent{RequestContext: requestContext("$disconnect", "bob-1=", "bob")}
		for i := range 2 {
			if _, err := disconnectH.Handle(ctx, ev); err != nil {
				t.Fatalf("disconnect #%d: %v", i+1, err)
			}
			if row := getRow(ctx, t, db, table, "bob-1="); row != nil {
				t.Errorf("after disconnect #%d the row is still there: %v", i+1, row)
			}
		}
		if got, _ := send(t, "alice-1=", "alice", `{"action":"sendmessage","message":"alone?","to":"bob"}`); got != `{"type":"ack","delivered":0,"stale":0,"id":"ID"}` {
			t.Errorf("reply = %s, want an ack to nobody", got)
		}
		checkPosts(t, api.take(), nil, "")
	})
	if n := len(jobs(t)); n != 0 {
		t.Errorf("%d jobs queued by direct messages", n)
	}
}

var messageID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// connectRequest is the Lambda proxy event of a $connect, its authorizer
// context as the Lambda runtime decodes it (a map[string]any).
func connectRequest(connectionID, principal string) events.APIGatewayWebsocketProxyRequest {
	return events.APIGatewayWebsocketProxyRequest{
		QueryStringParameters: map[string]string{"token": "not-a-real-token"},
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey:         "$connect",
			EventType:        "CONNECT",
			ConnectionID:     connectionID,
			ConnectedAt:      1700000000000,
			RequestID:        "req-" + connectionID,
			RequestTimeEpoch: 1700000000000,
			Stage:            "prod",
			Authorizer:       map[string]any{"principalId": principal},
		},
	}
}

func requestContext(route, connectionID, principal string) connections.RequestContext {
	return connections.RequestContext{
		RouteKey:         route,
		ConnectionID:     connectionID,
		ConnectedAt:      1700000000000,
		RequestID:        "req-" + connectionID,
		RequestTimeEpoch: 1700000000000,
		Stage:            "prod",
		Authorizer:       connections.Authorizer{PrincipalID: principal},
	}
}

// createTable creates the table as the stack does.
func createTable(ctx context.Context, t *testing.T, db *dynamodb.Client, name string) {
	t.Helper()
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("connectionId"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("principalId"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("connectionId"), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String("byPrincipal"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("principalId"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
}

// getRow reads one row, strongly consistent, as attribute name to value; nil
// when it is not there.
func getRow(ctx context.Context, t *testing.T, db *dynamodb.Client, table, id string) map[string]string {
	t.Helper()
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"connectionId": &types.AttributeValueMemberS{Value: id}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	if out.Item == nil {
		return nil
	}
	row := map[string]string{}
	for k, v := range out.Item {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			row[k] = v.Value
		case *types.AttributeValueMemberN:
			row[k] = v.Value
		}
	}
	return row
}
