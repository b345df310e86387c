// Command disconnect is the $disconnect function: it removes the closed
// connection from the connections table (see package
// wsapi/lambdas/internal/disconnect).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"wsapi/contract"
	"wsapi/lambdas/internal/boot"
	"wsapi/lambdas/internal/boot/awsconfig"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/disconnect"
	"wsapi/lambdas/internal/metrics"
)

func main() {
	boot.Run(setup)
}

func setup(ctx context.Context, log *slog.Logger) (*disconnect.Handler, error) {
	cfg, err := disconnect.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	m, err := metrics.FromEnv(os.Getenv, contract.FunctionDisconnect, log)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(awsCfg)
	return disconnect.New(connections.NewDeleter(db, cfg.TableName), m, log), nil
}
