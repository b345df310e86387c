package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

// noRetryClient is the management client with retries off, so each call is
// one request and its error is the gateway's answer.
func noRetryClient(a *testAPI) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(a.server.URL + "/prod"),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		Retryer:      aws.NopRetryer{},
	})
}

// call is one @connections call through the SDK.
type call func(ctx context.Context, c *apigatewaymanagementapi.Client, id string) error

func post(ctx context.Context, c *apigatewaymanagementapi.Client, id string) error {
	_, err := c.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte(`{"type":"message"}`)})
	return err
}

func get(ctx context.Context, c *apigatewaymanagementapi.Client, id string) error {
	_, err := c.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
	return err
}

func del(ctx context.Context, c *apigatewaymanagementapi.Client, id string) error {
	_, err := c.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id})
	return err
}

func TestConnectionsThrottling(t *testing.T) {
	cases := []struct {
		name  string
		burst int
		calls []call // the bucket never refills during the test
		want  []bool // throttled
	}{
		{name: "posts past the burst get 429", burst: 2, calls: []call{post, post, post, post}, want: []bool{false, false, true, true}},
		{name: "GET and DELETE take tokens too", burst: 2, calls: []call{get, del, post}, want: []bool{false, false, true}},
		{name: "burst 0 is at least 1", burst: 0, calls: []call{post, post}, want: []bool{false, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t, func(_ *Config, o *Options) {
				o.Credentials = testCredentials
				o.PostRateLimit = 1e-6 // one token in 11 days: no refill while the test runs
				o.PostBurst = tc.burst
			})
			a.dial(t, "?token=t")
			id := a.gateway.ConnectionIDs()[0]
			client := noRetryClient(a)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var throttled int64
			for i, c := range tc.calls {
				err := c(ctx, client, id)
				var limit *types.LimitExceededException
				switch got := errors.As(err, &limit); {
				case got != tc.want[i]:
					t.Errorf("call %d: %v, want throttled=%v", i, err, tc.want[i])
				case got:
					throttled++
					if status, _ := apiErrorOf(err); status != http.StatusTooManyRequests {
						t.Errorf("call %d: status %d, want 429", i, status)
					}
				case err != nil:
					t.Errorf("call %d: %v", i, err)
				}
			}
			if got := a.gateway.PostStats().Throttled; got != throttled {
				t.Errorf("PostStats().Throttled = %d, want %d", got, throttled)
			}
		})
	}
}

func TestConnectionsGoneIsCounted(t *testing.T) {
	a := newTestAPI(t, func(_ *Config, o *Options) { o.Credentials = testCredentials })
	client := noRetryClient(a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, c := range []call{post, get, del} {
		var gone *types.GoneException
		if err := c(ctx, client, "L0SM9cOFvHcCIhw="); !errors.As(err, &gone) {
			t.Errorf("call %d to an unknown id: %v, want a GoneException", i, err)
		}
	}
	if got := a.gateway.PostStats(); got != (PostStats{Gone: 3}) {
		t.Errorf("PostStats() = %+v, want 3 gone", got)
	}
}

func TestConnectionsLatency(t *testing.T) {
	const latency = 50 * time.Millisecond
	a := newTestAPI(t, func(_ *Config, o *Options) {
		o.Credentials = testCredentials
		o.PostLatency = latency
	})
	a.gateway.AddVirtualConnections("v1")
	client := noRetryClient(a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		call call
		id   string
	}{
		{"post", post, "v1"},
		{"get", get, "v1"},
		{"gone", post, "nobody"},
	} {
		start := time.Now()
		_ = tc.call(ctx, client, tc.id)
		// Only a lower bound: the machine may be slow, never fast.
		if took := time.Since(start); took < latency {
			t.Errorf("%s answered after %v, want at least %v", tc.name, took, latency)
		}
	}
}

func TestVirtualConnections(t *testing.T) {
	a := newTestAPI(t, func(_ *Config, o *Options) { o.Credentials = testCredentials })
	g := a.gateway
	g.AddVirtualConnections("v1", "v2=", "v3")
	g.AddVirtualConnections("v1") // already there: keeps its count
	a.dial(t, "?token=t")
	real := g.ConnectionIDs()
	if len(real) != 1 {
		t.Fatalf("ConnectionIDs() = %v, want the one real connection only", real)
	}
	client := noRetryClient(a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	steps := []struct {
		name     string
		call     call
		id       string
		wantGone bool
	}{
		{"post v1", post, "v1", false},
		{"post v1 again", post, "v1", false},
		{"post v2= (escaped in the path)", post, "v2=", false},
		{"post the real one", post, real[0], false},
		{"get v3", get, "v3", false},
		{"delete v3", del, "v3", false},
		{"post v3 after its delete", post, "v3", true},
		{"get v3 after its delete", get, "v3", true},
	}
	for _, s := range steps {
		err := s.call(ctx, client, s.id)
		var gone *types.GoneException
		if got := errors.As(err, &gone); got != s.wantGone || (!got && err != nil) {
			t.Errorf("%s: %v, want gone=%v", s.name, err, s.wantGone)
		}
	}
	info, err := client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String("v1")})
	if err != nil || info.ConnectedAt == nil || info.LastActiveAt == nil || info.Identity == nil {
		t.Errorf("GetConnection(v1) = %+v, %v", info, err)
	}

	if got, want := g.VirtualCounts(), map[string]int{"v1": 2, "v2=": 1}; !maps.Equal(got, want) {
		t.Errorf("VirtualCounts() = %v, want %v", got, want)
	}
	for id, want := range map[string]int{"v1": 2, "v2=": 1, "v3": 0, "unknown": 0} {
		if got := g.VirtualDeliveries(id); got != want {
			t.Errorf("VirtualDeliveries(%q) = %d, want %d", id, got, want)
		}
	}
	if got, want := g.PostStats(), (PostStats{Posts: 4, VirtualPosts: 3, Gone: 2}); got != want {
		t.Errorf("PostStats() = %+v, want %+v", got, want)
	}
	if ids := g.ConnectionIDs(); !slices.Equal(ids, real) {
		t.Errorf("ConnectionIDs() = %v after the virtual posts, want %v", ids, real)
	}
}

