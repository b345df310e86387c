package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"wsapi/contract"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/metrics"
	"wsapi/lambdas/internal/metrics/emftest"
	"wsapi/lambdas/internal/testutil"
)

// fixture is a $connect Lambda proxy event as API Gateway sends it, with
// the token in the query string.
const fixture = "testdata/connect.json"

// fakeStore records what it is asked to put.
type fakeStore struct {
	err error
	got []connections.Connection
}

func (f *fakeStore) Put(_ context.Context, c connections.Connection) error {
	f.got = append(f.got, c)
	return f.err
}

// harness is a Handler on a fakeStore, logging slog JSON to a buffer, and
// a context with a Lambda request id.
type harness struct {
	h       *Handler
	store   *fakeStore
	logs    *bytes.Buffer
	records *bytes.Buffer // what the EMF recorder wrote
	ctx     context.Context
}

var testNow = time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)

func newHarness(storeErr error) harness {
	store := &fakeStore{err: storeErr}
	logs, records := &bytes.Buffer{}, &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	h := New(store, 2*time.Hour, metrics.New(records, "wsapi-test", contract.FunctionConnect, log), log)
	h.now = func() time.Time { return testNow }
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "aws-req-1"})
	return harness{h: h, store: store, logs: logs, records: records, ctx: ctx}
}

// assertRecord checks the one metrics record of an invocation: Connected 1
// when ok, else ConnectFailed 1, by Function only, and none of forbidden.
func assertRecord(t *testing.T, out string, ok bool, forbidden ...string) {
	t.Helper()
	docs := emftest.Lines(t, out)
	if len(docs) != 1 {
		t.Fatalf("%d metrics records, want 1: %s", len(docs), out)
	}
	want := map[string]float64{contract.MetricConnected: 0, contract.MetricConnectFailed: 1}
	if ok {
		want = map[string]float64{contract.MetricConnected: 1, contract.MetricConnectFailed: 0}
	}
	d := docs[0]
	got := d.Values()
	if len(got) != 2 || got[contract.MetricConnected] != want[contract.MetricConnected] || got[contract.MetricConnectFailed] != want[contract.MetricConnectFailed] {
		t.Errorf("metrics %v, want %v", got, want)
	}
	if len(d.Root) != 3 || d.Dimension(contract.DimensionFunction) != contract.FunctionConnect {
		t.Errorf("record members %v, want Function %q and the two metrics", d.Root, contract.FunctionConnect)
	}
	for _, f := range forbidden {
		if f != "" && strings.Contains(out, f) {
			t.Errorf("record holds %q: %s", f, out)
		}
	}
}

// authorizerMap is the fixture's requestContext.authorizer, as the Lambda
// runtime decodes it.
func authorizerMap(t *testing.T, req *events.APIGatewayWebsocketProxyRequest) map[string]any {
	t.Helper()
	m, ok := req.RequestContext.Authorizer.(map[string]any)
	if !ok {
		t.Fatalf("fixture authorizer is a %T", req.RequestContext.Authorizer)
	}
	return m
}

// TestFixture pins the fixture's shape: it decodes strictly into
// aws-lambda-go's type, and holds what the other tests rely on.
func TestFixture(t *testing.T) {
	req := testutil.DecodeStrict[events.APIGatewayWebsocketProxyRequest](t, fixture)
	rc := req.RequestContext
	if rc.RouteKey != "$connect" || rc.EventType != "CONNECT" || rc.ConnectionID != "L0SM9cOFvHcCIhw=" ||
		rc.RequestID != "L0SM9FmrvHcFlQQ=" || rc.ConnectedAt != 1700000000123 || rc.Identity.SourceIP == "" {
		t.Errorf("requestContext = %+v", rc)
	}
	auth := authorizerMap(t, &req)
	for _, k := range []string{"principalId", "sub", "username", "email", "scope"} {
		if _, ok := auth[k].(string); !ok {
			t.Errorf("authorizer[%q] = %#v, want a string", k, auth[k])
		}
	}
	// API Gateway adds a number beside the authorizer's context; it must
	// not get in the way.
	if _, ok := auth["integrationLatency"].(float64); !ok {
		t.Errorf("authorizer[integrationLatency] = %#v, want a number", auth["integrationLatency"])
	}
	if req.QueryStringParameters["token"] == "" || len(req.MultiValueQueryStringParameters["token"]) != 1 || len(req.Headers) == 0 {
		t.Errorf("fixture lacks the token in the query string or the headers")
	}
}

