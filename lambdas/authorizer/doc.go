// Command authorizer is the Lambda REQUEST authorizer on the WebSocket API's
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
// package adds the issuer, audience and subject rules, the size limits, the
// identity source and the response API Gateway expects.
//
// Configuration comes from the environment, read once at cold start:
//
//	ISSUER_URL       required: the exact expected "iss" (https)
//	AUDIENCE         required: must be in "aud", or equal Cognito's "client_id"
//	JWKS_URL         optional: the key set URL (https); when empty it is read
//	                 from ISSUER_URL/.well-known/openid-configuration
//	IDENTITY_SOURCE  required: route.request.querystring.<name> or
//	                 route.request.header.<name>
//
// A bad configuration, or an issuer whose keys cannot be fetched, stops the
// process at cold start, so the failure shows as a Lambda init error instead
// of a stream of 401s.
//
// Refusals are logged with a reason (expired, bad_signature, unknown_kid,
// ...) and the API Gateway request and connection IDs; the token, and any
// part of it, never is.
package main
