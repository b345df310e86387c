package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wsapi/internal/testutil"
	"wsapi/vtl"
)

// fakeFunction answers invocations with handle and records the payloads.
type fakeFunction struct {
	mu       sync.Mutex
	payloads [][]byte
	handle   func(payload []byte) Result
}

func (f *fakeFunction) Invoke(_ context.Context, payload []byte) (Result, error) {
	f.mu.Lock()
	f.payloads = append(f.payloads, payload)
	f.mu.Unlock()
	if f.handle == nil {
		return Result{Payload: []byte(`{"statusCode":200}`)}, nil
	}
	return f.handle(payload), nil
}

func (f *fakeFunction) calls() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.payloads...)
}

// waitCalls waits until f was invoked n times.
func (f *fakeFunction) waitCalls(t *testing.T, n int) [][]byte {
	t.Helper()
	if !testutil.Poll(5*time.Second, func() bool { return len(f.calls()) >= n }) {
		t.Fatalf("want %d invocations, got %d", n, len(f.calls()))
	}
	return f.calls()
}

func allowPolicy(principal string, context map[string]any) func([]byte) Result {
	return func(payload []byte) Result {
		var ev struct {
			MethodARN string `json:"methodArn"`
		}
		_ = json.Unmarshal(payload, &ev)
		b, _ := json.Marshal(map[string]any{
			"principalId": principal,
			"policyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{
				map[string]any{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ev.MethodARN},
			}},
			"context": context,
		})
		return Result{Payload: b}
	}
}

// testAPI is a gateway with the routes of the project's app, but small
// templates whose output is easy to assert on.
type testAPI struct {
	authorizer, connect, disconnect, message *fakeFunction
	gateway                                  *Gateway
	server                                   *httptest.Server
}

const eventTemplate = `{"routeKey":"$context.routeKey","eventType":"$context.eventType","connectionId":"$context.connectionId",` +
	`"principalId":"$context.authorizer.principalId","email":"$context.authorizer.email","messageId":"$!context.messageId",` +
	`"body":"$util.escapeJavaScript($input.body).replaceAll("\\'","'")"}`

func newTestAPI(t testing.TB, mutate func(*Config, *Options)) *testAPI {
	t.Helper()
	a := &testAPI{
		authorizer: &fakeFunction{handle: allowPolicy("alice", map[string]any{"email": "a@example.com", "admin": true, "n": 3})},
		connect:    &fakeFunction{},
		disconnect: &fakeFunction{},
		message: &fakeFunction{handle: func(p []byte) Result {
			return Result{Payload: []byte(`{"type":"ack","echo":` + string(p) + `}`)}
		}},
	}
	tmpl := map[string]*vtl.Template{"$default": vtl.MustParse("event", eventTemplate)}
	integration := func(f Function) *Integration {
		return &Integration{Function: f, TemplateSelectionExpression: `\$default`, RequestTemplates: tmpl, PassthroughBehavior: "NEVER",
			Responses: map[string]*IntegrationResponse{"$default": {Key: "$default"}}}
	}
	cfg := Config{
		APIID: "local", Region: "us-east-1", AccountID: "000000000000", Stage: "prod",
		RouteSelectionExpression: "$request.body.action",
		Routes: map[string]*Route{
			"$connect": {Key: "$connect", Authorizer: &Authorizer{IdentitySources: []string{"route.request.querystring.token"}, Function: a.authorizer},
				Integration: integration(a.connect)},
			"$disconnect": {Key: "$disconnect", Integration: integration(a.disconnect)},
			"sendmessage": {Key: "sendmessage", Integration: integration(a.message), RouteResponseSelectionExpression: "$default", RouteResponses: []string{"$default"}},
			"$default":    {Key: "$default", Integration: integration(a.message), RouteResponseSelectionExpression: "$default", RouteResponses: []string{"$default"}},
		},
		Limits: DefaultLimits,
	}
	opts := Options{}
	if mutate != nil {
		mutate(&cfg, &opts)
	}
	g, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	a.gateway = g
	a.server = httptest.NewServer(g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Close(ctx)
		a.server.Close()
	})
	return a
}

