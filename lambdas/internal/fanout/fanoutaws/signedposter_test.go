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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	apitypes "github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"wsapi/lambdas/internal/fanout"
	"wsapi/lambdas/internal/reply"
	"wsapi/localrun/gateway"
)

const (
	testKeyID  = "AKIDLOCAL"
	testSecret = "local-secret"
)

func testConfig(secret string) aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(testKeyID, secret, "")}
}

// nopFunction is a route's function the tests never invoke.
type nopFunction struct{}

func (nopFunction) Invoke(context.Context, []byte) (gateway.Result, error) {
	return gateway.Result{}, nil
}

// httpClientForBench keeps an idle connection per post in flight, as the
// fanout function's client does.
func httpClientForBench(inFlight int) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = inFlight })
}

// newLocalGateway is the local run's @connections endpoint, verifying
// SigV4 signatures with testKeyID's secret.
func newLocalGateway(t testing.TB) (*gateway.Gateway, string) {
	t.Helper()
	var nop nopFunction
	cfg := gateway.Config{
		APIID: "local", Region: "us-east-1", AccountID: "000000000000", Stage: "prod",
		RouteSelectionExpression: "$request.body.action",
		Routes:                   map[string]*gateway.Route{"$default": {Key: "$default", Integration: &gateway.Integration{Type: gateway.IntegrationAWSProxy, Function: nop}}},
	}
	g, err := gateway.New(cfg, gateway.Options{Credentials: map[string]string{testKeyID: testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Close(ctx)
	})
	return g, srv.URL + "/prod"
}

// TestSignedPosterLocalGateway posts through the local gateway, which
// recomputes every signature: ids needing escapes, a gone connection, a
// throttled post, a wrong secret.
func TestSignedPosterLocalGateway(t *testing.T) {
	g, endpoint := newLocalGateway(t)
	ids := []string{"c1=", "A+b/c==", "plain"}
	g.AddVirtualConnections(ids...)
	p, err := NewSignedPoster(testConfig(testSecret), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := p.Send(t.Context(), id, []byte(`{"id":"m1"}`)); err != nil {
			t.Errorf("Send(%q) = %v", id, err)
		}
		if n := g.VirtualDeliveries(id); n != 1 {
			t.Errorf("%q got %d posts, want 1", id, n)
		}
	}

	err = p.Send(t.Context(), "unknown=", []byte(`{}`))
	var gone *apitypes.GoneException
	if !errors.Is(err, reply.ErrGone) || !errors.As(err, &gone) {
		t.Errorf("unknown connection: %v, want ErrGone and a GoneException", err)
	}

	g.SetPostLoad(0, 1, 1)
	var throttled *apitypes.LimitExceededException
	for i := 0; ; i++ {
		err := p.Send(t.Context(), "plain", []byte(`{}`))
		if errors.Is(err, fanout.ErrThrottled) {
			if !errors.As(err, &throttled) {
				t.Errorf("throttled: %v is no LimitExceededException", err)
			}
			break
		}
		if err != nil || i == 10 {
			t.Fatalf("post %d at 1/s: %v; want a throttled post", i, err)
		}
	}
	g.SetPostLoad(0, 0, 0)

	bad, err := NewSignedPoster(testConfig("wrong-secret"), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Send(t.Context(), "plain", []byte(`{}`))
	if err == nil || errors.Is(err, reply.ErrGone) || errors.Is(err, fanout.ErrThrottled) ||
		!strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Errorf("wrong secret: %v, want a 403 InvalidSignatureException", err)
	}
}

// TestSignedPosterAnswers maps each answer, and checks the request's
// shape, against a fake endpoint.
func TestSignedPosterAnswers(t *testing.T) {
	tests := []struct {
		name                string
		status              int
		errorType, body     string
		ok, gone, throttled bool
		wantInErr           string
	}{
		{name: "posted", status: 200, ok: true},
		{name: "gone", status: 410, errorType: "GoneException", body: `{"message":null}`, gone: true},
		{name: "throttled", status: 429, errorType: "LimitExceededException", body: `{"message":"Limit Exceeded"}`, throttled: true},
		{name: "throttled, type with a suffix", status: 429, errorType: "LimitExceededException:http://internal.amazon.com/", throttled: true},
		{name: "forbidden", status: 403, errorType: "ForbiddenException", body: `{"message":"Forbidden"}`, wantInErr: "status 403, ForbiddenException: Forbidden"},
		{name: "server error without a type", status: 502, body: `<html>`, wantInErr: "status 502, no X-Amzn-ErrorType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *http.Request
			var body string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got, body = r, string(b)
				if tt.errorType != "" {
					w.Header().Set("X-Amzn-ErrorType", tt.errorType)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			p, err := NewSignedPoster(testConfig(testSecret), srv.URL+"/prod/")
			if err != nil {
				t.Fatal(err)
			}
			err = p.Send(t.Context(), "c1=", []byte(`{"id":"m1"}`))
			if got.Method != http.MethodPost || got.URL.EscapedPath() != "/prod/@connections/c1%3D" || body != `{"id":"m1"}` ||
				got.Header.Get("Content-Type") != "application/octet-stream" ||
				!strings.HasPrefix(got.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="+testKeyID+"/") ||
				!strings.Contains(got.Header.Get("Authorization"), "/us-east-1/execute-api/aws4_request") {
				t.Errorf("request %s %s %q, headers %v", got.Method, got.URL.EscapedPath(), body, got.Header)
			}
			if (err == nil) != tt.ok || errors.Is(err, reply.ErrGone) != tt.gone || errors.Is(err, fanout.ErrThrottled) != tt.throttled {
				t.Errorf("Send = %v; want ok %v, gone %v, throttled %v", err, tt.ok, tt.gone, tt.throttled)
			}
			if tt.wantInErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantInErr)) {
				t.Errorf("Send = %v, want %q in it", err, tt.wantInErr)
			}
		})
	}
}

