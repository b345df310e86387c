package localrun

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wsapi/localrun/assembly"
	"wsapi/localrun/gateway"
)

// fakeFunction stands in for one of the stack's functions.
type fakeFunction struct {
	mu       sync.Mutex
	payloads [][]byte
	handle   func(payload []byte) gateway.Result
}

func (f *fakeFunction) Invoke(_ context.Context, payload []byte) (gateway.Result, error) {
	f.mu.Lock()
	f.payloads = append(f.payloads, payload)
	f.mu.Unlock()
	return f.handle(payload), nil
}

// allow is an authorizer that allows every connection as alice.
func allow(payload []byte) gateway.Result {
	var ev struct {
		MethodARN string `json:"methodArn"`
	}
	_ = json.Unmarshal(payload, &ev)
	b, _ := json.Marshal(map[string]any{
		"principalId": "alice",
		"policyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ev.MethodARN},
		}},
		"context": map[string]any{"sub": "alice"},
	})
	return gateway.Result{Payload: b}
}

// stackGateway serves the API of a fixture (a trimmed real synth of the
// stack) with fake functions in place of the real ones.
func stackGateway(t *testing.T, fixture string, handlers map[string]func([]byte) gateway.Result) (*gateway.Gateway, string) {
	t.Helper()
	asm, err := assembly.Load(filepath.Join("assembly", "testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	functions := map[string]gateway.Function{}
	for id := range asm.Functions {
		h := handlers[shortName(id)]
		if h == nil {
			h = func([]byte) gateway.Result { return gateway.Result{Payload: []byte(`{}`)} }
		}
		functions[id] = &fakeFunction{handle: h}
	}
	cfg, err := gatewayConfig(asm, functions, gateway.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("the stack's configuration has warnings: %q", w)
	}
	g, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Close(ctx)
		srv.Close()
	})
	return g, "ws" + strings.TrimPrefix(srv.URL, "http") + "/" + asm.Stage.StageName
}

// TestStackConfig: what the stack's template asks of API Gateway, run by
// the gateway: the proxy $connect's statusCode decides the handshake, and a
// function error on a message route becomes the stack's error frame through
// its /[\s\S]+/ integration response.
func TestStackConfig(t *testing.T) {
	for _, fixture := range []string{"cognito", "oidc"} {
		t.Run(fixture, func(t *testing.T) {
			dialOpts := func(token string) (string, *websocket.DialOptions) {
				if fixture == "oidc" {
					return "", &websocket.DialOptions{HTTPHeader: map[string][]string{"Authorization": {"Bearer " + token}}}
				}
				return "?token=" + token, nil
			}
			cases := []struct {
				name       string
				connect    func([]byte) gateway.Result
				message    func([]byte) gateway.Result
				wantStatus int
				wantFrame  func(t *testing.T, frame map[string]any)
			}{
				{name: "connect function answers 500: handshake refused with 500", wantStatus: 500,
					connect: func([]byte) gateway.Result { return gateway.Result{Payload: []byte(`{"statusCode":500}`)} }},
				{name: "connect function fails: 502", wantStatus: 502,
					connect: func([]byte) gateway.Result {
						return gateway.Result{Error: &gateway.FunctionError{Type: "Runtime.ExitError", Message: "exit status 2"}}
					}},
				{name: "message function times out: the internal error frame", wantStatus: 101,
					message: func([]byte) gateway.Result {
						return gateway.Result{Error: &gateway.FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out after 25.00 seconds"}}
					},
					wantFrame: func(t *testing.T, f map[string]any) {
						msg, _ := f["message"].(string)
						if f["type"] != "error" || f["code"] != "internal" || !strings.HasPrefix(msg, "internal error, request id ") || len(f) != 3 {
							t.Errorf("frame %v, want the internal error frame", f)
						}
					}},
				{name: "message function succeeds: its result goes back", wantStatus: 101,
					message: func([]byte) gateway.Result {
						return gateway.Result{Payload: []byte(`{"type":"ack","queued":true,"id":"0123456789abcdef0123456789abcdef"}`)}
					},
					wantFrame: func(t *testing.T, f map[string]any) {
						if f["type"] != "ack" || f["queued"] != true || f["id"] != "0123456789abcdef0123456789abcdef" || len(f) != 3 {
							t.Errorf("frame %v, want the queued ack as the function returned it", f)
						}
					}},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					connect := tc.connect
					if connect == nil {
						connect = func([]byte) gateway.Result { return gateway.Result{Payload: []byte(`{"statusCode":200}`)} }
					}
					_, url := stackGateway(t, fixture, map[string]func([]byte) gateway.Result{
						"AuthorizerFunction": allow, "ConnectFunction": connect, "MessageFunction": tc.message,
					})
					query, opts := dialOpts("tok")
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					c, resp, err := websocket.Dial(ctx, url+query, opts)
					status := 101
					if err != nil {
						if resp == nil {
							t.Fatal(err)
						}
						status = resp.StatusCode
					}
					if status != tc.wantStatus {
						t.Fatalf("handshake %d, want %d", status, tc.wantStatus)
					}
					if c == nil {
						return
					}
					defer c.CloseNow()
					if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"sendmessage","message":"hi"}`)); err != nil {
						t.Fatal(err)
					}
					_, b, err := c.Read(ctx)
					if err != nil {
						t.Fatal(err)
					}
					var frame map[string]any
					if err := json.Unmarshal(b, &frame); err != nil {
						t.Fatalf("frame %q: %v", b, err)
					}
					tc.wantFrame(t, frame)
				})
			}
		})
	}
}