func (a *testAPI) url(query string) string {
	return "ws" + strings.TrimPrefix(a.server.URL, "http") + "/prod" + query
}

func (a *testAPI) dial(t *testing.T, query string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, a.url(query), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func dialStatus(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, nil)
	if err == nil {
		_ = c.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}

func readJSON(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("reply %q is not a JSON object: %v", b, err)
	}
	return m
}

func write(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return m
}

func TestHandshake(t *testing.T) {
	deny := func(payload []byte) Result {
		return Result{Payload: []byte(`{"principalId":"x","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Deny","Resource":"*"}]}}`)}
	}
	cases := []struct {
		name           string
		authorizer     func([]byte) Result
		connect        func([]byte) Result
		query          string
		wantStatus     int
		wantAuthorizer int // invocations
		wantConnect    int
	}{
		{name: "allowed", query: "?token=t", wantStatus: 101, wantAuthorizer: 1, wantConnect: 1},
		{name: "no identity source: 401 without the authorizer", query: "", wantStatus: 401},
		{name: "empty identity source", query: "?token=", wantStatus: 401},
		{name: "Unauthorized error", query: "?token=t", wantStatus: 401, wantAuthorizer: 1,
			authorizer: func([]byte) Result {
				return Result{Error: &FunctionError{Type: "errorString", Message: "Unauthorized"}}
			}},
		{name: "explicit deny", query: "?token=t", wantStatus: 403, wantAuthorizer: 1, authorizer: deny},
		{name: "allow on another ARN", query: "?token=t", wantStatus: 403, wantAuthorizer: 1, authorizer: func([]byte) Result {
			return Result{Payload: []byte(`{"principalId":"x","policyDocument":{"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:us-east-1:000000000000:other/*"}]}}`)}
		}},
		{name: "other authorizer error", query: "?token=t", wantStatus: 500, wantAuthorizer: 1,
			authorizer: func([]byte) Result { return Result{Error: &FunctionError{Type: "Runtime.ExitError", Message: "boom"}} }},
		{name: "context with an object", query: "?token=t", wantStatus: 500, wantAuthorizer: 1, authorizer: allowPolicy("x", map[string]any{"o": map[string]any{}})},
		{name: "no principal", query: "?token=t", wantStatus: 500, wantAuthorizer: 1, authorizer: func([]byte) Result {
			return Result{Payload: []byte(`{"policyDocument":{"Statement":[]}}`)}
		}},
		// A non-proxy $connect integration cannot refuse: the client is
		// connected whatever the function returns (TestNonProxyConnect).
		{name: "non-proxy connect function fails: connected anyway", query: "?token=t", wantStatus: 101, wantAuthorizer: 1, wantConnect: 1,
			connect: func([]byte) Result { return Result{Error: &FunctionError{Type: "errorString", Message: "put failed"}} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newTestAPI(t, nil)
			if c.authorizer != nil {
				a.authorizer.handle = c.authorizer
			}
			if c.connect != nil {
				a.connect.handle = c.connect
			}
			if got := dialStatus(t, a.url(c.query)); got != c.wantStatus {
				t.Errorf("status %d, want %d", got, c.wantStatus)
			}
			if got := len(a.authorizer.calls()); got != c.wantAuthorizer {
				t.Errorf("authorizer invoked %d times, want %d", got, c.wantAuthorizer)
			}
			if got := len(a.connect.calls()); got != c.wantConnect {
				t.Errorf("connect invoked %d times, want %d", got, c.wantConnect)
			}
			if c.wantStatus != 101 && len(a.gateway.ConnectionIDs()) != 0 {
				t.Errorf("a refused handshake left a connection: %v", a.gateway.ConnectionIDs())
			}
		})
	}
}

