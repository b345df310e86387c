// Command authorizer is the Lambda REQUEST authorizer on the WebSocket API's
// $connect route: it verifies the client's JWT and allows the connection or
// answers "Unauthorized" (see package wsapi/lambdas/internal/authorizer).
package main

import (
	"context"
	"log"
	"log/slog"
	"os"

	"wsapi/contract"
	"wsapi/lambdas/internal/authorizer"
	"wsapi/lambdas/internal/boot"
	"wsapi/lambdas/internal/metrics"
)

func main() {
	boot.Run(setup)
}

// setup reads the configuration and fetches the issuer's keys; either
// failing stops the process at cold start (see package boot).
func setup(ctx context.Context, logger *slog.Logger) (*authorizer.Handler, error) {
	// aws-lambda-go echoes every error a handler returns through package
	// log, as plain text. This handler's only error is the documented
	// Unauthorized, and Handle has already logged the refusal with its
	// reason as one JSON line; anything else the runtime prints stays, as
	// JSON.
	log.SetFlags(0)
	log.SetOutput(boot.StdLogWriter{Logger: logger, Drop: authorizer.IsUnauthorizedEcho})

	cfg, err := authorizer.LoadConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	m, err := metrics.FromEnv(os.Getenv, contract.FunctionAuthorizer, logger)
	if err != nil {
		return nil, err
	}

	// ctx lives as long as the process; nothing runs on it after
	// NewJWTVerifier returns.
	verifier, err := authorizer.NewJWTVerifier(ctx, authorizer.VerifierOptions{
		IssuerURL:       cfg.IssuerURL,
		Audience:        cfg.Audience,
		AllowedTokenUse: cfg.AllowedTokenUse,
		JWKSURL:         cfg.JWKSURL,
		Logger:          logger,
	})
	if err != nil {
		return nil, err
	}
	logger.Info("authorizer ready",
		"issuer", cfg.IssuerURL,
		"jwksURL", verifier.JWKSURL(),
		"identitySource", cfg.IdentitySource.String(),
		"allowedTokenUse", cfg.AllowedTokenUse.String(),
	)

	return authorizer.NewHandler(verifier, cfg.IdentitySource, m, logger), nil
}