// edit changes a decoded fixture.
type edit func(t *testing.T, req *events.APIGatewayWebsocketProxyRequest)

// setAuthorizer replaces requestContext.authorizer.
func setAuthorizer(v any) edit {
	return func(_ *testing.T, req *events.APIGatewayWebsocketProxyRequest) { req.RequestContext.Authorizer = v }
}

// setAuthKey sets one key of the fixture's authorizer.
func setAuthKey(key string, v any) edit {
	return func(t *testing.T, req *events.APIGatewayWebsocketProxyRequest) { authorizerMap(t, req)[key] = v }
}

// deleteAuthKey removes one key of the fixture's authorizer.
func deleteAuthKey(key string) edit {
	return func(t *testing.T, req *events.APIGatewayWebsocketProxyRequest) { delete(authorizerMap(t, req), key) }
}

func TestHandle(t *testing.T) {
	const refusedStatus = http.StatusInternalServerError
	boom := errors.New("boom")
	recorded := &connections.Connection{
		ID:          "L0SM9cOFvHcCIhw=",
		PrincipalID: "alice",
		ConnectedAt: time.UnixMilli(1700000000123),
		ExpiresAt:   testNow.Add(2 * time.Hour),
	}
	recordedNow := &connections.Connection{
		ID:          "L0SM9cOFvHcCIhw=",
		PrincipalID: "alice",
		ConnectedAt: testNow,
		ExpiresAt:   testNow.Add(2 * time.Hour),
	}
	noConnectedAt := func(_ *testing.T, req *events.APIGatewayWebsocketProxyRequest) { req.RequestContext.ConnectedAt = 0 }
	noConnectionID := func(_ *testing.T, req *events.APIGatewayWebsocketProxyRequest) { req.RequestContext.ConnectionID = "" }
	tests := []struct {
		name     string
		edit     edit
		storeErr error
		want     *connections.Connection // nil: nothing put
		status   int
		reason   string // of the ERROR line; "" for the INFO one
	}{
		{name: "accepted", want: recorded, status: http.StatusOK},
		{name: "no connectedAt: now", edit: noConnectedAt, want: recordedNow, status: http.StatusOK},
		{name: "authorizer built in Go", edit: setAuthorizer(map[string]string{"principalId": "alice"}), want: recorded, status: http.StatusOK},
		{name: "store fails", storeErr: boom, want: recorded, status: refusedStatus, reason: reasonStore},
		{name: "id already recorded", storeErr: connections.ErrExists, want: recorded, status: refusedStatus, reason: reasonExists},
		{name: "no connection id", edit: noConnectionID, status: refusedStatus, reason: reasonNoConnectionID},
		{name: "no principalId", edit: deleteAuthKey("principalId"), status: refusedStatus, reason: reasonAuthorizer},
		{name: "empty principalId", edit: setAuthKey("principalId", ""), status: refusedStatus, reason: reasonAuthorizer},
		{name: "principalId a number", edit: setAuthKey("principalId", 42.0), status: refusedStatus, reason: reasonAuthorizer},
		{name: "principalId null", edit: setAuthKey("principalId", nil), status: refusedStatus, reason: reasonAuthorizer},
		{name: "context key not a string", edit: setAuthKey("scope", []any{"chat/write"}), status: refusedStatus, reason: reasonAuthorizer},
		{name: "no authorizer", edit: setAuthorizer(nil), status: refusedStatus, reason: reasonAuthorizer},
		{name: "authorizer a string", edit: setAuthorizer("alice"), status: refusedStatus, reason: reasonAuthorizer},
		{name: "authorizer an array", edit: setAuthorizer([]any{"alice"}), status: refusedStatus, reason: reasonAuthorizer},
		{name: "authorizer a nil map", edit: setAuthorizer(map[string]any(nil)), status: refusedStatus, reason: reasonAuthorizer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := testutil.DecodeStrict[events.APIGatewayWebsocketProxyRequest](t, fixture)
			if tt.edit != nil {
				tt.edit(t, &req)
			}
			hn := newHarness(tt.storeErr)

			resp, err := hn.h.Handle(hn.ctx, req)

			// A Go error would refuse too, but as an opaque 502: never one.
			if err != nil {
				t.Fatalf("Handle() error = %v, want nil", err)
			}
			if resp.StatusCode != tt.status || resp.Body != "" || resp.Headers != nil || resp.MultiValueHeaders != nil {
				t.Errorf("Handle() = %+v, want status %d and nothing else", resp, tt.status)
			}
			if got, want := len(hn.store.got), map[bool]int{false: 0, true: 1}[tt.want != nil]; got != want {
				t.Fatalf("put %d connections, want %d", got, want)
			}
			if tt.want != nil && !sameConnection(hn.store.got[0], *tt.want) {
				t.Errorf("put %+v, want %+v", hn.store.got[0], *tt.want)
			}
			assertRecord(t, hn.records.String(), tt.status == http.StatusOK, "L0SM9cOFvHcCIhw=", "L0SM9FmrvHcFlQQ=", "alice")

			lines := testutil.LogLines(t, hn.logs)
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1: %s", len(lines), hn.logs.String())
			}
			l := lines[0]
			if l["apiRequestId"] != "L0SM9FmrvHcFlQQ=" || l["awsRequestId"] != "aws-req-1" || l["routeKey"] != "$connect" ||
				l["connectionId"] != req.RequestContext.ConnectionID {
				t.Errorf("log line %v: want both request ids, the connection and the route", l)
			}
			if tt.reason == "" {
				if l["level"] != "INFO" || l["principalId"] != "alice" {
					t.Errorf("log line %v: want INFO with the principal", l)
				}
				return
			}
			if l["level"] != "ERROR" || l["reason"] != tt.reason || l["status"] != float64(tt.status) {
				t.Errorf("log line %v: want ERROR, reason %q, status %d", l, tt.reason, tt.status)
			}
			if e, _ := l["error"].(string); e == "" {
				t.Errorf("log line %v: no error", l)
			}
		})
	}
}

