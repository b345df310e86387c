package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"wsapi/internal/testutil"
	"wsapi/vtl"
)

// asProxy turns the routes' integrations into Lambda proxy integrations of
// the same functions.
func asProxy(keys ...string) func(*Config, *Options) {
	return func(c *Config, _ *Options) {
		for _, k := range keys {
			in := c.Routes[k].Integration
			c.Routes[k].Integration = &Integration{Type: IntegrationAWSProxy, Function: in.Function, Timeout: in.Timeout}
		}
	}
}

// all applies mutations in order.
func all(mutations ...func(*Config, *Options)) func(*Config, *Options) {
	return func(c *Config, o *Options) {
		for _, m := range mutations {
			m(c, o)
		}
	}
}

// logBuffer collects a gateway's JSON log lines.
type logBuffer struct{ testutil.LockedBuffer }

// records are the log lines, decoded.
func (l *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		out = append(out, decode(t, []byte(line)))
	}
	return out
}

// count is the number of WARN lines whose message contains msg.
func (l *logBuffer) count(t *testing.T, msg string) int {
	t.Helper()
	n := 0
	for _, r := range l.records(t) {
		if r["level"] == "WARN" && strings.Contains(r["msg"].(string), msg) {
			n++
		}
	}
	return n
}

func withLogs(l *logBuffer) func(*Config, *Options) {
	return func(_ *Config, o *Options) { o.Logger = slog.New(slog.NewJSONHandler(l, nil)) }
}

var testNow = time.Date(2026, 3, 14, 15, 9, 26, 535e6, time.UTC)

func fixedClock(_ *Config, o *Options) { o.Now = func() time.Time { return testNow } }

// strictDecode decodes an event the way a stricter aws-lambda-go would: a
// field the type does not have is an error, so is trailing data.
func strictDecode(t *testing.T, payload []byte) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(payload))
	d.DisallowUnknownFields()
	var ev events.APIGatewayWebsocketProxyRequest
	if err := d.Decode(&ev); err != nil {
		t.Fatalf("event %s does not decode into events.APIGatewayWebsocketProxyRequest: %v", payload, err)
	}
	if d.More() {
		t.Fatalf("event %s: trailing data", payload)
	}
	// Nothing is lost on the way: encoding the decoded event gives the
	// same JSON document back.
	again, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(decode(t, payload), decode(t, again)); diff != "" {
		t.Errorf("event changed through events.APIGatewayWebsocketProxyRequest (-sent +decoded):\n%s", diff)
	}
	return ev
}

