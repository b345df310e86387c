// Package sqs is an in-process, SQS-compatible server for the local run: the
// subset of the Amazon SQS API that the broadcast fan-out uses, spoken in the
// AWS JSON 1.0 protocol of the aws-sdk-go-v2 sqs client (POST with
// X-Amz-Target: AmazonSQS.<Action> and Content-Type:
// application/x-amz-json-1.0; errors as HTTP 400 with
// {"__type": "com.amazonaws.sqs#<Type>", "message": ...} and the
// x-amzn-query-error header), so that the real client can be pointed at it
// with BaseEndpoint. docs/fanout-research.md explains why this is not goaws.
//
// The local run (package localrun) serves it with the template's queues,
// and its event source mappings (package localrun/esm) poll them through
// the Go API (Server.Queue, Queue.Receive, Queue.Delete,
// Queue.ChangeVisibility), which works on the same state as the HTTP API.
//
// Emulated, standard queues only (names ending in .fifo, FIFO attributes and
// FIFO parameters are refused):
//
//   - CreateQueue with VisibilityTimeout, DelaySeconds,
//     ReceiveMessageWaitTimeSeconds and RedrivePolicy (deadLetterTargetArn,
//     which must name an existing queue, and maxReceiveCount 1-1000, a number
//     or a string); KmsMasterKeyId, KmsDataKeyReusePeriodSeconds,
//     SqsManagedSseEnabled, MessageRetentionPeriod and MaximumMessageSize are
//     validated where cheap, stored and reported back, and not acted on
//     (nothing is encrypted or expired; the size limit stays 256 KiB). The
//     same name with the same attributes returns the existing queue; other
//     attributes are QueueNameExists. Unknown attribute names are
//     InvalidAttributeName.
//   - GetQueueUrl, GetQueueAttributes (All or names: QueueArn,
//     ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible,
//     ApproximateNumberOfMessagesDelayed, VisibilityTimeout, RedrivePolicy,
//     the stored attributes; the counts are exact).
//   - SendMessage and SendMessageBatch: bodies of 1 byte to 256 KiB in the
//     characters AWS allows, MD5OfMessageBody, DelaySeconds 0-900; a batch
//     holds 1-10 entries with distinct ids (EmptyBatchRequest,
//     TooManyEntriesInBatchRequest, BatchEntryIdsNotDistinct,
//     InvalidBatchEntryId) and at most 256 KiB of bodies in all
//     (BatchRequestTooLong); an entry that fails alone is in Failed, the
//     others are sent. MessageAttributes are refused, not dropped.
//   - ReceiveMessage: MaxNumberOfMessages 1-10, VisibilityTimeout override,
//     WaitTimeSeconds 0-20 (long polling returns as soon as at least one
//     message is there), the system attributes ApproximateReceiveCount,
//     SentTimestamp, ApproximateFirstReceiveTimestamp and SenderId (by name or
//     All, through MessageSystemAttributeNames or the older AttributeNames).
//     Messages come oldest first; a received message is invisible for the
//     visibility timeout and then receivable again with its receive count
//     incremented and a new receipt handle. A receive that would take the
//     receive count past the queue's maxReceiveCount moves the message to the
//     dead-letter queue instead ("when the ReceiveCount for a message exceeds
//     the maxReceiveCount", sqs-dead-letter-queues); it keeps its id, body and
//     SentTimestamp and starts with a receive count of 0 there.
//   - DeleteMessage and DeleteMessageBatch: the most recent receipt handle
//     deletes. An older handle of the same message succeeds without deleting
//     (the API reference: "If you use an old ReceiptHandle, the request will
//     succeed, but the message might not be deleted"; locally it never is); a
//     handle of a message already deleted succeeds; a string that is no
//     handle of this queue is ReceiptHandleIsInvalid.
//   - ChangeMessageVisibility and ChangeMessageVisibilityBatch: 0-43200 s from
//     now, within 12 hours of the receive; 0 makes the message receivable at
//     once. An older handle is InvalidParameterValue ("The receipt handle has
//     expired", as users report it; the reference does not say), a message
//     whose visibility timeout already ran out is MessageNotInflight.
//
// Choices where AWS is approximate or silent: counts are exact, not
// approximate; messages are never lost, duplicated or reordered (a standard
// queue may do all three); retention is not enforced; signatures are not
// checked; the in-flight limit (about 120,000) is not enforced.
//
// Time: visibility timeouts, delays and timestamps follow Options.Now, so
// tests can move a fake clock instead of sleeping (call Server.Wake after
// moving it if a long poll is waiting). Long polling itself waits in real
// time.
package sqs