func TestAuthorizerEventAndContext(t *testing.T) {
	a := newTestAPI(t, nil)
	c := a.dial(t, "?token=secret-token&x=1&x=2")
	_ = c
	ev := decode(t, a.authorizer.calls()[0])
	if ev["type"] != "REQUEST" || !strings.HasPrefix(ev["methodArn"].(string), "arn:aws:execute-api:us-east-1:000000000000:local/prod/$connect") {
		t.Errorf("event type/methodArn: %v %v", ev["type"], ev["methodArn"])
	}
	if q := ev["queryStringParameters"].(map[string]any); q["token"] != "secret-token" || q["x"] != "2" {
		t.Errorf("queryStringParameters %v", q)
	}
	if mq := ev["multiValueQueryStringParameters"].(map[string]any); len(mq["x"].([]any)) != 2 {
		t.Errorf("multiValueQueryStringParameters %v", mq)
	}
	rc := ev["requestContext"].(map[string]any)
	for _, k := range []string{"connectionId", "requestId", "domainName", "apiId", "stage", "routeKey", "eventType"} {
		if rc[k] == "" || rc[k] == nil {
			t.Errorf("requestContext.%s missing: %v", k, rc)
		}
	}
	// The connect integration sees the authorizer's principal and context.
	connect := decode(t, a.connect.calls()[0])
	if connect["principalId"] != "alice" || connect["email"] != "a@example.com" || connect["eventType"] != "CONNECT" ||
		connect["connectionId"] != rc["connectionId"] {
		t.Errorf("connect payload %v", connect)
	}
}

func TestMessages(t *testing.T) {
	cases := []struct {
		name      string
		body      string
		wantRoute string
	}{
		{name: "sendmessage", body: `{"action":"sendmessage","message":"hi"}`, wantRoute: "sendmessage"},
		{name: "unknown action", body: `{"action":"nope"}`, wantRoute: "$default"},
		{name: "not JSON", body: `it's "not" json \ at all`, wantRoute: "$default"},
		{name: "action is a number", body: `{"action":1}`, wantRoute: "$default"},
		{name: "cannot select $connect", body: `{"action":"$connect"}`, wantRoute: "$default"},
	}
	a := newTestAPI(t, nil)
	c := a.dial(t, "?token=t")
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			write(t, c, tc.body)
			reply := readJSON(t, c)
			echo, ok := reply["echo"].(map[string]any)
			if !ok {
				t.Fatalf("reply %v", reply)
			}
			if echo["routeKey"] != tc.wantRoute || echo["eventType"] != "MESSAGE" || echo["body"] != tc.body ||
				echo["principalId"] != "alice" || echo["messageId"] == "" {
				t.Errorf("integration saw %v", echo)
			}
			if n := len(a.message.calls()); n != i+1 {
				t.Errorf("message invoked %d times, want %d", n, i+1)
			}
		})
	}
}

