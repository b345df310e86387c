package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"
)

const wellFormedAuth = "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20261124/us-east-1/execute-api/aws4_request, " +
	"SignedHeaders=host;x-amz-date, Signature=" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func postConnection(t *testing.T, a *testAPI, id, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.server.URL+"/prod/@connections/"+url.PathEscape(id), strings.NewReader(body))
	req.Header.Set("Authorization", wellFormedAuth)
	req.Header.Set("X-Amz-Date", "20261124T000000Z")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp
}

// managementClient is the real SDK client the message function uses.
func managementClient(a *testAPI, secret string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(a.server.URL + "/prod"),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", secret, ""),
	})
}

func TestConnectionsAPIWithTheSDK(t *testing.T) {
	a := newTestAPI(t, func(_ *Config, o *Options) { o.Credentials = map[string]string{"AKIDLOCAL": "local-secret"} })
	c := a.dial(t, "?token=t")
	id := a.gateway.ConnectionIDs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := managementClient(a, "local-secret")

	if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id), Data: []byte(`{"type":"message","message":"x=1&y=ü"}`),
	}); err != nil {
		t.Fatalf("PostToConnection: %v", err)
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != `{"type":"message","message":"x=1&y=ü"}` {
		t.Errorf("client got %q, %v", b, err)
	}

	info, err := client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if info.ConnectedAt == nil || info.Identity == nil || *info.Identity.SourceIp != "127.0.0.1" {
		t.Errorf("GetConnection = %+v", info)
	}

	_, err = client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String("does-not-exist="), Data: []byte("x"),
	})
	var gone *types.GoneException
	if !errors.As(err, &gone) {
		t.Errorf("post to an unknown id: %v, want a GoneException", err)
	}

	bad := managementClient(a, "wrong-secret")
	_, err = bad.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
	var forbidden *types.ForbiddenException
	if !errors.As(err, &forbidden) {
		t.Errorf("post with a wrong secret: %v, want a ForbiddenException", err)
	}

	if _, err := client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	_, _, err = c.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusNormalClosure {
		t.Errorf("after DeleteConnection the client saw %v (%v)", got, err)
	}
	a.disconnect.waitCalls(t, 1)
}

func TestConnectionsAPIRefusals(t *testing.T) {
	a := newTestAPI(t, nil)
	a.dial(t, "?token=t")
	id := a.gateway.ConnectionIDs()[0]
	cases := []struct {
		name       string
		auth       string
		body       string
		wantStatus int
		wantType   string
	}{
		{name: "no signature", auth: "", wantStatus: 403, wantType: "ForbiddenException"},
		{name: "another service's signature", auth: strings.Replace(wellFormedAuth, "execute-api", "s3", 1), wantStatus: 403, wantType: "ForbiddenException"},
		{name: "too large", auth: wellFormedAuth, body: strings.Repeat("x", 128*1024+1), wantStatus: 413, wantType: "PayloadTooLargeException"},
		{name: "delivered", auth: wellFormedAuth, body: "hello", wantStatus: 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, a.server.URL+"/prod/@connections/"+url.PathEscape(id), strings.NewReader(c.body))
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != c.wantStatus || resp.Header.Get("X-Amzn-ErrorType") != c.wantType {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), c.wantStatus, c.wantType)
			}
		})
	}
	if resp, err := http.Get(a.server.URL + "/other"); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("unknown path: %v %v", resp, err)
	}
}
