package authorizer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"wsapi/contract"
	"wsapi/lambdas/internal/metrics"
)

// The size rule (see the package doc). API Gateway refuses an authorizer
// result over 8 KB, and a refused result is a 500, not a 401. The budget is
// checked on json.Marshal of the whole response, which is never shorter than
// what the runtime sends save for its trailing newline: the runtime's
// encoder leaves <, > and & unescaped, and both escape U+2028, U+2029 and
// invalid UTF-8 alike.
const (
	maxResultBytes = 8192
	// resultMarginBytes is kept free below the limit for what the budget
	// cannot see, as API Gateway does not document how it counts: the
	// runtime's trailing newline, and a re-encoding with white space
	// between the response's fixed JSON tokens. Two-space indentation adds
	// 144 bytes to this response whatever its values (TestResultMargin
	// pins it); 192 leaves room for a few more.
	resultMarginBytes = 192
	// resultBudgetBytes is what the encoded response may use.
	resultBudgetBytes = maxResultBytes - resultMarginBytes
)

// emptiedFirst lists the optional context values in the order they are
// emptied when the result is over budget: scope first, as an empty scope can
// only trust the client with less, then email, then username. sub is never
// altered: it is who connected.
var emptiedFirst = []string{contract.AuthContextScope, contract.AuthContextEmail, contract.AuthContextUsername}

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

// Metrics records each decision; metrics.EMF is the EMF one. reason is
// always one of the fixed refusal reasons (see reasons and
// reasonInvalidToken): it becomes a metric dimension, so it must never be
// anything the client or the token controls.
type Metrics interface {
	Accepted(ctx context.Context)
	Refused(ctx context.Context, reason string)
}

var _ Metrics = (*metrics.EMF)(nil)

// Handler answers API Gateway's $connect authorizer requests.
type Handler struct {
	verifier TokenVerifier
	source   IdentitySource
	metrics  Metrics
	logger   *slog.Logger
}

// NewHandler returns a handler that reads the token from source and checks
// it with verifier. Decisions are recorded in m (nil records nothing) and
// logged to logger (slog.Default() if nil).
func NewHandler(verifier TokenVerifier, source IdentitySource, m Metrics, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	if m == nil {
		m = metrics.Nop{}
	}
	return &Handler{verifier: verifier, source: source, metrics: m, logger: logger}
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
	resp, emptied, err := h.authorize(ctx, req)
	if err != nil {
		// Only the reason: err may quote parts of the token.
		reason, level := refusalReason(err)
		h.logger.LogAttrs(ctx, level, "connection refused", append(ids, slog.String("reason", reason))...)
		h.metrics.Refused(ctx, reason)
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	if len(emptied) > 0 {
		// Key names only: the values are the token's claims.
		h.logger.LogAttrs(ctx, slog.LevelWarn, "context values emptied to fit the result size budget",
			append(ids, slog.Any("emptied", emptied), slog.Int("budgetBytes", resultBudgetBytes))...)
	}
	h.logger.LogAttrs(ctx, slog.LevelInfo, "connection allowed", ids...)
	h.metrics.Accepted(ctx)
	return resp, nil
}

// authorize returns the Allow answer and the context keys it emptied to fit
// the budget, or the reason for a refusal.
func (h *Handler) authorize(ctx context.Context, req Request) (events.APIGatewayCustomAuthorizerResponse, []string, error) {
	if req.MethodArn == "" {
		return events.APIGatewayCustomAuthorizerResponse{}, nil, errMissingMethodARN
	}
	token := h.source.token(req)
	switch {
	case token == "":
		return events.APIGatewayCustomAuthorizerResponse{}, nil, errMissingToken
	case len(token) > maxTokenBytes:
		// Refused before any parsing.
		return events.APIGatewayCustomAuthorizerResponse{}, nil, errTokenTooLarge
	}
	claims, err := h.verifier.Verify(ctx, token)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, nil, fmt.Errorf("authorize: %w", err)
	}
	resp := allowResponse(req.MethodArn, claims)
	emptied, err := fitResult(&resp)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, nil, fmt.Errorf("authorize: %w", err)
	}
	return resp, emptied, nil
}

// allowResponse is the Allow answer for claims, before the size rule.
func allowResponse(methodARN string, claims Claims) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: claims.Subject,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   "Allow",
				Resource: []string{methodARN},
			}},
		},
		// Every key is always present, "" when the token lacks the
		// claim, and every value is a string: the mapping templates rely
		// on both.
		Context: map[string]any{
			contract.AuthContextSub:      claims.Subject,
			contract.AuthContextUsername: claims.Username,
			contract.AuthContextEmail:    claims.Email,
			contract.AuthContextScope:    claims.Scope,
		},
	}
}

// fitResult applies the size rule to resp: it empties optional context
// values in emptiedFirst order until the encoded response fits the budget,
// and returns the keys it emptied. Values are never truncated: downstream
// code would see a username or scope the issuer never issued. A response
// that does not fit with all of them empty is refused.
func fitResult(resp *events.APIGatewayCustomAuthorizerResponse) ([]string, error) {
	size, err := encodedSize(resp)
	if err != nil {
		return nil, err
	}
	var emptied []string
	for _, key := range emptiedFirst {
		if size <= resultBudgetBytes {
			break
		}
		if resp.Context[key] == "" {
			continue
		}
		resp.Context[key] = ""
		emptied = append(emptied, key)
		if size, err = encodedSize(resp); err != nil {
			return nil, err
		}
	}
	if size > resultBudgetBytes {
		return nil, fmt.Errorf("%d bytes encoded with every optional value empty, budget %d: %w", size, resultBudgetBytes, errResultTooLarge)
	}
	return emptied, nil
}

// encodedSize measures the bytes, not the strings: escaping makes a value
// up to six times longer encoded (U+2028 is 3 bytes, "\u2028" 6; an
// invalid byte becomes "\ufffd").
func encodedSize(resp *events.APIGatewayCustomAuthorizerResponse) (int, error) {
	b, err := json.Marshal(resp)
	if err != nil {
		return 0, fmt.Errorf("encode result: %w", err)
	}
	return len(b), nil
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
