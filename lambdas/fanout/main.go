// Command fanout is the fan-out worker: triggered by the fan-out queue, it
// splits broadcast jobs into shards and posts each shard's frame to its
// segment of the connections (see package wsapi/lambdas/internal/fanout).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"wsapi/contract"
	"wsapi/lambdas/internal/boot"
	"wsapi/lambdas/internal/boot/awsconfig"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/fanout"
	"wsapi/lambdas/internal/fanout/fanoutaws"
	"wsapi/lambdas/internal/metrics"
)

func main() {
	boot.Run(setup)
}

func setup(ctx context.Context, log *slog.Logger) (*fanout.Handler, error) {
	startCPUProfiles(log)
	cfg, err := fanout.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	m, err := metrics.FromEnv(os.Getenv, contract.FunctionFanOut, log)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.Load(ctx, awsconfig.WithIdleConnsPerHost(cfg.Worker.MaxInFlight))
	if err != nil {
		return nil, err
	}
	return newHandler(awsCfg, cfg, m, log)
}

// newHandler builds the SDK clients and the handler; the integration test
// calls it with an aws.Config pointing at local servers.
func newHandler(awsCfg aws.Config, cfg fanout.FunctionConfig, m fanout.Metrics, log *slog.Logger) (*fanout.Handler, error) {
	// The SDK-free poster: same request, signature and errors as the
	// Management API client, at less than half its CPU per post (see
	// fanoutaws.SignedPoster), which bounds a worker's posts per second.
	poster, err := fanoutaws.NewSignedPoster(awsCfg, cfg.ConnectionsEndpoint)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(awsCfg)
	queue := fanoutaws.NewQueue(sqs.NewFromConfig(awsCfg), cfg.QueueURL)
	jobs := fanoutaws.NewJobs(db, cfg.JobsTableName, cfg.JobTTL)
	worker := fanout.New(
		fanoutaws.NewScanPager(db, cfg.TableName, cfg.PageSize),
		poster,
		connections.NewDeleter(db, cfg.TableName),
		jobs, jobs,
		cfg.Worker,
		fanout.WithLogger(log),
	)
	splitter := fanout.NewSplitter(fanoutaws.NewTableSize(db, cfg.TableName), jobs, queue, cfg.Split, log)
	return fanout.NewHandler(worker, splitter, queue, m, fanout.HandlerConfig{}, log), nil
}