func TestProxyEvents(t *testing.T) {
	a := newTestAPI(t, all(asProxy("$connect", "$disconnect", "sendmessage"), fixedClock))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	header := http.Header{"User-Agent": {"proxy-test/1.0"}, "X-Custom": {"first", "last"}}
	c, _, err := websocket.Dial(ctx, a.url("?token=secret-token&x=1&x=2"), &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	id := a.gateway.ConnectionIDs()[0]
	host := strings.TrimPrefix(a.server.URL, "http://")
	ignoreIDs := cmpopts.IgnoreFields(events.APIGatewayWebsocketProxyRequestContext{}, "RequestID", "ExtendedRequestID", "MessageID")
	baseContext := func(routeKey, eventType string) events.APIGatewayWebsocketProxyRequestContext {
		return events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: routeKey, EventType: eventType, MessageDirection: "IN",
			Stage: "prod", APIID: "local", DomainName: host, ConnectionID: id,
			ConnectedAt: testNow.UnixMilli(), RequestTimeEpoch: testNow.UnixMilli(), RequestTime: "14/Mar/2026:15:09:26 +0000",
			Identity: events.APIGatewayRequestIdentity{SourceIP: "127.0.0.1", UserAgent: "proxy-test/1.0"},
			// The authorizer's context, every value a string.
			Authorizer: map[string]any{"principalId": "alice", "email": "a@example.com", "admin": "true", "n": "3"},
		}
	}
	checkIDs := func(t *testing.T, rc events.APIGatewayWebsocketProxyRequestContext, wantMessageID bool) {
		t.Helper()
		if rc.RequestID == "" || rc.ExtendedRequestID != rc.RequestID {
			t.Errorf("requestId %q, extendedRequestId %q", rc.RequestID, rc.ExtendedRequestID)
		}
		if got := rc.MessageID != nil && rc.MessageID != ""; got != wantMessageID {
			t.Errorf("messageId %v, want one: %v", rc.MessageID, wantMessageID)
		}
	}

	t.Run("CONNECT", func(t *testing.T) {
		ev := strictDecode(t, a.connect.calls()[0])
		checkIDs(t, ev.RequestContext, false)
		want := events.APIGatewayWebsocketProxyRequest{
			QueryStringParameters:           map[string]string{"token": "secret-token", "x": "2"},
			MultiValueQueryStringParameters: map[string][]string{"token": {"secret-token"}, "x": {"1", "2"}},
			RequestContext:                  baseContext("$connect", "CONNECT"),
		}
		if diff := cmp.Diff(want, ev, ignoreIDs, cmpopts.IgnoreFields(events.APIGatewayWebsocketProxyRequest{}, "Headers", "MultiValueHeaders")); diff != "" {
			t.Errorf("CONNECT event (-want +got):\n%s", diff)
		}
		for k, v := range map[string]string{"Host": host, "User-Agent": "proxy-test/1.0", "X-Custom": "last", "Upgrade": "websocket"} {
			if ev.Headers[k] != v {
				t.Errorf("headers[%s] = %q, want %q (all: %v)", k, ev.Headers[k], v, ev.Headers)
			}
		}
		if got := ev.MultiValueHeaders["X-Custom"]; !cmp.Equal(got, []string{"first", "last"}) {
			t.Errorf("multiValueHeaders[X-Custom] = %q", got)
		}
		if len(ev.Headers) != len(ev.MultiValueHeaders) {
			t.Errorf("%d headers, %d multi-value headers", len(ev.Headers), len(ev.MultiValueHeaders))
		}
	})

	t.Run("MESSAGE", func(t *testing.T) {
		body := `{"action":"sendmessage","message":"it's \"quoted\" ü"}`
		write(t, c, body)
		ev := strictDecode(t, a.message.waitCalls(t, 1)[0])
		checkIDs(t, ev.RequestContext, true)
		want := events.APIGatewayWebsocketProxyRequest{Body: body, RequestContext: baseContext("sendmessage", "MESSAGE")}
		if diff := cmp.Diff(want, ev, ignoreIDs); diff != "" {
			t.Errorf("MESSAGE event (-want +got):\n%s", diff)
		}
	})

	t.Run("DISCONNECT", func(t *testing.T) {
		_ = c.Close(websocket.StatusNormalClosure, "bye")
		ev := strictDecode(t, a.disconnect.waitCalls(t, 1)[0])
		checkIDs(t, ev.RequestContext, false)
		reason := "bye"
		rc := baseContext("$disconnect", "DISCONNECT")
		rc.DisconnectStatusCode, rc.DisconnectReason = 1000, &reason
		// The header set of every DISCONNECT event captured from API Gateway.
		want := events.APIGatewayWebsocketProxyRequest{
			Headers:           map[string]string{"Host": host, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""},
			MultiValueHeaders: map[string][]string{"Host": {host}, "x-api-key": {""}, "X-Forwarded-For": {""}, "x-restapi": {""}},
			RequestContext:    rc,
		}
		if diff := cmp.Diff(want, ev, ignoreIDs); diff != "" {
			t.Errorf("DISCONNECT event (-want +got):\n%s", diff)
		}
	})
}

