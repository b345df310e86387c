// Command connect is the $connect function, behind a Lambda proxy
// integration: it records each new connection in the connections table and
// answers 200 to accept the handshake, or 500 to refuse it when it cannot
// (see package wsapi/lambdas/internal/connect).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"wsapi/contract"
	"wsapi/lambdas/internal/boot"
	"wsapi/lambdas/internal/boot/awsconfig"
	"wsapi/lambdas/internal/connect"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/metrics"
)

func main() {
	boot.Run(setup)
}

func setup(ctx context.Context, log *slog.Logger) (*connect.Handler, error) {
	cfg, err := connect.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	m, err := metrics.FromEnv(os.Getenv, contract.FunctionConnect, log)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(awsCfg)
	return connect.New(connections.NewWriter(db, cfg.TableName), cfg.ConnectionTTL, m, log), nil
}
