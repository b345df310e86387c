package connections_test

import (
	"testing"

	"wsapi/vtl"
)

// FuzzMessageTemplate renders the request templates of package
// wsapi/mappingtemplates (disconnect.vtl and message.vtl) with the vtl
// engine for arbitrary frames and authorizer context strings. Every
// rendering must be valid JSON that decodes (DisallowUnknownFields) into the
// receiving event type of this package, with exactly its keys, the body and
// authorizer values round-tripping and every other field equal to the
// context. The user agent gets the frame too: no template renders it, and a
// hostile one must not change the rendering.
//
// Invalid UTF-8: API Gateway WebSocket frames that reach a template are text
// (RFC 6455 requires text frames to be UTF-8) and the authorizer context is
// JSON, so neither can hold invalid UTF-8 in production. The engine
// normalises such input the way a Java String decoded from it would hold
// it (vtl.NormalizeUTF8: each maximal ill-formed subsequence becomes
// U+FFFD). The fuzzer feeds invalid UTF-8 too and checks that the
// round-tripped value is exactly that normalisation; for valid UTF-8 it is
// the input itself.
//
// Seeds live in testdata/fuzz/FuzzMessageTemplate; run
//
//	go test -run='^$' -fuzz=FuzzMessageTemplate -fuzztime=5m ./lambdas/internal/connections/
func FuzzMessageTemplate(f *testing.F) {
	type parsed struct {
		eventRoute
		tmpl *vtl.Template
	}
	var templates []parsed
	for _, r := range routes {
		tmpl, err := vtl.Parse(r.file(), r.source())
		if err != nil {
			f.Fatal(err)
		}
		templates = append(templates, parsed{r, tmpl})
	}
	f.Add(`{"action":"sendmessage","data":"hi"}`, "user|42", "sub-1", "O'Brien", "ob@example.com", "read write")
	f.Add(`\'`, `\\'`, `'`, `"`, `\`, `</script>`)
	f.Add("é😀\u2028\x00\x7f", "$context.stage", "#set($x = 1)", "${x}", "##", "#*")
	f.Fuzz(func(t *testing.T, body, principalID, sub, username, email, scope string) {
		auth := map[string]any{"principalId": principalID, "sub": sub, "username": username, "email": email, "scope": scope}
		base := vtl.WebSocketContext{
			APIID: "a1b2c3d4e5", ConnectedAt: 1732442400000, ConnectionID: "L0SM9cOFvHcCIhw=",
			DomainName: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", RequestID: "R1",
			RequestTimeEpoch: 1732442400123, Stage: "prod", MessageID: "M1", Authorizer: auth,
			Identity: vtl.Identity{SourceIP: "203.0.113.9", UserAgent: body},
		}
		for _, tc := range templates {
			data := vtl.APIGatewayData{Context: tc.context(base), Body: body}
			out, err := tc.tmpl.RenderString(&data)
			if err != nil {
				t.Fatalf("%s: render: %v", tc.file(), err)
			}
			tc.check(t, out, normalised(&data))
		}
	})
}

// normalised is d as the template sees it: its client- and issuer-controlled
// strings (body, user agent, authorizer context) as they round-trip (see
// vtl.NormalizeUTF8). The other fields of the fuzzer's context are ASCII.
func normalised(d *vtl.APIGatewayData) *vtl.APIGatewayData {
	n := *d
	n.Body = vtl.NormalizeUTF8(d.Body)
	n.Context.Identity.UserAgent = vtl.NormalizeUTF8(d.Context.Identity.UserAgent)
	n.Context.Authorizer = make(map[string]any, len(d.Context.Authorizer))
	for k, v := range d.Context.Authorizer {
		if s, ok := v.(string); ok {
			v = vtl.NormalizeUTF8(s)
		}
		n.Context.Authorizer[k] = v
	}
	return &n
}
