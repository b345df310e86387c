package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"wsapi/contract"
	"wsapi/vtl"
)

// Options tune the emulator beyond what the template says.
type Options struct {
	Logger *slog.Logger
	// Credentials are the access key ids and secrets whose SigV4
	// signatures the @connections API accepts, checked as AWS does
	// (sigv4.go). Empty, for unit tests of other features only: the
	// Authorization header's shape and scope are checked, not the
	// signature; the local run always sets them.
	Credentials map[string]string
	// DisconnectDelay postpones the $disconnect integration of connections
	// that ended without a close frame, as API Gateway's best-effort
	// $disconnect may lag; tests use it to meet a 410 deterministically.
	DisconnectDelay time.Duration
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Server bounds connections and plain requests on the HTTP server
	// (HTTPServer, Listener); zero fields take DefaultServerLimits.
	Server ServerLimits
	// PostLatency delays every @connections answer past the signature
	// check (POST, GET, DELETE, 410 and 429 alike), emulating the round
	// trip a Lambda function pays per call to AWS's endpoint; no lock is
	// held meanwhile, so concurrent calls overlap as they do against AWS.
	PostLatency time.Duration
	// PostRateLimit is the rate, per second, of the token bucket every
	// @connections request (POST, GET, DELETE) takes a token from, as the
	// account-level throttle counts each request to any API and callback
	// API (posts.go); past it the answer is 429 LimitExceededException.
	// 0: unlimited.
	PostRateLimit float64
	// PostBurst is that bucket's size; 0: max(1, PostRateLimit/10), a
	// tenth of a second's worth.
	PostBurst int
}

// Gateway serves the WebSocket API on one stage, and its @connections API.
type Gateway struct {
	cfg     Config
	opts    Options
	log     *slog.Logger
	limiter *rate.Limiter // nil: unthrottled
	posts   *postLimits
	signer  *v4.Signer // shared: it caches the derived signing key per day, region and service

	// responseKeys are the /regex/ integration response keys of each
	// non-proxy integration, compiled, in the order they are tried.
	responseKeys map[*Integration][]*responseKey

	mu      sync.Mutex
	conns   map[string]*conn
	closed  bool
	pending sync.WaitGroup // connections and delayed $disconnects
}

// New checks cfg and returns a gateway; serve it with an http.Server.
func New(cfg Config, opts Options) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	g := &Gateway{cfg: cfg, opts: opts, log: opts.Logger, conns: map[string]*conn{}, responseKeys: map[*Integration][]*responseKey{},
		posts: newPostLimits(opts), signer: v4.NewSigner()}
	for _, r := range cfg.Routes {
		if r.Integration == nil || r.Integration.proxy() {
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(r.Integration.Responses)) {
			if key != contract.SelectionKeyDefault {
				rk, _ := parseResponseKey(key) // Validate parsed it
				g.responseKeys[r.Integration] = append(g.responseKeys[r.Integration], rk)
			}
		}
	}
	for _, w := range cfg.Warnings() {
		g.log.Warn(w)
	}
	if cfg.RateLimit > 0 {
		g.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), max(cfg.BurstLimit, 1))
	}
	return g, nil
}

// ServeHTTP answers WebSocket handshakes on /{stage} and the @connections
// API on /{stage}/@connections/{id}.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	stagePath := "/" + g.cfg.Stage
	switch {
	case r.URL.Path == stagePath || r.URL.Path == stagePath+"/":
		g.handshake(w, r)
	case strings.HasPrefix(r.URL.Path, stagePath+"/@connections/"):
		// A body past the largest message API Gateway accepts is never
		// read whole, and the connection is not kept for another request.
		r.Body = http.MaxBytesReader(w, r.Body, g.cfg.Limits.MaxMessageBytes+1)
		g.connectionsAPI(w, r)
	default:
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Forbidden"})
	}
}

