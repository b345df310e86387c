package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// connectionsAPI serves POST, GET and DELETE on /{stage}/@connections/{id},
// as the API Gateway Management API does, SigV4 signature required
// (sigv4.go).
func (g *Gateway) connectionsAPI(w http.ResponseWriter, r *http.Request) {
	body, bodyHash, err := readSignedBody(r.Body, g.cfg.Limits.MaxMessageBytes)
	if err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestException", "cannot read the request body")
		return
	}
	if err := g.verifySigV4(r, bodyHash); err != nil {
		g.log.Info("@connections request refused", "error", err)
		var refused *sigV4Error
		if !errors.As(err, &refused) {
			refused = &sigV4Error{errorType: errInvalidSignature, message: err.Error()}
		}
		apiError(w, http.StatusForbidden, refused.errorType, refused.message)
		return
	}
	if bodyHash == "" {
		// Its signature could not be recomputed: no action on it.
		apiError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "payload too large")
		return
	}
	if !g.posts.admit(r.Context()) {
		apiError(w, http.StatusTooManyRequests, errLimitExceeded, "Limit Exceeded")
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/"+g.cfg.Stage+"/@connections/")
	c := g.lookup(id)
	if c == nil {
		if v := g.posts.lookupVirtual(id); v != nil {
			g.virtualAPI(w, r, id, v)
			return
		}
		g.gone(w)
		return
	}
	switch r.Method {
	case http.MethodPost:
		if err := c.send(r.Context(), body); err != nil {
			g.gone(w)
			return
		}
		g.posts.posts.Add(1)
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		writeConnectionInfo(w, c.connectedAt, c.lastActive.Load(), c.sourceIP, c.userAgent)
	case http.MethodDelete:
		c.close(websocket.StatusNormalClosure, "")
		w.WriteHeader(http.StatusNoContent)
	default:
		apiError(w, http.StatusMethodNotAllowed, "BadRequestException", "method not allowed")
	}
}

// gone answers 410 GoneException, and counts it.
func (g *Gateway) gone(w http.ResponseWriter) {
	g.posts.gone.Add(1)
	apiError(w, http.StatusGone, "GoneException", "")
}

// writeConnectionInfo is GetConnection's answer.
func writeConnectionInfo(w http.ResponseWriter, connectedAt time.Time, lastActiveMilli int64, sourceIP, userAgent string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"connectedAt":  connectedAt.UTC().Format(time.RFC3339Nano),
		"lastActiveAt": time.UnixMilli(lastActiveMilli).UTC().Format(time.RFC3339Nano),
		"identity":     map[string]string{"sourceIp": sourceIP, "userAgent": userAgent},
	})
}

// readSignedBody reads the body and returns it with its SHA-256 (hex), the
// payload hash SigV4 signs. A body over limit is not read whole (the
// server bounds it too): its hash is "", and the body is limit+1 bytes.
func readSignedBody(body io.Reader, limit int64) ([]byte, string, error) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("read the @connections body: %w", err)
	}
	if int64(len(b)) > limit {
		return b, "", nil
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
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

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
