package message

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestSQSPublisher(t *testing.T) {
	missing := &sqstypes.QueueDoesNotExist{Message: aws.String("The specified queue does not exist.")}
	tests := []struct {
		name    string
		err     error
		wantErr bool
	}{
		{name: "sent"},
		{name: "SQS refuses", err: missing, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQueue{journal: &journal{}, err: tt.err}
			body := []byte(`{"id":"0123","sender":"alice-1=","frame":"e30="}`)

			err := NewSQSPublisher(q, testQueueURL).Publish(context.Background(), body)

			sent := q.all()
			if len(sent) != 1 || aws.ToString(sent[0].QueueUrl) != testQueueURL || aws.ToString(sent[0].MessageBody) != string(body) ||
				sent[0].DelaySeconds != 0 || sent[0].MessageGroupId != nil {
				t.Errorf("SendMessage inputs %+v, want one to %s with the body", sent, testQueueURL)
			}
			if !tt.wantErr {
				if err != nil {
					t.Errorf("Publish() = %v", err)
				}
				return
			}
			var typed *sqstypes.QueueDoesNotExist
			if !errors.As(err, &typed) || !strings.Contains(err.Error(), testQueueURL) {
				t.Errorf("Publish() = %v, want the SDK's error wrapped with the queue", err)
			}
		})
	}
}