// TestProxyDisconnectStatus: the DISCONNECT event says how the connection
// closed, whoever closed it.
func TestProxyDisconnectStatus(t *testing.T) {
	cases := []struct {
		name       string
		end        func(t *testing.T, a *testAPI, c *websocket.Conn)
		wantStatus int64
		wantReason string
	}{
		{name: "client going away", wantStatus: 1001, end: func(t *testing.T, _ *testAPI, c *websocket.Conn) {
			_ = c.Close(websocket.StatusGoingAway, "")
		}},
		{name: "binary frame", wantStatus: 1003, wantReason: "binary frames are not supported", end: func(t *testing.T, _ *testAPI, c *websocket.Conn) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3})
			_, _, _ = c.Read(ctx)
		}},
		{name: "client vanished", wantStatus: 1006, end: func(t *testing.T, _ *testAPI, c *websocket.Conn) { _ = c.CloseNow() }},
		{name: "@connections DELETE", wantStatus: 1000, end: func(t *testing.T, a *testAPI, c *websocket.Conn) {
			go func() { _, _, _ = c.Read(context.Background()) }() // answers the close frame
			resp := deleteConnection(t, a, a.gateway.ConnectionIDs()[0])
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("DELETE: %d", resp.StatusCode)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t, asProxy("$disconnect"))
			c := a.dial(t, "?token=t")
			tc.end(t, a, c)
			ev := strictDecode(t, a.disconnect.waitCalls(t, 1)[0])
			if rc := ev.RequestContext; rc.DisconnectStatusCode != tc.wantStatus || rc.DisconnectReason == nil || *rc.DisconnectReason != tc.wantReason {
				t.Errorf("disconnectStatusCode %d, disconnectReason %v; want %d %q", rc.DisconnectStatusCode, rc.DisconnectReason, tc.wantStatus, tc.wantReason)
			}
		})
	}
}

func TestProxyConnect(t *testing.T) {
	respond := func(s string) func([]byte) Result { return func([]byte) Result { return Result{Payload: []byte(s)} } }
	cases := []struct {
		name       string
		connect    func([]byte) Result
		wantStatus int
	}{
		{name: "200 accepts", connect: respond(`{"statusCode":200}`), wantStatus: 101},
		{name: "204 with a body accepts", connect: respond(`{"statusCode":204,"body":"ignored"}`), wantStatus: 101},
		{name: "500 refuses with 500", connect: respond(`{"statusCode":500}`), wantStatus: 500},
		{name: "400 refuses with 400", connect: respond(`{"statusCode":400}`), wantStatus: 400},
		{name: "403 refuses with 403", connect: respond(`{"statusCode":403,"body":"no"}`), wantStatus: 403},
		{name: "302 refuses with 302", connect: respond(`{"statusCode":302}`), wantStatus: 302},
		{name: "function error: 502", wantStatus: 502, connect: func([]byte) Result {
			return Result{Error: &FunctionError{Type: "errorString", Message: "put failed"}}
		}},
		{name: "timeout: 502", wantStatus: 502, connect: func([]byte) Result {
			return Result{Error: &FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out after 10.00 seconds"}}
		}},
		{name: "crash: 502", wantStatus: 502, connect: func([]byte) Result {
			return Result{Error: &FunctionError{Type: "Runtime.ExitError", Message: "RequestId: x Error: Runtime exited with error: exit status 2"}}
		}},
		{name: "no statusCode: 502", connect: respond(`{"body":"hello"}`), wantStatus: 502},
		{name: "null: 502", connect: respond(`null`), wantStatus: 502},
		{name: "not JSON: 502", connect: respond(`OK`), wantStatus: 502},
		{name: "statusCode as a string: 502", connect: respond(`{"statusCode":"200"}`), wantStatus: 502},
		{name: "statusCode 101: 502", connect: respond(`{"statusCode":101}`), wantStatus: 502},
		{name: "statusCode 600: 502", connect: respond(`{"statusCode":600}`), wantStatus: 502},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t, asProxy("$connect"))
			a.connect.handle = tc.connect
			if got := dialStatus(t, a.url("?token=t")); got != tc.wantStatus {
				t.Errorf("handshake status %d, want %d", got, tc.wantStatus)
			}
			if n := len(a.connect.calls()); n != 1 {
				t.Errorf("connect function invoked %d times", n)
			}
			if tc.wantStatus != 101 {
				if ids := a.gateway.ConnectionIDs(); len(ids) != 0 {
					t.Errorf("a refused handshake left connections %v", ids)
				}
				if n := len(a.disconnect.calls()); n != 0 {
					t.Errorf("a refused handshake ran $disconnect")
				}
			}
		})
	}
	t.Run("an invoke failure: 502", func(t *testing.T) {
		a := newTestAPI(t, func(c *Config, _ *Options) {
			c.Routes["$connect"].Integration = &Integration{Type: IntegrationAWSProxy, Function: failingFunction{}}
		})
		if got := dialStatus(t, a.url("?token=t")); got != 502 {
			t.Errorf("handshake status %d, want 502", got)
		}
	})
}

