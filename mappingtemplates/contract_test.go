package mappingtemplates

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"wsapi/vtl"
)

// The contract tests render each template with the vtl engine and decode
// the result with DisallowUnknownFields into the event type of the function
// that receives it.
//
// The event types live in wsapi/lambdas/internal/connections, which Go's
// internal-package rule forbids this package (even its tests) to import. So
// the tests read events.go with go/parser and build the very same struct
// types with reflect.StructOf: same fields, same json tags, same embedding.
// A change to events.go changes what these tests decode into.

const eventsFile = "../lambdas/internal/connections/events.go"

// eventTypes builds the struct types declared in events.go.
func eventTypes(t testing.TB) map[string]reflect.Type {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, eventsFile, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", eventsFile, err)
	}
	specs := map[string]*ast.StructType{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range gd.Specs {
			ts, ok := s.(*ast.TypeSpec)
			if !ok {
				continue
			}
			if st, ok := ts.Type.(*ast.StructType); ok {
				specs[ts.Name.Name] = st
			}
		}
	}
	types := map[string]reflect.Type{}
	var build func(name string) reflect.Type
	basic := map[string]reflect.Type{
		"string": reflect.TypeOf(""), "bool": reflect.TypeOf(false), "int": reflect.TypeOf(0),
		"int32": reflect.TypeOf(int32(0)), "int64": reflect.TypeOf(int64(0)), "float64": reflect.TypeOf(0.0),
	}
	build = func(name string) reflect.Type {
		if rt, ok := types[name]; ok {
			return rt
		}
		if rt, ok := basic[name]; ok {
			return rt
		}
		st, ok := specs[name]
		if !ok {
			t.Fatalf("%s: unsupported field type %s", eventsFile, name)
		}
		var fields []reflect.StructField
		for _, fl := range st.Fields.List {
			id, ok := fl.Type.(*ast.Ident)
			if !ok {
				t.Fatalf("%s: %s: unsupported field type %T", eventsFile, name, fl.Type)
			}
			ft := build(id.Name)
			tag := ""
			if fl.Tag != nil {
				tag, _ = strconv.Unquote(fl.Tag.Value)
			}
			if len(fl.Names) == 0 {
				fields = append(fields, reflect.StructField{Name: id.Name, Type: ft, Tag: reflect.StructTag(tag), Anonymous: true})
				continue
			}
			for _, n := range fl.Names {
				fields = append(fields, reflect.StructField{Name: n.Name, Type: ft, Tag: reflect.StructTag(tag)})
			}
		}
		rt := reflect.StructOf(fields)
		types[name] = rt
		return rt
	}
	for name := range specs {
		build(name)
	}
	for _, want := range []string{"ConnectEvent", "DisconnectEvent", "MessageEvent"} {
		if _, ok := types[want]; !ok {
			t.Fatalf("%s declares no %s", eventsFile, want)
		}
	}
	return types
}

// jsonFields lists the JSON keys a struct type decodes, nested objects as
// "outer.inner", following embedded structs as encoding/json does.
func jsonFields(rt reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type, prefix)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	sort.Strings(out)
	return out
}

