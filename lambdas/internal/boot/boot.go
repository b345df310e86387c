// Package boot is the cold start every function in lambdas/ shares: build
// the Lambda logger, run the function's setup once, and hand the handler to
// the Lambda runtime. It exists so that the main packages stay wiring only,
// and so that a failed cold start looks the same in every function's log:
// one ERROR line "cold start failed" with the cause under "error". The
// functions that call AWS load the SDK's configuration with package
// boot/awsconfig, kept apart so that boot does not link the SDK.
package boot

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Handler is what a setup builds: a value whose Handle method is a Lambda
// handler (context and event in, response and error out).
type Handler[In, Out any] interface {
	Handle(ctx context.Context, event In) (Out, error)
}

// Run builds the logger from the Lambda environment (AWS_LAMBDA_LOG_FORMAT
// and AWS_LAMBDA_LOG_LEVEL), calls setup with it, and starts serving
// h.Handle; it does not return.
//
// setup runs once per process, on a context that is never cancelled, so
// what it starts may live as long as the process. When it fails, Run logs
// "cold start failed" at ERROR with the error and exits 1: Lambda then
// reports an init error (Runtime.ExitError) with that line in the
// function's log, instead of running a process that fails every request.
func Run[H Handler[In, Out], In, Out any](setup func(ctx context.Context, log *slog.Logger) (H, error)) {
	log := lambdacontext.NewLogger()
	h, err := setup(context.Background(), log)
	if err != nil {
		log.Error("cold start failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
