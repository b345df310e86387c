package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go"
	"github.com/coder/websocket"
)

// wellFormedAuth passes a gateway without Credentials, which checks the
// header's shape and scope only (tests of other features).
const wellFormedAuth = "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20261124/us-east-1/execute-api/aws4_request, " +
	"SignedHeaders=host;x-amz-date, Signature=" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func postConnection(t *testing.T, a *testAPI, id, body string) *http.Response {
	t.Helper()
	return callConnections(t, a, http.MethodPost, id, body)
}

// callConnections sends one request to the @connections API with the
// well-formed (unverified) signature the credential-less gateway accepts.
func callConnections(t *testing.T, a *testAPI, method, id, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, a.server.URL+"/prod/@connections/"+url.PathEscape(id), strings.NewReader(body))
	req.Header.Set("Authorization", wellFormedAuth)
	req.Header.Set("X-Amz-Date", "20261124T000000Z")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp
}

// managementClient is the real SDK client the message function uses.
func managementClient(a *testAPI, secret, sessionToken string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(a.server.URL + "/prod"),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", secret, sessionToken),
	})
}

var testCredentials = map[string]string{"AKIDLOCAL": "local-secret"}

// apiErrorOf returns the HTTP status and error code of an SDK error.
func apiErrorOf(err error) (int, string) {
	var re *awshttp.ResponseError
	var ae smithy.APIError
	if !errors.As(err, &re) || !errors.As(err, &ae) {
		return 0, ""
	}
	return re.HTTPStatusCode(), ae.ErrorCode()
}

func TestConnectionsAPIWithTheSDK(t *testing.T) {
	a := newTestAPI(t, func(_ *Config, o *Options) { o.Credentials = testCredentials })
	c := a.dial(t, "?token=t")
	id := a.gateway.ConnectionIDs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	for _, token := range []string{"", "a-session-token/with+base64="} {
		client := managementClient(a, "local-secret", token)
		data := `{"type":"message","message":"x=1&y=ü","token":"` + token + `"}`
		if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
			ConnectionId: aws.String(id), Data: []byte(data),
		}); err != nil {
			t.Fatalf("PostToConnection (session token %q): %v", token, err)
		}
		if _, b, err := c.Read(ctx); err != nil || string(b) != data {
			t.Errorf("client got %q, %v", b, err)
		}
		info, err := client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetConnection (session token %q): %v", token, err)
		}
		if info.ConnectedAt == nil || info.Identity == nil || *info.Identity.SourceIp != "127.0.0.1" {
			t.Errorf("GetConnection = %+v", info)
		}
	}

	// API Gateway's ids end in "=", which the SDK escapes in the path: a
	// verified signature gets 410 for an unknown id, a refused one 403.
	client := managementClient(a, "local-secret", "token")
	var gone *types.GoneException
	_, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("L0SM9cOFvHcCIhw="), Data: []byte("x")})
	if !errors.As(err, &gone) {
		t.Errorf("PostToConnection to an unknown id with '=': %v, want a GoneException", err)
	}
	_, err = client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String("L0SM9cOFvHcCIhw=")})
	if !errors.As(err, &gone) {
		t.Errorf("GetConnection of an unknown id with '=': %v, want a GoneException", err)
	}
	_, err = client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String("a=b==")})
	if !errors.As(err, &gone) {
		t.Errorf("DeleteConnection of an unknown id with '=': %v, want a GoneException", err)
	}

	bad := managementClient(a, "wrong-secret", "")
	_, err = bad.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
	if status, code := apiErrorOf(err); status != http.StatusForbidden || code != "InvalidSignatureException" {
		t.Errorf("post with a wrong secret: %v, want 403 InvalidSignatureException", err)
	}

	if _, err := client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	_, _, err = c.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusNormalClosure {
		t.Errorf("after DeleteConnection the client saw %v (%v)", got, err)
	}
	a.disconnect.waitCalls(t, 1)
}

// signTestNow is the tamper tests' clock: two minutes past midnight, so a
// request can be dated the day before yet within the 5-minute window.
var signTestNow = time.Date(2026, 11, 24, 0, 2, 0, 0, time.UTC)

// signing is how a test request is signed, with aws-sdk-go-v2's signer as
// the SDK clients do.
type signing struct {
	accessKeyID, secret, sessionToken string
	region, service                   string
	at                                time.Time
	// contentSHA256, when set, is sent as X-Amz-Content-Sha256 and signed
	// as the payload hash.
	contentSHA256 string
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// signedPost builds a POST of body to id signed as s says.
func signedPost(t *testing.T, a *testAPI, id, body string, s signing) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.server.URL+"/prod/@connections/"+url.PathEscape(id), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	payloadHash := sha256Hex(body)
	if s.contentSHA256 != "" {
		payloadHash = s.contentSHA256
		req.Header.Set("X-Amz-Content-Sha256", s.contentSHA256)
	}
	creds := aws.Credentials{AccessKeyID: s.accessKeyID, SecretAccessKey: s.secret, SessionToken: s.sessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, s.service, s.region, s.at); err != nil {
		t.Fatal(err)
	}
	return req
}

