// Package message handles the sendmessage and $default routes: it checks the
// client's frame, posts it to every other connection (or to one principal's
// connections) and returns the reply API Gateway sends back to the sender.
//
// The function's return value is the sender's only answer: an ack with
// counts, or an error with a stable code (package reply). It never posts to
// the sender's own connection, and it returns a Go error only when it cannot
// build a reply at all, which does not happen.
//
// Each fan-out is also recorded as one metrics record (see Metrics and
// package metrics): recipients, delivered, stale, failed, its duration and
// the frame's size, never who sent it or to which connections.
package message

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"wsapi/contract"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/metrics"
	"wsapi/lambdas/internal/reply"
)

// maxFrameBytes is API Gateway's limit on a WebSocket message (and on
// PostToConnection's Data): a frame over it would fail for every recipient.
const maxFrameBytes = 128 * 1024

// Directory lists connection ids page by page; connections.Lister is the
// DynamoDB one.
type Directory interface {
	All(ctx context.Context) iter.Seq2[string, error]
	OfPrincipal(ctx context.Context, principalID string) iter.Seq2[string, error]
}

// Remover deletes a connection; connections.Deleter is the DynamoDB one.
type Remover interface {
	Delete(ctx context.Context, connectionID string) error
}

// Sender posts a frame to a connection, with an error matching reply.ErrGone
// when the connection no longer exists; reply.Sender is the Management API one.
type Sender interface {
	Send(ctx context.Context, connectionID string, data []byte) error
}

// Metrics records what a fan-out did; metrics.EMF is the EMF one. The
// handler calls it once per invocation that lists recipients, that is for
// every sendmessage frame that passes its checks, including one whose
// listing fails part way (with the posts made so far). Frames refused
// before that ($default, invalid sendmessage frames) and internal errors
// record nothing: no recipient was listed and no frame was sent.
type Metrics interface {
	FanOut(ctx context.Context, f metrics.FanOut)
}

var (
	_ Directory = (*connections.Lister)(nil)
	_ Remover   = (*connections.Deleter)(nil)
	_ Sender    = (*reply.Sender)(nil)
	_ Metrics   = (*metrics.EMF)(nil)
)

// Handler is the sendmessage and $default function.
type Handler struct {
	dir     Directory
	remover Remover
	sender  Sender
	limits  Limits
	metrics Metrics
	log     *slog.Logger
	now     func() time.Time
}

