// Package disconnect handles the $disconnect route: it forgets the closed
// connection. API Gateway delivers $disconnect on a best-effort basis, so
// the table's TTL and the message function's gone-connection cleanup catch
// the rows this misses.
package disconnect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"wsapi/contract"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/env"
	"wsapi/lambdas/internal/metrics"
)

// Config is the function's configuration.
type Config struct {
	TableName string
}

// ConfigFromEnv reads Config from TABLE_NAME.
func ConfigFromEnv(getenv env.Getenv) (Config, error) {
	table, err := env.Required(getenv, contract.EnvTableName)
	if err != nil {
		return Config{}, err
	}
	return Config{TableName: table}, nil
}

// Remover deletes a connection, succeeding when it is already gone;
// connections.Deleter is the DynamoDB one.
type Remover interface {
	Delete(ctx context.Context, connectionID string) error
}

// Metrics records each invocation's outcome: ok when the row is gone;
// metrics.EMF is the EMF one.
type Metrics interface {
	Disconnected(ctx context.Context, ok bool)
}

var (
	_ Remover = (*connections.Deleter)(nil)
	_ Metrics = (*metrics.EMF)(nil)
)

// Handler is the $disconnect function.
type Handler struct {
	store   Remover
	metrics Metrics
	log     *slog.Logger
}

// New returns a Handler that removes connections from store and records
// each outcome in m (nil records nothing).
func New(store Remover, m Metrics, log *slog.Logger) *Handler {
	if m == nil {
		m = metrics.Nop{}
	}
	return &Handler{store: store, metrics: m, log: log}
}

// Handle removes the connection's row and returns connections.OK; a row
// already gone is fine. A failure is logged and returned (the client is gone
// either way; the error only shows in the function's metrics).
func (h *Handler) Handle(ctx context.Context, ev connections.DisconnectEvent) (connections.Response, error) {
	log := h.log.With(ev.LogAttrs(ctx)...)
	err := h.disconnect(ctx, ev)
	h.metrics.Disconnected(ctx, err == nil)
	if err != nil {
		log.ErrorContext(ctx, "disconnect failed", "error", err)
		return connections.Response{}, err
	}
	log.InfoContext(ctx, "connection removed")
	return connections.OK, nil
}

func (h *Handler) disconnect(ctx context.Context, ev connections.DisconnectEvent) error {
	if ev.ConnectionID == "" {
		return errors.New("event has no connection id")
	}
	if err := h.store.Delete(ctx, ev.ConnectionID); err != nil {
		return fmt.Errorf("forget connection: %w", err)
	}
	return nil
}
