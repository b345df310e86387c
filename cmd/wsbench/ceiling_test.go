package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestRunPosters checks a poster process's side: each virtual connection
// of its range posted once, the frame as the body, signed when asked, and
// refusals counted with the first one named.
func TestRunPosters(t *testing.T) {
	for _, tc := range []struct {
		name       string
		signed     bool
		refuse     string // an id the server answers 403 for
		wantPosted int
		wantFailed int
	}{
		{name: "bare", wantPosted: 40},
		{name: "signed", signed: true, wantPosted: 40},
		{name: "refused", refuse: virtualID(17), wantPosted: 39, wantFailed: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[string]int{}
			var bad []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				id := strings.TrimPrefix(r.URL.Path, "/prod/@connections/")
				auth := r.Header.Get("Authorization")
				mu.Lock()
				seen[id]++
				switch {
				case !bytes.Equal(body, ceilingFrame):
					bad = append(bad, id+": body")
				case tc.signed && (!strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") ||
					!strings.Contains(auth, "/us-east-1/execute-api/aws4_request") || r.Header.Get("X-Amz-Date") == ""):
					bad = append(bad, id+": not signed: "+auth)
				case !tc.signed && auth != "":
					bad = append(bad, id+": signed")
				}
				mu.Unlock()
				if id == tc.refuse {
					w.Header().Set("X-Amzn-ErrorType", "InvalidSignatureException")
					w.WriteHeader(http.StatusForbidden)
				}
			}))
			defer srv.Close()
			cmd := posterCommand{
				Endpoint: srv.URL + "/prod", Signed: tc.signed, AccessKeyID: "AKID", Secret: "secret", Region: "us-east-1",
				From: 10, To: 50, InFlight: 4, Frame: ceilingFrame,
			}
			line, err := json.Marshal(cmd)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := runPosters(bytes.NewReader(line), &out); err != nil {
				t.Fatal(err)
			}
			var got posterResult
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("answer %q: %v", out.String(), err)
			}
			if got.Posted != tc.wantPosted || got.Failed != tc.wantFailed {
				t.Errorf("posted %d, failed %d; want %d, %d", got.Posted, got.Failed, tc.wantPosted, tc.wantFailed)
			}
			if tc.refuse != "" && !strings.Contains(got.Err, tc.refuse+": status 403 InvalidSignatureException") {
				t.Errorf("Err = %q, want the refused id and its status", got.Err)
			}
			if len(bad) > 0 {
				t.Errorf("bad posts: %v", bad)
			}
			if len(seen) != 40 {
				t.Errorf("%d ids posted, want 40", len(seen))
			}
			for i := 10; i < 50; i++ {
				if n := seen[virtualID(i)]; n != 1 {
					t.Errorf("%s posted %d times, want once", virtualID(i), n)
				}
			}
		})
	}
}
