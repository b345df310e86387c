package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"wsapi/contract"
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
	raw        net.Conn // the socket under ws, for release
	tap        *frameTap
	lastActive atomic.Int64 // epoch ms of the last frame either way

	ready       chan struct{} // closed once ws is set, or the handshake failed
	closeOnce   sync.Once
	closeStatus websocket.StatusCode // set by whoever closed first; -1: no close frame
	closeReason string
	closing     bool // close claimed closeOnce: its goroutine releases the socket
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
		typ, data, err := c.ws.Read(ctx)
		if err != nil {
			readErr = err
			break
		}
		c.touch()
		if c.tap.exceeded() {
			c.close(websocket.StatusMessageTooBig, "frame too big")
			break
		}
		if typ == websocket.MessageBinary {
			// "If a client app sends a binary frame, API Gateway rejects it
			// and disconnects the client with code 1003"
			// (websocket-api-develop-binary-media-types).
			c.close(websocket.StatusUnsupportedData, "binary frames are not supported")
			break
		}
		c.handleMessage(ctx, string(data))
	}
	clean := c.finish(readErr)
	c.g.unregister(c)
	c.release()
	c.disconnect(clean)
}

// lingerTimeout bounds how long release drains a client that keeps sending
// after the connection ended.
const lingerTimeout = 2 * time.Second

// release frees the socket of a connection whose reads ended. When the
// gateway closed it (close), that goroutine's Close closes the socket once
// the close handshake is over or its own timeouts (5 s each way) pass.
// Otherwise the library has closed it only after a clean close handshake,
// not when the client vanished, broke the protocol or sent too much (it may
// have written a 1002 or 1009 close frame first): the socket is closed here.
// Closing with unread bytes would reset the connection and could destroy
// that frame on its way, so the write side is shut first and what the
// client still sends is drained for a bounded time, as net/http does.
func (c *conn) release() {
	if c.closing {
		return
	}
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		if c.raw.SetReadDeadline(time.Now().Add(lingerTimeout)) == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(c.raw, 1<<20))
		}
	}
	// Closes the socket, and with it everything the library runs for it.
	_ = c.ws.CloseNow()
}

// finish records how the connection ended and reports whether a close
// frame was exchanged (either side), false when the client just vanished.
func (c *conn) finish(readErr error) bool {
	status := websocket.CloseStatus(readErr)
	reason := ""
	var ce websocket.CloseError
	if errors.As(readErr, &ce) {
		reason = ce.Reason
	}
	// coder/websocket closes with 1009 itself past the read limit, and says
	// so only in the error text.
	if status == -1 && readErr != nil && strings.Contains(readErr.Error(), "read limited at") {
		status = websocket.StatusMessageTooBig
	}
	// Keeps ours if we closed first.
	c.closeOnce.Do(func() { c.closeStatus, c.closeReason = status, reason; close(c.done) })
	return c.closeStatus != -1
}

// close sends a close frame once.
func (c *conn) close(status websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.closeStatus, c.closeReason = status, reason
		c.closing = true
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
	requestID := newID(11)
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
	data.Context.MessageID = newID(11)
	var reply []byte
	if route.Integration.proxy() {
		reply = c.proxyMessage(ctx, route, data, body, log)
	} else {
		reply = c.nonProxyMessage(ctx, route, data, body, log)
	}
	if reply == nil {
		return
	}
	if err := c.send(ctx, reply); err != nil {
		log.Info("reply not delivered", "error", err)
	}
}

// internalError is the frame of a message API Gateway could not integrate.
func internalError(data vtl.APIGatewayData) []byte {
	return errorFrame("Internal server error", data.Context.ConnectionID, data.Context.RequestID)
}

// proxyMessage invokes a proxy integration with the MESSAGE event and
// returns the frame for the client: the response's body when the route is
// two-way ("The body of your Lambda function should return",
// apigateway-websocket-api-route-response), whatever its statusCode;
// nothing on a one-way route. A failed function gets the error frame, on
// one-way routes too (aws-samples/simple-websockets-chat-app#42).
func (c *conn) proxyMessage(ctx context.Context, route *Route, data vtl.APIGatewayData, body string, log *slog.Logger) []byte {
	payload, err := json.Marshal(messageProxyEvent(data, body))
	if err != nil {
		log.Error("proxy event", "route", route.Key, "error", err)
		return internalError(data)
	}
	res, err := c.g.invoke(ctx, route, payload)
	switch {
	case err != nil:
		log.Warn("integration failed", "route", route.Key, "error", err)
		return internalError(data)
	case res.Error != nil:
		log.Warn("function error", "route", route.Key, "errorType", res.Error.Type)
		return internalError(data)
	}
	resp, err := parseProxyResponse(res.Payload)
	if err != nil {
		log.Warn("function answered no proxy response", "route", route.Key, "error", err)
		return internalError(data)
	}
	if !route.twoWay() || resp.Body == nil || *resp.Body == "" {
		return nil
	}
	return []byte(*resp.Body)
}

