package gateway

import (
	"context"
	"crypto/hmac"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigV4 as the @connections API checks it: the IAM user guide's "Elements
// of an AWS API request signature" and "Create a signed AWS API request"
// (date from X-Amz-Date, else Date; the scope's date is the request's day;
// host signed; algorithm AWS4-HMAC-SHA256; scope
// key/YYYYMMDD/region/service/aws4_request), and API Gateway's IAM
// authorization answers (403, the type in X-Amzn-ErrorType, {"message"}).
const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	sigV4Service    = "execute-api"
	sigV4Terminator = "aws4_request"
	// sigV4MaxSkew: API Gateway refuses a request dated more than 5
	// minutes from its clock, either way ("Signature expired: … (… - 5
	// min.)", "Signature not yet current: … (… + 5 min.)" as reported from
	// execute-api; the IAM user guide: "In most cases, a request must reach
	// AWS within five minutes of the time stamp in the request"). The
	// services' Common Errors page says 15 minutes (RequestExpired): that
	// is other services' window, not API Gateway's.
	sigV4MaxSkew     = 5 * time.Minute
	amzDateFormat    = "20060102T150405Z"
	scopeDateFormat  = "20060102"
	unsignedPayload  = "UNSIGNED-PAYLOAD"
	signatureNoMatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// The error types API Gateway's IAM authorization answers with (gateway
// responses MISSING_AUTHENTICATION_TOKEN, INVALID_SIGNATURE, and an unknown
// key's UnrecognizedClientException). The SDK's management client maps none
// of them to a typed error: callers see a smithy.GenericAPIError.
const (
	errMissingToken        = "MissingAuthenticationTokenException"
	errIncompleteSignature = "IncompleteSignatureException"
	errInvalidSignature    = "InvalidSignatureException"
	errUnrecognizedClient  = "UnrecognizedClientException"
)

// sigV4Error is a refused request: its X-Amzn-ErrorType and message.
type sigV4Error struct {
	errorType string
	message   string
}

func (e *sigV4Error) Error() string { return e.errorType + ": " + e.message }

func refuse(errorType, format string, args ...any) *sigV4Error {
	return &sigV4Error{errorType: errorType, message: fmt.Sprintf(format, args...)}
}

// sigV4Auth is a parsed Authorization header.
type sigV4Auth struct {
	accessKeyID, scopeDate, region, service, terminator string
	signedHeaders                                       string
	signature                                           string
}

func (a sigV4Auth) signs(header string) bool {
	return slices.Contains(strings.Split(a.signedHeaders, ";"), header)
}

// parseSigV4Authorization reads "AWS4-HMAC-SHA256 Credential=…,
// SignedHeaders=…, Signature=…".
func parseSigV4Authorization(h string) (sigV4Auth, error) {
	if strings.TrimSpace(h) == "" {
		return sigV4Auth{}, refuse(errMissingToken, "Missing Authentication Token")
	}
	algorithm, params, _ := strings.Cut(strings.TrimSpace(h), " ")
	if algorithm != sigV4Algorithm {
		return sigV4Auth{}, refuse(errIncompleteSignature,
			"Unsupported Authorization algorithm %q: execute-api takes %s (SigV4)", algorithm, sigV4Algorithm)
	}
	fields := map[string]string{}
	for _, p := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return sigV4Auth{}, refuse(errIncompleteSignature, "'%s' not a valid key=value pair (missing equal-sign) in Authorization header", strings.TrimSpace(p))
		}
		fields[k] = v
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if fields[k] == "" {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", k))
		}
	}
	if len(missing) > 0 {
		return sigV4Auth{}, refuse(errIncompleteSignature, "%s", strings.Join(missing, " "))
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 {
		return sigV4Auth{}, refuse(errIncompleteSignature,
			"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", fields["Credential"])
	}
	return sigV4Auth{
		accessKeyID: scope[0], scopeDate: scope[1], region: scope[2], service: scope[3], terminator: scope[4],
		signedHeaders: fields["SignedHeaders"], signature: fields["Signature"],
	}, nil
}