// editAuthorization replaces old with new in the Authorization header.
func editAuthorization(old, new string) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
	}
}

func TestConnectionsAPISigV4(t *testing.T) {
	a := newTestAPI(t, func(_ *Config, o *Options) {
		o.Credentials = testCredentials
		o.Now = func() time.Time { return signTestNow }
	})
	a.dial(t, "?token=t")
	id := a.gateway.ConnectionIDs()[0]
	cases := []struct {
		name       string
		body       string // "hello" when empty
		sign       func(*signing)
		tamper     func(*http.Request)
		wantStatus int
		wantType   string
		why        string // in the message of a 403
	}{
		{name: "signed", wantStatus: 200},
		{name: "signed with X-Amz-Content-Sha256", sign: func(s *signing) { s.contentSHA256 = sha256Hex("hello") }, wantStatus: 200},
		{name: "signed with a session token", sign: func(s *signing) { s.sessionToken = "session/token+=" }, wantStatus: 200},
		{name: "dated 4 minutes behind, the day before", sign: func(s *signing) { s.at = signTestNow.Add(-4 * time.Minute) }, wantStatus: 200},
		{name: "dated 4 minutes ahead", sign: func(s *signing) { s.at = signTestNow.Add(4 * time.Minute) }, wantStatus: 200},
		{name: "signed but too large", body: strings.Repeat("x", 200*1024), wantStatus: 413, wantType: "PayloadTooLargeException"},
		{name: "too large and unsigned", body: strings.Repeat("x", 200*1024), tamper: func(r *http.Request) { r.Header.Del("Authorization") },
			wantStatus: 403, wantType: "MissingAuthenticationTokenException", why: "Missing Authentication Token"},
		{name: "too large and signed by an unknown key", body: strings.Repeat("x", 200*1024), sign: func(s *signing) { s.accessKeyID = "AKIDOTHER" },
			wantStatus: 403, wantType: "UnrecognizedClientException", why: "security token included in the request is invalid"},

		{name: "body swapped for another of the same length", tamper: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader("jello"))
		}, wantStatus: 403, wantType: "InvalidSignatureException", why: "does not match the signature you provided"},
		{name: "UNSIGNED-PAYLOAD", sign: func(s *signing) { s.contentSHA256 = "UNSIGNED-PAYLOAD" },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "UNSIGNED-PAYLOAD"},
		{name: "X-Amz-Content-Sha256 of another body", sign: func(s *signing) { s.contentSHA256 = sha256Hex("jello") },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "'x-amz-content-sha256' header does not match"},
		{name: "dated 2001", sign: func(s *signing) { s.at = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "Signature expired: 20010101T000000Z"},
		{name: "dated 16 minutes behind", sign: func(s *signing) { s.at = signTestNow.Add(-16 * time.Minute) },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "Signature expired"},
		{name: "dated 6 minutes behind", sign: func(s *signing) { s.at = signTestNow.Add(-6 * time.Minute) },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "Signature expired: 20261123T235600Z is now earlier than 20261123T235700Z (20261124T000200Z - 5 min.)"},
		{name: "dated 16 minutes ahead", sign: func(s *signing) { s.at = signTestNow.Add(16 * time.Minute) },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "Signature not yet current"},
		{name: "dated 6 minutes ahead", sign: func(s *signing) { s.at = signTestNow.Add(6 * time.Minute) },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "Signature not yet current: 20261124T000800Z is still later than 20261124T000700Z (20261124T000200Z + 5 min.)"},
		{name: "scope date is not the request's day", tamper: func(r *http.Request) {
			r.Header.Set("X-Amz-Date", signTestNow.Add(-3*time.Minute).Format(amzDateFormat))
		}, wantStatus: 403, wantType: "InvalidSignatureException", why: "Date in Credential scope does not match"},
		{name: "no date", tamper: func(r *http.Request) { r.Header.Del("X-Amz-Date") },
			wantStatus: 403, wantType: "IncompleteSignatureException", why: "requires existence of either a 'X-Amz-Date' or a 'Date' header"},
		{name: "another region", sign: func(s *signing) { s.region = "us-west-2" },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "scoped to a valid region"},
		{name: "another service", sign: func(s *signing) { s.service = "apigateway" },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "scoped to correct service"},
		{name: "another terminator", tamper: editAuthorization("/aws4_request", "/aws4_req"),
			wantStatus: 403, wantType: "InvalidSignatureException", why: "valid terminator"},
		{name: "host not signed", tamper: editAuthorization("SignedHeaders=content-length;host;", "SignedHeaders=content-length;"),
			wantStatus: 403, wantType: "InvalidSignatureException", why: "'Host' or ':authority' must be a 'SignedHeader'"},
		{name: "x-amz-date not signed", tamper: editAuthorization(";x-amz-date,", ","),
			wantStatus: 403, wantType: "InvalidSignatureException", why: "'X-Amz-Date' must be a 'SignedHeader'"},
		{name: "security token not signed", tamper: func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "token") },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "'X-Amz-Security-Token' must be a 'SignedHeader'"},
		{name: "signed header missing", tamper: editAuthorization(";x-amz-date,", ";x-amz-date;x-custom,"),
			wantStatus: 403, wantType: "InvalidSignatureException", why: "x-custom\" is not in the request"},
		{name: "dated by Date alone, which the local run cannot verify", tamper: func(r *http.Request) {
			r.Header.Del("X-Amz-Date")
			r.Header.Set("Date", signTestNow.Format(http.TimeFormat))
			editAuthorization("content-length;host;x-amz-date", "content-length;date;host")(r)
		}, wantStatus: 403, wantType: "InvalidSignatureException", why: "not by Date alone"},
		{name: "unknown access key", sign: func(s *signing) { s.accessKeyID = "AKIDOTHER" },
			wantStatus: 403, wantType: "UnrecognizedClientException", why: "security token included in the request is invalid"},
		{name: "wrong secret", sign: func(s *signing) { s.secret = "wrong-secret" },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "does not match the signature you provided"},
		{name: "signed for another connection", tamper: func(r *http.Request) { r.URL.Path = "/prod/@connections/other" },
			wantStatus: 403, wantType: "InvalidSignatureException", why: "does not match the signature you provided"},
		{name: "signature altered", tamper: func(r *http.Request) {
			auth := r.Header.Get("Authorization")
			last := auth[len(auth)-1:]
			r.Header.Set("Authorization", auth[:len(auth)-1]+map[bool]string{true: "1", false: "0"}[last == "0"])
		}, wantStatus: 403, wantType: "InvalidSignatureException", why: "does not match the signature you provided"},
		{name: "malformed Authorization: no Signature", tamper: func(r *http.Request) {
			auth, _, _ := strings.Cut(r.Header.Get("Authorization"), ", Signature=")
			r.Header.Set("Authorization", auth)
		}, wantStatus: 403, wantType: "IncompleteSignatureException", why: "requires 'Signature' parameter"},
		{name: "malformed Authorization: short credential", tamper: editAuthorization("/us-east-1/execute-api/aws4_request", ""),
			wantStatus: 403, wantType: "IncompleteSignatureException", why: "exactly 5 slash-delimited elements"},
		{name: "malformed Authorization: no key=value", tamper: editAuthorization("Credential=", "Credential"),
			wantStatus: 403, wantType: "IncompleteSignatureException", why: "not a valid key=value pair"},
		{name: "bad algorithm", tamper: editAuthorization("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
			wantStatus: 403, wantType: "IncompleteSignatureException", why: "Unsupported Authorization algorithm"},
		{name: "no Authorization", tamper: func(r *http.Request) { r.Header.Del("Authorization") },
			wantStatus: 403, wantType: "MissingAuthenticationTokenException", why: "Missing Authentication Token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := signing{accessKeyID: "AKIDLOCAL", secret: "local-secret", region: "us-east-1", service: "execute-api", at: signTestNow}
			if c.sign != nil {
				c.sign(&s)
			}
			body := c.body
			if body == "" {
				body = "hello"
			}
			req := signedPost(t, a, id, body, s)
			if c.tamper != nil {
				c.tamper(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != c.wantStatus || resp.Header.Get("X-Amzn-ErrorType") != c.wantType {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), c.wantStatus, c.wantType)
			}
			if c.wantStatus == http.StatusForbidden {
				var m struct{ Message string }
				if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || !strings.Contains(m.Message, c.why) {
					t.Errorf("body: %+v, %v; want {\"message\": \"...%s...\"}", m, err, c.why)
				}
			}
		})
	}
}

