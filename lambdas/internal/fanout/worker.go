package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"wsapi/lambdas/internal/reply"
	"wsapi/lambdas/internal/wait"
)

// ErrThrottled is what a Poster returns (wrapped or not) when the
// Management API throttled the post (HTTP 429, LimitExceededException).
// The adapter maps the SDK's typed error to it with errors.As.
var ErrThrottled = errors.New("post throttled")

// ErrStopped is what ProcessShardBefore returns (wrapped or not) when it
// stopped because its stop time had come: between pages, or in a page
// whose throttled post could not be retried before the stop time (that
// page is then not checkpointed). The checkpoint of the pages before is
// saved and the shard is to be resumed by another invocation, which sends
// the unfinished page again.
var ErrStopped = errors.New("shard stopped before the function's deadline")

// ErrStillThrottled is what ProcessShard returns (wrapped) when one post
// was throttled Config.MaxAttempts times in a row: the page is not
// checkpointed and the shard is to be retried later (the handler leaves
// its message to the visibility timeout), never counted failed.
var ErrStillThrottled = errors.New("post still throttled after the most attempts")

// Pager reads one page of segment (of total) of the connections table,
// starting after startKey ("" for the segment's start). nextKey is "" when
// the segment has no more pages; otherwise it is opaque to the worker and
// is stored in checkpoints as is.
type Pager interface {
	Page(ctx context.Context, segment, total int, startKey string) (ids []string, nextKey string, err error)
}

// Poster posts a frame to a connection. A gone connection is an error
// matching reply.ErrGone, a throttled post one matching ErrThrottled.
type Poster interface {
	Send(ctx context.Context, connectionID string, data []byte) error
}

// Remover deletes a connection's row; connections.Deleter is the DynamoDB
// one.
type Remover interface {
	Delete(ctx context.Context, connectionID string) error
}

// Counts are what posts did, one per connection (a connection whose page
// is sent again is counted by the run that completes the page only).
type Counts struct {
	// Delivered are the connections a post succeeded for, after any
	// number of throttled attempts.
	Delivered int `json:"delivered"`
	// Stale are the connections found gone (410); their rows are deleted.
	Stale int `json:"stale"`
	// Failed are the connections a post failed for with an error other
	// than gone or throttled (403, 5xx, a network error...), not retried.
	// A throttled post is never counted failed: it is retried, or its
	// page is sent again by a later run.
	Failed int `json:"failed"`
}

func (c *Counts) add(o Counts) {
	c.Delivered += o.Delivered
	c.Stale += o.Stale
	c.Failed += o.Failed
}

// Checkpoint is a shard's progress: the key to resume after, the counts of
// the pages before it, and whether the segment has no pages left.
type Checkpoint struct {
	Key      string
	Counts   Counts
	Finished bool
}

// Checkpoints stores shards' progress, keyed by job id and segment.
type Checkpoints interface {
	// Load returns the stored checkpoint, found false when there is none.
	Load(ctx context.Context, jobID string, segment int) (cp Checkpoint, found bool, err error)
	Save(ctx context.Context, jobID string, segment int, cp Checkpoint) error
}

// Totals are a job's counts over its finished shards.
type Totals struct {
	Counts
	ShardsDone int
}

// Counters adds a finished shard's counts to its job's totals atomically.
// Add must apply once per (jobID, segment): a second call for the same
// segment changes nothing and returns the current totals, so a redelivered
// shard neither counts twice nor finishes the job early.
type Counters interface {
	Add(ctx context.Context, jobID string, segment int, c Counts) (Totals, error)
}

// Clock is the time the worker waits on; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx's error then.
	Sleep(ctx context.Context, d time.Duration) error
}