// documentKeys lists the keys of a rendered JSON object the same way.
func documentKeys(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out = append(out, documentKeys(sub, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	sort.Strings(out)
	return out
}

// field returns the value of a (possibly promoted) field.
func field(v reflect.Value, path ...string) any {
	for _, p := range path {
		v = v.FieldByName(p)
		if !v.IsValid() {
			return fmt.Sprintf("<no field %s>", p)
		}
	}
	return v.Interface()
}

type contractCase struct {
	name     string
	template string
	event    string
	data     vtl.APIGatewayData
}

func baseContext(eventType, routeKey string) vtl.WebSocketContext {
	return vtl.WebSocketContext{
		APIID: "a1b2c3d4e5", ConnectedAt: 1732442400000, ConnectionID: "L0SM9cOFvHcCIhw=",
		DomainName: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", EventType: eventType,
		ExtendedRequestID: "L0SM9GmYvHcFtMQ=", MessageDirection: "IN", RequestID: "L0SM9GmYvHcFtMQ=",
		RequestTime: "24/Nov/2024:10:00:00 +0000", RequestTimeEpoch: 1732442400123, RouteKey: routeKey,
		Stage: "prod", Status: "200",
		Identity: vtl.Identity{SourceIP: "203.0.113.9", UserAgent: `Mozilla/5.0 (X11; Linux x86_64) "quoted" it's é 😀`},
	}
}

func contractCases() []contractCase {
	fullAuth := map[string]any{
		"principalId": "user|42", "sub": "0b8f3c2e-9d1a-4f5b", "username": "O'Brien \"the\" \\ <b>",
		"email": "ob@example.com", "scope": "chat:read chat:write",
	}
	connect := baseContext("CONNECT", "$connect")
	connect.Authorizer = fullAuth
	connectNoAuth := baseContext("CONNECT", "$connect")
	connectNoAuth.Identity.UserAgent = ""
	disconnect := baseContext("DISCONNECT", "$disconnect")
	disconnect.Authorizer = map[string]any{"principalId": "p", "sub": "é\u2028\t", "username": "#set($x = 1)$x", "email": "$context.stage", "scope": "'"}
	message := baseContext("MESSAGE", "sendmessage")
	message.MessageID = "L0SM9dQwvHcCJ2w="
	message.Authorizer = fullAuth
	dflt := baseContext("MESSAGE", "$default")
	dflt.MessageID = "M1"
	dflt.Authorizer = map[string]any{"principalId": "only-principal"}
	return []contractCase{
		{"connect", Connect, "ConnectEvent", vtl.APIGatewayData{Context: connect}},
		{"connect-no-authorizer-no-user-agent", Connect, "ConnectEvent", vtl.APIGatewayData{Context: connectNoAuth}},
		{"disconnect", Disconnect, "DisconnectEvent", vtl.APIGatewayData{Context: disconnect}},
		{"message", Message, "MessageEvent", vtl.APIGatewayData{Context: message, Body: `{"action":"sendmessage","data":"it's \"ok\" \\ é 😀"}`}},
		{"message-default-route-empty-body", Message, "MessageEvent", vtl.APIGatewayData{Context: dflt, Body: ""}},
		{"message-not-json", Message, "MessageEvent", vtl.APIGatewayData{Context: message, Body: "not json at all: ${x} #if \\' </script>\n\r\t\u0000"}},
	}
}

func authString(auth map[string]any, k string) string {
	v, ok := auth[k]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

func TestContract(t *testing.T) {
	types := eventTypes(t)
	for _, c := range contractCases() {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := vtl.Parse(c.name, c.template)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tmpl.RenderString(&c.data)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid([]byte(out)) {
				t.Fatalf("rendered invalid JSON:\n%s", out)
			}
			rt := types[c.event]
			ev := reflect.New(rt)
			dec := json.NewDecoder(bytes.NewReader([]byte(out)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(ev.Interface()); err != nil {
				t.Fatalf("decode into %s: %v\n%s", c.event, err, out)
			}
			// No key missing: the document has exactly the struct's keys.
			var doc map[string]any
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if got, want := documentKeys(doc, ""), jsonFields(rt, ""); !reflect.DeepEqual(got, want) {
				t.Errorf("keys\n got %v\nwant %v", got, want)
			}
			ctx := c.data.Context
			v := ev.Elem()
			want := map[string]any{
				"RouteKey": ctx.RouteKey, "EventType": ctx.EventType, "ConnectionID": ctx.ConnectionID,
				"ConnectedAt": ctx.ConnectedAt, "RequestID": ctx.RequestID, "RequestTimeEpoch": ctx.RequestTimeEpoch,
				"DomainName": ctx.DomainName, "Stage": ctx.Stage, "APIID": ctx.APIID, "SourceIP": ctx.Identity.SourceIP,
			}
			switch c.event {
			case "ConnectEvent":
				want["UserAgent"] = ctx.Identity.UserAgent
			case "MessageEvent":
				want["MessageID"] = ctx.MessageID
				want["Body"] = c.data.Body
			}
			for name, w := range want {
				if got := field(v, name); got != w {
					t.Errorf("%s = %#v, want %#v", name, got, w)
				}
			}
			for name, key := range map[string]string{"PrincipalID": "principalId", "Sub": "sub", "Username": "username", "Email": "email", "Scope": "scope"} {
				if got, w := field(v, "Authorizer", name), authString(ctx.Authorizer, key); got != w {
					t.Errorf("Authorizer.%s = %#v, want %#v", name, got, w)
				}
			}
		})
	}
}

// TestTemplatesParse guards the embedded templates against syntax errors.
func TestTemplatesParse(t *testing.T) {
	for name, src := range map[string]string{"connect.vtl": Connect, "disconnect.vtl": Disconnect, "message.vtl": Message} {
		t.Run(name, func(t *testing.T) {
			if _, err := vtl.Parse(name, src); err != nil {
				t.Fatal(err)
			}
		})
	}
}
