package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// connectionsAPI serves POST, GET and DELETE on /{stage}/@connections/{id},
// as the API Gateway Management API does, SigV4 signature required.
func (g *Gateway) connectionsAPI(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, g.cfg.Limits.MaxMessageBytes+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestException", "cannot read the request body")
		return
	}
	if err := g.verifySigV4(r, body); err != nil {
		g.log.Info("@connections request refused", "error", err)
		apiError(w, http.StatusForbidden, "ForbiddenException", err.Error())
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/"+g.cfg.Stage+"/@connections/")
	c := g.lookup(id)
	if c == nil {
		apiError(w, http.StatusGone, "GoneException", "")
		return
	}
	switch r.Method {
	case http.MethodPost:
		if int64(len(body)) > g.cfg.Limits.MaxMessageBytes {
			apiError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "payload too large")
			return
		}
		if err := c.send(r.Context(), body); err != nil {
			apiError(w, http.StatusGone, "GoneException", "")
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"connectedAt":  c.connectedAt.UTC().Format(time.RFC3339Nano),
			"lastActiveAt": time.UnixMilli(c.lastActive.Load()).UTC().Format(time.RFC3339Nano),
			"identity":     map[string]string{"sourceIp": c.sourceIP, "userAgent": c.userAgent},
		})
	case http.MethodDelete:
		c.close(websocket.StatusNormalClosure, "")
		w.WriteHeader(http.StatusNoContent)
	default:
		apiError(w, http.StatusMethodNotAllowed, "BadRequestException", "method not allowed")
	}
}

// apiError answers as the Management API does: the error type in
// X-Amzn-ErrorType, which the AWS SDKs map to typed errors.
func apiError(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("X-Amzn-ErrorType", errorType)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var m any
	if message != "" {
		m = message
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"message": m})
}

var authorizationPattern = regexp.MustCompile(
	`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/execute-api/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)

// verifySigV4 checks the request's Signature Version 4 Authorization header:
// its shape always, and the signature itself for known credentials.
func (g *Gateway) verifySigV4(r *http.Request, body []byte) error {
	m := authorizationPattern.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return fmt.Errorf("missing or malformed SigV4 Authorization header")
	}
	keyID, date, region, signedHeaders, signature := m[1], m[2], m[3], m[4], m[5]
	if len(g.opts.Credentials) == 0 {
		return nil
	}
	secret, ok := g.opts.Credentials[keyID]
	if !ok {
		return fmt.Errorf("unknown access key %q", keyID)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(amzDate, date) {
		return fmt.Errorf("X-Amz-Date %q does not match the credential scope", amzDate)
	}
	canonical := canonicalRequest(r, signedHeaders, body)
	scope := date + "/" + region + "/execute-api/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hexSHA256([]byte(canonical))
	key := hmacSHA256([]byte("AWS4"+secret), date)
	for _, part := range []string{region, "execute-api", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return fmt.Errorf("signature does not match")
	}
	return nil
}

// canonicalRequest builds SigV4's canonical request for a non-S3 service,
// whose path segments are URI-encoded twice (once by the client).
func canonicalRequest(r *http.Request, signedHeaders string, body []byte) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(uriEncodePath(r.URL.EscapedPath()) + "\n")
	b.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, h := range strings.Split(signedHeaders, ";") {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = r.Header.Get("Content-Length")
			if v == "" {
				v = fmt.Sprint(r.ContentLength)
			}
		default:
			v = strings.Join(r.Header.Values(h), ",")
		}
		b.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	b.WriteString("\n" + signedHeaders + "\n")
	if p := r.Header.Get("X-Amz-Content-Sha256"); p != "" {
		b.WriteString(p)
	} else {
		b.WriteString(hexSHA256(body))
	}
	return b.String()
}

// uriEncodePath percent-encodes every byte outside SigV4's unreserved set,
// keeping the slashes between segments.
func uriEncodePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' || isUnreserved(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, uriEncodePath(strings.ReplaceAll(k, "/", "%2F"))+"="+uriEncodePath(strings.ReplaceAll(v, "/", "%2F")))
		}
	}
	return strings.Join(parts, "&")
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