// Config tunes a worker. Zero fields mean the defaults.
type Config struct {
	// MaxInFlight is the most posts at a time, over all the shards the
	// worker processes at once.
	MaxInFlight int
	// PostsPerSecond and Burst are the worker's token bucket; every post
	// attempt takes a token. PostsPerSecond is the most: the rate adapts
	// below it (AIMD, see Worker.Rate). +Inf means no limit, and no
	// adaptation.
	PostsPerSecond float64
	Burst          int
	// MinPostsPerSecond is the floor of the adaptive rate (default
	// PostsPerSecond/100, at least min(1, PostsPerSecond)).
	MinPostsPerSecond float64
	// RateIncrease is how many posts per second the adaptive rate gains
	// per second of posts that are not throttled (default
	// PostsPerSecond/10: from half the rate back to all of it in 5 s).
	RateIncrease float64
	// CutInterval: a 429 halves the rate only for an attempt sent at
	// least this long after the previous cut, so that the posts already
	// in flight when the rate was cut, answered 429 together, cut it once
	// (default 200 ms, a few round trips of a post).
	CutInterval time.Duration
	// MaxAttempts is a safety cap on the attempts at one throttled post,
	// the first included (default 100): past it the page is abandoned,
	// not counted, and the shard retried later (ErrStillThrottled).
	// Normally the stop time comes first: a retry that would be due after
	// it abandons the page with ErrStopped.
	MaxAttempts int
	// BaseBackoff is the ceiling of the first retry's wait, doubled for
	// each later one up to MaxBackoff; each wait is uniform below its
	// ceiling (full jitter).
	BaseBackoff, MaxBackoff time.Duration
}

// Defaults. They are starting points, not derived from a documented
// Management API quota: the account's API Gateway throttle is shared with
// every other call, so the rate is to be set from the stack (the
// environment variables ConfigFromEnv reads).
const (
	DefaultMaxInFlight    = 32
	DefaultPostsPerSecond = 500
	DefaultBurst          = 50
	DefaultMaxAttempts    = 100
	DefaultBaseBackoff    = 50 * time.Millisecond
	DefaultMaxBackoff     = 2 * time.Second
	DefaultCutInterval    = 200 * time.Millisecond
	// rateCut is the adaptive rate's multiplicative decrease on a 429.
	rateCut = 0.5
)

