// Package connect handles the $connect route: it records the new connection
// and who opened it, so messages can reach it. Any error it returns makes
// the integration fail, and API Gateway then refuses the connection.
package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/env"
)

// Environment variables and defaults.
const (
	EnvTableName     = "TABLE_NAME"
	EnvConnectionTTL = "CONNECTION_TTL_SECONDS"

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
	table, tableErr := env.Required(getenv, EnvTableName)
	ttl, ttlErr := env.Int(getenv, EnvConnectionTTL, int(DefaultConnectionTTL/time.Second), 60, 24*60*60)
	if err := errors.Join(tableErr, ttlErr); err != nil {
		return Config{}, err
	}
	return Config{TableName: table, ConnectionTTL: time.Duration(ttl) * time.Second}, nil
}

// Putter records a connection; connections.Writer is the DynamoDB one.
type Putter interface {
	Put(ctx context.Context, c connections.Connection) error
}

var _ Putter = (*connections.Writer)(nil)

// Handler is the $connect function.
type Handler struct {
	store Putter
	ttl   time.Duration
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Handler that records connections in store, to expire ttl
// after they open.
func New(store Putter, ttl time.Duration, log *slog.Logger) *Handler {
	return &Handler{store: store, ttl: ttl, log: log, now: time.Now}
}

// Handle records the connection and returns connections.OK, or returns an
// error (logged with the request ids) so API Gateway refuses the connection.
func (h *Handler) Handle(ctx context.Context, ev connections.ConnectEvent) (connections.Response, error) {
	log := h.log.With(ev.LogAttrs(ctx)...)
	if err := h.connect(ctx, ev); err != nil {
		log.ErrorContext(ctx, "connection refused", "error", err)
		return connections.Response{}, err
	}
	log.InfoContext(ctx, "connection recorded", "principalId", ev.Authorizer.PrincipalID)
	return connections.OK, nil
}

func (h *Handler) connect(ctx context.Context, ev connections.ConnectEvent) error {
	// Both come from API Gateway and the authorizer; an empty one means a
	// misconfigured route or authorizer, and a row without them could
	// neither be addressed nor attributed.
	if ev.ConnectionID == "" {
		return errors.New("event has no connection id")
	}
	if ev.Authorizer.PrincipalID == "" {
		return errors.New("event has no authorizer principal id")
	}
	now := h.now()
	connectedAt := time.UnixMilli(ev.ConnectedAt)
	if ev.ConnectedAt <= 0 {
		connectedAt = now
	}
	err := h.store.Put(ctx, connections.Connection{
		ID:          ev.ConnectionID,
		PrincipalID: ev.Authorizer.PrincipalID,
		ConnectedAt: connectedAt,
		ExpiresAt:   now.Add(h.ttl),
	})
	if err != nil {
		return fmt.Errorf("record connection: %w", err)
	}
	return nil
}
