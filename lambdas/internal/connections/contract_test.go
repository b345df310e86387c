package connections_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"wsapi/lambdas/internal/connections"
	"wsapi/mappingtemplates"
	"wsapi/vtl"
)

// The contract tests render each request mapping template of package
// wsapi/mappingtemplates (disconnect.vtl and message.vtl; $connect is a
// Lambda proxy integration and has none) with the vtl engine and decode the
// result, with DisallowUnknownFields, into the event type of this package
// that the receiving function decodes it into. The rendering must hold
// exactly the keys of the type's json tags, and every field must carry the
// value of the API Gateway context it was rendered from.

// eventRoute is a request template and the event type its rendering is
// decoded into.
type eventRoute interface {
	// file is the template's file name in mappingtemplates.
	file() string
	// source is the template.
	source() string
	// context is the $context of a request on this route, built on base.
	context(base vtl.WebSocketContext) vtl.WebSocketContext
	// check decodes out, a rendering of the template, into the route's event
	// type and compares it with the event want should render into.
	check(t testing.TB, out string, want *vtl.APIGatewayData)
}

// route is an eventRoute whose template renders into an E.
type route[E comparable] struct {
	name, src           string
	eventType, routeKey string
	// event is the event the template must render for d.
	event func(d *vtl.APIGatewayData) E
}

func (r route[E]) file() string   { return r.name }
func (r route[E]) source() string { return r.src }

func (r route[E]) context(base vtl.WebSocketContext) vtl.WebSocketContext {
	base.EventType, base.RouteKey = r.eventType, r.routeKey
	return base
}

func (r route[E]) check(t testing.TB, out string, want *vtl.APIGatewayData) {
	t.Helper()
	if !json.Valid([]byte(out)) {
		t.Fatalf("%s: rendered invalid JSON:\n%s", r.name, out)
	}
	var got E
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%s: decode into %T: %v\n%s", r.name, got, err, out)
	}
	if dec.More() {
		t.Fatalf("%s: trailing data after the JSON object:\n%s", r.name, out)
	}
	// No key missing: the document has exactly the keys of E's json tags.
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	if gotKeys, wantKeys := documentKeys(doc, ""), jsonKeys(reflect.TypeFor[E]()); !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("%s: keys\n got %v\nwant %v\n%s", r.name, gotKeys, wantKeys, out)
	}
	if w := r.event(want); got != w {
		diffs := diffFields(reflect.ValueOf(got), reflect.ValueOf(w))
		for _, d := range diffs {
			t.Errorf("%s: %s", r.name, d)
		}
		if len(diffs) == 0 {
			t.Errorf("%s: decoded\n%#v\nwant\n%#v", r.name, got, w)
		}
	}
}

var (
	disconnectRoute = route[connections.DisconnectEvent]{
		name: "disconnect.vtl", src: mappingtemplates.Disconnect, eventType: "DISCONNECT", routeKey: "$disconnect",
		event: func(d *vtl.APIGatewayData) connections.DisconnectEvent {
			return connections.DisconnectEvent{RequestContext: requestContext(d)}
		},
	}
	messageRoute = route[connections.MessageEvent]{
		name: "message.vtl", src: mappingtemplates.Message, eventType: "MESSAGE", routeKey: "sendmessage",
		event: func(d *vtl.APIGatewayData) connections.MessageEvent {
			return connections.MessageEvent{RequestContext: requestContext(d), MessageID: d.Context.MessageID, Body: d.Body}
		},
	}
	// routes are all the templates.
	routes = []eventRoute{messageRoute, disconnectRoute}
)

// requestContext is the part of every event that d renders into.
func requestContext(d *vtl.APIGatewayData) connections.RequestContext {
	c := &d.Context
	return connections.RequestContext{
		RouteKey: c.RouteKey, EventType: c.EventType, ConnectionID: c.ConnectionID, ConnectedAt: c.ConnectedAt,
		RequestID: c.RequestID, RequestTimeEpoch: c.RequestTimeEpoch, DomainName: c.DomainName, Stage: c.Stage,
		APIID: c.APIID, SourceIP: c.Identity.SourceIP,
		Authorizer: connections.Authorizer{
			PrincipalID: authString(c.Authorizer, "principalId"),
			Sub:         authString(c.Authorizer, "sub"),
			Username:    authString(c.Authorizer, "username"),
			Email:       authString(c.Authorizer, "email"),
			Scope:       authString(c.Authorizer, "scope"),
		},
	}
}

