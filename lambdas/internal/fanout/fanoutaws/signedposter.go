package fanoutaws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"wsapi/lambdas/internal/fanout"
	"wsapi/lambdas/internal/reply"
)

var _ fanout.Poster = (*SignedPoster)(nil)

// SignedPoster posts frames with PostToConnection as the SDK client does
// on the wire, without the SDK's operation stack: POST
// {endpoint}/@connections/{connectionId} with the frame as the body
// (Content-Type application/octet-stream, the operation's blob payload),
// signed with the SDK's own SigV4 signer (service execute-api) using the
// aws.Config's credentials, region and HTTP client
// (https://docs.aws.amazon.com/apigatewayv2/latest/api/apigatewaymanagementapi-connections-connectionid.html,
// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-how-to-call-websocket-api-connections.html).
//
// Why not the SDK client (Poster): the fanout function posts one frame to
// every connection, and the SDK's operation stack (endpoint resolution,
// serializers, retry and auth scheme middleware, response
// deserialization) doubles the client's CPU per post: 427 against 198
// allocations, half the posts/s through the local gateway
// (BenchmarkPosters; the package doc has the figures). The wire format,
// the signature and the error mapping are the same, so the worker sees
// the same errors.
type SignedPoster struct {
	client   aws.HTTPClient
	creds    aws.CredentialsProvider
	signer   *v4.Signer
	region   string
	endpoint *url.URL
	now      func() time.Time
}

// NewSignedPoster returns a SignedPoster on endpoint (the API's
// https://{api-id}.execute-api.{region}.amazonaws.com/{stage}), with cfg's
// credentials, region and HTTP client. It makes one attempt per call, as
// NewManagementClient's client does: throttling is the worker's to handle.
func NewSignedPoster(cfg aws.Config, endpoint string) (*SignedPoster, error) {
	u, err := url.Parse(strings.TrimSuffix(endpoint, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("connections endpoint %q: want an absolute URL", endpoint)
	}
	if cfg.Credentials == nil {
		return nil, fmt.Errorf("connections endpoint %s: no credentials to sign with", endpoint)
	}
	creds := cfg.Credentials
	if !aws.IsCredentialsProvider(creds, (*aws.CredentialsCache)(nil)) {
		// Retrieved on every post: a cache makes that a lock and a copy.
		creds = aws.NewCredentialsCache(creds)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = awshttp.NewBuildableClient()
	}
	return &SignedPoster{
		client: client, creds: creds, signer: v4.NewSigner(), region: cfg.Region, endpoint: u, now: time.Now,
	}, nil
}

// Send posts data to the connection. A gone connection is an error
// matching reply.ErrGone and *types.GoneException, a throttled post one
// matching fanout.ErrThrottled and *types.LimitExceededException; any
// other answer is an error naming the status and the X-Amzn-ErrorType.
func (p *SignedPoster) Send(ctx context.Context, connectionID string, data []byte) error {
	creds, err := p.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("post to connection %s: credentials: %w", connectionID, err)
	}
	u := *p.endpoint
	u.Path += "/@connections/" + connectionID
	u.RawPath = p.endpoint.EscapedPath() + "/@connections/" + escapeLabel(connectionID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("post to connection %s: %w", connectionID, err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	sum := sha256.Sum256(data)
	if err := p.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", p.region, p.now()); err != nil {
		return fmt.Errorf("post to connection %s: sign: %w", connectionID, err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to connection %s: %w", connectionID, err)
	}
	defer func() { _ = resp.Body.Close() }()
	// Read (a bounded part of) the body so the connection is reused.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	errorType, _, _ := strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
	msg := errorMessage(body)
	switch {
	case resp.StatusCode == http.StatusGone || errorType == "GoneException":
		return fmt.Errorf("post to connection %s: %w: %w", connectionID, reply.ErrGone, &types.GoneException{Message: msg})
	case resp.StatusCode == http.StatusTooManyRequests || errorType == "LimitExceededException":
		return fmt.Errorf("post to connection %s: %w: %w", connectionID, fanout.ErrThrottled, &types.LimitExceededException{Message: msg})
	}
	if errorType == "" {
		errorType = "no X-Amzn-ErrorType"
	}
	return fmt.Errorf("post to connection %s: status %d, %s: %s", connectionID, resp.StatusCode, errorType, aws.ToString(msg))
}

// errorMessage is the {"message":...} of an error answer, if any.
func errorMessage(body []byte) *string {
	var m struct {
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil
	}
	return m.Message
}

// escapeLabel percent-encodes a URI label as the SDK's REST binding does
// for {ConnectionId}: everything but RFC 3986's unreserved characters, so
// a connection id's "=" goes as %3D.
func escapeLabel(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
