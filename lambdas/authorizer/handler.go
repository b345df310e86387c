package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// maxContextValueBytes caps each authorizer context value. API Gateway
// refuses authorizer results over 8 KB; four capped values, the policy and
// the principal stay well under that. A token whose values exceed the cap is
// refused rather than truncated: downstream code would otherwise see a
// username or scope the issuer never issued.
const maxContextValueBytes = 1024

// Claims are what the handler needs from a verified token.
type Claims struct {
	Subject  string // "sub", never empty
	Username string // "cognito:username", else "username", else "preferred_username"
	Email    string
	Scope    string // space-separated
}

// TokenVerifier verifies a raw token. Errors are matched with
// refusalReason; the handler never shows them to the caller.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (Claims, error)
}

// Request is the WebSocket REQUEST authorizer event. The library type is the
// REST API's, which lacks requestContext.connectionId; UnmarshalJSON adds it.
type Request struct {
	events.APIGatewayCustomAuthorizerRequestTypeRequest
	ConnectionID string `json:"-"`
}

// UnmarshalJSON decodes the library type, then the connection ID.
func (r *Request) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, &r.APIGatewayCustomAuthorizerRequestTypeRequest); err != nil {
		return fmt.Errorf("decode authorizer request: %w", err)
	}
	var ws struct {
		RequestContext struct {
			ConnectionID string `json:"connectionId"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(data, &ws); err != nil {
		return fmt.Errorf("decode authorizer request context: %w", err)
	}
	r.ConnectionID = ws.RequestContext.ConnectionID
	return nil
}

// Handler answers API Gateway's $connect authorizer requests.
type Handler struct {
	verifier TokenVerifier
	source   IdentitySource
	logger   *slog.Logger
}

// NewHandler returns a handler that reads the token from source and checks
// it with verifier. Decisions are logged to logger (slog.Default() if nil).
func NewHandler(verifier TokenVerifier, source IdentitySource, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return &Handler{verifier: verifier, source: source, logger: logger}
}

// Handle allows the connection with the token's claims as the authorizer
// context, or returns ErrUnauthorized. It never returns another error: API
// Gateway would answer 500 to one.
func (h *Handler) Handle(ctx context.Context, req Request) (events.APIGatewayCustomAuthorizerResponse, error) {
	ids := []slog.Attr{
		// "requestId" is taken by the Lambda log handler for the
		// invocation's own ID.
		slog.String("apiRequestId", req.RequestContext.RequestID),
		slog.String("connectionId", req.ConnectionID),
	}
	resp, err := h.authorize(ctx, req)
	if err != nil {
		// Only the reason: err may quote parts of the token.
		reason, level := refusalReason(err)
		h.logger.LogAttrs(ctx, level, "connection refused", append(ids, slog.String("reason", reason))...)
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	h.logger.LogAttrs(ctx, slog.LevelInfo, "connection allowed", ids...)
	return resp, nil
}

func (h *Handler) authorize(ctx context.Context, req Request) (events.APIGatewayCustomAuthorizerResponse, error) {
	if req.MethodArn == "" {
		return events.APIGatewayCustomAuthorizerResponse{}, errMissingMethodARN
	}
	token := h.source.token(req)
	switch {
	case token == "":
		return events.APIGatewayCustomAuthorizerResponse{}, errMissingToken
	case len(token) > maxTokenBytes:
		// Refused before any parsing.
		return events.APIGatewayCustomAuthorizerResponse{}, errTokenTooLarge
	}
	claims, err := h.verifier.Verify(ctx, token)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("authorize: %w", err)
	}
	// Every key is always present, "" when the token lacks the claim, and
	// every value is a string: the mapping templates rely on both.
	values := map[string]string{
		"sub":      claims.Subject,
		"username": claims.Username,
		"email":    claims.Email,
		"scope":    claims.Scope,
	}
	authContext := make(map[string]any, len(values))
	for key, v := range values {
		if len(v) > maxContextValueBytes {
			return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("authorize: %s: %w", key, errClaimTooLarge)
		}
		authContext[key] = v
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: claims.Subject,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   "Allow",
				Resource: []string{req.MethodArn},
			}},
		},
		Context: authContext,
	}, nil
}

// token returns the raw token the source names in req, or "".
func (s IdentitySource) token(req Request) string {
	switch s.kind {
	case sourceQueryString:
		return strings.TrimSpace(req.QueryStringParameters[s.name])
	case sourceHeader:
		for name, v := range req.Headers {
			// HTTP header names are case-insensitive, and API Gateway
			// passes them as the client sent them.
			if strings.EqualFold(name, s.name) {
				return stripBearer(strings.TrimSpace(v))
			}
		}
	}
	return ""
}

// stripBearer removes an optional, case-insensitive "Bearer " scheme. v is
// trimmed already, so a scheme without a token arrives as "Bearer".
func stripBearer(v string) string {
	const scheme = "bearer "
	switch {
	case strings.EqualFold(v, strings.TrimSpace(scheme)):
		return ""
	case len(v) >= len(scheme) && strings.EqualFold(v[:len(scheme)], scheme):
		return strings.TrimSpace(v[len(scheme):])
	}
	return v
}
