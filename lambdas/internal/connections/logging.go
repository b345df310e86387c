package connections

import (
	"context"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// AWSRequestID returns the Lambda request id of the invocation in ctx, or ""
// outside Lambda.
func AWSRequestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// LogAttrs returns the slog attributes that tie a log line to the invocation
// whatever the slog handler: both request ids (API Gateway's, which is in the
// access log, and Lambda's), the connection and the route. It never includes
// anything the client wrote.
func (rc RequestContext) LogAttrs(ctx context.Context) []any {
	return []any{
		"apiRequestId", rc.RequestID,
		"awsRequestId", AWSRequestID(ctx),
		"connectionId", rc.ConnectionID,
		"routeKey", rc.RouteKey,
	}
}
