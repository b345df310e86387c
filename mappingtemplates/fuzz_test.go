package mappingtemplates

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"wsapi/vtl"
)

// FuzzMessageTemplate renders the project's templates with the vtl engine
// for arbitrary frames and authorizer context strings. Every rendering must
// be valid JSON that decodes (DisallowUnknownFields) into the receiving
// event type, with the body and the authorizer values round-tripping.
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
//	go test -run='^$' -fuzz=FuzzMessageTemplate -fuzztime=5m ./mappingtemplates/
func FuzzMessageTemplate(f *testing.F) {
	types := eventTypes(f)
	templates := []struct {
		name, event string
		tmpl        *vtl.Template
	}{
		{"message.vtl", "MessageEvent", vtl.MustParse("message.vtl", Message)},
		{"connect.vtl", "ConnectEvent", vtl.MustParse("connect.vtl", Connect)},
		{"disconnect.vtl", "DisconnectEvent", vtl.MustParse("disconnect.vtl", Disconnect)},
	}
	f.Add(`{"action":"sendmessage","data":"hi"}`, "user|42", "sub-1", "O'Brien", "ob@example.com", "read write")
	f.Add(`\'`, `\\'`, `'`, `"`, `\`, `</script>`)
	f.Add("é😀\u2028\x00\x7f", "$context.stage", "#set($x = 1)", "${x}", "##", "#*")
	f.Fuzz(func(t *testing.T, body, principalID, sub, username, email, scope string) {
		auth := map[string]any{"principalId": principalID, "sub": sub, "username": username, "email": email, "scope": scope}
		ctx := vtl.WebSocketContext{
			APIID: "a1b2c3d4e5", ConnectedAt: 1732442400000, ConnectionID: "L0SM9cOFvHcCIhw=",
			DomainName: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", RequestID: "R1",
			RequestTimeEpoch: 1732442400123, Stage: "prod", MessageID: "M1", Authorizer: auth,
			Identity: vtl.Identity{SourceIP: "203.0.113.9", UserAgent: body},
		}
		for _, tc := range templates {
			switch tc.event {
			case "ConnectEvent":
				ctx.EventType, ctx.RouteKey = "CONNECT", "$connect"
			case "DisconnectEvent":
				ctx.EventType, ctx.RouteKey = "DISCONNECT", "$disconnect"
			default:
				ctx.EventType, ctx.RouteKey = "MESSAGE", "sendmessage"
			}
			out, err := tc.tmpl.RenderString(&vtl.APIGatewayData{Context: ctx, Body: body})
			if err != nil {
				t.Fatalf("%s: render: %v", tc.name, err)
			}
			if !json.Valid([]byte(out)) {
				t.Fatalf("%s: invalid JSON:\n%s", tc.name, out)
			}
			ev := reflect.New(types[tc.event])
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(ev.Interface()); err != nil {
				t.Fatalf("%s: decode: %v\n%s", tc.name, err, out)
			}
			if dec.More() {
				t.Fatalf("%s: trailing data after the JSON object:\n%s", tc.name, out)
			}
			v := ev.Elem()
			check := func(what string, got any, want string) {
				if got != normalise(want) {
					t.Errorf("%s: %s = %q, want %q", tc.name, what, got, normalise(want))
				}
			}
			switch tc.event {
			case "MessageEvent":
				check("body", field(v, "Body"), body)
			case "ConnectEvent":
				check("userAgent", field(v, "UserAgent"), body)
			}
			for name, key := range map[string]string{"PrincipalID": "principalId", "Sub": "sub", "Username": "username", "Email": "email", "Scope": "scope"} {
				check("authorizer."+key, field(v, "Authorizer", name), auth[key].(string))
			}
			if got := field(v, "ConnectedAt"); got != ctx.ConnectedAt {
				t.Errorf("%s: connectedAt = %v", tc.name, got)
			}
		}
	})
}

// normalise is what a value round-trips to (see vtl.NormalizeUTF8).
func normalise(s string) string { return vtl.NormalizeUTF8(s) }
