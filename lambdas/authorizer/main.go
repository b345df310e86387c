package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func main() {
	logger := lambdacontext.NewLogger()

	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		exitAtColdStart(logger, err)
	}

	// main owns the verifier's context for the life of the process;
	// nothing runs on it after NewJWTVerifier returns.
	verifier, err := NewJWTVerifier(context.Background(), VerifierOptions{
		IssuerURL: cfg.IssuerURL,
		Audience:  cfg.Audience,
		JWKSURL:   cfg.JWKSURL,
		Logger:    logger,
	})
	if err != nil {
		exitAtColdStart(logger, err)
	}
	logger.Info("authorizer ready",
		"issuer", cfg.IssuerURL,
		"jwksURL", verifier.JWKSURL(),
		"identitySource", cfg.IdentitySource.String(),
	)

	lambda.Start(NewHandler(verifier, cfg.IdentitySource, logger).Handle)
}

// exitAtColdStart logs why the authorizer cannot serve and exits non-zero,
// which Lambda reports as an init error (Runtime.ExitError) on the first
// $connect, instead of a process that refuses every token.
func exitAtColdStart(logger *slog.Logger, err error) {
	logger.Error("authorizer cannot start", "error", err)
	os.Exit(1)
}