// checkScope refuses a credential scope for another region, service or
// terminator than this endpoint's.
func checkScope(a sigV4Auth, region string) error {
	switch {
	case a.region != region:
		return refuse(errInvalidSignature, "Credential should be scoped to a valid region, not '%s'.", a.region)
	case a.service != sigV4Service:
		return refuse(errInvalidSignature, "Credential should be scoped to correct service: '%s'.", sigV4Service)
	case a.terminator != sigV4Terminator:
		return refuse(errInvalidSignature, "Credential should be scoped with a valid terminator: '%s', not '%s'.", sigV4Terminator, a.terminator)
	}
	return nil
}

// signingTime is the request's signing time: X-Amz-Date, else Date. The
// bool says whether it came from X-Amz-Date.
func signingTime(r *http.Request) (time.Time, bool, error) {
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(amzDateFormat, v)
		if err != nil {
			return time.Time{}, true, refuse(errIncompleteSignature,
				"Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", v)
		}
		return t, true, nil
	}
	if v := r.Header.Get("Date"); v != "" {
		t, err := http.ParseTime(v)
		if err != nil {
			return time.Time{}, false, refuse(errIncompleteSignature, "Date header %q is no HTTP date", v)
		}
		return t.UTC(), false, nil
	}
	return time.Time{}, false, refuse(errIncompleteSignature,
		"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
}

// checkTime refuses a request dated more than 5 minutes from now, or whose
// scope names another day than its date.
func checkTime(a sigV4Auth, t, now time.Time) error {
	now = now.UTC()
	switch {
	case t.Before(now.Add(-sigV4MaxSkew)):
		return refuse(errInvalidSignature, "Signature expired: %s is now earlier than %s (%s - %d min.)",
			t.Format(amzDateFormat), now.Add(-sigV4MaxSkew).Format(amzDateFormat), now.Format(amzDateFormat), int(sigV4MaxSkew.Minutes()))
	case t.After(now.Add(sigV4MaxSkew)):
		return refuse(errInvalidSignature, "Signature not yet current: %s is still later than %s (%s + %d min.)",
			t.Format(amzDateFormat), now.Add(sigV4MaxSkew).Format(amzDateFormat), now.Format(amzDateFormat), int(sigV4MaxSkew.Minutes()))
	case a.scopeDate != t.Format(scopeDateFormat):
		return refuse(errInvalidSignature,
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			a.scopeDate, t.Format(scopeDateFormat), t.Format(amzDateFormat))
	}
	return nil
}

// unsignableHeaders are headers aws-sdk-go-v2's signer never signs
// (its internal IgnoredHeaders), so a signature over them cannot be
// recomputed with it. AWS would check such a signature; the local run
// refuses it, saying why.
var unsignableHeaders = []string{"authorization", "user-agent", "x-amzn-trace-id", "expect", "transfer-encoding"}

