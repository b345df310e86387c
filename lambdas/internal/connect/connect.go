// Package connect handles the $connect route: it records the new connection
// and who opened it, so messages can reach it.
//
// # Why a Lambda proxy integration
//
// Unlike the other routes, $connect is a Lambda proxy (AWS_PROXY)
// integration: the function receives aws-lambda-go's
// events.APIGatewayWebsocketProxyRequest and answers with a status code. API
// Gateway documents that a 2xx statusCode accepts the handshake and any
// other refuses it, the client seeing that status. A connection whose row
// cannot be written must be refused, since no message could ever reach it;
// with a non-proxy (AWS) integration nothing documents that a failed
// invocation refuses the handshake, so that could not be shown.
//
// # Failures
//
// Every expected failure (no connection id or no usable principal in the
// event, a row that cannot be written, ErrExists included) answers 500 with
// a nil error and logs one ERROR line with both request ids and a reason. A
// returned error would refuse the handshake too, but as an opaque 502, so
// none is ever returned.
//
// # Secrets
//
// The client's token is in the query string or a header. The handler reads
// nothing but requestContext: it never looks at, and so never logs, the
// headers, the query string or the body.
package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"wsapi/contract"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/env"
	"wsapi/lambdas/internal/metrics"
)

// Defaults.
const (
	// DefaultConnectionTTL is API Gateway's maximum connection duration: a
	// row older than that belongs to a connection that is surely closed.
	DefaultConnectionTTL = 2 * time.Hour
)

// Config is the function's configuration.
type Config struct {
	TableName     string
	ConnectionTTL time.Duration
}

// ConfigFromEnv reads Config from TABLE_NAME and CONNECTION_TTL_SECONDS
// (whole seconds, 60 to 86400 as the stack allows; default 7200).
func ConfigFromEnv(getenv env.Getenv) (Config, error) {
	table, tableErr := env.Required(getenv, contract.EnvTableName)
	ttl, ttlErr := env.Int(getenv, contract.EnvConnectionTTL, int(DefaultConnectionTTL/time.Second), 60, 24*60*60)
	if err := errors.Join(tableErr, ttlErr); err != nil {
		return Config{}, err
	}
	return Config{TableName: table, ConnectionTTL: time.Duration(ttl) * time.Second}, nil
}

// Putter records a connection; connections.Writer is the DynamoDB one.
type Putter interface {
	Put(ctx context.Context, c connections.Connection) error
}

// Metrics records each invocation's outcome: ok when the handshake was
// accepted; metrics.EMF is the EMF one.
type Metrics interface {
	Connected(ctx context.Context, ok bool)
}

var (
	_ Putter  = (*connections.Writer)(nil)
	_ Metrics = (*metrics.EMF)(nil)
)

// Responses. The refusal has no body: the client learns only the status,
// and the reason is in the log.
var (
	accepted = events.APIGatewayProxyResponse{StatusCode: http.StatusOK}
	refused  = events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}
)

// Handler is the $connect function.
type Handler struct {
	store   Putter
	ttl     time.Duration
	metrics Metrics
	log     *slog.Logger
	now     func() time.Time
}

// New returns a Handler that records connections in store, to expire ttl
// after they open, and each outcome in m (nil records nothing).
func New(store Putter, ttl time.Duration, m Metrics, log *slog.Logger) *Handler {
	if m == nil {
		m = metrics.Nop{}
	}
	return &Handler{store: store, ttl: ttl, metrics: m, log: log, now: time.Now}
}

// Handle records the connection and answers 200, which accepts the
// handshake. When it cannot, it logs why with the request ids and answers
// 500, which refuses it. The error is always nil.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := req.RequestContext
	log := h.log.With(connections.RequestLogAttrs(ctx, rc.RequestID, rc.ConnectionID, rc.RouteKey)...)
	principalID, r := h.connect(ctx, rc)
	h.metrics.Connected(ctx, r == nil)
	if r != nil {
		log.ErrorContext(ctx, "connection refused", "status", refused.StatusCode, "reason", r.reason, "error", r.err)
		return refused, nil
	}
	log.InfoContext(ctx, "connection recorded", "principalId", principalID)
	return accepted, nil
}

