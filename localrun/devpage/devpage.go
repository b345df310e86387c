// Package devpage is the local run's chat page: a development aid served by
// `make dev` (wslocal dev) next to the WebSocket API, on the same loopback
// origin, and never deployed (it is not part of the CDK stack).
//
// Open http://127.0.0.1:3001/ while `make dev` runs. The page asks for a
// name, gets a short-lived token for it from the local issuer, connects to
// ws://127.0.0.1:3001/<stage>?token=... as browsers must (they cannot set
// headers on a WebSocket handshake), and shows the connection's state and
// close codes, broadcasts and direct messages it receives, the acks of what
// it sends (a broadcast's is queued, with its message id), the delivery
// reports of its broadcasts (matched to the message by id), and error
// frames; a message or report whose id it has seen is dropped (delivery
// is at least once). It is plain HTML, CSS and JavaScript embedded
// in the binary: there is no build step. Every text from the wire is
// rendered with textContent; the page's Content-Security-Policy requires
// Trusted Types, so an innerHTML assignment would throw.
//
// Routes (Handler):
//
//	/<stage>, /<stage>/, /<stage>/@connections/...   the API (the gateway), always first
//	GET  /                 the page (exactly "/")
//	GET  /dev/app.js, /dev/app.css, /dev/favicon.svg  its assets
//	POST /dev/token        {"name":"alice"} → {"token","sub","url","expiresIn"}
//	anything else          the API (the gateway answers 403 as API Gateway does)
//
// The token endpoint accepts names of 1 to 32 characters from A-Z a-z 0-9
// . _ - starting with a letter or digit, a JSON body of at most 1 KiB with
// Content-Type application/json, requests whose Host is a loopback address
// (no DNS rebinding) and, when the browser sends an Origin, only this
// origin. Errors are JSON: {"code":"invalid_name","message":"..."}. Tokens
// live TokenTTL (15 minutes). The page and its assets carry a strict
// Content-Security-Policy (default-src 'none'; connect-src 'self' and the
// ws:// origin), X-Content-Type-Options: nosniff, X-Frame-Options: DENY,
// Referrer-Policy: no-referrer and Cache-Control: no-store.
//
// browser_test.go drives the page in headless Chromium (Debian's chromium
// with npm's playwright-core): see its doc comment.
package devpage

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// TokenTTL is the lifetime of the tokens the page gets.
const TokenTTL = 15 * time.Minute

// Options configure Handler.
type Options struct {
	// Stage is the API's stage: /<stage> and /<stage>/@connections/...
	// always go to the API.
	Stage string
	// Mint returns a token the API's authorizer accepts for subject sub
	// (localrun.Server.Token).
	Mint func(sub string, ttl time.Duration) (string, error)
}

// Handler serves the page, its assets and its token endpoint, and passes
// everything else to api.
func Handler(api http.Handler, opts Options) http.Handler {
	return &handler{api: api, opts: opts}
}

type handler struct {
	api  http.Handler
	opts Options
}

var assets = map[string]string{ // path → content type
	"/dev/app.js":      "text/javascript; charset=utf-8",
	"/dev/app.css":     "text/css; charset=utf-8",
	"/dev/favicon.svg": "image/svg+xml",
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	stage := "/" + h.opts.Stage
	switch {
	case p == stage || p == stage+"/" || strings.HasPrefix(p, stage+"/@connections/"):
		h.api.ServeHTTP(w, r)
	case p == "/":
		h.asset(w, r, "index.html", "text/html; charset=utf-8")
	case p == "/dev/token":
		h.token(w, r)
	case assets[p] != "":
		h.asset(w, r, path.Base(p), assets[p])
	default:
		h.api.ServeHTTP(w, r)
	}
}

// loopbackHost returns the request's Host when it names a loopback address
// (127.0.0.0/8, ::1 or localhost) with a port, so a page of another site
// that a DNS name rebinds to 127.0.0.1 gets nothing.
func loopbackHost(r *http.Request) (string, bool) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || port == "" || strings.Trim(port, "0123456789") != "" {
		return "", false
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return "", false
		}
	}
	return r.Host, true
}

// securityHeaders are sent with the page, its assets and the token
// endpoint's answers; the API's own responses are left as API Gateway's.
func securityHeaders(w http.ResponseWriter, host string) {
	h := w.Header()
	h.Set("Content-Security-Policy", strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self'",
		"connect-src 'self' ws://" + host,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
		"require-trusted-types-for 'script'",
		"trusted-types 'none'",
	}, "; "))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

func (h *handler) asset(w http.ResponseWriter, r *http.Request, name, contentType string) {
	host, ok := loopbackHost(r)
	if !ok {
		writeError(w, http.StatusMisdirectedRequest, "not_loopback", "the dev page is served only to http://127.0.0.1:<port>/ (or localhost)")
		return
	}
	securityHeaders(w, host)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
		return
	}
	b, err := static.ReadFile("static/" + name)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no such asset")
		return
	}
	w.Header().Set("Content-Type", contentType)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// name is what the token endpoint accepts as a subject.
var name = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)

const maxTokenBody = 1024

// TokenRequest is the token endpoint's body.
type TokenRequest struct {
	Name string `json:"name"`
}

// TokenResponse is the token endpoint's answer.
type TokenResponse struct {
	Token     string `json:"token"`
	Sub       string `json:"sub"`
	URL       string `json:"url"`       // ws://host:port/stage, without the token
	ExpiresIn int    `json:"expiresIn"` // seconds
}

func (h *handler) token(w http.ResponseWriter, r *http.Request) {
	host, ok := loopbackHost(r)
	if !ok {
		writeError(w, http.StatusMisdirectedRequest, "not_loopback", "tokens are minted only for http://127.0.0.1:<port>/ (or localhost)")
		return
	}
	securityHeaders(w, host)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST with {\"name\":\"...\"}")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+host {
		writeError(w, http.StatusForbidden, "cross_origin", "tokens are minted only for this origin's page")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.EqualFold(strings.TrimSpace(strings.Split(ct, ";")[0]), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is limited to %d bytes", maxTokenBody))
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_body", "could not read the body")
		return
	}
	var req TokenRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		writeError(w, http.StatusBadRequest, "invalid_json", `the body must be {"name":"..."}`)
		return
	}
	if !name.MatchString(req.Name) {
		writeError(w, http.StatusBadRequest, "invalid_name", "a name is 1 to 32 characters of A-Z a-z 0-9 . _ - and starts with a letter or digit")
		return
	}
	tok, err := h.opts.Mint(req.Name, TokenTTL)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "could not mint a token: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, TokenResponse{
		Token: tok, Sub: req.Name, URL: "ws://" + host + "/" + h.opts.Stage, ExpiresIn: int(TokenTTL / time.Second),
	})
}

// ErrorResponse is the body of every error the page's routes answer.
type ErrorResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, ErrorResponse{Code: code, Message: message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