func deleteConnection(t *testing.T, a *testAPI, id string) *http.Response {
	t.Helper()
	return callConnections(t, a, http.MethodDelete, id, "")
}

// failingFunction cannot be invoked at all.
type failingFunction struct{}

func (failingFunction) Invoke(context.Context, []byte) (Result, error) {
	return Result{}, context.DeadlineExceeded
}

// TestProxyConnectSubprotocol: the Sec-WebSocket-Protocol header a proxy
// $connect function returns is the handshake's (websocket-connect-route-subprotocol).
func TestProxyConnectSubprotocol(t *testing.T) {
	a := newTestAPI(t, asProxy("$connect"))
	a.connect.handle = func([]byte) Result {
		return Result{Payload: []byte(`{"statusCode":200,"headers":{"Sec-WebSocket-Protocol":"myprotocol"}}`)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, a.url("?token=t"), &websocket.DialOptions{Subprotocols: []string{"chat1", "myprotocol"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if got := c.Subprotocol(); got != "myprotocol" {
		t.Errorf("subprotocol %q, want myprotocol", got)
	}
}

func TestProxyMessages(t *testing.T) {
	cases := []struct {
		name    string
		twoWay  bool
		message func([]byte) Result
		want    string // the frame back; "" for none
		wantErr bool   // the error frame
	}{
		{name: "two-way: the body goes back", twoWay: true, want: `{"type":"ack"}`, message: func([]byte) Result {
			return Result{Payload: []byte(`{"statusCode":200,"body":"{\"type\":\"ack\"}"}`)}
		}},
		{name: "two-way: the body goes back whatever the statusCode", twoWay: true, want: "plain text", message: func([]byte) Result {
			return Result{Payload: []byte(`{"statusCode":500,"body":"plain text"}`)}
		}},
		{name: "two-way: no body, no frame", twoWay: true, message: func([]byte) Result {
			return Result{Payload: []byte(`{"statusCode":200}`)}
		}},
		{name: "one-way: nothing goes back", message: func([]byte) Result {
			return Result{Payload: []byte(`{"statusCode":200,"body":"not sent"}`)}
		}},
		{name: "two-way: function error", twoWay: true, wantErr: true, message: func([]byte) Result {
			return Result{Error: &FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out after 25.00 seconds"}}
		}},
		{name: "one-way: function error", wantErr: true, message: func([]byte) Result {
			return Result{Error: &FunctionError{Type: "Runtime.ExitError", Message: "exit status 2"}}
		}},
		{name: "two-way: malformed response", twoWay: true, wantErr: true, message: func([]byte) Result {
			return Result{Payload: []byte(`[1,2]`)}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t, all(asProxy("sendmessage"), func(c *Config, _ *Options) {
				if !tc.twoWay {
					r := c.Routes["sendmessage"]
					r.RouteResponseSelectionExpression, r.RouteResponses = "", nil
				}
			}))
			a.message.handle = func(p []byte) Result {
				var ev struct {
					RequestContext struct{ RouteKey string } `json:"requestContext"`
				}
				if json.Unmarshal(p, &ev) == nil && ev.RequestContext.RouteKey == "sendmessage" {
					return tc.message(p)
				}
				return Result{Payload: []byte(`{"type":"ack","echo":` + string(p) + `}`)} // $default, non-proxy
			}
			c := a.dial(t, "?token=t")
			write(t, c, `{"action":"sendmessage"}`)
			// A message to the non-proxy $default follows: its reply is the
			// next frame when the proxy route sent none.
			write(t, c, `{"action":"other"}`)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, got, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantErr:
				if r := decode(t, got); r["message"] != "Internal server error" || r["connectionId"] == "" || r["requestId"] == "" {
					t.Errorf("frame %s, want the error frame", got)
				}
			case tc.want != "":
				if string(got) != tc.want {
					t.Errorf("frame %s, want %s", got, tc.want)
				}
			default:
				if !strings.Contains(string(got), `"echo"`) {
					t.Errorf("frame %s, want none from the proxy route", got)
				}
			}
		})
	}
}

// TestNonProxyConnect: a non-proxy $connect integration cannot refuse a
// connection, and the log says so at startup and on every failed connect.
func TestNonProxyConnect(t *testing.T) {
	var logs logBuffer
	a := newTestAPI(t, withLogs(&logs))
	if n := logs.count(t, "route $connect: a non-proxy (AWS) integration cannot refuse a connection"); n != 1 {
		t.Errorf("%d startup warnings about the non-proxy $connect, want 1", n)
	}
	results := []Result{
		{Error: &FunctionError{Type: "errorString", Message: "put failed"}},
		{Error: &FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out after 10.00 seconds"}},
		{Payload: []byte(`{"statusCode":500}`)}, // means nothing to a non-proxy integration
	}
	for _, res := range results {
		a.connect.handle = func([]byte) Result { return res }
		c := a.dial(t, "?token=t")
		_ = c.Close(websocket.StatusNormalClosure, "")
	}
	if n := logs.count(t, "non-proxy $connect integration cannot refuse a connection: connecting anyway"); n != 2 {
		t.Errorf("%d warnings on failed connects, want 2 (one per function error)", n)
	}
	for _, r := range logs.records(t) {
		if strings.Contains(r["msg"].(string), "connecting anyway") && r["errorType"] == nil {
			t.Errorf("warning %v: want the errorType", r)
		}
	}
	if strings.Contains(logs.String(), "put failed") {
		t.Error("the log has the function's errorMessage")
	}

	t.Run("a proxy $connect logs no such warning", func(t *testing.T) {
		var logs logBuffer
		newTestAPI(t, all(asProxy("$connect"), withLogs(&logs)))
		if n := logs.count(t, "cannot refuse"); n != 0 {
			t.Errorf("%d warnings", n)
		}
	})
	t.Run("a request template that fails refuses with 500", func(t *testing.T) {
		a := newTestAPI(t, func(c *Config, _ *Options) {
			c.Routes["$connect"].Integration.RequestTemplates = map[string]*vtl.Template{"$default": vtl.MustParse("t", `not json`)}
		})
		if got := dialStatus(t, a.url("?token=t")); got != 500 {
			t.Errorf("status %d, want 500", got)
		}
		if n := len(a.connect.calls()); n != 0 {
			t.Errorf("connect invoked %d times", n)
		}
	})
}

// TestSourceIP: $context.identity.sourceIp is the TCP peer's address,
// whatever headers the client sends.
func TestSourceIP(t *testing.T) {
	const sourceIPTemplate = `{"sourceIp":"$context.identity.sourceIp","connectionId":"$context.connectionId"}`
	hostile := http.Header{"X-Forwarded-For": {`6.6.6.6", "admin":"true`, `7.7.7.7`}}
	cases := []struct {
		name   string
		mutate func(*Config, *Options)
	}{
		{name: "non-proxy template", mutate: func(c *Config, _ *Options) {
			c.Routes["$connect"].Integration.RequestTemplates = map[string]*vtl.Template{"$default": vtl.MustParse("connect", sourceIPTemplate)}
		}},
		{name: "proxy event", mutate: asProxy("$connect")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t, tc.mutate)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, a.url("?token=t"), &websocket.DialOptions{HTTPHeader: hostile})
			if err != nil {
				status := 0
				if resp != nil {
					status = resp.StatusCode
				}
				t.Fatalf("handshake with a hostile X-Forwarded-For: %v (HTTP %d)", err, status)
			}
			defer c.CloseNow()
			ev := decode(t, a.connect.calls()[0])
			ip := ev["sourceIp"]
			if rc, ok := ev["requestContext"].(map[string]any); ok {
				ip = rc["identity"].(map[string]any)["sourceIp"]
			}
			if ip != "127.0.0.1" {
				t.Errorf("sourceIp %v, want 127.0.0.1 (the TCP peer)", ip)
			}
			// The authorizer saw the same.
			auth := decode(t, a.authorizer.calls()[0])
			if got := auth["requestContext"].(map[string]any)["identity"].(map[string]any)["sourceIp"]; got != "127.0.0.1" {
				t.Errorf("authorizer sourceIp %v", got)
			}
		})
	}
}

// TestBinaryFrame: API Gateway rejects a binary frame and closes the
// connection with 1003 (websocket-api-develop-binary-media-types).
func TestBinaryFrame(t *testing.T) {
	a := newTestAPI(t, nil)
	c := a.dial(t, "?token=t")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageBinary, []byte(`{"action":"sendmessage"}`)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusUnsupportedData {
		t.Errorf("close status %v (%v), want 1003", got, err)
	}
	if n := len(a.message.calls()); n != 0 {
		t.Errorf("the binary frame reached the integration")
	}
	ev := decode(t, a.disconnect.waitCalls(t, 1)[0])
	if ev["eventType"] != "DISCONNECT" {
		t.Errorf("$disconnect payload %v", ev)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(a.gateway.ConnectionIDs()) == 0 }, "connections gone")
}

