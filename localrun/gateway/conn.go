package gateway

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"wsapi/vtl"
)

// conn is one accepted WebSocket connection.
type conn struct {
	g           *Gateway
	id          string
	connectedAt time.Time
	sourceIP    string
	userAgent   string
	domainName  string
	authorizer  map[string]any // $context.authorizer, kept for the connection's life

	ws         *websocket.Conn
	tap        *frameTap
	lastActive atomic.Int64 // epoch ms of the last frame either way

	ready       chan struct{} // closed once ws is set, or the handshake failed
	closeOnce   sync.Once
	closeStatus websocket.StatusCode // set by whoever closed first
	done        chan struct{}
}

// context builds the template variables of one event on this connection.
func (c *conn) context(routeKey, eventType string, now time.Time, requestID string) vtl.APIGatewayData {
	cfg := c.g.cfg
	return vtl.APIGatewayData{
		Context: vtl.WebSocketContext{
			APIID:             cfg.APIID,
			ConnectedAt:       c.connectedAt.UnixMilli(),
			ConnectionID:      c.id,
			DomainName:        c.domainName,
			EventType:         eventType,
			ExtendedRequestID: requestID,
			MessageDirection:  "IN",
			RequestID:         requestID,
			RequestTime:       requestTime(now),
			RequestTimeEpoch:  now.UnixMilli(),
			RouteKey:          routeKey,
			Stage:             cfg.Stage,
			Authorizer:        c.authorizer,
			Identity:          vtl.Identity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
		},
		StageVariables: cfg.StageVariables,
	}
}

// serve reads messages until the connection ends, then runs $disconnect.
// Messages of one connection are handled in order, one at a time.
func (c *conn) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.watchdog(ctx)

	var readErr error
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			readErr = err
			break
		}
		c.touch()
		if c.tap.exceeded() {
			c.close(websocket.StatusMessageTooBig, "frame too big")
			break
		}
		c.handleMessage(ctx, string(data))
	}
	clean := c.finish(readErr)
	c.g.unregister(c)
	c.disconnect(clean)
}

// finish records how the connection ended and reports whether a close
// frame was exchanged (either side), false when the client just vanished.
func (c *conn) finish(readErr error) bool {
	status := websocket.CloseStatus(readErr)
	// coder/websocket closes with 1009 itself past the read limit, and says
	// so only in the error text.
	if status == -1 && readErr != nil && strings.Contains(readErr.Error(), "read limited at") {
		status = websocket.StatusMessageTooBig
	}
	c.closeOnce.Do(func() { c.closeStatus = status; close(c.done) }) // keeps ours if we closed first
	return c.closeStatus != -1
}

// close sends a close frame once.
func (c *conn) close(status websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.closeStatus = status
		close(c.done)
		go func() {
			<-c.ready
			if c.ws != nil {
				_ = c.ws.Close(status, reason)
			}
		}()
	})
}

func (c *conn) touch() { c.lastActive.Store(c.g.opts.Now().UnixMilli()) }

// watchdog enforces the idle timeout and the maximum connection duration.
func (c *conn) watchdog(ctx context.Context) {
	limits := c.g.cfg.Limits
	tick := min(limits.IdleTimeout, limits.MaxConnection) / 4
	tick = max(tick, 10*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-t.C:
			now := c.g.opts.Now()
			if now.Sub(c.connectedAt) >= limits.MaxConnection {
				c.close(websocket.StatusGoingAway, "connection duration limit")
				return
			}
			if now.Sub(time.UnixMilli(c.lastActive.Load())) >= limits.IdleTimeout {
				c.close(websocket.StatusGoingAway, "idle timeout")
				return
			}
		}
	}
}

// send writes one text frame to the client.
func (c *conn) send(ctx context.Context, payload []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case <-c.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if c.ws == nil {
		return errors.New("connection was not established")
	}
	if err := c.ws.Write(ctx, websocket.MessageText, payload); err != nil {
		return err
	}
	c.touch()
	return nil
}

