package assembly

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Raw template values, written as CDK writes them.
func ref(name string) map[string]any { return map[string]any{"Ref": name} }

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

func join(delim string, parts ...any) map[string]any {
	return map[string]any{"Fn::Join": []any{delim, parts}}
}

func fn(name string, arg any) map[string]any { return map[string]any{name: arg} }

var testResolver = Resolver{
	Pseudo: map[string]string{
		"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
		"AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "WebSocketApi",
	},
	Refs: map[string]string{
		"WebSocketApi":        "local",
		"Connections827CEF2F": "connections",
		"Names":               "a,b,c",
	},
	Attrs: map[string]string{
		"UserPool6BA7E5F2.ProviderURL": "localhost:9000/pool",
		"Cache.Endpoint.Address":       "127.0.0.1",
	},
}

func TestResolverString(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"literal", "plain", "plain"},
		{"number", json.Number("7200"), "7200"},
		{"float", 0.5, "0.5"},
		{"int", 3, "3"},
		{"bool", true, "true"},
		{"Ref logical ID", ref("Connections827CEF2F"), "connections"},
		{"Ref AWS::Region", ref("AWS::Region"), "eu-west-1"},
		{"Ref AWS::AccountId", ref("AWS::AccountId"), "123456789012"},
		{"Ref AWS::Partition", ref("AWS::Partition"), "aws"},
		{"Ref AWS::URLSuffix", ref("AWS::URLSuffix"), "amazonaws.com"},
		{"Ref AWS::StackName", ref("AWS::StackName"), "WebSocketApi"},
		{"GetAtt list form", getAtt("UserPool6BA7E5F2", "ProviderURL"), "localhost:9000/pool"},
		{"GetAtt string form", fn("Fn::GetAtt", "UserPool6BA7E5F2.ProviderURL"), "localhost:9000/pool"},
		{"GetAtt dotted attribute", fn("Fn::GetAtt", "Cache.Endpoint.Address"), "127.0.0.1"},
		{"GetAtt attribute by Ref", fn("Fn::GetAtt", []any{"UserPool6BA7E5F2", fn("Fn::Join", []any{"", []any{"Provider", "URL"}})}), "localhost:9000/pool"},
		{
			"Join as CDK writes the connections endpoint",
			join("", "https://", ref("WebSocketApi"), ".execute-api.", ref("AWS::Region"), ".", ref("AWS::URLSuffix"), "/prod"),
			"https://local.execute-api.eu-west-1.amazonaws.com/prod",
		},
		{"Join drops AWS::NoValue", join("-", "a", ref("AWS::NoValue"), "b"), "a-b"},
		{"Join of nothing", join(","), ""},
		{"Join nested", join("/", "x", join("", "y", ref("WebSocketApi")), json.Number("1")), "x/ylocal/1"},
		{"Join of Split", fn("Fn::Join", []any{"+", fn("Fn::Split", []any{",", ref("Names")})}), "a+b+c"},
		{"Sub Ref", fn("Fn::Sub", "table ${Connections827CEF2F}"), "table connections"},
		{"Sub pseudo", fn("Fn::Sub", "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/*"), "arn:aws:execute-api:eu-west-1:123456789012:local/*"},
		{"Sub GetAtt", fn("Fn::Sub", "https://${UserPool6BA7E5F2.ProviderURL}"), "https://localhost:9000/pool"},
		{"Sub literal ${!}", fn("Fn::Sub", "${!Literal}-${ WebSocketApi }"), "${Literal}-local"},
		{"Sub without variables", fn("Fn::Sub", "no variables $ {}"), "no variables $ {}"},
		{
			"Sub with variables map",
			fn("Fn::Sub", []any{"${Scheme}://${Host}/${Stage}", map[string]any{
				"Scheme": "wss",
				"Host":   join(".", ref("WebSocketApi"), "execute-api", ref("AWS::Region"), ref("AWS::URLSuffix")),
				"Stage":  fn("Fn::Select", []any{json.Number("1"), []any{"dev", "prod"}}),
			}}),
			"wss://local.execute-api.eu-west-1.amazonaws.com/prod",
		},
		{"Sub variable shadows a resource", fn("Fn::Sub", []any{"${WebSocketApi}", map[string]any{"WebSocketApi": "mine"}}), "mine"},
		{"Sub inside Join", join("", "<", fn("Fn::Sub", "${AWS::Region}"), ">"), "<eu-west-1>"},
		{"Select literal list", fn("Fn::Select", []any{json.Number("0"), []any{ref("WebSocketApi"), "b"}}), "local"},
		{"Select index as string", fn("Fn::Select", []any{"2", []any{"a", "b", "c"}}), "c"},
		{"Select from Split", fn("Fn::Select", []any{json.Number("1"), fn("Fn::Split", []any{",", ref("Names")})}), "b"},
		{"Select from Split of Sub", fn("Fn::Select", []any{json.Number("0"), fn("Fn::Split", []any{".", fn("Fn::Sub", "${WebSocketApi}.x")})}), "local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := testResolver.String(tt.in)
			if err != nil {
				t.Fatalf("String: %v", err)
			}
			if got != tt.want {
				t.Errorf("String = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResolverStringErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     any
		want   string // the whole message
		target error  // for errors.Is, or nil
	}{
		{"Ref without value", ref("Missing"), "Ref Missing: no value", ErrNoValue},
		{"pseudo without value", ref("AWS::StackId"), "Ref AWS::StackId: no value", ErrNoValue},
		{"Ref not a name", fn("Ref", []any{"x"}), "Ref: expected a name, got a list", nil},
		{"AWS::NoValue as the value", ref("AWS::NoValue"), "Ref AWS::NoValue: stands where a string is required", nil},
		{"GetAtt without value", getAtt("UserPool6BA7E5F2", "Arn"), "Fn::GetAtt UserPool6BA7E5F2.Arn: no value", ErrNoValue},
		{"GetAtt malformed", fn("Fn::GetAtt", "NoDot"), `Fn::GetAtt: expected "<logical ID>.<attribute>", got "NoDot"`, nil},
		{"GetAtt wrong arity", fn("Fn::GetAtt", []any{"a"}), "Fn::GetAtt: expected [logical ID, attribute], got a list", nil},
		{"Join nested missing Ref", join("", "https://", join("", ref("Nope"))), "Ref Nope: no value", ErrNoValue},
		{"Join bad args", fn("Fn::Join", "x"), "Fn::Join: expected [delimiter, list], got a string", nil},
		{"Join delimiter not literal", fn("Fn::Join", []any{ref("WebSocketApi"), []any{}}), "Fn::Join: delimiter: expected a literal string, got intrinsic Ref", nil},
		{"Join of a string", fn("Fn::Join", []any{"", ref("WebSocketApi")}), "Ref: yields a string where a list is required", nil},
		{"Join of unsupported", fn("Fn::Join", []any{"", fn("Fn::GetAZs", "")}), "Fn::GetAZs: unsupported intrinsic function", ErrUnsupported},
		{"Sub missing Ref", fn("Fn::Sub", "x-${Nope}"), "Ref Nope: no value", ErrNoValue},
		{"Sub missing GetAtt", fn("Fn::Sub", "${Nope.Arn}"), "Fn::GetAtt Nope.Arn: no value", ErrNoValue},
		{"Sub unterminated", fn("Fn::Sub", "a ${AWS::Region"), `Fn::Sub: unterminated ${ in "${AWS::Region"`, nil},
		{"Sub empty name", fn("Fn::Sub", "${}"), "Fn::Sub: empty ${}", nil},
		{"Sub variables not a map", fn("Fn::Sub", []any{"x", []any{}}), "Fn::Sub: variables: expected an object, got a list", nil},
		{"Sub unsupported in variable", fn("Fn::Sub", []any{"${X}", map[string]any{"X": fn("Fn::If", []any{"c", "a", "b"})}}), "Fn::If: unsupported intrinsic function", ErrUnsupported},
		{"Select out of range", fn("Fn::Select", []any{json.Number("3"), []any{"a"}}), "Fn::Select: index 3 out of range of 1 items", nil},
		{"Select bad index", fn("Fn::Select", []any{"x", []any{"a"}}), `Fn::Select: index "x" is not an integer`, nil},
		{"Split as a string", fn("Fn::Split", []any{",", "a,b"}), "Fn::Split: yields a list where a string is required", nil},
		{"Split empty delimiter", fn("Fn::Select", []any{"0", fn("Fn::Split", []any{"", "ab"})}), "Fn::Split: delimiter: expected a non-empty literal string, got a string", nil},
		{"Fn::If", fn("Fn::If", []any{"IsProd", "a", "b"}), "Fn::If: unsupported intrinsic function", ErrUnsupported},
		{"Fn::ImportValue", fn("Fn::ImportValue", "Shared"), "Fn::ImportValue: unsupported intrinsic function", ErrUnsupported},
		{"Fn::Base64", fn("Fn::Base64", "x"), "Fn::Base64: unsupported intrinsic function", ErrUnsupported},
		{"object", map[string]any{"a": "b", "c": "d"}, "expected a string, got an object", nil},
		{"list", []any{"a"}, "expected a string, got a list", nil},
		{"null", nil, "expected a string, got null", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := testResolver.String(tt.in)
			if err == nil {
				t.Fatalf("String = %q, want error %q", got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.target)
			}
		})
	}
}