func TestConnectionsAPIWithoutCredentials(t *testing.T) {
	a := newTestAPI(t, nil)
	a.dial(t, "?token=t")
	id := a.gateway.ConnectionIDs()[0]
	cases := []struct {
		name       string
		auth       string
		body       string
		wantStatus int
		wantType   string
	}{
		{name: "no signature", auth: "", wantStatus: 403, wantType: "MissingAuthenticationTokenException"},
		{name: "another service's signature", auth: strings.Replace(wellFormedAuth, "execute-api", "s3", 1), wantStatus: 403, wantType: "InvalidSignatureException"},
		{name: "another region's signature", auth: strings.Replace(wellFormedAuth, "us-east-1", "eu-west-1", 1), wantStatus: 403, wantType: "InvalidSignatureException"},
		{name: "too large", auth: wellFormedAuth, body: strings.Repeat("x", 128*1024+1), wantStatus: 413, wantType: "PayloadTooLargeException"},
		{name: "delivered", auth: wellFormedAuth, body: "hello", wantStatus: 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, a.server.URL+"/prod/@connections/"+url.PathEscape(id), strings.NewReader(c.body))
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != c.wantStatus || resp.Header.Get("X-Amzn-ErrorType") != c.wantType {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), c.wantStatus, c.wantType)
			}
		})
	}
	if resp, err := http.Get(a.server.URL + "/other"); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("unknown path: %v %v", resp, err)
	}
}