// handleMessage routes one client message and sends what the route
// response says back to the client.
func (c *conn) handleMessage(ctx context.Context, body string) {
	g := c.g
	now := g.opts.Now()
	requestID := newID(12)
	log := g.log.With("connectionId", c.id, "requestId", requestID)

	if g.limiter != nil && !g.limiter.Allow() {
		_ = c.send(ctx, errorFrame("Too Many Requests", c.id, requestID))
		return
	}
	route := g.selectRoute(body)
	if route == nil {
		_ = c.send(ctx, errorFrame("Forbidden", c.id, requestID))
		return
	}
	if route.Integration == nil {
		return
	}
	data := c.context(route.Key, "MESSAGE", now, requestID)
	data.Context.MessageID = newID(12)
	res, err := g.integrate(ctx, route, data, body)
	var fnErr *FunctionError
	if err != nil && !errors.As(err, &fnErr) {
		log.Warn("integration failed", "route", route.Key, "error", err)
		_ = c.send(ctx, errorFrame("Internal server error", c.id, requestID))
		return
	}
	reply, ok := g.integrationResponse(route, res, data)
	if !ok {
		if fnErr != nil {
			log.Warn("function error", "route", route.Key, "errorType", fnErr.Type)
			_ = c.send(ctx, errorFrame("Internal server error", c.id, requestID))
		}
		return
	}
	if err := c.send(ctx, reply); err != nil {
		log.Info("reply not delivered", "error", err)
	}
}

// selectRoute evaluates the route selection expression on the body; a body
// that is not JSON, or names no route, goes to $default.
func (g *Gateway) selectRoute(body string) *Route {
	path := strings.TrimPrefix(g.cfg.RouteSelectionExpression, "$request.body.")
	if key, ok := bodyField(body, path); ok {
		if r, ok := g.cfg.Routes[key]; ok && key != "$connect" && key != "$disconnect" {
			return r
		}
	}
	return g.cfg.Routes["$default"]
}

// integrationResponse picks the integration response for a result and
// renders it; ok is false when nothing goes back to the client (no route
// response, or no integration response matches).
func (g *Gateway) integrationResponse(route *Route, res Result, data vtl.APIGatewayData) ([]byte, bool) {
	if route.RouteResponseSelectionExpression == "" || !contains(route.RouteResponses, "$default") {
		return nil, false
	}
	ir := selectIntegrationResponse(route.Integration.Responses, res.Error)
	if ir == nil {
		return nil, false
	}
	payload := res.Payload
	if res.Error != nil {
		payload = lambdaErrorPayload(res.Error)
	}
	if len(ir.ResponseTemplates) == 0 {
		return payload, true
	}
	key := selectTemplateKey(ir.TemplateSelectionExpression, string(payload))
	tmpl, ok := ir.ResponseTemplates[key]
	if !ok {
		if tmpl, ok = ir.ResponseTemplates["$default"]; !ok {
			return payload, true
		}
	}
	data.Body = string(payload)
	out, err := tmpl.RenderString(&data)
	if err != nil {
		g.log.Warn("response template failed", "route", route.Key, "error", err)
		return errorFrame("Internal server error", data.Context.ConnectionID, data.Context.RequestID), true
	}
	return []byte(out), true
}

// selectIntegrationResponse matches a Lambda error's message against the
// /regex/ keys (API Gateway selects on errorMessage for non-proxy Lambda
// integrations); $default catches the rest, successes included.
func selectIntegrationResponse(responses map[string]*IntegrationResponse, fnErr *FunctionError) *IntegrationResponse {
	if fnErr != nil {
		for key, ir := range responses {
			if len(key) < 2 || key[0] != '/' || key[len(key)-1] != '/' {
				continue
			}
			if re, err := regexp.Compile("^(?:" + key[1:len(key)-1] + ")$"); err == nil && re.MatchString(fnErr.Message) {
				return ir
			}
		}
	}
	return responses["$default"]
}

// lambdaErrorPayload is the body Lambda returns for a function error.
func lambdaErrorPayload(e *FunctionError) []byte {
	return []byte(`{"errorMessage":` + quote(e.Message) + `,"errorType":` + quote(e.Type) + `}`)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// disconnect runs the $disconnect integration. API Gateway runs it on a
// best-effort basis and ignores its result, and so do we (errors are logged).
func (c *conn) disconnect(clean bool) {
	g := c.g
	run := func() {
		defer g.pending.Done()
		route := g.cfg.Routes["$disconnect"]
		if route == nil || route.Integration == nil {
			return
		}
		requestID := newID(12)
		data := c.context("$disconnect", "DISCONNECT", g.opts.Now(), requestID)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := g.integrate(ctx, route, data, ""); err != nil {
			g.log.Warn("$disconnect integration failed", "connectionId", c.id, "requestId", requestID, "error", err)
		}
	}
	if !clean && g.opts.DisconnectDelay > 0 {
		time.AfterFunc(g.opts.DisconnectDelay, run)
		return
	}
	run()
}
