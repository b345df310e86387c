package message

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// SQSAPI is the SQS call SQSPublisher makes; *sqs.Client is one.
type SQSAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// SQSPublisher publishes jobs to the fan-out queue with SendMessage
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
// A job is JSON with the frame in base64, so its body is plain ASCII, within
// the characters SQS accepts in a message, and at most about 175 KB for the
// largest frame API Gateway carries, within the 256 KiB SQS has long taken
// (the page now gives 1 MiB; fanout.EncodeJob checks the smaller one).
//
// The SDK's retryer may send a job twice when an answer is lost; both carry
// the same message id, and the fanout function's jobs table is keyed by it,
// so a repeat splits the same way and its re-sent pages are dropped by
// clients as duplicates.
type SQSPublisher struct {
	client   SQSAPI
	queueURL string
}

// NewSQSPublisher returns a Publisher sending to the queue at queueURL
// (Config.FanOutQueueURL).
func NewSQSPublisher(client SQSAPI, queueURL string) *SQSPublisher {
	return &SQSPublisher{client: client, queueURL: queueURL}
}

// Publish sends body as one message. The error wraps the SDK's.
func (p *SQSPublisher) Publish(ctx context.Context, body []byte) error {
	_, err := p.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(p.queueURL),
		MessageBody: aws.String(string(body)),
	})
	if err != nil {
		return fmt.Errorf("send the fan-out job to %s: %w", p.queueURL, err)
	}
	return nil
}