func (c Config) withDefaults() Config {
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.PostsPerSecond <= 0 || math.IsNaN(c.PostsPerSecond) {
		c.PostsPerSecond = DefaultPostsPerSecond
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if !(c.MinPostsPerSecond > 0) || math.IsInf(c.MinPostsPerSecond, 0) {
		c.MinPostsPerSecond = max(c.PostsPerSecond/100, min(1, c.PostsPerSecond))
	}
	c.MinPostsPerSecond = min(c.MinPostsPerSecond, c.PostsPerSecond)
	if !(c.RateIncrease > 0) || math.IsInf(c.RateIncrease, 0) {
		c.RateIncrease = c.PostsPerSecond / 10
	}
	if c.CutInterval <= 0 {
		c.CutInterval = DefaultCutInterval
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	c.MaxBackoff = max(c.MaxBackoff, c.BaseBackoff)
	return c
}

// Option changes what a Worker waits on or logs to.
type Option func(*Worker)

// WithClock replaces the real clock.
func WithClock(c Clock) Option { return func(w *Worker) { w.clock = c } }

// WithRand replaces the jitter's source: randN(n) must return a value in
// [0, n) for n > 0.
func WithRand(randN func(n int64) int64) Option { return func(w *Worker) { w.randN = randN } }

// WithLogger sets the logger; without it the worker logs nothing.
func WithLogger(l *slog.Logger) Option { return func(w *Worker) { w.log = l } }

// Worker processes shards. One Worker may process several shards at once;
// they share its rate limiter.
type Worker struct {
	pager    Pager
	poster   Poster
	remover  Remover
	cps      Checkpoints
	counters Counters
	cfg      Config
	limiter  *rate.Limiter
	// slots holds a token per post in flight, over every shard at once.
	slots chan struct{}
	// reserve serialises reading the clock and using the limiter
	// (reserving a token, setting its rate), so the limiter sees
	// non-decreasing times: it takes an earlier time than its last as its
	// new last, and would then count the gap's tokens twice. It also
	// guards the adaptive rate's state below.
	reserve sync.Mutex
	// adaptive is false for an unlimited worker.
	adaptive bool
	// limit is the limiter's current rate, lastCut when a 429 last cut it.
	limit   float64
	lastCut time.Time
	clock   Clock
	randN   func(int64) int64
	log     *slog.Logger
}

// New returns a Worker.
func New(pager Pager, poster Poster, remover Remover, cps Checkpoints, counters Counters, cfg Config, opts ...Option) *Worker {
	cfg = cfg.withDefaults()
	limit := rate.Limit(cfg.PostsPerSecond)
	if math.IsInf(cfg.PostsPerSecond, 1) {
		limit = rate.Inf
	}
	w := &Worker{
		pager: pager, poster: poster, remover: remover, cps: cps, counters: counters,
		cfg:      cfg,
		limiter:  rate.NewLimiter(limit, cfg.Burst),
		adaptive: limit != rate.Inf,
		limit:    cfg.PostsPerSecond,
		slots:    make(chan struct{}, cfg.MaxInFlight),
		clock:    realClock{},
		randN:    rand.Int64N,
		log:      slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Result is what one ProcessShard did.
type Result struct {
	// Counts are the shard's, the resumed pages' included.
	Counts Counts
	// Pages is how many pages this call read and posted.
	Pages int
	// Resumed is true when a checkpoint was found.
	Resumed bool
	// Last is true when the job's shards were all done after this one:
	// the delivery report was posted (or the sender was gone).
	Last bool
	// Posted are the counts of this call's pages only.
	Posted Counts
	// Throttled is how many of this call's post attempts were throttled.
	Throttled int
}

// ProcessShard posts the shard's frame to every connection of its segment
// but the sender's, checkpointing after each page, then adds its counts to
// the job's and, if it was the last shard, posts the delivery report.
//
// An error means the shard is to be retried (SQS redelivers it): a listing,
// checkpoint or counter failure, ctx done, a post still throttled after
// Config.MaxAttempts attempts (ErrStillThrottled), or the report's post
// failing other than with a gone sender. Failed posts are counted, not
// returned; throttled ones are retried until they are not throttled.
func (w *Worker) ProcessShard(ctx context.Context, s Shard) (Result, error) {
	return w.ProcessShardBefore(ctx, s, time.Time{})
}

// ProcessShardBefore is ProcessShard that stops between pages once the
// worker's clock reaches stop (the zero time never stops), returning
// ErrStopped with the checkpoint saved. The handler stops a shard that way
// before the function's deadline, so that the page in flight completes
// and is not sent twice. A throttled post is retried until the stop time:
// when its next retry would be due at or after it, the page is abandoned
// (not checkpointed, its counts dropped) and ErrStopped returned, so the
// next run sends that page again, and counts it once.
func (w *Worker) ProcessShardBefore(ctx context.Context, s Shard, stop time.Time) (res Result, err error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	log := w.log.With("messageId", s.ID, "segment", s.Segment, "totalShards", s.TotalShards)

	cp, found, err := w.cps.Load(ctx, s.ID, s.Segment)
	if err != nil {
		return Result{}, fmt.Errorf("load checkpoint of %s/%d: %w", s.ID, s.Segment, err)
	}
	res = Result{Resumed: found}
	if !found {
		cp = Checkpoint{}
	}
	var throttled atomic.Int64
	// res is the named result: every return reports the throttles.
	defer func() { res.Throttled = int(throttled.Load()) }()
	for !cp.Finished {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if !stop.IsZero() && !w.clock.Now().Before(stop) {
			log.InfoContext(ctx, "shard stopped before the deadline", "pages", res.Pages, "resumed", found)
			return res, ErrStopped
		}
		ids, next, err := w.pager.Page(ctx, s.Segment, s.TotalShards, cp.Key)
		if err != nil {
			return res, fmt.Errorf("page of %s/%d after %q: %w", s.ID, s.Segment, cp.Key, err)
		}
		c, err := w.postPage(ctx, log, s.Job, ids, stop, &throttled)
		if err != nil {
			// The page is not checkpointed: a retry sends it again.
			if errors.Is(err, ErrStopped) || errors.Is(err, ErrStillThrottled) {
				log.InfoContext(ctx, "page abandoned while throttled; it is sent again on resumption",
					"pages", res.Pages, "resumed", found, "rate", w.Rate(), "error", err)
			}
			return res, fmt.Errorf("page of %s/%d after %q: %w", s.ID, s.Segment, cp.Key, err)
		}
		res.Posted.add(c)
		cp.Counts.add(c)
		cp.Key, cp.Finished = next, next == ""
		res.Pages++
		if err := w.cps.Save(ctx, s.ID, s.Segment, cp); err != nil {
			return res, fmt.Errorf("save checkpoint of %s/%d: %w", s.ID, s.Segment, err)
		}
	}
	res.Counts = cp.Counts

	totals, err := w.counters.Add(ctx, s.ID, s.Segment, cp.Counts)
	if err != nil {
		return res, fmt.Errorf("add counts of %s/%d: %w", s.ID, s.Segment, err)
	}
	log.InfoContext(ctx, "shard done", "delivered", cp.Counts.Delivered, "stale", cp.Counts.Stale,
		"failed", cp.Counts.Failed, "pages", res.Pages, "resumed", found, "shardsDone", totals.ShardsDone)
	if totals.ShardsDone < s.TotalShards {
		return res, nil
	}
	res.Last = true
	return res, w.report(ctx, log, s.Job, totals.Counts, stop, &throttled)
}

// report posts the delivery report to the sender. Still throttled at the
// stop time, it returns ErrStopped: the redelivered shard adds nothing
// (Counters.Add applies once) and posts the report again.
func (w *Worker) report(ctx context.Context, log *slog.Logger, j Job, c Counts, stop time.Time, throttled *atomic.Int64) error {
	frame, err := json.Marshal(reply.Delivery{Type: reply.TypeDelivery, ID: j.ID, Delivered: c.Delivered, Stale: c.Stale, Failed: c.Failed})
	if err != nil {
		return fmt.Errorf("encode delivery report: %w", err)
	}
	err = w.post(ctx, j.Sender, frame, stop, throttled)
	switch {
	case err == nil:
		log.InfoContext(ctx, "delivery reported", "delivered", c.Delivered, "stale", c.Stale, "failed", c.Failed)
		return nil
	case errors.Is(err, reply.ErrGone):
		log.InfoContext(ctx, "sender gone before the delivery report")
		return nil
	default:
		return fmt.Errorf("post delivery report of %s: %w", j.ID, err)
	}
}

// postPage posts the frame to ids (the sender's skipped), at most
// MaxInFlight at a time over the worker, and returns the counts once every
// post is done. The error is ctx's when it ended meanwhile, or the one of
// a post that gave up while throttled (wrapping ErrStopped or
// ErrStillThrottled), which cancels the page's other posts: the page is
// then sent again by a later run and its counts are not to be kept.
func (w *Worker) postPage(ctx context.Context, log *slog.Logger, j Job, ids []string, stop time.Time, throttled *atomic.Int64) (Counts, error) {
	pageCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu sync.Mutex
		c  Counts
		g  errgroup.Group
	)
loop:
	for _, id := range ids {
		if id == j.Sender {
			continue
		}
		select {
		case w.slots <- struct{}{}:
		case <-pageCtx.Done():
			break loop
		}
		g.Go(func() error {
			defer func() { <-w.slots }()
			err := w.postRecovered(pageCtx, id, j.Frame, stop, throttled)
			var o Counts
			switch {
			case err == nil:
				o.Delivered = 1
			case errors.Is(err, reply.ErrGone):
				o.Stale = 1
				// Best effort: the TTL removes the row if this fails. ctx,
				// not pageCtx: the row is gone even if the page is dropped.
				if err := w.remover.Delete(ctx, id); err != nil {
					log.WarnContext(ctx, "removing a gone connection failed", "recipientConnectionId", id, "error", err)
				}
			case errors.Is(err, ErrStopped) || errors.Is(err, ErrStillThrottled):
				cancel(err) // the page is dropped: no need to post the rest
				return nil
			case pageCtx.Err() != nil:
				return nil // the page is dropped and sent again
			default:
				o.Failed = 1
				log.WarnContext(ctx, "post failed", "recipientConnectionId", id, "error", err)
			}
			mu.Lock()
			c.add(o)
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait() // the goroutines return nil
	if err := ctx.Err(); err != nil {
		return Counts{}, err
	}
	if pageCtx.Err() != nil {
		return Counts{}, context.Cause(pageCtx)
	}
	return c, nil
}

// postRecovered is post with a panic (a bug in a Poster, say) turned into
// an error, so the post counts as failed: errgroup does not recover, and a
// panic would end the invocation and every record of its batch.
func (w *Worker) postRecovered(ctx context.Context, id string, frame []byte, stop time.Time, throttled *atomic.Int64) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic posting: %v\n%s", p, debug.Stack())
		}
	}()
	return w.post(ctx, id, frame, stop, throttled)
}

// post makes attempts until one is not throttled, each after a token from
// the rate limiter; a throttled attempt cuts the rate and is retried after
// a jittered backoff. It gives up, with an error wrapping ErrStopped, when
// the retry would be due at or after stop (the zero time: never), and
// with one wrapping ErrStillThrottled after MaxAttempts attempts.
func (w *Worker) post(ctx context.Context, id string, frame []byte, stop time.Time, throttled *atomic.Int64) error {
	for attempt := 1; ; attempt++ {
		if err := w.wait(ctx); err != nil {
			return err
		}
		sent := w.clock.Now()
		err := w.poster.Send(ctx, id, frame)
		if !errors.Is(err, ErrThrottled) {
			if err == nil || errors.Is(err, reply.ErrGone) {
				w.accepted() // the API took the request: room for more
			}
			return err
		}
		throttled.Add(1)
		w.throttledAt(sent)
		if attempt >= w.cfg.MaxAttempts {
			return fmt.Errorf("%w (%d): %w", ErrStillThrottled, attempt, err)
		}
		d := w.backoff(attempt - 1)
		if !stop.IsZero() && !w.clock.Now().Add(d).Before(stop) {
			return fmt.Errorf("%w: a throttled post's retry would be due after the stop time: %w", ErrStopped, err)
		}
		if err := w.clock.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// Rate is the worker's current rate in posts per second: additive
// increase, multiplicative decrease (AIMD, as TCP's congestion control)
// between Config.MinPostsPerSecond and Config.PostsPerSecond. A 429 halves
// it (at most once per Config.CutInterval of attempts, see throttledAt);
// every post the API accepts adds RateIncrease/Rate, i.e. RateIncrease
// per second of accepted posts at that rate. Sustained throttling so
// converges on the rate the account has left instead of hammering it with
// retries. +Inf for an unlimited worker.
func (w *Worker) Rate() float64 {
	w.reserve.Lock()
	defer w.reserve.Unlock()
	return w.limit
}

// throttledAt cuts the rate for a 429 to an attempt sent at sent, unless
// the last cut is less than CutInterval older: the posts in flight then
// were sent at the old rate, and their 429s tell nothing about the new.
func (w *Worker) throttledAt(sent time.Time) {
	if !w.adaptive {
		return
	}
	w.reserve.Lock()
	defer w.reserve.Unlock()
	if !w.lastCut.IsZero() && sent.Before(w.lastCut.Add(w.cfg.CutInterval)) {
		return
	}
	now := w.clock.Now()
	w.lastCut = now
	w.setLimit(now, max(w.cfg.MinPostsPerSecond, w.limit*rateCut))
}

// accepted grows the rate back after a post the API did not throttle.
func (w *Worker) accepted() {
	if !w.adaptive {
		return
	}
	w.reserve.Lock()
	defer w.reserve.Unlock()
	if w.limit >= w.cfg.PostsPerSecond {
		return
	}
	w.setLimit(w.clock.Now(), min(w.cfg.PostsPerSecond, w.limit+w.cfg.RateIncrease/w.limit))
}

// setLimit must be called with reserve held.
func (w *Worker) setLimit(now time.Time, limit float64) {
	if limit == w.limit {
		return
	}
	w.limit = limit
	w.limiter.SetLimitAt(now, rate.Limit(limit))
}

// backoff is the wait before retry attempt+1: uniform in [0, ceiling) with
// ceiling BaseBackoff*2^attempt capped at MaxBackoff ("full jitter").
func (w *Worker) backoff(attempt int) time.Duration {
	return time.Duration(w.randN(int64(w.ceiling(attempt))))
}

func (w *Worker) ceiling(attempt int) time.Duration {
	d := w.cfg.BaseBackoff
	for range attempt {
		if d >= w.cfg.MaxBackoff/2 {
			return w.cfg.MaxBackoff
		}
		d *= 2
	}
	return min(d, w.cfg.MaxBackoff)
}

// wait takes one token from the limiter, sleeping on the clock until it is
// due.
func (w *Worker) wait(ctx context.Context) error {
	w.reserve.Lock()
	now := w.clock.Now()
	r := w.limiter.ReserveN(now, 1)
	w.reserve.Unlock()
	if !r.OK() { // cannot happen: Burst >= 1
		return errors.New("rate limiter refused a reservation")
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if err := w.clock.Sleep(ctx, d); err != nil {
		r.CancelAt(w.clock.Now())
		return err
	}
	return nil
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error { return wait.Sleep(ctx, d) }