// New returns a Handler. Zero limits mean the defaults; a nil m records
// nothing.
func New(dir Directory, remover Remover, sender Sender, limits Limits, m Metrics, log *slog.Logger) *Handler {
	if limits.MaxMessageBytes <= 0 {
		limits.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if limits.MaxInFlight <= 0 {
		limits.MaxInFlight = DefaultMaxInFlight
	}
	if m == nil {
		m = metrics.Nop{}
	}
	return &Handler{dir: dir, remover: remover, sender: sender, limits: limits, metrics: m, log: log, now: time.Now}
}

// Handle answers one frame. It returns a nil error in every case: bad input
// and infrastructure failures are error replies, so the sender always hears
// back.
func (h *Handler) Handle(ctx context.Context, ev connections.MessageEvent) (out reply.Reply, err error) {
	log := h.log.With(ev.LogAttrs(ctx)...)
	defer func() {
		// A bug must still answer the sender rather than crash the
		// invocation with no reply.
		if p := recover(); p != nil {
			log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out, err = internalError(ctx, ev), nil
		}
	}()
	return h.handle(ctx, log, ev), nil
}

func (h *Handler) handle(ctx context.Context, log *slog.Logger, ev connections.MessageEvent) reply.Reply {
	var req request
	var rej *rejection
	if ev.RouteKey == contract.RouteSendMessage {
		req, rej = parseSendMessage(ev.Body, h.limits.MaxMessageBytes)
	} else {
		rej = parseDefault(ev.Body, h.limits.MaxMessageBytes)
	}
	if rej != nil {
		log.InfoContext(ctx, "frame refused", "code", string(rej.code), "bodyBytes", len(ev.Body))
		return rej.reply()
	}

	// The sender's identity comes from API Gateway and the authorizer;
	// without it we could neither attribute the message nor skip the sender.
	if ev.Authorizer.PrincipalID == "" || ev.ConnectionID == "" {
		log.ErrorContext(ctx, "event has no principal or connection id")
		return internalError(ctx, ev)
	}

	frame, err := encodeFrame(reply.Message{
		Type:    reply.TypeMessage,
		From:    ev.Authorizer.PrincipalID,
		Message: req.message,
		SentAt:  h.sentAt(ev).Format(time.RFC3339),
	})
	if err != nil {
		log.ErrorContext(ctx, "encoding the frame failed", "error", err)
		return internalError(ctx, ev)
	}
	if len(frame) > maxFrameBytes {
		// Escaping can grow a message that is within the limit past what
		// API Gateway carries.
		log.InfoContext(ctx, "frame refused", "code", string(reply.CodeMessageTooLarge), "bodyBytes", len(ev.Body), "frameBytes", len(frame))
		return errTooLarge(h.limits.MaxMessageBytes).reply()
	}

	mode, recipients := "broadcast", h.dir.All(ctx)
	if req.to != "" {
		mode, recipients = "direct", h.dir.OfPrincipal(ctx, req.to)
	}
	start := time.Now()
	n, err := h.deliver(ctx, log, recipients, ev.ConnectionID, frame)
	h.metrics.FanOut(ctx, metrics.FanOut{
		Recipients: n.recipients,
		Delivered:  n.delivered,
		Stale:      n.stale,
		PostFailed: n.failed,
		Duration:   time.Since(start),
		FrameBytes: len(frame),
	})
	attrs := []any{"mode", mode, "messageBytes", len(req.message), "delivered", n.delivered, "stale", n.stale, "failed", n.failed}
	if err != nil {
		log.ErrorContext(ctx, "listing recipients failed", append(attrs, "error", err)...)
		return internalError(ctx, ev)
	}
	log.InfoContext(ctx, "message sent", attrs...)
	return reply.Ack(n.delivered, n.stale, n.failed)
}

// counts are what deliver did: recipients is how many connections it
// posted to (or tried), the sender's own not counted.
type counts struct{ recipients, delivered, stale, failed int }

// deliver posts frame to every recipient but the sender's connection, at
// most MaxInFlight at a time. It reads the next page of recipients only as
// posts free up, so memory stays at about a page. The error is the listing's;
// posts that fail are counted, never returned.
func (h *Handler) deliver(ctx context.Context, log *slog.Logger, recipients iter.Seq2[string, error], sender string, frame []byte) (counts, error) {
	var delivered, stale, failed atomic.Int64
	var g errgroup.Group
	g.SetLimit(h.limits.MaxInFlight)

	var listErr error
	var listed int
	for id, err := range recipients {
		if err != nil {
			listErr = err
			break
		}
		if id == sender {
			continue
		}
		listed++
		g.Go(func() error {
			defer func() {
				// errgroup does not recover: a panic here would kill
				// the whole invocation.
				if p := recover(); p != nil {
					failed.Add(1)
					log.ErrorContext(ctx, "panic posting", "recipientConnectionId", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				}
			}()
			err := h.sender.Send(ctx, id, frame)
			switch {
			case err == nil:
				delivered.Add(1)
			case errors.Is(err, reply.ErrGone):
				stale.Add(1)
				// Best effort: the TTL removes the row if this fails.
				if err := h.remover.Delete(ctx, id); err != nil {
					log.WarnContext(ctx, "removing a gone connection failed", "recipientConnectionId", id, "error", err)
				}
			default:
				failed.Add(1)
				log.WarnContext(ctx, "post failed", "recipientConnectionId", id, "error", err)
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines never return an error
	return counts{listed, int(delivered.Load()), int(stale.Load()), int(failed.Load())}, listErr
}

// sentAt is when API Gateway received the frame, or now if the event lacks it.
func (h *Handler) sentAt(ev connections.MessageEvent) time.Time {
	if ev.RequestTimeEpoch > 0 {
		return time.UnixMilli(ev.RequestTimeEpoch).UTC()
	}
	return h.now().UTC()
}

// encodeFrame is json.Marshal without HTML escaping, which would write each
// of <, > and & as six bytes and push long messages over the frame limit.
func encodeFrame(m reply.Message) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode message frame: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// internalError is the reply for failures that are ours. It names the API
// Gateway request id (also in our logs and the access log) so a report can
// be traced; it says nothing else about the cause.
func internalError(ctx context.Context, ev connections.MessageEvent) reply.Reply {
	id := ev.RequestID
	if id == "" {
		id = connections.AWSRequestID(ctx)
	}
	return reply.Error(reply.CodeInternal, "internal error, request id "+id)
}
