package reply

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

// ErrGone means the connection no longer exists (the Management API's 410
// GoneException): the client went away without a $disconnect we saw yet.
var ErrGone = errors.New("connection gone")

// ConnectionPoster is the Management API call Sender makes.
type ConnectionPoster interface {
	PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
}

var _ ConnectionPoster = (*apigatewaymanagementapi.Client)(nil)

// Sender posts frames to connections.
type Sender struct {
	client ConnectionPoster
}

// NewSender returns a Sender over a Management API client whose BaseEndpoint
// is the API's connections URL (https://{api}.execute-api.{region}.amazonaws.com/{stage}).
func NewSender(client ConnectionPoster) *Sender {
	return &Sender{client: client}
}

// Send posts data to the connection. A gone connection is reported as an
// error matching both ErrGone (errors.Is) and *types.GoneException (errors.As).
func (s *Sender) Send(ctx context.Context, connectionID string, data []byte) error {
	_, err := s.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(connectionID),
		Data:         data,
	})
	if err == nil {
		return nil
	}
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return fmt.Errorf("post to connection %s: %w: %w", connectionID, ErrGone, err)
	}
	return fmt.Errorf("post to connection %s: %w", connectionID, err)
}