// Close ends every connection with 1001 (going away), runs their
// $disconnect, and waits for everything to finish or ctx to end.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	conns := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.close(websocket.StatusGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { g.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// Clients that never answered the close frame are cut off.
		for _, c := range conns {
			<-c.ready
			if c.ws != nil {
				_ = c.ws.CloseNow()
			}
		}
		return fmt.Errorf("gateway close: %w", ctx.Err())
	}
}

// ConnectionIDs lists the open connections.
func (g *Gateway) ConnectionIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]string, 0, len(g.conns))
	for id := range g.conns {
		ids = append(ids, id)
	}
	return ids
}

func (g *Gateway) lookup(id string) *conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns[id]
}

// register adds c unless the gateway is closing.
func (g *Gateway) register(c *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.conns[c.id] = c
	g.pending.Add(1)
	return true
}

func (g *Gateway) unregister(c *conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.conns, c.id)
}

// handshake runs $connect: identity sources, the authorizer and the
// integration; only when all pass is the WebSocket accepted.
func (g *Gateway) handshake(w http.ResponseWriter, r *http.Request) {
	if !isUpgrade(r) {
		writeJSON(w, http.StatusUpgradeRequired, map[string]string{"message": "Upgrade Required"})
		return
	}
	// The server's read and write timeouts are for plain requests. A
	// handshake waits on the authorizer and $connect (bounded by their
	// functions' timeouts and the integration timeout): a read deadline
	// passing meanwhile would cancel r.Context() under them, a write
	// deadline would fail the 101. The WebSocket then lives under API
	// Gateway's idle and duration limits.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	now := g.opts.Now()
	c := &conn{
		g:           g,
		id:          newID(11),
		connectedAt: now,
		sourceIP:    sourceIP(r),
		userAgent:   r.Header.Get("User-Agent"),
		domainName:  r.Host,
		done:        make(chan struct{}),
		ready:       make(chan struct{}),
	}
	c.lastActive.Store(now.UnixMilli())
	data := c.context(contract.RouteConnect, "CONNECT", now, newID(11))
	log := g.log.With("connectionId", c.id, "requestId", data.Context.RequestID)

	route := g.cfg.Routes[contract.RouteConnect]
	if route != nil && route.Authorizer != nil {
		status, auth := g.authorize(r.Context(), r, route.Authorizer, &data.Context, log)
		if status != http.StatusOK {
			writeJSON(w, status, map[string]string{"message": http.StatusText(status)})
			return
		}
		c.authorizer = auth
		data.Context.Authorizer = auth
	}
	var subprotocols []string
	if route != nil && route.Integration != nil {
		if route.Integration.proxy() {
			status, protocol := g.connectProxy(r, route, data, log)
			if status < 200 || status > 299 {
				// The client sees the status only (websocket-connect-route-subprotocol:
				// "Unexpected server response: 400").
				w.WriteHeader(status)
				return
			}
			if protocol != "" {
				subprotocols = []string{protocol}
			}
		} else if status := g.connectNonProxy(r, route, data, log); status != http.StatusOK {
			writeJSON(w, status, map[string]string{"message": "Internal server error"})
			return
		}
	}

	// Registered before the 101 goes out: the backend may post to the
	// connection as soon as the client knows it is connected.
	if !g.register(c) {
		writeJSON(w, http.StatusGone, map[string]string{"message": "Gone"})
		return
	}
	c.tap = &frameTap{limit: g.cfg.Limits.MaxFrameBytes}
	tw := &tapWriter{ResponseWriter: w, tap: c.tap}
	ws, err := websocket.Accept(tw, r, &websocket.AcceptOptions{
		Subprotocols:       subprotocols,
		InsecureSkipVerify: true, // API Gateway does not check Origin
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		log.Warn("websocket accept failed", "error", err)
		if tw.raw != nil {
			_ = tw.raw.Close() // hijacked, so no longer net/http's to close
		}
		close(c.ready)
		g.unregister(c)
		g.pending.Done()
		return
	}
	ws.SetReadLimit(g.cfg.Limits.MaxMessageBytes)
	c.ws, c.raw = ws, tw.raw
	close(c.ready)
	log.Info("connected", "principalId", c.authorizer[contract.AuthContextPrincipalID])
	c.serve()
}

// connectProxy invokes a proxy $connect integration and returns the status
// the handshake gets: the function's statusCode (2xx accepts, anything else
// refuses with that status: apigateway-websocket-api-route-keys-connect-disconnect,
// websocket-connect-route-subprotocol), or 502 when the function fails or
// answers something that is no proxy response. protocol is the
// Sec-WebSocket-Protocol header it returned, which the 101 carries.
func (g *Gateway) connectProxy(r *http.Request, route *Route, data vtl.APIGatewayData, log *slog.Logger) (status int, protocol string) {
	payload, err := json.Marshal(connectProxyEvent(data, r))
	if err != nil {
		log.Error("$connect proxy event", "error", err)
		return http.StatusInternalServerError, ""
	}
	res, err := g.invoke(r.Context(), route, payload)
	switch {
	case err != nil:
		log.Warn("$connect integration failed; refusing the connection with 502", "error", err)
		return http.StatusBadGateway, ""
	case res.Error != nil:
		log.Warn("$connect function error; refusing the connection with 502", "errorType", res.Error.Type)
		return http.StatusBadGateway, ""
	}
	resp, err := parseProxyResponse(res.Payload)
	if err == nil && resp.StatusCode == nil {
		err = errors.New("malformed Lambda proxy response: no statusCode")
	}
	if err == nil && (*resp.StatusCode < 200 || *resp.StatusCode > 599) {
		err = fmt.Errorf("malformed Lambda proxy response: statusCode %d", *resp.StatusCode)
	}
	if err != nil {
		log.Warn("$connect function answered no proxy response; refusing the connection with 502", "error", err)
		return http.StatusBadGateway, ""
	}
	if *resp.StatusCode > 299 {
		log.Info("$connect function refused the connection", "status", *resp.StatusCode)
	}
	for k, v := range resp.Headers {
		if strings.EqualFold(k, "Sec-WebSocket-Protocol") {
			protocol = v
		}
	}
	return *resp.StatusCode, protocol
}

// connectNonProxy runs a non-proxy $connect integration. Whatever the
// function returns, errors included, the client is connected: users report
// that API Gateway does so (re:Post QU8pVByT1jRvW3hb4MD6UtoQ) and no page
// documents a way for a non-proxy integration to refuse. Only a request
// API Gateway cannot build (its template fails) refuses, with 500.
func (g *Gateway) connectNonProxy(r *http.Request, route *Route, data vtl.APIGatewayData, log *slog.Logger) int {
	payload, err := g.requestPayload(route.Integration, data, "")
	if err != nil {
		log.Warn("$connect request template failed; refusing the connection", "error", err)
		return http.StatusInternalServerError
	}
	res, err := g.invoke(r.Context(), route, payload)
	switch {
	case err != nil:
		log.Warn("$connect integration failed, but a non-proxy $connect integration cannot refuse a connection: connecting anyway",
			"error", err)
	case res.Error != nil:
		log.Warn("$connect function error, but a non-proxy $connect integration cannot refuse a connection: connecting anyway",
			"errorType", res.Error.Type)
	}
	return http.StatusOK
}

func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// sourceIP is $context.identity.sourceIp: the address of the TCP
// connection. Headers (X-Forwarded-For) are the client's to write, and
// API Gateway does not take it from them.
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// newID returns a random id shaped like API Gateway's (base64 of n bytes):
// with n = 11, 16 characters ending in '=', as the connection, request and
// message ids in AWS's examples (L0SM9cOFvHcCIhw=), so the '=' a client or
// the backend must escape in @connections paths is always there. '/' and '+'
// are replaced: no example shows them.
func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.NewReplacer("/", "x", "+", "y").Replace(base64.StdEncoding.EncodeToString(b))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorFrame is what API Gateway sends a client when it cannot route or
// integrate a message, byte for byte as clients have reported it
// (aws-samples/simple-websockets-chat-app#42, #46).
func errorFrame(message, connectionID, requestID string) []byte {
	return []byte(`{"message": ` + quote(message) + `, "connectionId":` + quote(connectionID) + `, "requestId":` + quote(requestID) + `}`)
}

// requestTime is $context.requestTime's format (CLF).
func requestTime(t time.Time) string { return t.UTC().Format("02/Jan/2006:15:04:05 -0700") }

// integrate renders the route's request template for data and invokes its
// function. A function error comes back as *FunctionError; refusals by the
// passthrough behavior and invalid template output as other errors.
func (g *Gateway) integrate(ctx context.Context, route *Route, data vtl.APIGatewayData, body string) (Result, error) {
	payload, err := g.requestPayload(route.Integration, data, body)
	if err != nil {
		return Result{}, err
	}
	res, err := g.invoke(ctx, route, payload)
	if err != nil {
		return Result{}, err
	}
	if res.Error != nil {
		return res, res.Error
	}
	return res, nil
}

// invoke calls the route's function with the integration's timeout.
func (g *Gateway) invoke(ctx context.Context, route *Route, payload []byte) (Result, error) {
	in := route.Integration
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = 29 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := in.Function.Invoke(ctx, payload)
	if err != nil {
		return Result{}, fmt.Errorf("invoke %s integration: %w", route.Key, err)
	}
	return res, nil
}

var (
	errUnsupportedMediaType = errors.New("no request template matches and the passthrough behavior refuses the body")
	errInvalidPayload       = errors.New("the request template did not render JSON, which Lambda refuses")
)

// requestPayload selects and renders the request template, or passes the
// body through as the passthrough behavior allows.
func (g *Gateway) requestPayload(in *Integration, data vtl.APIGatewayData, body string) ([]byte, error) {
	key := selectTemplateKey(in.TemplateSelectionExpression, body)
	tmpl, ok := in.RequestTemplates[key]
	if !ok {
		tmpl, ok = in.RequestTemplates[contract.SelectionKeyDefault]
	}
	if !ok {
		switch in.PassthroughBehavior {
		case "NEVER":
			return nil, errUnsupportedMediaType
		case "WHEN_NO_TEMPLATES":
			if len(in.RequestTemplates) > 0 {
				return nil, errUnsupportedMediaType
			}
		}
		if !json.Valid([]byte(body)) {
			return nil, errInvalidPayload
		}
		return []byte(body), nil
	}
	data.Body = body
	out, err := tmpl.RenderString(&data)
	if err != nil {
		return nil, fmt.Errorf("render request template: %w", err)
	}
	if !json.Valid([]byte(out)) {
		return nil, errInvalidPayload
	}
	return []byte(out), nil
}

// selectTemplateKey evaluates a template selection expression: a static
// key (`\$default` is the escaped $default) or ${request.body.<path>}.
func selectTemplateKey(expr, body string) string {
	switch {
	case expr == "" || expr == `\$default`:
		return contract.SelectionKeyDefault
	case strings.HasPrefix(expr, "${request.body.") && strings.HasSuffix(expr, "}"):
		v, _ := bodyField(body, strings.TrimSuffix(strings.TrimPrefix(expr, "${request.body."), "}"))
		return v
	}
	return strings.ReplaceAll(expr, `\$`, "$")
}

// bodyField reads a dotted path from a JSON object body, as a string.
// Strings come back as they are, other scalars as their JSON text.
func bodyField(body, path string) (string, bool) {
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return "", false
	}
	for _, part := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = obj[part]; !ok {
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case float64, bool:
		b, _ := json.Marshal(x)
		return string(b), true
	}
	return "", false
}