// nonProxyMessage renders the request template, invokes the function and
// returns the frame its integration response makes, if the route is two-way.
func (c *conn) nonProxyMessage(ctx context.Context, route *Route, data vtl.APIGatewayData, body string, log *slog.Logger) []byte {
	g := c.g
	res, err := g.integrate(ctx, route, data, body)
	var fnErr *FunctionError
	if err != nil && !errors.As(err, &fnErr) {
		log.Warn("integration failed", "route", route.Key, "error", err)
		return internalError(data)
	}
	if fnErr != nil {
		log.Warn("function error", "route", route.Key, "errorType", fnErr.Type)
	}
	if !route.twoWay() {
		if fnErr != nil {
			return internalError(data)
		}
		return nil
	}
	data.Body = body
	return g.integrationResponse(route, res, data, log)
}

// selectRoute evaluates the route selection expression on the body; a body
// that is not JSON, or names no route, goes to $default.
func (g *Gateway) selectRoute(body string) *Route {
	path := strings.TrimPrefix(g.cfg.RouteSelectionExpression, "$request.body.")
	if key, ok := bodyField(body, path); ok {
		if r, ok := g.cfg.Routes[key]; ok && key != contract.RouteConnect && key != contract.RouteDisconnect {
			return r
		}
	}
	return g.cfg.Routes[contract.RouteDefault]
}

// integrationResponse selects the integration response for a result and
// renders it into the frame for the client. data.Body is the client's
// message, which ${request.body...} template selection reads; templates see
// the function's payload (or Lambda's error document) as $input.body.
func (g *Gateway) integrationResponse(route *Route, res Result, data vtl.APIGatewayData, log *slog.Logger) []byte {
	ir := g.selectIntegrationResponse(route.Integration, res.Error)
	payload := res.Payload
	if res.Error != nil {
		payload = lambdaErrorPayload(res.Error)
	}
	if ir == nil {
		// Validate requires $default on two-way routes.
		return internalError(data)
	}
	if len(ir.ResponseTemplates) == 0 {
		return payload
	}
	key := selectTemplateKey(ir.TemplateSelectionExpression, data.Body)
	tmpl, ok := ir.ResponseTemplates[key]
	if !ok {
		if tmpl, ok = ir.ResponseTemplates[contract.SelectionKeyDefault]; !ok {
			return payload
		}
	}
	data.Body = string(payload)
	out, err := tmpl.RenderString(&data)
	if err != nil {
		log.Warn("response template failed", "route", route.Key, "integrationResponse", ir.Key, "error", err)
		return internalError(data)
	}
	return []byte(out)
}

// selectIntegrationResponse picks the integration response of a result. A
// function error's errorMessage is matched against the /regex/ keys, in
// sorted order (API Gateway selects on it for Lambda integrations:
// websocket-api-data-transformations); $default catches the rest, successes
// and errors no key matches, whose raw error document then passes through.
func (g *Gateway) selectIntegrationResponse(in *Integration, fnErr *FunctionError) *IntegrationResponse {
	if fnErr != nil {
		for _, k := range g.responseKeys[in] {
			if k.matches(fnErr.Message) {
				return in.Responses[k.key]
			}
		}
	}
	return in.Responses[contract.SelectionKeyDefault]
}

// lambdaErrorPayload is the body Lambda returns for a function error.
func lambdaErrorPayload(e *FunctionError) []byte {
	return []byte(`{"errorMessage":` + quote(e.Message) + `,"errorType":` + quote(e.Type) + `}`)
}

// disconnect runs the $disconnect integration. API Gateway runs it on a
// best-effort basis and ignores its result, and so do we (errors are logged).
func (c *conn) disconnect(clean bool) {
	g := c.g
	run := func() {
		defer g.pending.Done()
		route := g.cfg.Routes[contract.RouteDisconnect]
		if route == nil || route.Integration == nil {
			return
		}
		requestID := newID(11)
		data := c.context(contract.RouteDisconnect, "DISCONNECT", g.opts.Now(), requestID)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		log := g.log.With("connectionId", c.id, "requestId", requestID)
		if route.Integration.proxy() {
			status := int(c.closeStatus)
			if status == -1 {
				// No close frame: RFC 6455's code for a connection closed
				// abnormally (what API Gateway reports then is not documented).
				status = int(websocket.StatusAbnormalClosure)
			}
			payload, err := json.Marshal(disconnectProxyEvent(data, status, c.closeReason))
			if err != nil {
				log.Error("$disconnect proxy event", "error", err)
				return
			}
			res, err := g.invoke(ctx, route, payload)
			switch {
			case err != nil:
				log.Warn("$disconnect integration failed", "error", err)
			case res.Error != nil:
				log.Warn("$disconnect function error", "errorType", res.Error.Type)
			}
			return
		}
		_, err := g.integrate(ctx, route, data, "")
		var fnErr *FunctionError
		switch {
		case errors.As(err, &fnErr):
			log.Warn("$disconnect function error", "errorType", fnErr.Type)
		case err != nil:
			log.Warn("$disconnect integration failed", "error", err)
		}
	}
	if !clean && g.opts.DisconnectDelay > 0 {
		time.AfterFunc(g.opts.DisconnectDelay, run)
		return
	}
	run()
}
