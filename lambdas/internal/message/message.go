// Package message handles the sendmessage and $default routes: it checks the
// client's frame, hands a broadcast to the fan-out queue or posts a direct
// message to one principal's connections, and returns the reply API Gateway
// sends back to the sender.
//
// A broadcast is not posted here: the handler publishes one job (package
// fanout's EncodeJob: the message id, the sender's connection id and the
// frame) to the fan-out queue and acks {"type":"ack","queued":true,"id":...}.
// The fanout function posts the frame to every other connection and later
// sends the sender a {"type":"delivery",...} report with the counts. A
// direct message ("to") is still posted within the invocation and acked
// with its counts.
//
// Every message gets a fresh id (128 random bits, 32 hex digits), carried by
// its frame, its ack and its delivery report: delivery is at least once, and
// clients drop a frame whose id they have already seen.
//
// The function's return value is the sender's only answer: an ack, or an
// error with a stable code (package reply). It never posts to the sender's
// own connection, and it returns a Go error only when it cannot build a
// reply at all, which does not happen.
//
// Each accepted message is also recorded as one metrics record (see Metrics
// and package metrics), never who sent it or to which connections.
package message

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"wsapi/lambdas/internal/fanout"
	"wsapi/lambdas/internal/metrics"
	"wsapi/lambdas/internal/reply"
)

// Directory lists one principal's connection ids page by page;
// connections.Lister is the DynamoDB one. Broadcasts list nothing here: the
// fanout function scans the table.
type Directory interface {
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

// Publisher enqueues a broadcast's job, the body fanout.EncodeJob made, for
// the fanout function; SQSPublisher is the SQS one. A nil error means the
// queue has the job.
type Publisher interface {
	Publish(ctx context.Context, body []byte) error
}

// Metrics records what a message invocation did; metrics.EMF is the EMF
// one. The handler calls it once for every sendmessage frame that passes
// its checks:
//
//   - a direct message: the connections listed (Recipients, the sender's
//     own left out), Delivered, Stale, PostFailed, FanOutDuration (listing
//     and posting) and FrameBytes, also when the listing fails part way
//     (with the posts made so far);
//   - a broadcast: zero Recipients, Delivered, Stale and PostFailed (this
//     function posts nothing; the fanout function records the posts under
//     its own Function dimension), FanOutDuration as the time to publish
//     the job, and FrameBytes; also when publishing fails.
//
// Frames refused before that ($default, invalid sendmessage frames) and
// other internal errors record nothing: no recipient was listed, no job
// published and no frame sent.
type Metrics interface {
	FanOut(ctx context.Context, f metrics.FanOut)
}

var (
	_ Directory = (*connections.Lister)(nil)
	_ Remover   = (*connections.Deleter)(nil)
	_ Sender    = (*reply.Sender)(nil)
	_ Publisher = (*SQSPublisher)(nil)
	_ Metrics   = (*metrics.EMF)(nil)
)

// Handler is the sendmessage and $default function.
type Handler struct {
	dir       Directory
	remover   Remover
	sender    Sender
	publisher Publisher
	limits    Limits
	metrics   Metrics
	log       *slog.Logger
	now       func() time.Time
	newID     func() string
}

// New returns a Handler. Zero limits mean the defaults; a nil m records
// nothing.
func New(dir Directory, remover Remover, sender Sender, publisher Publisher, limits Limits, m Metrics, log *slog.Logger) *Handler {
	if limits.MaxMessageBytes <= 0 {
		limits.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if limits.MaxInFlight <= 0 {
		limits.MaxInFlight = DefaultMaxInFlight
	}
	if m == nil {
		m = metrics.Nop{}
	}
	return &Handler{
		dir: dir, remover: remover, sender: sender, publisher: publisher, limits: limits, metrics: m, log: log,
		now: time.Now, newID: newMessageID,
	}
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

	id := h.newID()
	log = log.With("messageId", id)
	frame, err := encodeFrame(reply.Message{
		Type:    reply.TypeMessage,
		ID:      id,
		From:    ev.Authorizer.PrincipalID,
		Message: req.message,
		SentAt:  h.sentAt(ev).Format(time.RFC3339),
	})
	if err != nil {
		log.ErrorContext(ctx, "encoding the frame failed", "error", err)
		return internalError(ctx, ev)
	}
	if len(frame) > fanout.MaxFrameBytes {
		// Escaping can grow a message that is within the limit past what
		// API Gateway carries (and on PostToConnection's Data): a frame
		// over it would fail for every recipient.
		log.InfoContext(ctx, "frame refused", "code", string(reply.CodeMessageTooLarge), "bodyBytes", len(ev.Body), "frameBytes", len(frame))
		return errTooLarge(h.limits.MaxMessageBytes).reply()
	}

	if req.to == "" {
		return h.broadcast(ctx, log, ev, id, frame, len(req.message))
	}
	start := time.Now()
	n, err := h.deliver(ctx, log, h.dir.OfPrincipal(ctx, req.to), ev.ConnectionID, frame)
	h.metrics.FanOut(ctx, metrics.FanOut{
		Recipients: n.recipients,
		Delivered:  n.delivered,
		Stale:      n.stale,
		PostFailed: n.failed,
		Duration:   time.Since(start),
		FrameBytes: len(frame),
	})
	attrs := []any{"mode", "direct", "messageBytes", len(req.message), "delivered", n.delivered, "stale", n.stale, "failed", n.failed}
	if err != nil {
		log.ErrorContext(ctx, "listing recipients failed", append(attrs, "error", err)...)
		return internalError(ctx, ev)
	}
	log.InfoContext(ctx, "message sent", attrs...)
	ack := reply.Ack(n.delivered, n.stale, n.failed)
	ack.ID = id
	return ack
}

// broadcast publishes the job that fans frame out to every connection but
// the sender's, and acks it as queued. If publishing fails the sender gets
// the internal error: the job is then normally not queued, but it may be if
// only SQS's answer was lost; a client that sends the message again sends
// a new message with a new id.
func (h *Handler) broadcast(ctx context.Context, log *slog.Logger, ev connections.MessageEvent, id string, frame []byte, messageBytes int) reply.Reply {
	body, err := fanout.EncodeJob(id, ev.ConnectionID, frame)
	if err != nil {
		log.ErrorContext(ctx, "encoding the fan-out job failed", "error", err)
		return internalError(ctx, ev)
	}
	start := time.Now()
	err = h.publisher.Publish(ctx, body)
	h.metrics.FanOut(ctx, metrics.FanOut{Duration: time.Since(start), FrameBytes: len(frame)})
	attrs := []any{"mode", "broadcast", "messageBytes", messageBytes, "frameBytes", len(frame), "jobBytes", len(body)}
	if err != nil {
		log.ErrorContext(ctx, "queueing the broadcast failed", append(attrs, "error", err)...)
		return internalError(ctx, ev)
	}
	log.InfoContext(ctx, "message queued", attrs...)
	return reply.QueuedAck(id)
}

// newMessageID returns 128 bits from crypto/rand as 32 hex digits: enough
// that two messages never share an id, which clients rely on to drop
// duplicates. crypto/rand.Read does not fail (it crashes the program
// instead, Go 1.24 and later).
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
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