func TestMessageErrors(t *testing.T) {
	t.Run("no $default: Forbidden", func(t *testing.T) {
		a := newTestAPI(t, func(c *Config, _ *Options) { delete(c.Routes, "$default") })
		c := a.dial(t, "?token=t")
		write(t, c, "hello")
		if r := readJSON(t, c); r["message"] != "Forbidden" || r["connectionId"] == "" || r["requestId"] == "" {
			t.Errorf("reply %v", r)
		}
	})
	t.Run("function error on a one-way route: Internal server error, connection stays", func(t *testing.T) {
		a := newTestAPI(t, func(c *Config, _ *Options) {
			r := c.Routes["sendmessage"]
			r.RouteResponseSelectionExpression, r.RouteResponses = "", nil
		})
		a.message.handle = func([]byte) Result { return Result{Error: &FunctionError{Type: "x", Message: "boom"}} }
		c := a.dial(t, "?token=t")
		write(t, c, `{"action":"sendmessage"}`)
		if r := readJSON(t, c); r["message"] != "Internal server error" {
			t.Errorf("reply %v", r)
		}
		write(t, c, `{"action":"sendmessage"}`)
		if r := readJSON(t, c); r["message"] != "Internal server error" {
			t.Errorf("second reply %v", r)
		}
	})
	t.Run("error regex integration response", func(t *testing.T) {
		a := newTestAPI(t, func(c *Config, _ *Options) {
			c.Routes["sendmessage"].Integration.Responses["/boom.*/"] = &IntegrationResponse{Key: "/boom.*/",
				ResponseTemplates: map[string]*vtl.Template{"$default": vtl.MustParse("r", `{"failed":$input.json('$.errorMessage')}`)}}
		})
		a.message.handle = func([]byte) Result { return Result{Error: &FunctionError{Type: "x", Message: "boom!"}} }
		c := a.dial(t, "?token=t")
		write(t, c, `{"action":"sendmessage"}`)
		if r := readJSON(t, c); r["failed"] != "boom!" {
			t.Errorf("reply %v", r)
		}
	})
	t.Run("one-way route sends nothing back", func(t *testing.T) {
		a := newTestAPI(t, func(c *Config, _ *Options) {
			c.Routes["sendmessage"].RouteResponseSelectionExpression = ""
			c.Routes["sendmessage"].RouteResponses = nil
		})
		c := a.dial(t, "?token=t")
		write(t, c, `{"action":"sendmessage"}`)
		write(t, c, `not json`) // $default still answers, and only it
		r := readJSON(t, c)
		if echo := r["echo"].(map[string]any); echo["routeKey"] != "$default" {
			t.Errorf("first frame back is %v, want the $default reply", r)
		}
	})
	t.Run("template selection with no match and NEVER", func(t *testing.T) {
		a := newTestAPI(t, func(c *Config, _ *Options) {
			in := c.Routes["sendmessage"].Integration
			in.TemplateSelectionExpression = "${request.body.kind}"
			in.RequestTemplates = map[string]*vtl.Template{"text": vtl.MustParse("t", `{"kind":"text"}`)}
		})
		c := a.dial(t, "?token=t")
		write(t, c, `{"action":"sendmessage","kind":"image"}`)
		if r := readJSON(t, c); r["message"] != "Internal server error" {
			t.Errorf("reply %v", r)
		}
		write(t, c, `{"action":"sendmessage","kind":"text"}`)
		if r := readJSON(t, c); r["echo"].(map[string]any)["kind"] != "text" {
			t.Errorf("reply %v", r)
		}
	})
}

