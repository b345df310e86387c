package authorizer

import (
	"errors"
	"log/slog"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthorized is the only error the handler returns: API Gateway turns
// exactly this message, capital U included, into a 401 and any other into a
// 500.
var ErrUnauthorized = errors.New("Unauthorized")

// unauthorizedEcho is how aws-lambda-go prints ErrUnauthorized when the
// handler returns it (an errors.New value has type *errors.errorString).
const unauthorizedEcho = `{"errorMessage":"Unauthorized","errorType":"errorString"}`

// IsUnauthorizedEcho reports whether line, one line aws-lambda-go printed
// through package log, is its echo of ErrUnauthorized. Handle has already
// logged that refusal with its reason as one JSON line, so main drops the
// echo (see boot.StdLogWriter's Drop).
func IsUnauthorizedEcho(line string) bool { return line == unauthorizedEcho }

// Refusals this package decides itself; library errors are matched as they
// come (see reasons).
var (
	errMissingToken       = errors.New("missing token")
	errTokenTooLarge      = errors.New("token too large")
	errAlgNotAllowed      = errors.New("signing algorithm not allowed")
	errUnknownKID         = errors.New("unknown key ID")
	errBadAudience        = errors.New("audience mismatch")
	errTokenUseMissing    = errors.New("missing token_use claim")
	errTokenUseNotAllowed = errors.New("token_use not allowed")
	errMissingSubject     = errors.New("missing sub claim")
	errResultTooLarge     = errors.New("authorizer result over its size budget")
	errMissingMethodARN   = errors.New("event has no methodArn")
)

// reasons maps an error to the reason a refusal is logged and counted with
// (the Reason dimension of the AuthRefused metric). With reasonInvalidToken
// it is the fixed list of reasons: a reason is never built from the error's
// text, so a metric dimension cannot take a value the client chose. It is
// the one place that knows the libraries' errors. Order matters: a token can fail
// several checks at once (jwt joins all claim errors), and the first match
// names it, the more suspicious ones first.
var reasons = []struct {
	err    error
	reason string
	level  slog.Level
}{
	{errMissingToken, "missing_token", slog.LevelInfo},
	{errTokenTooLarge, "token_too_large", slog.LevelWarn},
	{errMissingMethodARN, "missing_method_arn", slog.LevelWarn},
	{errAlgNotAllowed, "alg_not_allowed", slog.LevelWarn},
	{jwt.ErrTokenMalformed, "malformed", slog.LevelWarn},
	{errUnknownKID, "unknown_kid", slog.LevelWarn},
	{jwt.ErrTokenSignatureInvalid, "bad_signature", slog.LevelWarn},
	// A key was found but does not fit the token (its alg or use differ).
	{keyfunc.ErrKeyfunc, "key_mismatch", slog.LevelWarn},
	{jwt.ErrTokenInvalidIssuer, "bad_issuer", slog.LevelWarn},
	{errBadAudience, "bad_audience", slog.LevelWarn},
	{errTokenUseMissing, "token_use_missing", slog.LevelWarn},
	{errTokenUseNotAllowed, "token_use_not_allowed", slog.LevelWarn},
	// exp or iss absent: jwt reports both as a missing required claim.
	{jwt.ErrTokenRequiredClaimMissing, "missing_claim", slog.LevelWarn},
	{errMissingSubject, "missing_sub", slog.LevelWarn},
	{jwt.ErrTokenUsedBeforeIssued, "issued_in_future", slog.LevelWarn},
	{jwt.ErrTokenNotValidYet, "not_yet_valid", slog.LevelInfo},
	{jwt.ErrTokenExpired, "expired", slog.LevelInfo},
	{errResultTooLarge, "result_too_large", slog.LevelWarn},
	{jwt.ErrTokenUnverifiable, "unverifiable", slog.LevelWarn},
}

// reasonInvalidToken is the reason of a refusal no entry of reasons matches.
const reasonInvalidToken = "invalid_token"

// refusalReason names why err refused a token, and the level to log it at.
func refusalReason(err error) (string, slog.Level) {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason, r.level
		}
	}
	return reasonInvalidToken, slog.LevelWarn
}