func TestSetPostLoad(t *testing.T) {
	a := newTestAPI(t, func(_ *Config, o *Options) {
		o.Credentials = testCredentials
		o.PostRateLimit, o.PostBurst = 1e-6, 1
	})
	a.gateway.AddVirtualConnections("v1")
	client := noRetryClient(a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var limit *types.LimitExceededException
	for i, step := range []struct {
		set           func()
		wantThrottled bool
	}{
		{nil, false},
		{nil, true},
		{func() { a.gateway.SetPostLoad(0, 0, 0) }, false}, // unlimited
		{func() { a.gateway.SetPostLoad(0, 1e-6, 1) }, false},
		{nil, true},
	} {
		if step.set != nil {
			step.set()
		}
		err := post(ctx, client, "v1")
		if got := errors.As(err, &limit); got != step.wantThrottled || (!got && err != nil) {
			t.Errorf("step %d: %v, want throttled=%v", i, err, step.wantThrottled)
		}
	}
}

func TestPostBurst(t *testing.T) {
	for _, tc := range []struct {
		limit float64
		burst int
		want  int
	}{
		{limit: 1000, burst: 0, want: 100},
		{limit: 5, burst: 0, want: 1},
		{limit: 1000, burst: 7, want: 7},
	} {
		if got := PostBurst(tc.limit, tc.burst); got != tc.want {
			t.Errorf("PostBurst(%v, %d) = %d, want %d", tc.limit, tc.burst, got, tc.want)
		}
	}
}

// benchPayload is a broadcast frame's size and shape.
var benchPayload = []byte(`{"type":"message","id":"0123456789abcdef0123456789abcdef","from":"alice","message":"hello","sentAt":"2026-11-29T00:00:00Z"}`)

func benchVirtualIDs(g *Gateway) []string {
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = fmt.Sprintf("virtual-%03d=", i)
	}
	g.AddVirtualConnections(ids...)
	return ids
}

// BenchmarkConnectionsPost is the worker's path: the real SDK client
// posting to virtual connections, signature verified. On one machine the
// client's own cost (the SDK's middleware and signing) is most of it.
func BenchmarkConnectionsPost(b *testing.B) {
	a := newTestAPI(b, func(_ *Config, o *Options) { o.Credentials = testCredentials })
	ids := benchVirtualIDs(a.gateway)
	client := noRetryClient(a)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			id := ids[next.Add(1)%int64(len(ids))]
			if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: benchPayload}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if got := a.gateway.PostStats().Posts; got < int64(b.N) {
		b.Errorf("Posts = %d, want at least %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

// BenchmarkConnectionsPostServer is the gateway's side alone: requests
// signed once (a signature stays valid for 5 minutes and carries no
// nonce) replayed with a bare HTTP client, so the figure is what the
// endpoint can take, signature still verified every time.
func BenchmarkConnectionsPostServer(b *testing.B) {
	a := newTestAPI(b, func(_ *Config, o *Options) { o.Credentials = testCredentials })
	ids := benchVirtualIDs(a.gateway)
	type signed struct {
		url    string
		header http.Header
	}
	reqs := make([]signed, len(ids))
	for i, id := range ids {
		req, err := http.NewRequest(http.MethodPost, a.server.URL+"/prod/@connections/"+url.PathEscape(id), strings.NewReader(string(benchPayload)))
		if err != nil {
			b.Fatal(err)
		}
		creds := aws.Credentials{AccessKeyID: "AKIDLOCAL", SecretAccessKey: "local-secret"}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(string(benchPayload)), "execute-api", "us-east-1", time.Now()); err != nil {
			b.Fatal(err)
		}
		reqs[i] = signed{url: req.URL.String(), header: req.Header}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s := reqs[next.Add(1)%int64(len(reqs))]
			req, _ := http.NewRequest(http.MethodPost, s.url, strings.NewReader(string(benchPayload)))
			req.Header = s.header.Clone()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}