func TestDisconnect(t *testing.T) {
	t.Run("client close", func(t *testing.T) {
		a := newTestAPI(t, nil)
		c := a.dial(t, "?token=t")
		id := a.gateway.ConnectionIDs()[0]
		_ = c.Close(websocket.StatusNormalClosure, "bye")
		ev := decode(t, a.disconnect.waitCalls(t, 1)[0])
		if ev["connectionId"] != id || ev["eventType"] != "DISCONNECT" || ev["principalId"] != "alice" {
			t.Errorf("disconnect payload %v", ev)
		}
		testutil.Eventually(t, 5*time.Second, func() bool { return len(a.gateway.ConnectionIDs()) == 0 }, "connections gone")
	})
	t.Run("vanished client with a delayed $disconnect", func(t *testing.T) {
		a := newTestAPI(t, func(_ *Config, o *Options) { o.DisconnectDelay = 300 * time.Millisecond })
		c := a.dial(t, "?token=t")
		id := a.gateway.ConnectionIDs()[0]
		_ = c.CloseNow() // no close frame
		testutil.Eventually(t, 5*time.Second, func() bool { return len(a.gateway.ConnectionIDs()) == 0 }, "connections gone")
		if n := len(a.disconnect.calls()); n != 0 {
			t.Fatalf("$disconnect ran at once (%d), want it delayed", n)
		}
		resp := postConnection(t, a, id, "late")
		if resp.StatusCode != http.StatusGone || resp.Header.Get("X-Amzn-ErrorType") != "GoneException" {
			t.Errorf("post to a vanished connection: %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
		a.disconnect.waitCalls(t, 1)
	})
	t.Run("gateway close", func(t *testing.T) {
		a := newTestAPI(t, nil)
		c := a.dial(t, "?token=t")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// A client reads, and so answers the close frame.
		closed := make(chan error, 1)
		go func() {
			_, _, err := c.Read(ctx)
			closed <- err
		}()
		if err := a.gateway.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if len(a.disconnect.calls()) != 1 {
			t.Errorf("Close did not wait for $disconnect")
		}
		if err := <-closed; websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Errorf("close status %v (%v), want 1001", websocket.CloseStatus(err), err)
		}
	})
}

func TestLimits(t *testing.T) {
	small := func(c *Config, _ *Options) {
		c.Limits = Limits{MaxMessageBytes: 4096, MaxFrameBytes: 1024, IdleTimeout: time.Hour, MaxConnection: time.Hour, MaxAuthorizerBytes: 8192}
	}
	t.Run("message too big closes with 1009", func(t *testing.T) {
		a := newTestAPI(t, small)
		c := a.dial(t, "?token=t")
		// Several frames of at most 1 KB, 5 KB in all.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w, err := c.Writer(ctx, websocket.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			_, _ = w.Write([]byte(strings.Repeat("a", 1000)))
		}
		_ = w.Close()
		_, _, err = c.Read(ctx)
		if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
			t.Errorf("close status %v (%v), want 1009", got, err)
		}
	})
	t.Run("frame too big closes with 1009", func(t *testing.T) {
		a := newTestAPI(t, small)
		c := a.dial(t, "?token=t")
		write(t, c, strings.Repeat("b", 2000)) // one frame, within the message limit
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _, err := c.Read(ctx)
		if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
			t.Errorf("close status %v (%v), want 1009", got, err)
		}
		if n := len(a.message.calls()); n != 0 {
			t.Errorf("the oversized frame reached the integration")
		}
	})
	for _, lim := range []struct {
		name  string
		set   func(*Limits)
		write bool
	}{
		{name: "idle timeout", set: func(l *Limits) { l.IdleTimeout = 200 * time.Millisecond }},
		{name: "connection duration", set: func(l *Limits) { l.MaxConnection = 300 * time.Millisecond }, write: true},
	} {
		t.Run(lim.name, func(t *testing.T) {
			a := newTestAPI(t, func(c *Config, _ *Options) { c.Limits = DefaultLimits; lim.set(&c.Limits) })
			c := a.dial(t, "?token=t")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			if lim.write {
				// Activity does not extend the connection's life.
				go func() {
					for range 10 {
						_ = c.Write(ctx, websocket.MessageText, []byte("ping"))
						time.Sleep(50 * time.Millisecond)
					}
				}()
			}
			var err error
			for err == nil {
				_, _, err = c.Read(ctx)
			}
			if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
				t.Errorf("close status %v (%v), want 1001 after %v", got, err, time.Since(start))
			}
			a.disconnect.waitCalls(t, 1)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		return Config{Stage: "prod", RouteSelectionExpression: "$request.body.action",
			Routes: map[string]*Route{"$default": {Key: "$default"}}}
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "header route selection", mutate: func(c *Config) { c.RouteSelectionExpression = "$request.header.x" }, want: "route selection"},
		{name: "authorizer off $connect", mutate: func(c *Config) { c.Routes["$default"].Authorizer = &Authorizer{} }, want: "only allowed on $connect"},
		{name: "stage variable identity source", mutate: func(c *Config) {
			c.Routes["$connect"] = &Route{Key: "$connect", Authorizer: &Authorizer{IdentitySources: []string{"stageVariables.x"}}}
		}, want: "identity source"},
		{name: "no routes", mutate: func(c *Config) { c.Routes = nil }, want: "no routes"},
		{name: "proxy integration", mutate: func(c *Config) { c.Routes["$default"] = proxyRoute("$default", false) }},
		{name: "two-way proxy integration", mutate: func(c *Config) { c.Routes["$default"] = proxyRoute("$default", true) }},
		{name: "proxy integration with request templates", mutate: func(c *Config) {
			c.Routes["$default"] = proxyRoute("$default", false)
			c.Routes["$default"].Integration.RequestTemplates = map[string]*vtl.Template{"$default": vtl.MustParse("t", "{}")}
		}, want: "AWS_PROXY integration with request templates"},
		{name: "proxy integration with integration responses", mutate: func(c *Config) {
			c.Routes["$default"] = proxyRoute("$default", true)
			c.Routes["$default"].Integration.Responses = map[string]*IntegrationResponse{"$default": {Key: "$default"}}
		}, want: "AWS_PROXY integration with integration responses"},
		{name: "HTTP integration", mutate: func(c *Config) {
			c.Routes["$default"] = proxyRoute("$default", false)
			c.Routes["$default"].Integration.Type = "HTTP_PROXY"
		}, want: `integration type "HTTP_PROXY"`},
		{name: "integration without function", mutate: func(c *Config) {
			c.Routes["$default"] = proxyRoute("$default", false)
			c.Routes["$default"].Integration.Function = nil
		}, want: "integration without a function"},
		{name: "two-way non-proxy route without $default integration response", mutate: func(c *Config) {
			c.Routes["$default"] = nonProxyRoute("$default", "/.+/")
		}, want: "no $default integration response"},
		{name: "regex key with lookaround", mutate: func(c *Config) {
			c.Routes["$default"] = nonProxyRoute("$default", "$default", "/(?!x).*/")
		}, want: `integration response key "/(?!x).*/": integration response key not supported by the local run: lookaround`},
		{name: "key without slashes", mutate: func(c *Config) {
			c.Routes["$default"] = nonProxyRoute("$default", "$default", "200")
		}, want: `integration response key "200": want $default or /regex/`},
		{name: "regex key Java rejects", mutate: func(c *Config) {
			c.Routes["$default"] = nonProxyRoute("$default", "$default", `/{"errorType"/`)
		}, want: "java.util.regex.PatternSyntaxException: Illegal repetition"},
		{name: "the stack's function error key", mutate: func(c *Config) {
			c.Routes["$default"] = nonProxyRoute("$default", "$default", `/[\s\S]+/`)
		}},
		{name: "response template selection on the integration response", mutate: func(c *Config) {
			c.Routes["$default"] = nonProxyRoute("$default", "$default")
			c.Routes["$default"].Integration.Responses["$default"].TemplateSelectionExpression = "${integration.response.statuscode}"
		}, want: "${integration.response...} is not emulated"},
		{name: "request template selection on a header", mutate: func(c *Config) {
			c.Routes["$default"] = nonProxyRoute("$default", "$default")
			c.Routes["$default"].Integration.TemplateSelectionExpression = "$request.header.x"
		}, want: "only static keys and ${request.body.<field>} are emulated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			c.mutate(&cfg)
			err := cfg.Validate()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("Validate() = %v, want %q", err, c.want)
			}
		})
	}
}