func TestResolverEnv(t *testing.T) {
	a := loadFixture(t, "cognito")
	r := Resolver{
		Pseudo: a.PseudoParameters("eu-west-1", "000000000000"),
		Refs: map[string]string{
			"WebSocketApi":              "local",
			"Connections827CEF2F":       "connections",
			"UserPoolCliClient1F174B79": "client",
		},
		Attrs: map[string]string{"UserPool6BA7E5F2.ProviderURL": "127.0.0.1:8443/pool"},
	}
	tests := []struct {
		fn   string
		want map[string]string
	}{
		{"AuthorizerFunctionB4DBAA43", map[string]string{
			"ALLOWED_TOKEN_USE": "access",
			"AUDIENCE":          "client",
			"IDENTITY_SOURCE":   "route.request.querystring.token",
			"ISSUER_URL":        "https://127.0.0.1:8443/pool",
			"JWKS_URL":          "https://127.0.0.1:8443/pool/.well-known/jwks.json",
		}},
		{"ApigwaccountFunctionF7240545", map[string]string{}},
		{"ConnectFunction52BFC429", map[string]string{"CONNECTION_TTL_SECONDS": "7200", "TABLE_NAME": "connections"}},
		{"DisconnectFunctionEFD34B26", map[string]string{"TABLE_NAME": "connections"}},
		{"MessageFunction5E234045", map[string]string{
			"CONNECTIONS_ENDPOINT": "https://local.execute-api.eu-west-1.amazonaws.com/prod",
			"MAX_IN_FLIGHT":        "16",
			"MAX_MESSAGE_BYTES":    "32768",
			"PRINCIPAL_INDEX_NAME": "byPrincipal",
			"TABLE_NAME":           "connections",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			got, err := r.Env(a.Functions[tt.fn])
			if err != nil {
				t.Fatalf("Env: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Env (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("unresolved, path in the error", func(t *testing.T) {
		_, err := Resolver{}.Env(a.Functions["MessageFunction5E234045"])
		if err == nil {
			t.Fatal("Env: no error")
		}
		// Every variable that fails is reported, in name order.
		want := strings.Join([]string{
			"Functions.MessageFunction5E234045.Environment.CONNECTIONS_ENDPOINT: Ref WebSocketApi: no value",
			"Functions.MessageFunction5E234045.Environment.TABLE_NAME: Ref Connections827CEF2F: no value",
		}, "\n")
		if err.Error() != want {
			t.Errorf("error:\n%v\nwant:\n%s", err, want)
		}
		if !errors.Is(err, ErrNoValue) {
			t.Error("not ErrNoValue")
		}
	})

	t.Run("AWS::NoValue leaves the variable out", func(t *testing.T) {
		f := Function{ID: "F", Environment: map[string]any{"A": "1", "B": ref("AWS::NoValue")}}
		got, err := Resolver{}.Env(f)
		if err != nil {
			t.Fatalf("Env: %v", err)
		}
		if diff := cmp.Diff(map[string]string{"A": "1"}, got); diff != "" {
			t.Errorf("Env (-want +got):\n%s", diff)
		}
	})
}

// sub is Fn::Sub with variables, as CDK writes it.
func sub(body string, vars map[string]any) map[string]any {
	return map[string]any{"Fn::Sub": []any{body, vars}}
}
