package devpage

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// api stands in for the gateway: it records that it was asked.
var api = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Api", "yes")
	w.WriteHeader(http.StatusTeapot)
})

type minted struct {
	sub string
	ttl time.Duration
}

func newHandler(stage string, got *[]minted) http.Handler {
	return Handler(api, Options{Stage: stage, Mint: func(sub string, ttl time.Duration) (string, error) {
		*got = append(*got, minted{sub, ttl})
		if sub == "broken" {
			return "", errors.New("issuer down")
		}
		return "tok-" + sub, nil
	}})
}

func do(h http.Handler, method, target, host string, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Host = host
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRoutesDoNotShadowTheAPI(t *testing.T) {
	for _, stage := range []string{"prod", "dev"} {
		var got []minted
		h := newHandler(stage, &got)
		toAPI := []string{"/" + stage, "/" + stage + "/", "/" + stage + "/@connections/abc=", "/favicon.ico", "/index.html", "/other", "/dev", "/dev/nope", "//"}
		if stage == "dev" {
			toAPI = []string{"/dev", "/dev/", "/dev/@connections/abc=", "/favicon.ico"}
		}
		for _, p := range toAPI {
			rec := do(h, http.MethodGet, p, "127.0.0.1:3001", "", nil)
			if rec.Header().Get("X-Api") != "yes" {
				t.Errorf("stage %s: GET %s was not passed to the API (status %d)", stage, p, rec.Code)
			}
		}
		for _, p := range []string{"/", "/dev/app.js", "/dev/app.css", "/dev/favicon.svg"} {
			rec := do(h, http.MethodGet, p, "127.0.0.1:3001", "", nil)
			if rec.Code != http.StatusOK || rec.Header().Get("X-Api") != "" {
				t.Errorf("stage %s: GET %s: status %d, X-Api %q", stage, p, rec.Code, rec.Header().Get("X-Api"))
			}
		}
	}
}

func TestPageHeaders(t *testing.T) {
	var got []minted
	h := newHandler("prod", &got)
	cases := map[string]string{
		"/":                "text/html; charset=utf-8",
		"/dev/app.js":      "text/javascript; charset=utf-8",
		"/dev/app.css":     "text/css; charset=utf-8",
		"/dev/favicon.svg": "image/svg+xml",
	}
	for p, ct := range cases {
		rec := do(h, http.MethodGet, p, "127.0.0.1:3001", "", nil)
		hd := rec.Header()
		if hd.Get("Content-Type") != ct {
			t.Errorf("%s: Content-Type %q, want %q", p, hd.Get("Content-Type"), ct)
		}
		csp := hd.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self' ws://127.0.0.1:3001", "frame-ancestors 'none'", "require-trusted-types-for 'script'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q allows unsafe sources", p, csp)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("X-Frame-Options") != "DENY" || hd.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", p, hd)
		}
	}
	if rec := do(h, http.MethodPost, "/", "127.0.0.1:3001", "", nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", rec.Code)
	}
	// A name that rebinds to 127.0.0.1 is not served the page.
	if rec := do(h, http.MethodGet, "/", "evil.example:3001", "", nil); rec.Code != http.StatusMisdirectedRequest {
		t.Errorf("GET / with Host evil.example: %d", rec.Code)
	}
	for _, host := range []string{"localhost:3001", "[::1]:3001", "127.0.0.2:3001"} {
		if rec := do(h, http.MethodGet, "/", host, "", nil); rec.Code != http.StatusOK {
			t.Errorf("GET / with Host %s: %d", host, rec.Code)
		}
	}
}

// TestPageUsesNoHTMLSinks: text from the wire is set with textContent
// (the CSP's Trusted Types enforce it in the browser; this says so early).
func TestPageUsesNoHTMLSinks(t *testing.T) {
	for _, f := range []string{"static/app.js", "static/index.html"} {
		b, err := static.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var code strings.Builder
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "//") {
				code.WriteString(line + "\n")
			}
		}
		for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "onclick=", "<script>", "style="} {
			if strings.Contains(code.String(), sink) {
				t.Errorf("%s uses %s", f, sink)
			}
		}
	}
}

