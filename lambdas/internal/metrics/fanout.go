package metrics

import (
	"context"
	"time"

	"wsapi/contract"
)

// Shard is what one fanout invocation did with one shard (only the pages
// it posted, not those of an earlier run it resumed after).
type Shard struct {
	Delivered     int // posted
	Stale         int // 410 Gone; the row was removed (or left to the TTL)
	PostFailed    int // any other failure: not gone, not throttled (throttled posts are retried)
	PostThrottled int // throttled attempts (429), each one retried
	// Duration covers listing and posting.
	Duration time.Duration
}

// Shard writes the fanout function's record of one shard: Delivered,
// Stale, PostFailed, PostThrottled (Count) and ShardDuration
// (Milliseconds), by Function.
func (e *EMF) Shard(ctx context.Context, s Shard) {
	e.emit(ctx,
		[]Definition{
			{contract.MetricDelivered, Count},
			{contract.MetricStale, Count},
			{contract.MetricPostFailed, Count},
			{contract.MetricPostThrottled, Count},
			{contract.MetricShardDuration, Milliseconds},
		},
		[]Value{
			{contract.MetricDelivered, float64(s.Delivered)},
			{contract.MetricStale, float64(s.Stale)},
			{contract.MetricPostFailed, float64(s.PostFailed)},
			{contract.MetricPostThrottled, float64(s.PostThrottled)},
			{contract.MetricShardDuration, float64(s.Duration.Microseconds()) / 1000},
		})
}

// JobSplit writes the fanout function's record of a job split into shards
// segments: JobShards (Count), by Function.
func (e *EMF) JobSplit(ctx context.Context, shards int) {
	e.emit(ctx,
		[]Definition{{contract.MetricJobShards, Count}},
		[]Value{{contract.MetricJobShards, float64(shards)}})
}

func (Nop) Shard(context.Context, Shard)  {}
func (Nop) JobSplit(context.Context, int) {}