func TestNewSignedPosterRefuses(t *testing.T) {
	for _, tt := range []struct {
		name     string
		cfg      aws.Config
		endpoint string
	}{
		{"relative endpoint", testConfig(testSecret), "/prod"},
		{"no credentials", aws.Config{Region: "us-east-1"}, "https://example.com/prod"},
	} {
		if _, err := NewSignedPoster(tt.cfg, tt.endpoint); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestEscapeLabel(t *testing.T) {
	for in, want := range map[string]string{"abc-_.~09": "abc-_.~09", "c1=": "c1%3D", "a/b+c": "a%2Fb%2Bc", "é": "%C3%A9"} {
		if got := escapeLabel(in); got != want {
			t.Errorf("escapeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkPosters compares the two Posters' cost per post through the
// local gateway (signature verified), 16 posts in flight as MAX_IN_FLIGHT
// allows; the client's and the server's CPU share the machine, so the
// difference in posts/s is the client's.
func BenchmarkPosters(b *testing.B) {
	g, endpoint := newLocalGateway(b)
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = "bench" + string(rune('A'+i%26)) + strings.Repeat("x", i%7) + "=" + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
	}
	g.AddVirtualConnections(ids...)
	cfg := testConfig(testSecret)
	cfg.HTTPClient = httpClientForBench(16)
	signed, err := NewSignedPoster(cfg, endpoint)
	if err != nil {
		b.Fatal(err)
	}
	frame := []byte(`{"type":"message","id":"0123456789abcdef0123456789abcdef","from":"alice","message":"hello, everyone","sentAt":"2026-11-29T04:00:00Z"}`)
	for _, bb := range []struct {
		name   string
		poster fanout.Poster
	}{
		{"sdk", NewPoster(NewManagementClient(cfg, endpoint))},
		{"signed", signed},
	} {
		b.Run(bb.name, func(b *testing.B) {
			var next atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bb.poster.Send(context.Background(), ids[next.Add(1)%int64(len(ids))], frame); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
		})
	}
}
