package main

import (
	"context"
	"log"
	"log/slog"
	"os"

	"wsapi/lambdas/internal/boot"
)

func main() {
	boot.Run(setup)
}

// setup reads the configuration and fetches the issuer's keys; either
// failing stops the process at cold start (see package boot).
func setup(ctx context.Context, logger *slog.Logger) (*Handler, error) {
	// aws-lambda-go echoes every error a handler returns through package
	// log, as plain text. This handler's only error is the documented
	// Unauthorized, and Handle has already logged the refusal with its
	// reason as one JSON line; anything else the runtime prints stays, as
	// JSON.
	log.SetFlags(0)
	log.SetOutput(boot.StdLogWriter{Logger: logger, Drop: func(line string) bool {
		return line == unauthorizedEcho
	}})

	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		return nil, err
	}

	// ctx lives as long as the process; nothing runs on it after
	// NewJWTVerifier returns.
	verifier, err := NewJWTVerifier(ctx, VerifierOptions{
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

	return NewHandler(verifier, cfg.IdentitySource, logger), nil
}