func sameConnection(a, b connections.Connection) bool {
	return a.ID == b.ID && a.PrincipalID == b.PrincipalID && a.ConnectedAt.Equal(b.ConnectedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

// TestLogsNoSecrets puts a distinctive token wherever a client can put one
// (query string, headers, their multi-value forms, the body) and marks
// every other header and query value, then runs the handler down each of
// its paths: no log line may hold any of them.
func TestLogsNoSecrets(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiJ9.TOKEN-CANARY-5e2f9b7c1d.c2lnbmF0dXJl"
	secretize := func(req *events.APIGatewayWebsocketProxyRequest) []string {
		secrets := []string{token}
		mark := func(where, name string) string {
			v := "CANARY-" + where + "-" + name
			secrets = append(secrets, v)
			return v
		}
		for name := range req.Headers {
			req.Headers[name] = mark("header", name)
			req.MultiValueHeaders[name] = []string{mark("mvheader", name)}
		}
		req.Headers["Authorization"] = "Bearer " + token
		req.MultiValueHeaders["Authorization"] = []string{"Bearer " + token}
		req.Headers["Sec-WebSocket-Protocol"] = "bearer, " + token
		req.QueryStringParameters = map[string]string{"token": token, "lang": mark("query", "lang")}
		req.MultiValueQueryStringParameters = map[string][]string{"token": {token}, "lang": {mark("mvquery", "lang")}}
		req.Body = token
		return secrets
	}
	const refusedStatus = http.StatusInternalServerError
	noConnectionID := func(_ *testing.T, req *events.APIGatewayWebsocketProxyRequest) { req.RequestContext.ConnectionID = "" }
	tests := []struct {
		name     string
		edit     edit
		storeErr error
		status   int
	}{
		{name: "accepted", status: http.StatusOK},
		{name: "store fails", storeErr: errors.New("dynamodb: throttled"), status: refusedStatus},
		{name: "id already recorded", storeErr: connections.ErrExists, status: refusedStatus},
		{name: "no connection id", edit: noConnectionID, status: refusedStatus},
		{name: "no authorizer", edit: setAuthorizer(nil), status: refusedStatus},
		// Errors name the type, never the value.
		{name: "principalId not a string", edit: setAuthKey("principalId", map[string]any{"token": token}), status: refusedStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := testutil.DecodeStrict[events.APIGatewayWebsocketProxyRequest](t, fixture)
			secrets := secretize(&req)
			if tt.edit != nil {
				tt.edit(t, &req)
			}
			// The check is a substring search of the JSON log, so each
			// secret must be findable as written: the event's own JSON holds
			// every one verbatim.
			raw, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if !strings.Contains(string(raw), s) {
					t.Fatalf("secret %q does not appear verbatim in the event's JSON", s)
				}
			}
			hn := newHarness(tt.storeErr)

			resp, err := hn.h.Handle(hn.ctx, req)

			if err != nil || resp.StatusCode != tt.status {
				t.Fatalf("Handle() = %d, %v; want %d, nil", resp.StatusCode, err, tt.status)
			}
			lines := strings.Split(strings.TrimSpace(hn.logs.String()), "\n")
			if len(lines) == 0 || lines[0] == "" {
				t.Fatal("nothing logged")
			}
			for _, line := range lines {
				for _, s := range secrets {
					if strings.Contains(line, s) {
						t.Errorf("log line holds %q: %s", s, line)
					}
				}
			}
			assertRecord(t, hn.records.String(), tt.status == http.StatusOK, secrets...)
		})
	}
}

