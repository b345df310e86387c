// Command apigwaccount is the custom resource that gives API Gateway a
// CloudWatch Logs role in this account and region only when it has none
// (see package wsapi/lambdas/internal/apigwaccount).
package main

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"wsapi/lambdas/internal/apigwaccount"
	"wsapi/lambdas/internal/boot"
	"wsapi/lambdas/internal/boot/awsconfig"
)

func main() {
	boot.Run(setup)
}

func setup(ctx context.Context, log *slog.Logger) (*apigwaccount.Handler, error) {
	// cfn.LambdaWrap reports through the standard log package; this sends
	// those lines through the same JSON handler.
	slog.SetDefault(log)
	awsCfg, err := awsconfig.Load(ctx)
	if err != nil {
		// Not a failed cold start: a function that never answers leaves
		// the stack waiting an hour, so every request is answered FAILED.
		return apigwaccount.Unavailable(err, log), nil
	}
	return apigwaccount.New(apigateway.NewFromConfig(awsCfg), iam.NewFromConfig(awsCfg), log), nil
}
