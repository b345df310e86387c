package fanoutaws

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"wsapi/lambdas/internal/fanout"
)

// QueueClient is the SQS calls Queue makes.
type QueueClient interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

var (
	_ QueueClient       = (*sqs.Client)(nil)
	_ fanout.ShardQueue = (*Queue)(nil)
	_ fanout.Releaser   = (*Queue)(nil)
)

// Queue is the fan-out queue.
type Queue struct {
	client QueueClient
	url    string
}

// NewQueue returns the queue at url.
func NewQueue(client QueueClient, url string) *Queue {
	return &Queue{client: client, url: url}
}

// SendBatch sends bodies with one SendMessageBatch. SQS reports each
// entry's result apart, in Successful or Failed by the entry's Id, and the
// call can succeed with some entries failed
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html);
// an entry in neither list is counted as failed too.
func (q *Queue) SendBatch(ctx context.Context, bodies [][]byte) ([]int, error) {
	entries := make([]types.SendMessageBatchRequestEntry, len(bodies))
	for i, b := range bodies {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(b))}
	}
	out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("send %d messages: %w", len(bodies), err)
	}
	sent := make([]bool, len(bodies))
	for _, s := range out.Successful {
		if i, err := strconv.Atoi(aws.ToString(s.Id)); err == nil && i >= 0 && i < len(sent) {
			sent[i] = true
		}
	}
	var failed []int
	for i, ok := range sent {
		if !ok {
			failed = append(failed, i)
		}
	}
	return failed, nil
}

// Release sets the message's visibility timeout to 0 so that it can be
// received again at once ("The minimum is 0 seconds",
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html).
func (q *Queue) Release(ctx context.Context, receiptHandle string) error {
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(q.url),
		ReceiptHandle:     aws.String(receiptHandle),
		VisibilityTimeout: 0,
	})
	if err != nil {
		return fmt.Errorf("release message: %w", err)
	}
	return nil
}
