// Package fanout is the fanout function's logic: a broadcast fanned out
// through SQS and Lambda (the issue "Broadcast at internet scale"). The
// command lambdas/fanout wires it; package fanoutaws holds the AWS adapters
// of its ports.
//
// # The job and its shards
//
// A broadcast is a Job: the message id, the sender's connection id, the
// frame every recipient gets (built by the message function, and carrying
// the message id) and a number of shards. The message function enqueues
// the job message, {"id","sender","frame"} (EncodeJob), on the fan-out
// queue. The fanout function (Handler, on an SQS event source mapping of
// that queue) decodes each record with DecodeRecord:
//
//   - a job is split (Splitter): its segment count is FANOUT_SEGMENTS, or
//     the connections table's approximate item count (DescribeTable, only
//     ever a sizing hint) over CONNECTIONS_PER_SEGMENT clamped to
//     1..MAX_SEGMENTS; it is stored once on the job's totals item, so a
//     redelivered job splits the same way; then one shard message per
//     segment is sent with SendMessageBatch. A job of one segment is
//     processed at once, without a shard message.
//   - a shard, {"id","sender","frame","totalShards","segment"}
//     (EncodeShard, DecodeShard), is DynamoDB parallel scan segment i of
//     TotalSegments n over the connections table, processed by
//     Worker.ProcessShardBefore.
//
// A malformed record is logged without its body and reported failed, so it
// ends in the dead-letter queue after maxReceiveCount receives. Any other
// failure is reported failed too (ReportBatchItemFailures) and the record
// is received again after its visibility timeout.
//
// A worker pages through its segment (Pager), posts the frame to every
// connection but the sender's with at most Config.MaxInFlight posts at a
// time (Poster), and:
//
//   - a gone connection (410 GoneException, an error matching reply.ErrGone)
//     has its row deleted (Remover) and counts as stale;
//   - a throttled post (429 / LimitExceededException, an error matching
//     ErrThrottled) is retried with exponential backoff and full jitter
//     (Config.BaseBackoff doubling up to Config.MaxBackoff) for as long
//     as it takes: it is never counted failed for being throttled. AWS
//     documents 429 as the answer past the account's steady-state rate
//     and burst, applied "on a best-effort basis", and that a client "can
//     resubmit the failed requests in a way that is rate limiting"
//     (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html);
//     nothing here depends on the limit's value. When a retry would be
//     due at or after the shard's stop time (the handler's: the deadline
//     minus HandlerConfig.Margin), the page is abandoned: not
//     checkpointed, its counts dropped, ErrStopped returned, and the
//     handler hands the shard over (see Stopping before the deadline) so
//     that the next invocation sends that page again. A post throttled
//     Config.MaxAttempts times in a row (a safety cap, 100 by default,
//     for callers with no stop time) abandons its page the same way with
//     ErrStillThrottled, and the record waits out its visibility timeout;
//   - any other error counts as failed (Counts.Failed), without a retry
//     (the poster makes one attempt per call, see fanoutaws.NewSignedPoster
//     and fanoutaws.NewManagementClient, so that throttling is the worker's
//     to handle);
//   - every attempt, retries and the delivery report included, first takes
//     a token from the worker's rate limiter (golang.org/x/time/rate),
//     with bursts of Config.Burst, at an adaptive rate (Worker.Rate): a
//     429 halves it, at most once per Config.CutInterval and not below
//     Config.MinPostsPerSecond, and each post that is not throttled adds
//     Config.RateIncrease/rate, i.e. Config.RateIncrease per second of
//     accepted posts, up to Config.PostsPerSecond (AIMD). Under sustained
//     throttling the worker so converges on the rate the account has
//     left instead of spending it on retries. The Worker, and its rate,
//     lives as long as the function's execution environment.
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
// # Stopping before the deadline
//
// A shard still running shortly before the invocation's deadline
// (HandlerConfig.Margin) stops after its current page, with its checkpoint
// saved, and is handed over to another invocation. Every receive of a
// message counts toward the queue's redrive policy: once a message's
// receive count exceeds maxReceiveCount (5 by default here), SQS moves it
// to the dead-letter queue
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
// Redelivering the same message for each hand-over would so send a big or
// heavily throttled shard to the dead-letter queue after a few invocations
// although it was progressing, and its remaining connections would miss
// the broadcast. So a shard that stopped with progress, i.e. that
// checkpointed at least one page in this invocation, or that stopped
// between pages because its stop time came (a planned stop, such as a
// record that waited for a slot until then), continues in a new message:
// the same shard body is sent again (Splitter.Continue, through the
// ShardQueue), a new message whose receive count starts at 0, and the
// record is reported done, so that the event source mapping deletes it. A
// one-segment job processed inline continues as its shard's message.
//
// If that send fails, and for a shard that stopped with no progress (a
// post of its first page still throttled at the stop time), the record is
// released instead: made visible again at once (ChangeMessageVisibility
// to 0) and reported failed, so another invocation resumes it right away,
// and the receive counts. A shard that cannot progress therefore still
// reaches the dead-letter queue after maxReceiveCount receives, and its
// alarm fires; a progressing one never does, however many invocations it
// takes.
//
// # At least once
//
// Delivery is at least once, never exactly once: a page that was in flight
// when a worker died, or that a worker abandoned because a post of it was
// still throttled at its stop time, is sent again, a shard message can be
// delivered twice, and the delivery report is posted again when the last
// shard's message is redelivered. A hand-over in a new message (see
// Stopping before the deadline) leaves two messages for one segment when
// the old one is not deleted after all (the event source mapping's delete
// failed, or the invocation timed out after the send): two workers can
// then run the same segment at once, from the same or neighbouring
// checkpoints. That only repeats posts, never misses one: each resumes
// after a checkpoint whose pages are all posted, pages on to the end of the
// segment, and its counts are added once per segment. Every frame carries
// the message id, and clients drop a frame whose (type, id) they have
// already seen. Counts are not inflated by these repeats: a re-sent page
// is counted only by the run that completes it, and Counters.Add applies
// once per (job, segment).
//
// Records of one event are processed concurrently (HandlerConfig.Concurrency)
// by one Worker, whose in-flight bound and rate limiter they share.
package fanout