func TestToken(t *testing.T) {
	const host = "127.0.0.1:3001"
	jsonCT := map[string]string{"Content-Type": "application/json"}
	var got []minted
	h := newHandler("prod", &got)

	rec := do(h, http.MethodPost, "/dev/token", host, `{"name":"alice"}`, map[string]string{"Content-Type": "application/json; charset=utf-8", "Origin": "http://" + host})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var res TokenResponse
	decode(t, rec, &res)
	if res != (TokenResponse{Token: "tok-alice", Sub: "alice", URL: "ws://127.0.0.1:3001/prod", ExpiresIn: 900}) {
		t.Errorf("response %+v", res)
	}
	if len(got) != 1 || got[0] != (minted{"alice", TokenTTL}) || TokenTTL > time.Hour {
		t.Errorf("minted %v", got)
	}
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", rec.Header())
	}

	cases := []struct {
		name   string
		method string
		host   string
		body   string
		header map[string]string
		status int
		code   string
	}{
		{"GET", http.MethodGet, host, "", nil, 405, "method_not_allowed"},
		{"no content type", http.MethodPost, host, `{"name":"alice"}`, nil, 415, "unsupported_media_type"},
		{"form post", http.MethodPost, host, `name=alice`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"other origin", http.MethodPost, host, `{"name":"alice"}`, map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, 403, "cross_origin"},
		{"rebound host", http.MethodPost, "evil.example:3001", `{"name":"alice"}`, jsonCT, 421, "not_loopback"},
		{"host without port", http.MethodPost, "127.0.0.1", `{"name":"alice"}`, jsonCT, 421, "not_loopback"},
		{"not json", http.MethodPost, host, `alice`, jsonCT, 400, "invalid_json"},
		{"unknown field", http.MethodPost, host, `{"name":"alice","admin":true}`, jsonCT, 400, "invalid_json"},
		{"two values", http.MethodPost, host, `{"name":"alice"}{"name":"bob"}`, jsonCT, 400, "invalid_json"},
		{"name not a string", http.MethodPost, host, `{"name":7}`, jsonCT, 400, "invalid_json"},
		{"too large", http.MethodPost, host, `{"name":"` + strings.Repeat("a", 2000) + `"}`, jsonCT, 413, "body_too_large"},
		{"empty name", http.MethodPost, host, `{"name":""}`, jsonCT, 400, "invalid_name"},
		{"no name", http.MethodPost, host, `{}`, jsonCT, 400, "invalid_name"},
		{"long name", http.MethodPost, host, `{"name":"` + strings.Repeat("a", 33) + `"}`, jsonCT, 400, "invalid_name"},
		{"space", http.MethodPost, host, `{"name":"bad name"}`, jsonCT, 400, "invalid_name"},
		{"markup", http.MethodPost, host, `{"name":"<b>x</b>"}`, jsonCT, 400, "invalid_name"},
		{"leading dot", http.MethodPost, host, `{"name":".alice"}`, jsonCT, 400, "invalid_name"},
		{"non-ASCII", http.MethodPost, host, `{"name":"zoë"}`, jsonCT, 400, "invalid_name"},
		{"newline", http.MethodPost, host, `{"name":"alice\n"}`, jsonCT, 400, "invalid_name"},
		{"mint fails", http.MethodPost, host, `{"name":"broken"}`, jsonCT, 500, "internal"},
	}
	for _, tc := range cases {
		rec := do(h, tc.method, "/dev/token", tc.host, tc.body, tc.header)
		var e ErrorResponse
		decode(t, rec, &e)
		if rec.Code != tc.status || e.Code != tc.code || e.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, rec.Code, e, tc.status, tc.code)
		}
		if rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.name, rec.Header().Get("Content-Type"))
		}
	}
	if rec := do(h, http.MethodPost, "/dev/token", host, `{"name":"a.b_c-D9"}`, jsonCT); rec.Code != 200 {
		t.Errorf("a.b_c-D9: %d", rec.Code)
	}
	if rec := do(h, http.MethodPost, "/dev/token", host, `{"name":"`+strings.Repeat("z", 32)+`"}`, jsonCT); rec.Code != 200 {
		t.Errorf("32 characters: %d", rec.Code)
	}
}

func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("%d %q: %v", rec.Code, rec.Body, err)
	}
}
