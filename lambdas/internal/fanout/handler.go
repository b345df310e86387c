package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"wsapi/lambdas/internal/metrics"
)

// Metrics records what the handler did; *metrics.EMF is the CloudWatch
// one, metrics.Nop records nothing.
type Metrics interface {
	Shard(ctx context.Context, s metrics.Shard)
	JobSplit(ctx context.Context, shards int)
}

var (
	_ Metrics = (*metrics.EMF)(nil)
	_ Metrics = metrics.Nop{}
)

// Releaser makes a received message visible again at once: SQS
// ChangeMessageVisibility with VisibilityTimeout 0. "The minimum is 0
// seconds"; a message whose visibility timeout has expired can be
// received again
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html,
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html).
type Releaser interface {
	Release(ctx context.Context, receiptHandle string) error
}

// HandlerConfig tunes the handler. Zero fields mean the defaults.
type HandlerConfig struct {
	// Concurrency is the most records processed at once; they share the
	// worker, its in-flight bound and its rate limiter.
	Concurrency int
	// Margin is how long before the function's deadline a shard stops
	// after its current page (at most a third of the invocation's time).
	Margin time.Duration
}

// Defaults of HandlerConfig.
const (
	DefaultConcurrency = 4
	DefaultMargin      = 5 * time.Second
)

// Handler is the fanout function's handler: it splits jobs and processes
// shards from an SQS event, and reports the records to retry as batch item
// failures (the event source mapping has ReportBatchItemFailures:
// https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
type Handler struct {
	worker   *Worker
	splitter *Splitter
	releaser Releaser
	metrics  Metrics
	cfg      HandlerConfig
	log      *slog.Logger
	now      func() time.Time
}

