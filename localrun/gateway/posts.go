package gateway

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// The @connections API's load injection (Options.PostLatency,
// PostRateLimit, PostBurst), its counters, and virtual connections.
//
// Throttling as AWS documents it: API Gateway throttles with a token
// bucket, and a request over the rate and burst gets "429 Too Many
// Requests", which the client should retry at a limited rate
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-protect.html);
// the account-level quota, 10,000 requests per second by default, is one
// bucket "across HTTP APIs, REST APIs, WebSocket APIs, and WebSocket
// callback APIs"
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html),
// the callback API being @connections; the answer is a "429 Too Many
// Requests" or "Limit Exceeded" error
// (https://aws.amazon.com/premiumsupport/knowledge-center/api-gateway-429-limit/),
// which the Management API models as LimitExceededException, HTTP 429 ("The
// client is sending more than the allowed number of requests per unit of
// time or the WebSocket client side buffer is full",
// https://docs.aws.amazon.com/AWSJavaSDK/latest/javadoc/com/amazonaws/services/apigatewaymanagementapi/model/LimitExceededException.html;
// the status is the model's httpError, which aws-sdk-go-v2's schema
// carries). The "client side buffer is full" cause is not emulated: a
// real connection's post waits for its socket instead. Which of POST,
// GET and DELETE the quota counts is not documented beyond "requests": all
// three take a token here. Where in AWS's checks throttling sits is not
// documented either: here it follows the signature check, so a refused
// signature is always 403.

// errLimitExceeded is the Management API's throttling error type, which
// aws-sdk-go-v2 maps to *types.LimitExceededException.
const errLimitExceeded = "LimitExceededException"

// PostStats count the @connections API's answers since the gateway
// started.
type PostStats struct {
	// Posts are the POSTs answered 200, to real and virtual connections.
	Posts int64
	// VirtualPosts are the part of Posts that went to virtual connections.
	VirtualPosts int64
	// Throttled are the requests answered 429 LimitExceededException.
	Throttled int64
	// Gone are the requests answered 410 GoneException.
	Gone int64
}

// postLimits are the injected latency and throttle, and the counters.
type postLimits struct {
	load atomic.Pointer[postLoad]

	posts, virtualPosts, throttled, gone atomic.Int64

	// virtual are the benchmark's virtual connections, by id.
	mu      sync.RWMutex
	virtual map[string]*virtualConn
}

// postLoad is one setting of the injected latency and throttle.
type postLoad struct {
	latency time.Duration
	limiter *rate.Limiter // nil: unlimited
}

func newPostLimits(o Options) *postLimits {
	p := &postLimits{virtual: map[string]*virtualConn{}}
	p.set(o.PostLatency, o.PostRateLimit, o.PostBurst)
	return p
}

func (p *postLimits) set(latency time.Duration, limit float64, burst int) {
	l := &postLoad{latency: latency}
	if limit > 0 {
		l.limiter = rate.NewLimiter(rate.Limit(limit), PostBurst(limit, burst))
	}
	p.load.Store(l)
}

// SetPostLoad replaces Options.PostLatency, PostRateLimit and PostBurst
// while the gateway runs, with a full bucket: a benchmark measures runs
// with and without them on the same connections.
func (g *Gateway) SetPostLoad(latency time.Duration, rateLimit float64, burst int) {
	g.posts.set(latency, rateLimit, burst)
}

// PostBurst is the bucket size a rate limit gets: burst (Options.PostBurst)
// if set, else a tenth of a second's worth of the rate (at least 1).
func PostBurst(limit float64, burst int) int {
	if burst > 0 {
		return burst
	}
	return max(1, int(limit/10))
}

// admit takes a token (false: throttled), then waits out the injected
// latency, holding no lock, or until the request is cancelled.
func (p *postLimits) admit(ctx context.Context) bool {
	l := p.load.Load()
	ok := l.limiter == nil || l.limiter.Allow()
	if l.latency > 0 {
		t := time.NewTimer(l.latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if !ok {
		p.throttled.Add(1)
	}
	return ok
}

// virtualConn is a connection id the benchmark registered: it has no
// socket, never ran $connect and never runs $disconnect; a POST to it only
// counts.
type virtualConn struct {
	connectedAt time.Time
	deliveries  atomic.Int64
	lastActive  atomic.Int64 // Unix milliseconds
}

// AddVirtualConnections registers virtual connections, for benchmarks only:
// the @connections API answers for them as for open connections (POST 200
// and counted, GET, DELETE removes them) but they have no socket, no
// $connect and no $disconnect, and ConnectionIDs does not list them. They
// let a benchmark measure a fan-out to more connections than the machine
// can hold sockets for. An id already registered keeps its count.
func (g *Gateway) AddVirtualConnections(ids ...string) {
	now := g.opts.Now()
	p := g.posts
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if _, ok := p.virtual[id]; ok {
			continue
		}
		v := &virtualConn{connectedAt: now}
		v.lastActive.Store(now.UnixMilli())
		p.virtual[id] = v
	}
}

// VirtualDeliveries is how many POSTs virtual connection id was answered
// 200 for (0 for an unknown id).
func (g *Gateway) VirtualDeliveries(id string) int {
	g.posts.mu.RLock()
	defer g.posts.mu.RUnlock()
	if v, ok := g.posts.virtual[id]; ok {
		return int(v.deliveries.Load())
	}
	return 0
}

// VirtualCounts snapshots the deliveries of every virtual connection still
// registered.
func (g *Gateway) VirtualCounts() map[string]int {
	g.posts.mu.RLock()
	defer g.posts.mu.RUnlock()
	m := make(map[string]int, len(g.posts.virtual))
	for id, v := range g.posts.virtual {
		m[id] = int(v.deliveries.Load())
	}
	return m
}

// PostStats snapshots the @connections counters.
func (g *Gateway) PostStats() PostStats {
	p := g.posts
	return PostStats{Posts: p.posts.Load(), VirtualPosts: p.virtualPosts.Load(), Throttled: p.throttled.Load(), Gone: p.gone.Load()}
}

func (p *postLimits) lookupVirtual(id string) *virtualConn {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.virtual[id]
}

func (p *postLimits) removeVirtual(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.virtual, id)
}

// virtualAPI answers a request to virtual connection v.
func (g *Gateway) virtualAPI(w http.ResponseWriter, r *http.Request, id string, v *virtualConn) {
	switch r.Method {
	case http.MethodPost:
		v.deliveries.Add(1)
		v.lastActive.Store(g.opts.Now().UnixMilli())
		g.posts.posts.Add(1)
		g.posts.virtualPosts.Add(1)
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		writeConnectionInfo(w, v.connectedAt, v.lastActive.Load(), "127.0.0.1", "wsapi virtual connection (benchmark)")
	case http.MethodDelete:
		g.posts.removeVirtual(id)
		w.WriteHeader(http.StatusNoContent)
	default:
		apiError(w, http.StatusMethodNotAllowed, "BadRequestException", "method not allowed")
	}
}
