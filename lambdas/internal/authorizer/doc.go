// Package authorizer is the Lambda REQUEST authorizer on the WebSocket API's
// $connect route. It reads one JWT from the configured identity source (a
// query string parameter or a header), verifies it against the issuer's JSON
// Web Key Set and answers API Gateway with an IAM policy that allows the
// connection, or with the exact error "Unauthorized", which API Gateway turns
// into a 401.
//
// The crypto is not done here: github.com/golang-jwt/jwt/v5 parses the token,
// checks its signature (RS256 and ES256 only) and its time claims, and
// github.com/MicahParks/keyfunc/v3 on github.com/MicahParks/jwkset fetches
// and caches the issuer's keys, refetching them, rate limited by
// golang.org/x/time/rate, when a token names a key ID the cache lacks. This
// package adds the issuer, audience, token_use and subject rules, the size
// limits, the identity source and the response API Gateway expects.
//
// Configuration comes from the environment, read once at cold start:
//
//	ISSUER_URL         required: the exact expected "iss" (https)
//	AUDIENCE           required: see the audience rule below
//	ALLOWED_TOKEN_USE  required: a comma-separated list of accepted
//	                   "token_use" values, such as "access" or "access,id",
//	                   or exactly "*" for no token_use check
//	JWKS_URL           optional: the key set URL (https); when empty it is
//	                   read from ISSUER_URL/.well-known/openid-configuration
//	IDENTITY_SOURCE    required: route.request.querystring.<name> or
//	                   route.request.header.<name>
//
// A bad configuration, or an issuer whose keys cannot be fetched, stops the
// process at cold start, so the failure shows as a Lambda init error instead
// of a stream of 401s. All configuration problems are reported at once.
//
// # Audience
//
// A token that has "aud", a string or a list (even an empty one), must name
// AUDIENCE in it; its "client_id" is then not considered, so an access token
// issued for another API is refused even when the app client is ours. Only a
// token without "aud" is matched on "client_id" instead: Cognito access
// tokens carry client_id and no aud, Cognito ID tokens carry aud (the app
// client ID), RFC 9068 access tokens carry aud.
//
// # Token use
//
// With a list in ALLOWED_TOKEN_USE, a token must have a string "token_use"
// equal to one of its items (compared exactly); a token without one, or with
// one of another JSON type, is refused. Items are trimmed; an empty item, an
// item with white space inside, or "*" within a list is a configuration
// error. The two setups:
//
//   - Cognito user pool: "access". Cognito marks its access tokens
//     token_use "access" and its ID tokens "id"; clients send access tokens,
//     and an ID token, meant for the client itself, is refused.
//   - External issuer: the values that issuer puts in token_use, if it has
//     the claim (a list), or "*" when it does not, as most non-Cognito
//     issuers do not: any value, or none, is then accepted.
//
// # Result size
//
// API Gateway refuses an authorizer result over 8,192 bytes (and answers
// 500). The limit is kept by construction, on the bytes json.Marshal
// produces for the whole response (principal, policy and context), which is
// at least what the Lambda runtime sends but for its trailing newline.
// String lengths prove nothing: escaping makes U+2028 six bytes, not three,
// and an invalid byte six, not one (json.Marshal also makes <, > and & six
// bytes, which the runtime leaves alone: the measure errs on the safe side). The budget is 8,192 bytes minus a margin of
// 192 (8,000): the margin covers the newline and a re-encoding of the
// response's fixed structure with white space (two-space indentation adds
// 144 bytes), as API Gateway does not document how it counts.
//
// The context always has the keys sub, username, email and scope, "" when
// the token lacks the claim. When the encoded response is over budget,
// optional values are emptied, never truncated, in this order until it
// fits: scope (an empty scope can only trust the client with less), then
// email, then username. The principal and the sub context value are never
// altered; a response that is still over budget is refused
// (result_too_large). Emptied keys are logged at WARN by name, never by
// value.
//
// # Key set refresh
//
// A refetched key set replaces the cache only if it holds at least one key
// that can verify an accepted token (RSA for RS256, EC P-256 for ES256,
// "use" absent or "sig", "alg" absent or matching); it then replaces it
// whole, so keys a rotation drops are revoked. A refetch that fails, does
// not decode, or holds no such key is logged at WARN and the cached keys are
// kept, so tokens signed with them still verify. At cold start such a set
// fails the start.
//
// Refusals are logged with a reason (expired, bad_signature, unknown_kid,
// bad_audience, token_use_not_allowed, result_too_large, ...) and the API
// Gateway request and connection IDs; the token, and any part of it, never
// is.
package authorizer
