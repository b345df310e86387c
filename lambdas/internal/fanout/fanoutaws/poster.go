package fanoutaws

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"wsapi/lambdas/internal/fanout"
	"wsapi/lambdas/internal/reply"
)

var _ fanout.Poster = (*Poster)(nil)

// Poster posts frames with the Management API's PostToConnection
// (https://docs.aws.amazon.com/apigatewayv2/latest/api/apigatewaymanagementapi-connections-connectionid.html):
// GoneException (410) is "The connection with the provided id no longer
// exists", LimitExceededException (429) "The client is sending more than
// the allowed number of requests per unit of time or the WebSocket client
// side buffer is full"
// (https://docs.aws.amazon.com/AWSJavaSDK/latest/javadoc/com/amazonaws/services/apigatewaymanagementapi/model/package-summary.html);
// either way a later attempt may succeed, so the worker retries it.
type Poster struct {
	sender *reply.Sender
}

// NewPoster returns a Poster over a Management API client, which should
// come from NewManagementClient.
func NewPoster(client reply.ConnectionPoster) *Poster {
	return &Poster{sender: reply.NewSender(client)}
}

// Send posts data to the connection. A gone connection is an error
// matching reply.ErrGone (reply.Sender maps it), a throttled post one
// matching fanout.ErrThrottled (both also match the SDK's typed error with
// errors.As).
func (p *Poster) Send(ctx context.Context, connectionID string, data []byte) error {
	err := p.sender.Send(ctx, connectionID, data)
	var throttled *types.LimitExceededException
	if errors.As(err, &throttled) {
		return fmt.Errorf("%w: %w", fanout.ErrThrottled, err)
	}
	return err
}

// NewManagementClient returns a Management API client on endpoint (the
// API's https://{api-id}.execute-api.{region}.amazonaws.com/{stage}) that
// makes one attempt per call. The SDK's standard retryer retries throttling
// errors (LimitExceededException among them) from a retry quota shared by
// the client, and fails calls fast once the quota is spent, so under a
// broadcast's load it would both hide 429s from the worker's rate limiter
// and then stop retrying at all; the worker retries throttled posts itself
// with its own backoff (fanout.Config). "aws.NopRetryer … does not retry"
// (https://docs.aws.amazon.com/sdk-for-go/v2/developer-guide/configure-retries-timeouts.html).
func NewManagementClient(cfg aws.Config, endpoint string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = aws.NopRetryer{}
	})
}