// checkSignedHeaders refuses a request whose signature leaves out what it
// must cover: host, the date header used, and the security token and
// content hash when sent.
func checkSignedHeaders(a sigV4Auth, r *http.Request, amzDate bool) error {
	if !a.signs("host") {
		return refuse(errInvalidSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	for _, h := range []struct {
		name string
		must bool
	}{
		{"x-amz-date", amzDate},
		{"date", !amzDate},
		{"x-amz-security-token", r.Header.Get("X-Amz-Security-Token") != ""},
		{"x-amz-content-sha256", r.Header.Get("X-Amz-Content-Sha256") != ""},
	} {
		if h.must && !a.signs(h.name) {
			return refuse(errInvalidSignature, "'%s' must be a 'SignedHeader' in the AWS Authorization.", http.CanonicalHeaderKey(h.name))
		}
	}
	for _, h := range strings.Split(a.signedHeaders, ";") {
		if slices.Contains(unsignableHeaders, h) {
			return refuse(errInvalidSignature,
				"the local run cannot verify a signature over %q: aws-sdk-go-v2's signer, which it verifies with, never signs it", h)
		}
		if h != "host" && h != "content-length" && len(r.Header.Values(h)) == 0 {
			return refuse(errInvalidSignature, "signed header %q is not in the request", h)
		}
	}
	return nil
}

// checkPayloadHash refuses an X-Amz-Content-Sha256 that is not the hash of
// the body received; UNSIGNED-PAYLOAD is S3's option, not execute-api's.
func checkPayloadHash(r *http.Request, bodyHash string) error {
	switch v := r.Header.Get("X-Amz-Content-Sha256"); {
	case v == "" || v == bodyHash:
		return nil
	case v == unsignedPayload || strings.HasPrefix(v, "STREAMING-"):
		return refuse(errInvalidSignature, "%s: execute-api signs the payload, its hash must be the body's", v)
	default:
		return refuse(errInvalidSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
}

// verifySigV4 checks r's SigV4 Authorization header for a body whose
// SHA-256 is bodyHash ("": too large to be read whole), as API Gateway does. Without credentials (unit
// tests of other features only) it checks the header's shape and scope.
func (g *Gateway) verifySigV4(r *http.Request, bodyHash string) error {
	a, err := parseSigV4Authorization(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	if err := checkScope(a, g.cfg.Region); err != nil {
		return err
	}
	if len(g.opts.Credentials) == 0 {
		return nil
	}
	t, amzDate, err := signingTime(r)
	if err != nil {
		return err
	}
	if err := checkTime(a, t, g.opts.Now()); err != nil {
		return err
	}
	if err := checkSignedHeaders(a, r, amzDate); err != nil {
		return err
	}
	secret, ok := g.opts.Credentials[a.accessKeyID]
	if !ok {
		return refuse(errUnrecognizedClient, "The security token included in the request is invalid.")
	}
	if bodyHash == "" {
		// A body over the limit is not read whole, so neither its hash nor
		// the signature can be checked; the caller refuses it with 413.
		return nil
	}
	if err := checkPayloadHash(r, bodyHash); err != nil {
		return err
	}
	if !amzDate {
		// aws-sdk-go-v2's signer always adds and signs X-Amz-Date, so it
		// cannot recompute a signature dated by Date alone. AWS accepts
		// those; every AWS SDK sends X-Amz-Date.
		return refuse(errInvalidSignature,
			"the local run verifies only signatures dated by X-Amz-Date (what the AWS SDKs send), not by Date alone")
	}
	want, err := recomputeSignature(r.Context(), g.signer, r, a, aws.Credentials{
		AccessKeyID: a.accessKeyID, SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token"),
	}, bodyHash, t)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return refuse(errInvalidSignature, "%s", signatureNoMatch)
	}
	return nil
}

// recomputeSignature signs, with aws-sdk-go-v2's signer, a copy of r that
// carries only the headers a names, and returns that signature. The
// signer's canonicalization is the SDK clients': the path as received,
// escaped once more (DisableURIPathEscaping false, as for every service but
// S3), so a connection id's "=" (sent as %3D) is signed as %253D on both
// sides. signer is shared across requests: it derives the signing key
// once per day, region, service and access key (the four HMACs SigV4
// chains), not once per request.
func recomputeSignature(ctx context.Context, signer *v4.Signer, r *http.Request, a sigV4Auth, creds aws.Credentials, payloadHash string, t time.Time) (string, error) {
	// Only what the signer reads (method, URL, host, the signed headers,
	// ContentLength), copied: r.Clone would copy every header on the hot
	// path.
	u := *r.URL
	c := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: make(http.Header, 4)}
	for _, h := range strings.Split(a.signedHeaders, ";") {
		switch h {
		case "host": // the signer takes r.Host
		case "content-length":
			// The signer signs content-length from ContentLength, and only
			// when positive.
			n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
			if err != nil {
				n = r.ContentLength
			}
			c.ContentLength = n
		default:
			c.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	if err := signer.SignHTTP(ctx, creds, c, payloadHash, a.service, a.region, t); err != nil {
		return "", fmt.Errorf("recompute the SigV4 signature: %w", err)
	}
	// The signer writes "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
	// Signature=…" (buildAuthorizationHeader): read its two last fields
	// without parsing the whole header again, which cost a map per request.
	auth := c.Header.Get("Authorization")
	i, j := strings.LastIndex(auth, ", SignedHeaders="), strings.LastIndex(auth, ", Signature=")
	if i < 0 || j < i {
		return "", fmt.Errorf("recompute the SigV4 signature: unexpected Authorization header from the signer")
	}
	if signed := auth[i+len(", SignedHeaders=") : j]; signed != a.signedHeaders {
		// The signer signs host, x-amz-date, a positive content-length
		// and every header it is given, sorted: any other list (unsorted,
		// content-length 0) is one it cannot reproduce.
		return "", refuse(errInvalidSignature, "signed headers %q are not canonical (want %q)", a.signedHeaders, signed)
	}
	return auth[j+len(", Signature="):], nil
}
