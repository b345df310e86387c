// Command message is the sendmessage and $default function: it queues a
// broadcast for the fanout function, or posts a direct message to the
// recipient's connections, and returns the sender's reply (see package
// wsapi/lambdas/internal/message).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"wsapi/contract"
	"wsapi/lambdas/internal/boot"
	"wsapi/lambdas/internal/boot/awsconfig"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/message"
	"wsapi/lambdas/internal/metrics"
	"wsapi/lambdas/internal/reply"
)

func main() {
	boot.Run(setup)
}

func setup(ctx context.Context, log *slog.Logger) (*message.Handler, error) {
	cfg, err := message.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	m, err := metrics.FromEnv(os.Getenv, contract.FunctionMessage, log)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.Load(ctx, awsconfig.WithIdleConnsPerHost(cfg.MaxInFlight))
	if err != nil {
		return nil, err
	}
	return newHandler(awsCfg, cfg, m, log), nil
}

// newHandler builds the SDK clients and the handler; the integration test
// calls it with an aws.Config pointing at local servers. The SQS client takes
// its endpoint from the configuration like the others (the local run sets
// AWS_ENDPOINT_URL_SQS), not from the queue URL.
func newHandler(awsCfg aws.Config, cfg message.Config, m message.Metrics, log *slog.Logger) *message.Handler {
	db := dynamodb.NewFromConfig(awsCfg)
	mgmt := apigatewaymanagementapi.NewFromConfig(awsCfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(cfg.ConnectionsEndpoint)
	})
	return message.New(
		connections.NewLister(db, cfg.TableName, cfg.PrincipalIndexName),
		connections.NewDeleter(db, cfg.TableName),
		reply.NewSender(mgmt),
		message.NewSQSPublisher(sqs.NewFromConfig(awsCfg), cfg.FanOutQueueURL),
		cfg.Limits,
		m,
		log,
	)
}