// TestPostDuringConnect: a post to a connection whose $connect integration
// has not finished yet gets 410 Gone (apigateway-how-to-call-websocket-api-connections),
// one right after the handshake is delivered.
func TestPostDuringConnect(t *testing.T) {
	var during int
	a := newTestAPI(t, asProxy("$connect"))
	a.connect.handle = func(p []byte) Result {
		var ev struct {
			RequestContext struct{ ConnectionID string } `json:"requestContext"`
		}
		_ = json.Unmarshal(p, &ev)
		during = postConnection(t, a, ev.RequestContext.ConnectionID, `{"early":true}`).StatusCode
		return Result{Payload: []byte(`{"statusCode":200}`)}
	}
	c := a.dial(t, "?token=t")
	if during != http.StatusGone {
		t.Errorf("post during $connect: %d, want 410", during)
	}
	if resp := postConnection(t, a, a.gateway.ConnectionIDs()[0], `{"late":true}`); resp.StatusCode != http.StatusOK {
		t.Errorf("post after the handshake: %d, want 200", resp.StatusCode)
	}
	if r := readJSON(t, c); r["late"] != true {
		t.Errorf("client got %v, want only the late post", r)
	}
}

// deadlineFunction waits until its invocation's context ends and reports
// how long that took.
type deadlineFunction struct{ waited chan time.Duration }