// proxyRoute is a route with a proxy integration.
func proxyRoute(key string, twoWay bool) *Route {
	r := &Route{Key: key, Integration: &Integration{Type: IntegrationAWSProxy, Function: &fakeFunction{}}}
	if twoWay {
		r.RouteResponseSelectionExpression, r.RouteResponses = "$default", []string{"$default"}
	}
	return r
}

// nonProxyRoute is a two-way route with a non-proxy integration whose
// integration responses have the keys given.
func nonProxyRoute(key string, responseKeys ...string) *Route {
	in := &Integration{Type: IntegrationAWS, Function: &fakeFunction{}, TemplateSelectionExpression: `\$default`,
		Responses: map[string]*IntegrationResponse{}}
	for _, k := range responseKeys {
		in.Responses[k] = &IntegrationResponse{Key: k}
	}
	return &Route{Key: key, Integration: in, RouteResponseSelectionExpression: "$default", RouteResponses: []string{"$default"}}
}

func TestThrottling(t *testing.T) {
	a := newTestAPI(t, func(c *Config, _ *Options) { c.RateLimit, c.BurstLimit = 0.001, 2 })
	c := a.dial(t, "?token=t")
	for i := range 3 {
		write(t, c, `{"action":"sendmessage"}`)
		r := readJSON(t, c)
		if i < 2 && r["echo"] == nil {
			t.Errorf("message %d within the burst: %v", i, r)
		}
		if i == 2 && r["message"] != "Too Many Requests" {
			t.Errorf("message over the burst: %v, want Too Many Requests", r)
		}
	}
	if n := len(a.message.calls()); n != 2 {
		t.Errorf("the function ran %d times, want 2", n)
	}
}
