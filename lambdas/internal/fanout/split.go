package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// ItemCounter returns the approximate number of items in the connections
// table: DynamoDB's DescribeTable ItemCount, which "DynamoDB updates
// approximately every six hours"
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html).
// Only the segment count depends on it, never what gets delivered.
type ItemCounter interface {
	ItemCount(ctx context.Context) (int64, error)
}

// JobStore stores a job's segment count once.
type JobStore interface {
	// SetTotalShards stores n as the job's segment count unless one is
	// stored already, and returns the stored one: a redelivered job splits
	// the way its first delivery did.
	SetTotalShards(ctx context.Context, jobID string, n int) (int, error)
}

// ShardQueue sends messages to the fan-out queue.
type ShardQueue interface {
	// SendBatch sends at most MaxBatchEntries bodies of at most
	// MaxBatchBytes in all in one call, and returns the indexes of the
	// bodies that were not sent (SendMessageBatch reports each entry's
	// success apart). err is for a call that failed as a whole.
	SendBatch(ctx context.Context, bodies [][]byte) (failed []int, err error)
}

// SendMessageBatch's limits: "up to 10 messages", and a total payload of
// at most 262,144 bytes
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html).
const (
	MaxBatchEntries = 10
	MaxBatchBytes   = 256 * 1024
)

// SplitConfig chooses a job's segment count.
type SplitConfig struct {
	// Segments, when > 0, is the segment count of every job.
	Segments int
	// Otherwise the count is ceil(ItemCount / ConnectionsPerSegment),
	// clamped to 1..MaxSegments.
	ConnectionsPerSegment int
	MaxSegments           int
	// SendAttempts is the most SendMessageBatch calls for one entry.
	SendAttempts int
}

// Defaults of SplitConfig.
const (
	DefaultConnectionsPerSegment = 5000
	DefaultMaxSegments           = 100
	DefaultSendAttempts          = 3
)

func (c SplitConfig) withDefaults() SplitConfig {
	if c.ConnectionsPerSegment <= 0 {
		c.ConnectionsPerSegment = DefaultConnectionsPerSegment
	}
	if c.MaxSegments <= 0 {
		c.MaxSegments = DefaultMaxSegments
	}
	c.MaxSegments = min(c.MaxSegments, maxTotalShards)
	if c.SendAttempts <= 0 {
		c.SendAttempts = DefaultSendAttempts
	}
	return c
}

// ErrNotEnqueued is matched by Split's error when some shards could not be
// enqueued: the job is to be retried (re-enqueued shards are harmless, as
// a shard's counts are added once).
var ErrNotEnqueued = errors.New("shards not enqueued")

// Splitter turns a job into its shards.
type Splitter struct {
	counter ItemCounter
	jobs    JobStore
	queue   ShardQueue
	cfg     SplitConfig
	log     *slog.Logger
}

// NewSplitter returns a Splitter; log may be nil.
func NewSplitter(counter ItemCounter, jobs JobStore, queue ShardQueue, cfg SplitConfig, log *slog.Logger) *Splitter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Splitter{counter: counter, jobs: jobs, queue: queue, cfg: cfg.withDefaults(), log: log}
}

// Segments returns the job's segment count (stored on the job's first
// split) without enqueuing anything.
func (s *Splitter) Segments(ctx context.Context, j Job) (int, error) {
	n := s.cfg.Segments
	if n <= 0 {
		items, err := s.counter.ItemCount(ctx)
		if err != nil {
			return 0, fmt.Errorf("count connections: %w", err)
		}
		n = segmentsFor(items, s.cfg.ConnectionsPerSegment, s.cfg.MaxSegments)
	}
	n = min(n, maxTotalShards)
	stored, err := s.jobs.SetTotalShards(ctx, j.ID, n)
	if err != nil {
		return 0, fmt.Errorf("store segment count of %s: %w", j.ID, err)
	}
	if stored < 1 || stored > maxTotalShards {
		return 0, fmt.Errorf("%w: stored segment count %d of %s not in 1..%d", ErrInvalidShard, stored, j.ID, maxTotalShards)
	}
	return stored, nil
}

// segmentsFor is ceil(items/per) clamped to 1..most.
func segmentsFor(items int64, per, most int) int {
	if items <= 0 {
		return 1
	}
	n := (items + int64(per) - 1) / int64(per)
	return int(min(max(n, 1), int64(most)))
}

// Enqueue sends the shards of j (its TotalShards set) in batches,
// retrying entries that failed; an error (ErrNotEnqueued when entries
// failed every attempt) means the job is to be retried.
func (s *Splitter) Enqueue(ctx context.Context, j Job) error {
	bodies := make([][]byte, 0, j.TotalShards)
	for _, sh := range j.Shards() {
		b, err := EncodeShard(sh)
		if err != nil {
			return err
		}
		bodies = append(bodies, b)
	}
	for _, batch := range batches(bodies) {
		if err := s.sendBatch(ctx, batch); err != nil {
			return fmt.Errorf("enqueue shards of %s: %w", j.ID, err)
		}
	}
	return nil
}

// Continue sends sh again as a new message on the fan-out queue, retrying
// up to SendAttempts calls, so that a shard stopped before the function's
// deadline after making progress resumes with a receive count of 0 (see
// the package doc). An error means it was not sent: the caller releases
// the old message instead.
func (s *Splitter) Continue(ctx context.Context, sh Shard) error {
	b, err := EncodeShard(sh)
	if err != nil {
		return err
	}
	if err := s.sendBatch(ctx, [][]byte{b}); err != nil {
		return fmt.Errorf("continue shard %s/%d: %w", sh.ID, sh.Segment, err)
	}
	return nil
}

// sendBatch sends one batch, resending its failed entries up to
// SendAttempts calls in all.
func (s *Splitter) sendBatch(ctx context.Context, batch [][]byte) error {
	for attempt := 1; ; attempt++ {
		failed, err := s.queue.SendBatch(ctx, batch)
		if err != nil {
			return err
		}
		if len(failed) == 0 {
			return nil
		}
		if attempt >= s.cfg.SendAttempts {
			return fmt.Errorf("%w: %d of a batch of %d after %d attempts", ErrNotEnqueued, len(failed), len(batch), attempt)
		}
		s.log.WarnContext(ctx, "shards not enqueued, retrying", "failed", len(failed), "attempt", attempt)
		retry := make([][]byte, 0, len(failed))
		for _, i := range failed {
			if i < 0 || i >= len(batch) {
				return fmt.Errorf("queue reported entry %d of a batch of %d", i, len(batch))
			}
			retry = append(retry, batch[i])
		}
		batch = retry
	}
}

// batches cuts bodies into batches of at most MaxBatchEntries entries and
// MaxBatchBytes bytes (a shard message is at most maxShardMessageBytes, so
// each fits alone).
func batches(bodies [][]byte) [][][]byte {
	var (
		out   [][][]byte
		cur   [][]byte
		bytes int
	)
	for _, b := range bodies {
		if len(cur) == MaxBatchEntries || (len(cur) > 0 && bytes+len(b) > MaxBatchBytes) {
			out = append(out, cur)
			cur, bytes = nil, 0
		}
		cur = append(cur, b)
		bytes += len(b)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
