package localrun

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"wsapi/contract"
	"wsapi/localrun/assembly"
)

const testIssuerURL = "https://127.0.0.1:8443"

// TestAuthorizerEnv: the variables the metadata names, whatever they are
// called, are the ones pointed at the local issuer.
func TestAuthorizerEnv(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		md           *contract.AuthorizerMetadata
		wantEnv      map[string]string
		wantAudience string
		wantErr      string
	}{
		{
			name:         "this app's names",
			env:          map[string]string{"ISSUER_URL": "https://id.example.com", "AUDIENCE": "chat", "JWKS_URL": "https://id.example.com/keys", "OTHER": "x"},
			md:           &contract.Authorizer,
			wantEnv:      map[string]string{"ISSUER_URL": testIssuerURL, "AUDIENCE": "chat", "OTHER": "x"},
			wantAudience: "chat",
		},
		{
			name: "another app's names",
			env: map[string]string{
				"OIDC_ISSUER": "https://id.example.com", "OIDC_AUDIENCE": "chat",
				// Not named by the metadata: not the local run's to change.
				"ISSUER_URL": "https://elsewhere.example.com", "JWKS_URL": "https://elsewhere.example.com/keys",
			},
			md: &contract.AuthorizerMetadata{IssuerVariable: "OIDC_ISSUER", AudienceVariable: "OIDC_AUDIENCE"},
			wantEnv: map[string]string{
				"OIDC_ISSUER": testIssuerURL, "OIDC_AUDIENCE": "chat",
				"ISSUER_URL": "https://elsewhere.example.com", "JWKS_URL": "https://elsewhere.example.com/keys",
			},
			wantAudience: "chat",
		},
		{
			name:    "no metadata",
			env:     map[string]string{"ISSUER_URL": "https://id.example.com", "AUDIENCE": "chat"},
			wantErr: `cannot tell which environment variables name the issuer and the audience: the function's resource has no "wsapi:authorizer" Metadata (the websocketapi construct adds it)`,
		},
		{
			name:    "audience resolves to nothing",
			env:     map[string]string{"ISSUER_URL": "https://id.example.com", "AUDIENCE": ""},
			md:      &contract.Authorizer,
			wantErr: `audience variable AUDIENCE ("wsapi:authorizer" Metadata) is empty`,
		},
		{
			name:    "issuer variable not set",
			env:     map[string]string{"AUDIENCE": "chat"},
			md:      &contract.Authorizer,
			wantErr: `issuer variable ISSUER_URL ("wsapi:authorizer" Metadata) is not set`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := maps.Clone(tt.env)
			audience, err := authorizerEnv(env, tt.md, testIssuerURL)
			if !errorAsWanted(t, err, tt.wantErr) {
				return
			}
			if audience != tt.wantAudience {
				t.Errorf("audience %q, want %q", audience, tt.wantAudience)
			}
			if diff := cmp.Diff(tt.wantEnv, env); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTemplateEnv runs the fixtures (trimmed real synths), edited, through
// Load, the local resolver and templateEnv: what the authorizer is started
// with and which audience the local tokens get.
func TestTemplateEnv(t *testing.T) {
	const authorizerFn = "AuthorizerFunctionB4DBAA43"
	renameVariables := func(tmpl map[string]any) {
		fn := tmpl["Resources"].(map[string]any)[authorizerFn].(map[string]any)
		vars := fn["Properties"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
		vars["OIDC_ISSUER"], vars["OIDC_AUDIENCE"] = vars["ISSUER_URL"], vars["AUDIENCE"]
		delete(vars, "ISSUER_URL")
		delete(vars, "AUDIENCE")
		fn["Metadata"] = map[string]any{contract.MetadataAuthorizer: map[string]any{
			"issuerVariable": "OIDC_ISSUER", "audienceVariable": "OIDC_AUDIENCE", "jwksVariable": "OIDC_JWKS",
		}}
	}
	dropMetadata := func(tmpl map[string]any) {
		delete(tmpl["Resources"].(map[string]any)[authorizerFn].(map[string]any), "Metadata")
	}
	tests := []struct {
		name         string
		fixture      string
		edit         func(tmpl map[string]any)
		wantEnv      map[string]string
		wantAudience string
		wantErr      string
	}{
		{
			name: "external issuer", fixture: "oidc",
			wantEnv: map[string]string{
				"ISSUER_URL": testIssuerURL, "AUDIENCE": "chat",
				"ALLOWED_TOKEN_USE": "*", "IDENTITY_SOURCE": "route.request.header.Authorization",
			},
			wantAudience: "chat",
		},
		{
			name: "external issuer, variables of other names", fixture: "oidc", edit: renameVariables,
			wantEnv: map[string]string{
				"OIDC_ISSUER": testIssuerURL, "OIDC_AUDIENCE": "chat",
				"ALLOWED_TOKEN_USE": "*", "IDENTITY_SOURCE": "route.request.header.Authorization",
			},
			wantAudience: "chat",
		},
		{
			name: "external issuer without metadata", fixture: "oidc", edit: dropMetadata,
			wantErr: "authorizer function " + authorizerFn + `: the local run cannot tell which environment variables name the issuer and the audience: the function's resource has no "wsapi:authorizer" Metadata`,
		},
		{
			// The user pool's provider URL and client resolve to the local
			// issuer and audience: no variable is rewritten, none need be known.
			name: "user pool without metadata", fixture: "cognito", edit: dropMetadata,
			wantEnv: map[string]string{
				"ISSUER_URL": testIssuerURL, "AUDIENCE": localAudience, "JWKS_URL": testIssuerURL + "/.well-known/jwks.json",
				"ALLOWED_TOKEN_USE": "access", "IDENTITY_SOURCE": "route.request.querystring.token",
			},
			wantAudience: localAudience,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asm := loadEditedFixture(t, tt.fixture, tt.edit)
			s := &Server{IssuerURL: testIssuerURL, Audience: localAudience}
			env, err := s.templateEnv(asm, localResolver(asm, s.IssuerURL), authorizerFn, "127.0.0.1:9000")
			if !errorAsWanted(t, err, tt.wantErr) {
				return
			}
			if diff := cmp.Diff(tt.wantEnv, env); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
			if s.Audience != tt.wantAudience {
				t.Errorf("audience %q, want %q", s.Audience, tt.wantAudience)
			}
		})
	}
}

// loadEditedFixture loads a copy of an assembly fixture whose template edit
// (when not nil) changed.
func loadEditedFixture(t *testing.T, name string, edit func(tmpl map[string]any)) *assembly.Assembly {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("assembly", "testdata", name))); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		file := filepath.Join(dir, "WebSocketApi.template.json")
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var tmpl map[string]any
		if err := json.Unmarshal(data, &tmpl); err != nil {
			t.Fatal(err)
		}
		edit(tmpl)
		if data, err = json.Marshal(tmpl); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	asm, err := assembly.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return asm
}

// errorAsWanted fails t unless err contains want (or, with want empty, is
// nil); it reports whether the test should go on to check the result.
func errorAsWanted(t *testing.T, err error, want string) bool {
	t.Helper()
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want it to contain %q", err, want)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}
