// Package fanout is the worker side of a broadcast fanned out through SQS and
// Lambda (the issue "Broadcast at internet scale: fan-out through SQS and
// Lambda"). It is groundwork: nothing in the stack uses it yet, no function
// imports it, and its ports have no AWS adapters (see "Wiring" below).
//
// # The job and its shards
//
// A broadcast is a Job: the message id, the sender's connection id, the
// frame every recipient gets (built by the message function, and carrying
// the message id) and a number of shards. Shard i of n is DynamoDB parallel
// scan segment i of TotalSegments n over the connections table; one SQS
// message carries one Shard as JSON (EncodeShard, DecodeShard), and one
// worker invocation processes it (Worker.ProcessShard).
//
// A worker pages through its segment (Pager), posts the frame to every
// connection but the sender's with at most Config.MaxInFlight posts at a
// time (Poster), and:
//
//   - a gone connection (410 GoneException, an error matching reply.ErrGone)
//     has its row deleted (Remover) and counts as stale;
//   - a throttled post (429 / LimitExceededException, an error matching
//     ErrThrottled) is retried with exponential backoff and full jitter, at
//     most Config.MaxAttempts attempts in all, and counts as failed when
//     they run out;
//   - any other error counts as failed, without a retry of ours (the SDK's
//     retryer has already had its go);
//   - every attempt, retries and the delivery report included, first takes
//     a token from the worker's rate limiter (golang.org/x/time/rate):
//     Config.PostsPerSecond with bursts of Config.Burst.
//
// After each page whose posts have all completed, the worker stores a
// Checkpoint (the scan's next key and the counts so far) through
// Checkpoints. A shard started again (SQS redelivers a message whose
// invocation failed or timed out) resumes after the stored key with the
// stored counts, so it re-sends at most the one page that was in flight,
// and counts it once.
//
// When its last page is done the worker adds the shard's counts to the
// job's totals (Counters). The call that completes the last shard sees
// ShardsDone reach the job's TotalShards, and that worker posts
// {"type":"delivery","id":...,"delivered":N,"stale":M,"failed":K} to the
// sender's connection; a gone sender is ignored.
//
// # At least once
//
// Delivery is at least once, never exactly once: a page that was in flight
// when a worker died is sent again, a shard message can be delivered twice,
// and the delivery report is posted again when the last shard's message is
// redelivered. Every frame carries the message id, and clients drop a
// frame whose (type, id) they have already seen. Counts are not inflated
// by these repeats: a re-sent page is counted only by the run that
// completes it, and Counters.Add applies once per (job, segment).
//
// # Wiring (not done)
//
//   - an SQS-triggered function (lambdas/fanout/main.go) that decodes each
//     record with DecodeShard and reports failed records as batch item
//     failures; the message function enqueuing Job.Shards;
//   - a Pager over DynamoDB Scan with Segment/TotalSegments, encoding
//     LastEvaluatedKey as the opaque string key;
//   - a Poster over PostToConnection mapping *types.GoneException to
//     reply.ErrGone (reply.Sender does) and the throttling error
//     (*types.LimitExceededException, HTTP 429) to ErrThrottled, with
//     errors.As;
//   - Checkpoints and Counters over a DynamoDB jobs table (Counters.Add as
//     one UpdateItem: ADD to the counts and to ShardsDone, the segment added
//     to a number set, with a condition that the set lacks it; a failed
//     condition returns the current totals);
//   - the stack: queue, dead-letter queue, table, function, alarms; the
//     shared strings (the "delivery" frame type) in package contract.
package fanout