// TestResponseJSON checks what API Gateway reads: statusCode, and no body
// to tell the client more than the status.
func TestResponseJSON(t *testing.T) {
	for _, tt := range []struct {
		name string
		resp events.APIGatewayProxyResponse
		want int
	}{
		{"accepted", accepted, http.StatusOK},
		{"refused", refused, http.StatusInternalServerError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				StatusCode int    `json:"statusCode"`
				Body       string `json:"body"`
			}
			if err := json.Unmarshal(b, &got); err != nil || got.StatusCode != tt.want || got.Body != "" {
				t.Errorf("%s marshals to %s (%v), want statusCode %d and no body", tt.name, b, err, tt.want)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	testutil.RunConfigTests(t, ConfigFromEnv, []testutil.ConfigTest[Config]{
		{Name: "defaults", Env: map[string]string{"TABLE_NAME": "conns"}, Want: Config{TableName: "conns", ConnectionTTL: 2 * time.Hour}},
		{Name: "ttl", Env: map[string]string{"TABLE_NAME": "conns", "CONNECTION_TTL_SECONDS": "600"}, Want: Config{TableName: "conns", ConnectionTTL: 10 * time.Minute}},
		{Name: "nothing set", Env: map[string]string{}, WantErr: []string{"TABLE_NAME is not set"}},
		{Name: "bad ttl and no table", Env: map[string]string{"CONNECTION_TTL_SECONDS": "2h"}, WantErr: []string{"TABLE_NAME is not set", `CONNECTION_TTL_SECONDS="2h": want an integer from 60 to 86400`}},
		{Name: "ttl too short", Env: map[string]string{"TABLE_NAME": "conns", "CONNECTION_TTL_SECONDS": "59"}, WantErr: []string{"CONNECTION_TTL_SECONDS"}},
	})
}