func (f deadlineFunction) Invoke(ctx context.Context, _ []byte) (Result, error) {
	start := time.Now()
	<-ctx.Done()
	f.waited <- time.Since(start)
	return Result{}, ctx.Err()
}

// TestIntegrationTimeout: an integration's TimeoutInMillis bounds the
// invocation (apigateway-execution-service-websocket-limits-table: 50 ms to
// 29 s); the client then gets the error frame.
func TestIntegrationTimeout(t *testing.T) {
	f := deadlineFunction{waited: make(chan time.Duration, 1)}
	for _, proxied := range []bool{false, true} {
		a := newTestAPI(t, func(c *Config, _ *Options) {
			in := c.Routes["sendmessage"].Integration
			in.Function, in.Timeout = f, 50*time.Millisecond
			if proxied {
				c.Routes["sendmessage"].Integration = &Integration{Type: IntegrationAWSProxy, Function: f, Timeout: 50 * time.Millisecond}
			}
		})
		c := a.dial(t, "?token=t")
		write(t, c, `{"action":"sendmessage"}`)
		if r := readJSON(t, c); r["message"] != "Internal server error" {
			t.Errorf("proxy %v: frame %v", proxied, r)
		}
		// Generous bounds: the point is that the 29 s default did not apply.
		if d := <-f.waited; d < 40*time.Millisecond || d > 5*time.Second {
			t.Errorf("proxy %v: the invocation lasted %v, want about 50 ms", proxied, d)
		}
	}
}