// refusal is why a connection is refused: a fixed reason, to count and
// alarm on, and the error behind it.
type refusal struct {
	reason string
	err    error
}

// Refusal reasons, as logged.
const (
	reasonNoConnectionID = "no connection id"
	reasonAuthorizer     = "no usable authorizer context"
	reasonExists         = "connection id already recorded"
	reasonStore          = "connection not recorded"
)

// connect records the connection and returns its principal, or why it
// cannot.
func (h *Handler) connect(ctx context.Context, rc events.APIGatewayWebsocketProxyRequestContext) (string, *refusal) {
	// Both come from API Gateway and the authorizer; a missing one means a
	// misconfigured route or authorizer, and a row without them could
	// neither be addressed nor attributed.
	if rc.ConnectionID == "" {
		return "", &refusal{reasonNoConnectionID, errors.New("requestContext has no connectionId")}
	}
	auth, err := decodeAuthorizer(rc.Authorizer)
	if err != nil {
		return "", &refusal{reasonAuthorizer, err}
	}
	now := h.now()
	connectedAt := time.UnixMilli(rc.ConnectedAt)
	if rc.ConnectedAt <= 0 {
		connectedAt = now
	}
	err = h.store.Put(ctx, connections.Connection{
		ID:          rc.ConnectionID,
		PrincipalID: auth.PrincipalID,
		ConnectedAt: connectedAt,
		ExpiresAt:   now.Add(h.ttl),
	})
	switch {
	case errors.Is(err, connections.ErrExists):
		// Connection ids are unique; a row already there is another
		// connection's, which this one must not take over.
		return "", &refusal{reasonExists, fmt.Errorf("record connection: %w", err)}
	case err != nil:
		return "", &refusal{reasonStore, fmt.Errorf("record connection: %w", err)}
	}
	return auth.PrincipalID, nil
}

// decodeAuthorizer reads requestContext.authorizer, which aws-lambda-go
// leaves untyped. The Lambda runtime decodes the event with encoding/json,
// so the REQUEST authorizer's output arrives as a map[string]any holding
// principalId and the context keys the authorizer sets (sub, username, email,
// scope), every one a string; keys API Gateway adds beside them (such as
// integrationLatency, a number) are ignored. A map[string]string, as an event
// built in Go may hold, is read the same way. Anything else (no authorizer, a
// value of another shape, a missing or empty principalId, a context key that
// is not a string) means the route is not behind this stack's authorizer.
//
// Errors name keys and types, never values.
func decodeAuthorizer(v any) (connections.Authorizer, error) {
	var lookup func(key string) (any, bool)
	switch m := v.(type) {
	case nil:
		return connections.Authorizer{}, errors.New("requestContext has no authorizer")
	case map[string]any:
		lookup = func(key string) (any, bool) { x, ok := m[key]; return x, ok }
	case map[string]string:
		lookup = func(key string) (any, bool) { x, ok := m[key]; return x, ok }
	default:
		return connections.Authorizer{}, fmt.Errorf("requestContext.authorizer is a %T, want an object", v)
	}
	var a connections.Authorizer
	fields := []struct {
		key string
		dst *string
	}{
		{contract.AuthContextPrincipalID, &a.PrincipalID},
		{contract.AuthContextSub, &a.Sub},
		{contract.AuthContextUsername, &a.Username},
		{contract.AuthContextEmail, &a.Email},
		{contract.AuthContextScope, &a.Scope},
	}
	for _, f := range fields {
		x, ok := lookup(f.key)
		if !ok {
			continue
		}
		s, ok := x.(string)
		if !ok {
			return connections.Authorizer{}, fmt.Errorf("requestContext.authorizer.%s is a %T, want a string", f.key, x)
		}
		*f.dst = s
	}
	if a.PrincipalID == "" {
		return connections.Authorizer{}, errors.New("requestContext.authorizer has no principalId")
	}
	return a, nil
}