// NewHandler returns a Handler; m and log may be nil.
func NewHandler(w *Worker, sp *Splitter, r Releaser, m Metrics, cfg HandlerConfig, log *slog.Logger) *Handler {
	if m == nil {
		m = metrics.Nop{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Margin <= 0 {
		cfg.Margin = DefaultMargin
	}
	return &Handler{worker: w, splitter: sp, releaser: r, metrics: m, cfg: cfg, log: log, now: time.Now}
}

// Handle processes the records, Concurrency at a time, and returns those
// to retry. It never returns an error: a record's failure is its own, so
// that SQS deletes the others.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	stop, workCtx, cancel := h.deadlines(ctx)
	defer cancel()
	var (
		mu     sync.Mutex
		failed []events.SQSBatchItemFailure
		g      errgroup.Group
	)
	g.SetLimit(h.cfg.Concurrency)
	for _, rec := range ev.Records {
		g.Go(func() error {
			if !h.recordRecovered(ctx, workCtx, stop, rec) {
				mu.Lock()
				failed = append(failed, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines return nil
	return events.SQSEventResponse{BatchItemFailures: failed}, nil
}

// deadlines returns when shards stop between pages (zero: never) and the
// context the work runs on, which ends a little before ctx so that the
// handler can still release stopped records and reply.
func (h *Handler) deadlines(ctx context.Context) (time.Time, context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return time.Time{}, ctx, func() {}
	}
	now := h.now()
	left := deadline.Sub(now)
	margin := min(h.cfg.Margin, left/3)
	reserve := min(time.Second, left/10)
	workCtx, cancel := context.WithDeadline(ctx, deadline.Add(-reserve))
	return now.Add(left - margin), workCtx, cancel
}

// recordRecovered is record with a panic turned into a failed record: a
// bug must not end the invocation and take the batch's other records with
// it.
func (h *Handler) recordRecovered(ctx, workCtx context.Context, stop time.Time, rec events.SQSMessage) (done bool) {
	defer func() {
		if p := recover(); p != nil {
			h.log.ErrorContext(ctx, "panic", "sqsMessageId", rec.MessageId, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			done = false
		}
	}()
	return h.record(ctx, workCtx, stop, rec)
}

// record processes one record and reports whether it is done (false: to
// retry).
func (h *Handler) record(ctx, workCtx context.Context, stop time.Time, rec events.SQSMessage) bool {
	log := h.log.With("sqsMessageId", rec.MessageId)
	job, shard, err := DecodeRecord([]byte(rec.Body))
	if err != nil {
		// The body may hold a message: only the reason is logged. The
		// record goes to the dead-letter queue after maxReceiveCount.
		log.ErrorContext(ctx, "malformed fan-out record", "bodyBytes", len(rec.Body), "error", err)
		return false
	}
	if job != nil {
		return h.job(ctx, workCtx, stop, log, rec, *job)
	}
	return h.shard(ctx, workCtx, stop, log.With("messageId", shard.ID), rec, *shard)
}

func (h *Handler) job(ctx, workCtx context.Context, stop time.Time, log *slog.Logger, rec events.SQSMessage, j Job) bool {
	log = log.With("messageId", j.ID)
	n, err := h.splitter.Segments(workCtx, j)
	if err != nil {
		log.ErrorContext(ctx, "job not split", "error", err)
		return false
	}
	j.TotalShards = n
	h.metrics.JobSplit(ctx, n)
	if n == 1 {
		// One segment: no queue round trip.
		return h.shard(ctx, workCtx, stop, log, rec, Shard{Job: j, Segment: 0})
	}
	if err := h.splitter.Enqueue(workCtx, j); err != nil {
		log.ErrorContext(ctx, "job not split", "totalShards", n, "error", err)
		return false
	}
	log.InfoContext(ctx, "job split", "totalShards", n)
	return true
}

func (h *Handler) shard(ctx, workCtx context.Context, stop time.Time, log *slog.Logger, rec events.SQSMessage, s Shard) bool {
	start := h.now()
	res, err := h.worker.ProcessShardBefore(workCtx, s, stop)
	h.metrics.Shard(ctx, metrics.Shard{
		Delivered: res.Posted.Delivered, Stale: res.Posted.Stale, PostFailed: res.Posted.Failed,
		PostThrottled: res.Throttled, Duration: h.now().Sub(start),
	})
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrStopped):
		// Stopped between pages, or in a page still throttled at the stop
		// time (that page is sent again). ctx may be past workCtx's end:
		// the hand-over gets its own seconds.
		if progressed(res, err) {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handOverTimeout)
			err := h.splitter.Continue(cctx, s)
			cancel()
			if err == nil {
				// The new message starts at receive count 0; this one is
				// reported done, and the event source mapping deletes it.
				log.InfoContext(ctx, "stopped shard continues in a new message",
					"segment", s.Segment, "totalShards", s.TotalShards, "pages", res.Pages)
				return true
			}
			log.WarnContext(ctx, "stopped shard not continued in a new message; released instead",
				"segment", s.Segment, "error", err)
		}
		h.release(ctx, log, rec, s)
		return false
	case errors.Is(err, ErrStillThrottled):
		// Not released: the visibility timeout is the long backoff that
		// MaxAttempts short ones did not make room for.
		log.WarnContext(ctx, "shard still throttled; it resumes after the visibility timeout",
			"segment", s.Segment, "totalShards", s.TotalShards, "pages", res.Pages, "error", err)
		return false
	default:
		log.ErrorContext(ctx, "shard failed", "segment", s.Segment, "totalShards", s.TotalShards,
			"pages", res.Pages, "error", err)
		return false
	}
}

// handOverTimeout bounds each of the calls that hand a stopped shard over
// (Continue, then Release), which run after workCtx may have ended.
const handOverTimeout = time.Second

// progressed reports whether a shard stopped with ErrStopped is to be
// continued in a new message: it checkpointed a page in this invocation,
// or it stopped between pages because its stop time came (a planned stop,
// e.g. a record that waited for a slot until then). One that stopped
// throttled with no page done is released instead, so that a shard that
// cannot progress is received again and again and reaches the dead-letter
// queue after maxReceiveCount receives.
func progressed(res Result, err error) bool {
	return res.Pages > 0 || !errors.Is(err, ErrThrottled)
}

// release makes the record visible again at once and leaves it reported
// failed, so another invocation resumes it after the checkpoint instead of
// waiting out the visibility timeout; the receive counts toward
// maxReceiveCount.
func (h *Handler) release(ctx context.Context, log *slog.Logger, rec events.SQSMessage, s Shard) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handOverTimeout)
	defer cancel()
	if err := h.releaser.Release(rctx, rec.ReceiptHandle); err != nil {
		log.WarnContext(ctx, "stopped shard not released; it resumes after the visibility timeout",
			"segment", s.Segment, "error", err)
	}
}