// authString is an authorizer context value as the templates render it: ""
// when absent.
func authString(auth map[string]any, k string) string {
	v, ok := auth[k]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// walkJSON calls fn with the JSON key and field index of each leaf field
// of struct type rt, nested objects as "outer.inner", following embedded
// structs as encoding/json does.
func walkJSON(rt reflect.Type, prefix string, index []int, fn func(key string, index []int)) {
	for f := range rt.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		idx := append(slices.Clip(index), f.Index...)
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			walkJSON(f.Type, prefix, idx, fn)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if f.Type.Kind() == reflect.Struct {
			walkJSON(f.Type, prefix+name+".", idx, fn)
			continue
		}
		fn(prefix+name, idx)
	}
}

// jsonKeys lists, sorted, the JSON keys struct type rt decodes.
func jsonKeys(rt reflect.Type) []string {
	var out []string
	walkJSON(rt, "", nil, func(key string, _ []int) { out = append(out, key) })
	slices.Sort(out)
	return out
}

// documentKeys lists, sorted, the keys of a decoded JSON object the way
// jsonKeys lists a type's.
func documentKeys(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out = append(out, documentKeys(sub, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	slices.Sort(out)
	return out
}

// diffFields describes, by JSON key, each field in which two values of the
// same struct type differ.
func diffFields(got, want reflect.Value) []string {
	var out []string
	walkJSON(got.Type(), "", nil, func(key string, index []int) {
		g, w := got.FieldByIndex(index).Interface(), want.FieldByIndex(index).Interface()
		if g != w {
			out = append(out, fmt.Sprintf("%s = %#v, want %#v", key, g, w))
		}
	})
	return out
}

// baseContext is a representative $context; its user agent, which no
// template renders, holds quotes, non-ASCII characters and a character
// outside the BMP.
func baseContext() vtl.WebSocketContext {
	return vtl.WebSocketContext{
		APIID: "a1b2c3d4e5", ConnectedAt: 1732442400000, ConnectionID: "L0SM9cOFvHcCIhw=",
		DomainName: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", ExtendedRequestID: "L0SM9GmYvHcFtMQ=",
		MessageDirection: "IN", RequestID: "L0SM9GmYvHcFtMQ=", RequestTime: "24/Nov/2024:10:00:00 +0000",
		RequestTimeEpoch: 1732442400123, Stage: "prod", Status: "200",
		Identity: vtl.Identity{SourceIP: "203.0.113.9", UserAgent: `Mozilla/5.0 (X11; Linux x86_64) "quoted" it's é 😀`},
	}
}

func TestContract(t *testing.T) {
	fullAuth := map[string]any{
		"principalId": "user|42", "sub": "0b8f3c2e-9d1a-4f5b", "username": "O'Brien \"the\" \\ <b>",
		"email": "ob@example.com", "scope": "chat:read chat:write",
	}
	disconnectNoAuth := disconnectRoute.context(baseContext())
	disconnectNoAuth.Identity.UserAgent = ""
	disconnect := disconnectRoute.context(baseContext())
	disconnect.Authorizer = map[string]any{"principalId": "p", "sub": "é\u2028\t", "username": "#set($x = 1)$x", "email": "$context.stage", "scope": "'"}
	message := messageRoute.context(baseContext())
	message.MessageID = "L0SM9dQwvHcCJ2w="
	message.Authorizer = fullAuth
	dflt := messageRoute.context(baseContext())
	dflt.RouteKey = "$default"
	dflt.MessageID = "M1"
	dflt.Authorizer = map[string]any{"principalId": "only-principal"}

	tests := []struct {
		name  string
		route eventRoute
		data  vtl.APIGatewayData
	}{
		{"disconnect", disconnectRoute, vtl.APIGatewayData{Context: disconnect}},
		{"disconnect-no-authorizer-no-user-agent", disconnectRoute, vtl.APIGatewayData{Context: disconnectNoAuth}},
		{"message", messageRoute, vtl.APIGatewayData{Context: message, Body: `{"action":"sendmessage","data":"it's \"ok\" \\ é 😀"}`}},
		{"message-default-route-empty-body", messageRoute, vtl.APIGatewayData{Context: dflt, Body: ""}},
		{"message-not-json", messageRoute, vtl.APIGatewayData{Context: message, Body: "not json at all: ${x} #if \\' </script>\n\r\t\u0000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := vtl.Parse(tt.route.file(), tt.route.source())
			if err != nil {
				t.Fatal(err)
			}
			out, err := tmpl.RenderString(&tt.data)
			if err != nil {
				t.Fatal(err)
			}
			tt.route.check(t, out, &tt.data)
		})
	}
}

// TestTemplatesParse guards the embedded templates against syntax errors.
func TestTemplatesParse(t *testing.T) {
	for _, r := range routes {
		t.Run(r.file(), func(t *testing.T) {
			if _, err := vtl.Parse(r.file(), r.source()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// recorder is a testing.TB that records failures instead of reporting them.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// TestContractCheckRejects makes sure the contract check fails renderings
// that break the contract, so that its passing means something.
func TestContractCheckRejects(t *testing.T) {
	ctx := messageRoute.context(baseContext())
	ctx.MessageID = "M1"
	ctx.Authorizer = map[string]any{"principalId": "p", "email": "e@example.com"}
	data := vtl.APIGatewayData{Context: ctx, Body: "hello"}
	tmpl, err := vtl.Parse(messageRoute.file(), messageRoute.source())
	if err != nil {
		t.Fatal(err)
	}
	good, err := tmpl.RenderString(&data)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(re, repl string) string {
		t.Helper()
		out := regexp.MustCompile(re).ReplaceAllString(good, repl)
		if out == good {
			t.Fatalf("%s matches nothing in\n%s", re, good)
		}
		return out
	}
	otherBody := data
	otherBody.Body = "hello!"
	tests := []struct {
		name string
		out  string
		want *vtl.APIGatewayData
		msg  string // part of the first failure
	}{
		{"invalid JSON", strings.TrimSuffix(strings.TrimSpace(good), "}"), &data, "invalid JSON"},
		{"unknown key", replace(`^\s*\{`, `{"extra": 1, `), &data, "unknown field"},
		{"unknown nested key", replace(`"authorizer": \{`, `"authorizer": {"extra": "", `), &data, "unknown field"},
		{"missing key", replace(`"messageId": "M1",`, ``), &data, "keys"},
		{"missing nested key", replace(`"email": "e@example.com",`, ``), &data, "keys"},
		// encoding/json matches keys case-insensitively; only the key check sees this.
		{"key in the wrong case", replace(`"messageId"`, `"messageID"`), &data, "keys"},
		{"wrong type", replace(`"connectedAt": \d+`, `"connectedAt": "1"`), &data, "decode"},
		{"wrong value", good, &otherBody, `body = "hello", want "hello!"`},
		{"wrong nested value", replace(`"e@example.com"`, `"E@example.com"`), &data, "authorizer.email ="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				messageRoute.check(rec, tt.out, tt.want)
			}()
			<-done
			if len(rec.msgs) == 0 {
				t.Fatalf("check accepted\n%s", tt.out)
			}
			if !strings.Contains(rec.msgs[0], tt.msg) {
				t.Errorf("check failed with %q, want it to mention %q", rec.msgs[0], tt.msg)
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		rec := &recorder{TB: t}
		messageRoute.check(rec, good, &data)
		if len(rec.msgs) != 0 {
			t.Errorf("check rejected a good rendering: %q", rec.msgs)
		}
	})
}
