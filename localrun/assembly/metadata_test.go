package assembly

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"wsapi/contract"
)

// TestAuthorizerMetadata: the authorizer function's contract.MetadataAuthorizer
// is read into Function.Authorizer and checked against its environment.
func TestAuthorizerMetadata(t *testing.T) {
	const fnID = "AuthorizerFunctionB4DBAA43"
	resource := func(tmpl map[string]any, id string) map[string]any {
		return resources(tmpl)[id].(map[string]any)
	}
	setMetadata := func(v any) func(tmpl map[string]any) {
		return func(tmpl map[string]any) {
			resource(tmpl, fnID)["Metadata"] = map[string]any{"aws:cdk:path": "WebSocketApi/Authorizer/Resource", contract.MetadataAuthorizer: v}
		}
	}
	at := "Resources." + fnID + ".Metadata." + contract.MetadataAuthorizer
	tests := []struct {
		name    string
		edit    func(tmpl map[string]any)
		want    *contract.AuthorizerMetadata
		wantErr []string // substrings of Load's error; none when empty
	}{
		{name: "read as the construct writes it", edit: func(map[string]any) {}, want: &contract.Authorizer},
		{
			name: "names of another app's variables",
			edit: func(tmpl map[string]any) {
				vars := properties(tmpl, fnID)["Environment"].(map[string]any)["Variables"].(map[string]any)
				vars["OIDC_ISSUER"], vars["OIDC_AUDIENCE"] = vars["ISSUER_URL"], vars["AUDIENCE"]
				delete(vars, "ISSUER_URL")
				delete(vars, "AUDIENCE")
				setMetadata(map[string]any{"issuerVariable": "OIDC_ISSUER", "audienceVariable": "OIDC_AUDIENCE"})(tmpl)
			},
			want: &contract.AuthorizerMetadata{IssuerVariable: "OIDC_ISSUER", AudienceVariable: "OIDC_AUDIENCE"},
		},
		{
			name: "unknown keys are left to newer readers",
			edit: setMetadata(map[string]any{"issuerVariable": "ISSUER_URL", "audienceVariable": "AUDIENCE", "since": "2"}),
			want: &contract.AuthorizerMetadata{IssuerVariable: "ISSUER_URL", AudienceVariable: "AUDIENCE"},
		},
		{name: "no Metadata", edit: func(tmpl map[string]any) { delete(resource(tmpl, fnID), "Metadata") }},
		{
			name: "Metadata of CDK only",
			edit: func(tmpl map[string]any) {
				resource(tmpl, fnID)["Metadata"] = map[string]any{"aws:cdk:path": "WebSocketApi/Authorizer/Resource"}
			},
		},
		{
			name: "malformed on a function the API does not invoke",
			edit: func(tmpl map[string]any) {
				resource(tmpl, "ApigwaccountFunctionF7240545")["Metadata"] = map[string]any{contract.MetadataAuthorizer: "ISSUER_URL"}
			},
			want: &contract.Authorizer,
		},
		{
			name:    "Metadata not an object",
			edit:    func(tmpl map[string]any) { resource(tmpl, fnID)["Metadata"] = []any{} },
			wantErr: []string{"Resources." + fnID + ".Metadata: expected an object, got a list"},
		},
		{name: "not an object", edit: setMetadata("ISSUER_URL"), wantErr: []string{at + ": expected an object, got a string"}},
		{
			name:    "a variable name not a string",
			edit:    setMetadata(map[string]any{"issuerVariable": 1, "audienceVariable": "AUDIENCE"}),
			wantErr: []string{at + ": json: cannot unmarshal number", "issuerVariable"},
		},
		{
			name:    "empty audienceVariable",
			edit:    setMetadata(map[string]any{"issuerVariable": "ISSUER_URL", "audienceVariable": ""}),
			wantErr: []string{at + ".audienceVariable: missing or empty"},
		},
		{
			name:    "no issuerVariable",
			edit:    setMetadata(map[string]any{"audienceVariable": "AUDIENCE"}),
			wantErr: []string{at + ".issuerVariable: missing or empty"},
		},
		{
			name:    "variable not in the environment",
			edit:    setMetadata(map[string]any{"issuerVariable": "OIDC_ISSUER", "audienceVariable": "AUDIENCE"}),
			wantErr: []string{at + `.issuerVariable: "OIDC_ISSUER" is not a variable of Resources.` + fnID + ".Properties.Environment.Variables"},
		},
		{
			name: "variable set to AWS::NoValue",
			edit: func(tmpl map[string]any) {
				properties(tmpl, fnID)["Environment"].(map[string]any)["Variables"].(map[string]any)["AUDIENCE"] = ref("AWS::NoValue")
			},
			wantErr: []string{at + `.audienceVariable: "AUDIENCE" is not a variable of`},
		},
		{
			name:    "one variable for both",
			edit:    setMetadata(map[string]any{"issuerVariable": "AUDIENCE", "audienceVariable": "AUDIENCE"}),
			wantErr: []string{at + `: issuerVariable and audienceVariable are both "AUDIENCE"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyFixture(t, "oidc")
			editJSON(t, filepath.Join(dir, "WebSocketApi.template.json"), tt.edit)
			a, err := Load(dir)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Load: no error, authorizer metadata %+v", a.Functions[fnID].Authorizer)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error:\n%v\nwant it to contain:\n%s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.want, a.Functions[fnID].Authorizer); diff != "" {
				t.Errorf("Authorizer (-want +got):\n%s", diff)
			}
		})
	}
}
