package assembly

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"wsapi/contract"
	"wsapi/mappingtemplates"
)

// The fixtures are trimmed real assemblies (see testdata/trim.go): cognito
// is the default synth, oidc the one with an external issuer, x86_64,
// stage dev and the token in a header.

func loadFixture(t *testing.T, name string) *Assembly {
	t.Helper()
	a, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("Load %s: %v", name, err)
	}
	return a
}

func abs(t *testing.T, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lambdaURIOf(fnID string) any {
	return sub("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Function}/invocations",
		map[string]any{"Function": getAtt(fnID, "Arn")})
}

// fixture is what differs between the two synths.
type fixture struct {
	name           string
	stage          string
	identitySource string
	arch           string
	assets         map[string]string // function logical ID → asset hash
	authEnv        map[string]any
	userPool       bool
	wscat          any
}

var fixtures = []fixture{
	{
		name: "cognito", stage: "prod", identitySource: "route.request.querystring.token", arch: "arm64",
		assets: map[string]string{
			"AuthorizerFunctionB4DBAA43":   "000db2501aba4c11be35689c61140a92d0eaa53f22f3666bd4ed4ea045e40886",
			"ConnectFunction52BFC429":      "68e527c2c6739303beff1075c0540b8eded3065a5025ec85a1b58b2cf1dbe82a",
			"DisconnectFunctionEFD34B26":   "2a1415ba9b04fad3d85697cd9127321251e9af426851015baea9e787efce0a06",
			"MessageFunction5E234045":      "1ddd38d5a33cc1408af978c2bfbf198d19d1887e2d6df5b168656e779431978f",
			"ApigwaccountFunctionF7240545": "3ec55792942d9946f9fe1b87aaea2a01a66f9c38ee59f265437cb61157f85c1a",
		},
		authEnv: map[string]any{
			"ALLOWED_TOKEN_USE": "access",
			"AUDIENCE":          ref("UserPoolCliClient1F174B79"),
			"IDENTITY_SOURCE":   "route.request.querystring.token",
			"ISSUER_URL":        join("", "https://", getAtt("UserPool6BA7E5F2", "ProviderURL")),
			"JWKS_URL":          join("", "https://", getAtt("UserPool6BA7E5F2", "ProviderURL"), "/.well-known/jwks.json"),
		},
		userPool: true,
		wscat: sub(`npx wscat -c "wss://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod?token=$TOKEN"`,
			map[string]any{"Api": ref("WebSocketApi")}),
	},
	{
		name: "oidc", stage: "dev", identitySource: "route.request.header.Authorization", arch: "x86_64",
		assets: map[string]string{
			"AuthorizerFunctionB4DBAA43":   "b9b7b33af0f3879c69349b625d951c96eb02f4a6814d90b052ed3731b197daa1",
			"ConnectFunction52BFC429":      "98b0756a79d0caf399a871455988136586f2956421af08aad1737f3cbca04707",
			"DisconnectFunctionEFD34B26":   "693c4a3f81a32a59f2fdf74cbc7aa80b968c62bc991d57e2511056a87a7a39e8",
			"MessageFunction5E234045":      "2c1a7c0071714a08c57919e3275a3197678d1589cf9924bd07b2b94cbc402023",
			"ApigwaccountFunctionF7240545": "097c3258e54cd5ce8cba8f92aaae98e482ea2dfb181ed928f0e025409f9ba8a4",
		},
		authEnv: map[string]any{
			"ALLOWED_TOKEN_USE": "*",
			"AUDIENCE":          "chat",
			"IDENTITY_SOURCE":   "route.request.header.Authorization",
			"ISSUER_URL":        "https://id.example.com",
		},
		wscat: sub(`npx wscat -H "Authorization: Bearer $TOKEN" -c "wss://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/dev"`,
			map[string]any{"Api": ref("WebSocketApi")}),
	},
}

// want is the whole model a fixture must load as.
func (f fixture) want(t *testing.T) *Assembly {
	dir := abs(t, "testdata", f.name)
	endpoint := func(scheme string) any {
		return sub(scheme+"://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"+f.stage,
			map[string]any{"Api": ref("WebSocketApi")})
	}
	integration := func(id, fnID, template string, twoWay bool) Integration {
		in := Integration{
			ID:                          id,
			IntegrationType:             "AWS",
			IntegrationMethod:           "POST",
			IntegrationURI:              lambdaURIOf(fnID),
			FunctionID:                  fnID,
			TemplateSelectionExpression: `\$default`,
			RequestTemplates:            map[string]string{"$default": template},
			PassthroughBehavior:         "NEVER",
			Timeout:                     29 * time.Second,
			IntegrationResponses:        map[string]IntegrationResponse{},
		}
		if twoWay {
			prefix := strings.TrimSuffix(id, "Integration")
			in.IntegrationResponses["$default"] = IntegrationResponse{
				ID: prefix + "IntegrationResponse", IntegrationResponseKey: "$default",
			}
			// Function errors (any non-empty errorMessage) as the error frame.
			in.IntegrationResponses[`/[\s\S]+/`] = IntegrationResponse{
				ID: prefix + "FunctionErrorResponse", IntegrationResponseKey: `/[\s\S]+/`,
				TemplateSelectionExpression: `\$default`,
				ResponseTemplates:           map[string]string{"$default": mappingtemplates.InternalError},
			}
		}
		return in
	}
	// $connect is a Lambda proxy integration: no templates, no responses.
	proxyIntegration := func(id, fnID string) Integration {
		return Integration{
			ID: id, IntegrationType: "AWS_PROXY", IntegrationMethod: "POST", IntegrationURI: lambdaURIOf(fnID), FunctionID: fnID,
			Timeout: 29 * time.Second, IntegrationResponses: map[string]IntegrationResponse{},
		}
	}
	route := func(prefix, key string, twoWay bool) Route {
		r := Route{ID: prefix + "Route", RouteKey: key, AuthorizationType: "NONE", IntegrationID: prefix + "Integration",
			RouteResponses: map[string]RouteResponse{}}
		if twoWay {
			r.RouteResponseSelectionExpression = "$default"
			r.RouteResponses["$default"] = RouteResponse{ID: prefix + "RouteResponse", RouteResponseKey: "$default"}
		}
		return r
	}
	connect := route("Connect", "$connect", false)
	connect.AuthorizationType, connect.AuthorizerID = "CUSTOM", "Authorizer"
	function := func(id string, memory, timeout int, env map[string]any) Function {
		return Function{
			ID: id, Handler: "bootstrap", Runtime: "provided.al2023", Architectures: []string{f.arch},
			MemorySize: memory, Timeout: time.Duration(timeout) * time.Second,
			AssetDir:      filepath.Join(dir, "asset."+f.assets[id]),
			Environment:   env,
			LoggingConfig: LoggingConfig{LogFormat: "JSON", ApplicationLogLevel: "INFO", SystemLogLevel: "WARN"},
		}
	}
	table := ref("Connections827CEF2F")

	a := &Assembly{
		Dir: dir,
		Stack: Stack{
			ArtifactID: "WebSocketApi", Name: "WebSocketApi", Region: "us-east-1",
			TemplateFile:      filepath.Join(dir, "WebSocketApi.template.json"),
			AssetManifestFile: filepath.Join(dir, "WebSocketApi.assets.json"),
		},
		API: API{ID: "WebSocketApi", ProtocolType: "WEBSOCKET", RouteSelectionExpression: "$request.body.action"},
		Stage: Stage{
			ID: "Stage", StageName: f.stage, AutoDeploy: true,
			DefaultRouteSettings: RouteSettings{ThrottlingRateLimit: new(100.0), ThrottlingBurstLimit: new(200)},
		},
		Authorizers: map[string]Authorizer{"Authorizer": {
			ID: "Authorizer", AuthorizerType: "REQUEST", IdentitySource: []string{f.identitySource},
			AuthorizerURI: lambdaURIOf("AuthorizerFunctionB4DBAA43"), FunctionID: "AuthorizerFunctionB4DBAA43",
		}},
		Routes: map[string]Route{
			"$connect":    connect,
			"$disconnect": route("Disconnect", "$disconnect", false),
			"sendmessage": route("SendMessage", "sendmessage", true),
			"$default":    route("Default", "$default", true),
		},
		Integrations: map[string]Integration{
			"ConnectIntegration":     proxyIntegration("ConnectIntegration", "ConnectFunction52BFC429"),
			"DisconnectIntegration":  integration("DisconnectIntegration", "DisconnectFunctionEFD34B26", mappingtemplates.Disconnect, false),
			"SendMessageIntegration": integration("SendMessageIntegration", "MessageFunction5E234045", mappingtemplates.Message, true),
			"DefaultIntegration":     integration("DefaultIntegration", "MessageFunction5E234045", mappingtemplates.Message, true),
		},
		Functions: map[string]Function{
			"AuthorizerFunctionB4DBAA43": function("AuthorizerFunctionB4DBAA43", 256, 10, f.authEnv),
			"ConnectFunction52BFC429": function("ConnectFunction52BFC429", 128, 10, map[string]any{
				"CONNECTION_TTL_SECONDS": "7200", "TABLE_NAME": table,
			}),
			"DisconnectFunctionEFD34B26": function("DisconnectFunctionEFD34B26", 128, 10, map[string]any{"TABLE_NAME": table}),
			// The custom resource's function: no part of the API.
			"ApigwaccountFunctionF7240545": function("ApigwaccountFunctionF7240545", 128, 300, map[string]any{}),
			"MessageFunction5E234045": function("MessageFunction5E234045", 512, 25, map[string]any{
				"CONNECTIONS_ENDPOINT": endpoint("https"),
				"MAX_IN_FLIGHT":        "16",
				"MAX_MESSAGE_BYTES":    "32768",
				"PRINCIPAL_INDEX_NAME": "byPrincipal",
				"TABLE_NAME":           table,
			}),
		},
		Tables: map[string]Table{"Connections827CEF2F": {
			ID:        "Connections827CEF2F",
			KeySchema: []KeyElement{{AttributeName: "connectionId", KeyType: "HASH"}},
			AttributeDefinitions: []AttributeDefinition{
				{AttributeName: "connectionId", AttributeType: "S"},
				{AttributeName: "principalId", AttributeType: "S"},
			},
			GlobalSecondaryIndexes: []SecondaryIndex{{
				IndexName:  "byPrincipal",
				KeySchema:  []KeyElement{{AttributeName: "principalId", KeyType: "HASH"}},
				Projection: Projection{ProjectionType: "KEYS_ONLY"},
			}},
			BillingMode: "PAY_PER_REQUEST",
			TimeToLive:  &TimeToLive{AttributeName: "expiresAt", Enabled: true},
		}},
		UserPools:           map[string]UserPool{},
		UserPoolClients:     map[string]UserPoolClient{},
		Queues:              map[string]Queue{},
		QueuePolicies:       map[string]QueuePolicy{},
		EventSourceMappings: map[string]EventSourceMapping{},
		Parameters: map[string]Parameter{"BootstrapVersion": {
			Type: "AWS::SSM::Parameter::Value<String>", Default: "/cdk-bootstrap/hnb659fds/version",
		}},
		Outputs: map[string]Output{
			"WebSocketURL":        {Description: "wss URL clients connect to", Value: endpoint("wss")},
			"ConnectionsEndpoint": {Description: "API Gateway Management API endpoint (@connections)", Value: endpoint("https")},
			"TableName":           {Description: "DynamoDB table of connections", Value: table},
			"WscatCommand":        {Description: "Set TOKEN to a JWT, then run this to connect", Value: f.wscat},
		},
	}
	// The construct's contract.MetadataAuthorizer, in both variants.
	authFn := a.Functions["AuthorizerFunctionB4DBAA43"]
	authFn.Authorizer = &contract.Authorizer
	a.Functions[authFn.ID] = authFn
	if f.userPool {
		a.UserPools["UserPool6BA7E5F2"] = UserPool{ID: "UserPool6BA7E5F2"}
		a.UserPoolClients["UserPoolCliClient1F174B79"] = UserPoolClient{ID: "UserPoolCliClient1F174B79", UserPoolID: "UserPool6BA7E5F2"}
		a.Outputs["UserPoolId"] = Output{Description: "Cognito user pool that issues tokens", Value: ref("UserPool6BA7E5F2")}
		a.Outputs["UserPoolClientId"] = Output{Description: "Cognito app client (the token audience)", Value: ref("UserPoolCliClient1F174B79")}
	}
	return a
}

func TestLoadFixtures(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			got := loadFixture(t, f.name)
			// Raw values are compared as JSON values: numbers in them are
			// json.Number, strings are strings.
			if diff := cmp.Diff(f.want(t), got, cmpopts.IgnoreFields(Assembly{}, "ResourceTypes")); diff != "" {
				t.Errorf("model (-want +got):\n%s", diff)
			}

			// Every resource is typed, the unmodelled ones too.
			for id, typ := range map[string]string{
				"WebSocketApi":                     typeAPI,
				"MessageLogs312C7AE7":              "AWS::Logs::LogGroup",
				"MessageRoleB005B27D":              "AWS::IAM::Role",
				"ApiGatewayCloudWatchRoleSetting":  "Custom::ApiGatewayCloudWatchRole",
				"ApigwaccountRole477227FF":         "AWS::IAM::Role",
				"SendMessageFunctionErrorResponse": typeIntegrationResponse,
				"SendMessageRouteResponse":         typeRouteResponse,
				"DefaultIntegrationResponse":       typeIntegrationResponse,
			} {
				if got.ResourceTypes[id] != typ {
					t.Errorf("ResourceTypes[%s] = %q, want %q", id, got.ResourceTypes[id], typ)
				}
			}
			if _, ok := got.ResourceTypes["CDKMetadata"]; ok {
				t.Error("the fixture still has CDKMetadata; regenerate it with testdata/trim.go")
			}

			// The asset directories hold the (dummy) bootstrap.
			for id, fn := range got.Functions {
				if _, err := os.Stat(filepath.Join(fn.AssetDir, "bootstrap")); err != nil {
					t.Errorf("function %s: %v", id, err)
				}
			}
		})
	}
}

func TestLoadStack(t *testing.T) {
	// Two stacks, the second under another stack name and display name.
	dir := copyFixture(t, "cognito")
	editJSON(t, filepath.Join(dir, "manifest.json"), func(m map[string]any) {
		arts := m["artifacts"].(map[string]any)
		other := deepCopy(t, arts["WebSocketApi"]).(map[string]any)
		other["properties"].(map[string]any)["stackName"] = "chat-dev"
		other["displayName"] = "Dev/WebSocketApi"
		other["environment"] = "aws://123456789012/eu-west-1"
		arts["DevWebSocketApi"] = other
	})
	tests := []struct {
		name, stack string
		want        Stack
	}{
		{"artifact ID", "WebSocketApi", Stack{ArtifactID: "WebSocketApi", Name: "WebSocketApi", Region: "us-east-1"}},
		{"stack name", "chat-dev", Stack{ArtifactID: "DevWebSocketApi", Name: "chat-dev", Account: "123456789012", Region: "eu-west-1"}},
		{"display name", "Dev/WebSocketApi", Stack{ArtifactID: "DevWebSocketApi", Name: "chat-dev", Account: "123456789012", Region: "eu-west-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := LoadStack(dir, tt.stack)
			if err != nil {
				t.Fatalf("LoadStack: %v", err)
			}
			tt.want.TemplateFile = filepath.Join(dir, "WebSocketApi.template.json")
			tt.want.AssetManifestFile = filepath.Join(dir, "WebSocketApi.assets.json")
			if diff := cmp.Diff(tt.want, a.Stack); diff != "" {
				t.Errorf("Stack (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPseudoParameters(t *testing.T) {
	a := loadFixture(t, "cognito")
	tests := []struct {
		name, region, account string
		want                  map[string]string
	}{
		{"stack environment", "", "", map[string]string{
			"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "WebSocketApi",
		}},
		{"given", "eu-west-1", "000000000000", map[string]string{
			"AWS::Region": "eu-west-1", "AWS::AccountId": "000000000000", "AWS::Partition": "aws",
			"AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "WebSocketApi",
		}},
		{"China", "cn-north-1", "", map[string]string{
			"AWS::Region": "cn-north-1", "AWS::Partition": "aws-cn", "AWS::URLSuffix": "amazonaws.com.cn", "AWS::StackName": "WebSocketApi",
		}},
		{"GovCloud", "us-gov-west-1", "", map[string]string{
			"AWS::Region": "us-gov-west-1", "AWS::Partition": "aws-us-gov", "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "WebSocketApi",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, a.PseudoParameters(tt.region, tt.account)); diff != "" {
				t.Errorf("PseudoParameters (-want +got):\n%s", diff)
			}
		})
	}
}

// resources is a template's Resources, for edits.
func resources(tmpl map[string]any) map[string]any { return tmpl["Resources"].(map[string]any) }

func properties(tmpl map[string]any, id string) map[string]any {
	return resources(tmpl)[id].(map[string]any)["Properties"].(map[string]any)
}

func TestLoadErrors(t *testing.T) {
	const (
		manifestFile = "manifest.json"
		templateFile = "WebSocketApi.template.json"
		assetsFile   = "WebSocketApi.assets.json"
	)
	// The message function's asset, as the fixture names it (its hash
	// changes whenever the function's sources do).
	messageHash := fixtureAssetHash(t, "cognito", "MessageFunction")
	messageAsset := "asset." + messageHash
	template := func(edit func(tmpl map[string]any)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) { editJSON(t, filepath.Join(dir, templateFile), edit) }
	}
	tests := []struct {
		name string
		edit func(t *testing.T, dir string)
		want []string // substrings of the error; "<dir>" is the assembly's
	}{
		{
			"missing manifest",
			func(t *testing.T, dir string) { remove(t, dir, manifestFile) },
			[]string{"cloud assembly manifest: open <dir>/manifest.json: no such file or directory"},
		},
		{
			"manifest not JSON",
			func(t *testing.T, dir string) { write(t, filepath.Join(dir, manifestFile), "{") },
			[]string{"<dir>/manifest.json: unexpected EOF"},
		},
		{
			"no stack",
			func(t *testing.T, dir string) {
				editJSON(t, filepath.Join(dir, manifestFile), func(m map[string]any) {
					arts := m["artifacts"].(map[string]any)
					delete(arts, "WebSocketApi")
					arts["assembly-Dev"] = map[string]any{"type": "cdk:cloud-assembly", "properties": map[string]any{"directoryName": "assembly-Dev"}}
				})
			},
			[]string{"<dir>/manifest.json: no artifact of type aws:cloudformation:stack (nested assemblies assembly-Dev: load their directory)"},
		},
		{
			"two stacks without a name",
			func(t *testing.T, dir string) {
				editJSON(t, filepath.Join(dir, manifestFile), func(m map[string]any) {
					arts := m["artifacts"].(map[string]any)
					arts["Other"] = deepCopy(t, arts["WebSocketApi"])
				})
			},
			[]string{"<dir>/manifest.json: 2 stacks (Other, WebSocketApi): name the one to run"},
		},
		{
			"no template file property",
			func(t *testing.T, dir string) {
				editJSON(t, filepath.Join(dir, manifestFile), func(m map[string]any) {
					delete(m["artifacts"].(map[string]any)["WebSocketApi"].(map[string]any)["properties"].(map[string]any), "templateFile")
				})
			},
			[]string{"<dir>/manifest.json: artifact WebSocketApi: properties.templateFile missing"},
		},
		{
			"missing template",
			func(t *testing.T, dir string) { remove(t, dir, templateFile) },
			[]string{"stack WebSocketApi: template: open <dir>/WebSocketApi.template.json: no such file or directory"},
		},
		{
			"missing asset manifest",
			func(t *testing.T, dir string) { remove(t, dir, assetsFile) },
			[]string{"stack WebSocketApi: asset manifest: open <dir>/WebSocketApi.assets.json: no such file or directory"},
		},
		{
			"missing dependency artifact",
			func(t *testing.T, dir string) {
				editJSON(t, filepath.Join(dir, manifestFile), func(m map[string]any) {
					delete(m["artifacts"].(map[string]any), "WebSocketApi.assets")
				})
			},
			[]string{"artifact WebSocketApi: dependency WebSocketApi.assets: no such artifact"},
		},
		{
			"missing asset directory",
			func(t *testing.T, dir string) { remove(t, dir, messageAsset) },
			[]string{
				"template <dir>/WebSocketApi.template.json:",
				"Resources.MessageFunction5E234045.Properties.Code.S3Key: asset " + messageHash + " of <dir>/WebSocketApi.assets.json: stat <dir>/" + messageAsset + ": no such file or directory",
			},
		},
		{
			"asset not in the asset manifest",
			template(func(tmpl map[string]any) {
				properties(tmpl, "ConnectFunction52BFC429")["Code"].(map[string]any)["S3Key"] = "0000.zip"
			}),
			[]string{`Resources.ConnectFunction52BFC429.Properties.Code.S3Key: "0000.zip" is not an asset of the stack's asset manifest <dir>/WebSocketApi.assets.json`},
		},
		{
			"asset is a file",
			func(t *testing.T, dir string) {
				editJSON(t, filepath.Join(dir, assetsFile), func(m map[string]any) {
					f := m["files"].(map[string]any)[messageHash].(map[string]any)
					f["source"].(map[string]any)["packaging"] = "file"
				})
			},
			[]string{"Code.S3Key: asset " + messageHash + ` of <dir>/WebSocketApi.assets.json is packaged "file", not as a zipped directory`},
		},
		{
			"integration invokes a function without asset",
			template(func(tmpl map[string]any) {
				properties(tmpl, "DisconnectFunctionEFD34B26")["Code"] = map[string]any{"ZipFile": "exports.handler = () => {}"}
			}),
			[]string{"Resources.DisconnectIntegration.Properties.IntegrationUri: function DisconnectFunctionEFD34B26 has no directory asset in the assembly to run"},
		},
		{
			"template not JSON",
			func(t *testing.T, dir string) { write(t, filepath.Join(dir, templateFile), "[]") },
			[]string{"<dir>/WebSocketApi.template.json: json: cannot unmarshal array"},
		},
		{
			"no API",
			template(func(tmpl map[string]any) { delete(resources(tmpl), "WebSocketApi") }),
			[]string{"no AWS::ApiGatewayV2::Api resource", "Resources.MessageFunction5E234045.Properties.Environment.Variables.CONNECTIONS_ENDPOINT: Ref WebSocketApi: no such resource, parameter or pseudo parameter"},
		},
		{
			"two APIs",
			template(func(tmpl map[string]any) { resources(tmpl)["Other"] = resources(tmpl)["WebSocketApi"] }),
			[]string{"2 AWS::ApiGatewayV2::Api resources (Other, WebSocketApi); the local run serves one"},
		},
		{
			"HTTP API",
			template(func(tmpl map[string]any) { properties(tmpl, "WebSocketApi")["ProtocolType"] = "HTTP" }),
			[]string{`Resources.WebSocketApi.Properties.ProtocolType: "HTTP", want WEBSOCKET`},
		},
		{
			"no stage",
			template(func(tmpl map[string]any) { delete(resources(tmpl), "Stage") }),
			[]string{"no AWS::ApiGatewayV2::Stage of API WebSocketApi"},
		},
		{
			"two stages",
			template(func(tmpl map[string]any) { resources(tmpl)["Stage2"] = resources(tmpl)["Stage"] }),
			[]string{"2 stages of API WebSocketApi (Stage, Stage2); the local run serves one"},
		},
		{
			"stage name not literal",
			template(func(tmpl map[string]any) { properties(tmpl, "Stage")["StageName"] = ref("AWS::StackName") }),
			[]string{"Resources.Stage.Properties.StageName: expected a literal string, got intrinsic Ref"},
		},
		{
			"route to a missing integration",
			template(func(tmpl map[string]any) {
				properties(tmpl, "SendMessageRoute")["Target"] = join("/", "integrations", ref("GoneIntegration"))
			}),
			[]string{"Resources.SendMessageRoute.Properties.Target: Ref GoneIntegration: no such resource, parameter or pseudo parameter"},
		},
		{
			"route to a function, not an integration",
			template(func(tmpl map[string]any) {
				properties(tmpl, "SendMessageRoute")["Target"] = join("/", "integrations", ref("MessageFunction5E234045"))
			}),
			[]string{"Resources.SendMessageRoute.Properties.Target: Ref MessageFunction5E234045: is AWS::Lambda::Function, not AWS::ApiGatewayV2::Integration"},
		},
		{
			"route target outside the template",
			template(func(tmpl map[string]any) { properties(tmpl, "SendMessageRoute")["Target"] = "integrations/abc123" }),
			[]string{`Resources.SendMessageRoute.Properties.Target: "integrations/abc123" is not integrations/<Ref of an integration of this template>`},
		},
		{
			"route to a missing authorizer",
			template(func(tmpl map[string]any) { properties(tmpl, "ConnectRoute")["AuthorizerId"] = ref("Gone") }),
			[]string{"Resources.ConnectRoute.Properties.AuthorizerId: Ref Gone: no such resource"},
		},
		{
			"CUSTOM without authorizer",
			template(func(tmpl map[string]any) { delete(properties(tmpl, "ConnectRoute"), "AuthorizerId") }),
			[]string{"Resources.ConnectRoute.Properties.AuthorizerId: missing (AuthorizationType is CUSTOM)"},
		},
		{
			"route of another API",
			template(func(tmpl map[string]any) { properties(tmpl, "DefaultRoute")["ApiId"] = "abc123" }),
			[]string{"Resources.DefaultRoute.Properties.ApiId: expected a Ref to an AWS::ApiGatewayV2::Api of this template, got a string"},
		},
		{
			"duplicate route key",
			template(func(tmpl map[string]any) { properties(tmpl, "SendMessageRoute")["RouteKey"] = "$default" }),
			[]string{`Resources.SendMessageRoute: route key "$default" is also DefaultRoute's`},
		},
		{
			"integration response of a missing integration",
			template(func(tmpl map[string]any) {
				properties(tmpl, "DefaultIntegrationResponse")["IntegrationId"] = ref("Gone")
			}),
			[]string{"Resources.DefaultIntegrationResponse.Properties.IntegrationId: Ref Gone: no such resource"},
		},
		{
			"route response of an integration",
			template(func(tmpl map[string]any) {
				properties(tmpl, "DefaultRouteResponse")["RouteId"] = ref("DefaultIntegration")
			}),
			[]string{"Resources.DefaultRouteResponse.Properties.RouteId: Ref DefaultIntegration: is AWS::ApiGatewayV2::Integration, not AWS::ApiGatewayV2::Route"},
		},
		{
			"integration invokes a table",
			template(func(tmpl map[string]any) {
				properties(tmpl, "ConnectIntegration")["IntegrationUri"] = lambdaURIOf("Connections827CEF2F")
			}),
			[]string{"Resources.ConnectIntegration.Properties.IntegrationUri: Fn::GetAtt Connections827CEF2F.Arn: is AWS::DynamoDB::Table, not AWS::Lambda::Function"},
		},
		{
			"integration invokes a missing function",
			template(func(tmpl map[string]any) {
				properties(tmpl, "ConnectIntegration")["IntegrationUri"] = lambdaURIOf("GoneFunction")
			}),
			[]string{"Resources.ConnectIntegration.Properties.IntegrationUri: Fn::GetAtt GoneFunction.Arn: no such resource"},
		},
		{
			"integration invokes a function outside the template",
			template(func(tmpl map[string]any) {
				properties(tmpl, "ConnectIntegration")["IntegrationUri"] = fn("Fn::Sub",
					"arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:x/invocations")
			}),
			[]string{`Resources.ConnectIntegration.Properties.IntegrationUri: "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:x/invocations" does not invoke a Lambda function of this template by Fn::GetAtt <function>.Arn`},
		},
		{
			"authorizer invokes no Lambda",
			template(func(tmpl map[string]any) {
				properties(tmpl, "Authorizer")["AuthorizerUri"] = "https://example.com/auth"
			}),
			[]string{`Resources.Authorizer.Properties.AuthorizerUri: "https://example.com/auth" invokes no Lambda function`},
		},
		{
			"environment refers to a missing resource",
			template(func(tmpl map[string]any) {
				properties(tmpl, "ConnectFunction52BFC429")["Environment"].(map[string]any)["Variables"].(map[string]any)["TABLE_NAME"] = ref("GoneTable")
			}),
			[]string{"Resources.ConnectFunction52BFC429.Properties.Environment.Variables.TABLE_NAME: Ref GoneTable: no such resource, parameter or pseudo parameter"},
		},
		{
			"environment uses an unsupported intrinsic",
			template(func(tmpl map[string]any) {
				properties(tmpl, "ConnectFunction52BFC429")["Environment"].(map[string]any)["Variables"].(map[string]any)["X"] = fn("Fn::If", []any{"c", "a", "b"})
			}),
			[]string{"Resources.ConnectFunction52BFC429.Properties.Environment.Variables.X: Fn::If: unsupported intrinsic function"},
		},
		{
			"client of a missing user pool",
			template(func(tmpl map[string]any) {
				properties(tmpl, "UserPoolCliClient1F174B79")["UserPoolId"] = ref("GonePool")
			}),
			[]string{"Resources.UserPoolCliClient1F174B79.Properties.UserPoolId: Ref GonePool: no such resource"},
		},
		{
			"conditional resource",
			template(func(tmpl map[string]any) { resources(tmpl)["Stage"].(map[string]any)["Condition"] = "IsProd" }),
			[]string{"Resources.Stage.Condition: conditional resources are not supported"},
		},
		{
			"table without key schema",
			template(func(tmpl map[string]any) { delete(properties(tmpl, "Connections827CEF2F"), "KeySchema") }),
			[]string{"Resources.Connections827CEF2F.Properties.KeySchema: missing"},
		},
		{
			"memory size not a number",
			template(func(tmpl map[string]any) { properties(tmpl, "ConnectFunction52BFC429")["MemorySize"] = "lots" }),
			[]string{`Resources.ConnectFunction52BFC429.Properties.MemorySize: expected a number, got "lots"`},
		},
		{
			"auto deploy not a boolean",
			template(func(tmpl map[string]any) { properties(tmpl, "Stage")["AutoDeploy"] = "yes" }),
			[]string{"Resources.Stage.Properties.AutoDeploy: expected a boolean, got a string"},
		},
		{
			"duplicate route response key",
			template(func(tmpl map[string]any) {
				resources(tmpl)["ExtraRouteResponse"] = resources(tmpl)["DefaultRouteResponse"]
			}),
			[]string{`Resources.ExtraRouteResponse: route response key "$default" of DefaultRoute is also DefaultRouteResponse's`},
		},
		{
			"duplicate integration response key",
			template(func(tmpl map[string]any) {
				resources(tmpl)["ExtraIntegrationResponse"] = resources(tmpl)["DefaultIntegrationResponse"]
			}),
			[]string{`Resources.ExtraIntegrationResponse: integration response key "$default" of DefaultIntegration is also DefaultIntegrationResponse's`},
		},
		{
			"every problem at once",
			template(func(tmpl map[string]any) {
				properties(tmpl, "Stage")["StageName"] = ref("AWS::StackName")
				properties(tmpl, "DefaultRouteResponse")["RouteId"] = ref("Gone")
			}),
			[]string{
				"Resources.Stage.Properties.StageName: expected a literal string, got intrinsic Ref\n",
				"Resources.DefaultRouteResponse.Properties.RouteId: Ref Gone: no such resource",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyFixture(t, "cognito")
			tt.edit(t, dir)
			a, err := Load(dir)
			if err == nil {
				t.Fatalf("Load: no error, API %+v", a.API)
			}
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, "<dir>", dir); !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain:\n%s", err, w)
				}
			}
		})
	}
}

// TestLoadLenient covers what a template may say without failing Load.
func TestLoadLenient(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(tmpl map[string]any)
		check func(t *testing.T, a *Assembly)
	}{
		{
			"route without integration",
			func(tmpl map[string]any) { delete(properties(tmpl, "ConnectRoute"), "Target") },
			func(t *testing.T, a *Assembly) {
				if id := a.Routes["$connect"].IntegrationID; id != "" {
					t.Errorf("IntegrationID = %q, want none", id)
				}
			},
		},
		{
			"Lambda defaults",
			func(tmpl map[string]any) {
				p := properties(tmpl, "ConnectFunction52BFC429")
				delete(p, "MemorySize")
				delete(p, "Timeout")
				delete(p, "Architectures")
				delete(p, "LoggingConfig")
				delete(p, "Environment")
			},
			func(t *testing.T, a *Assembly) {
				fn := a.Functions["ConnectFunction52BFC429"]
				if fn.MemorySize != 128 || fn.Timeout != 3*time.Second || !slices.Equal(fn.Architectures, []string{"x86_64"}) {
					t.Errorf("defaults: %d MB, %v, %v", fn.MemorySize, fn.Timeout, fn.Architectures)
				}
				if fn.LoggingConfig != (LoggingConfig{}) || len(fn.Environment) != 0 {
					t.Errorf("LoggingConfig %+v, Environment %v", fn.LoggingConfig, fn.Environment)
				}
			},
		},
		{
			"numbers and booleans as strings, integration defaults",
			func(tmpl map[string]any) {
				p := properties(tmpl, "MessageFunction5E234045")
				p["MemorySize"], p["Timeout"] = "1024", "60"
				s := properties(tmpl, "Stage")
				s["AutoDeploy"] = "false"
				s["RouteSettings"] = map[string]any{"sendmessage": map[string]any{"ThrottlingRateLimit": "0.5"}}
				delete(s, "DefaultRouteSettings")
				delete(properties(tmpl, "DefaultIntegration"), "TimeoutInMillis")
			},
			func(t *testing.T, a *Assembly) {
				fn := a.Functions["MessageFunction5E234045"]
				if fn.MemorySize != 1024 || fn.Timeout != time.Minute {
					t.Errorf("function: %d MB, %v", fn.MemorySize, fn.Timeout)
				}
				want := Stage{
					ID: "Stage", StageName: "prod",
					RouteSettings: map[string]RouteSettings{"sendmessage": {ThrottlingRateLimit: new(0.5)}},
				}
				if diff := cmp.Diff(want, a.Stage); diff != "" {
					t.Errorf("Stage (-want +got):\n%s", diff)
				}
				if got := a.Integrations["DefaultIntegration"].Timeout; got != 29*time.Second {
					t.Errorf("integration timeout %v", got)
				}
			},
		},
		{
			"Sub form of a Lambda URI, MOCK integration, integration response templates",
			func(tmpl map[string]any) {
				properties(tmpl, "ConnectIntegration")["IntegrationUri"] = fn("Fn::Sub",
					"arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${ConnectFunction52BFC429.Arn}/invocations")
				d := properties(tmpl, "DisconnectIntegration")
				d["IntegrationType"] = "MOCK"
				delete(d, "IntegrationUri")
				r := properties(tmpl, "DefaultIntegrationResponse")
				r["TemplateSelectionExpression"] = "$integration.response.statuscode"
				r["ResponseTemplates"] = map[string]any{"200": "$input.body"}
				r["ContentHandlingStrategy"] = "CONVERT_TO_TEXT"
			},
			func(t *testing.T, a *Assembly) {
				if id := a.Integrations["ConnectIntegration"].FunctionID; id != "ConnectFunction52BFC429" {
					t.Errorf("Sub URI: FunctionID %q", id)
				}
				if in := a.Integrations["DisconnectIntegration"]; in.IntegrationType != "MOCK" || in.FunctionID != "" || in.IntegrationURI != nil {
					t.Errorf("MOCK: %+v", in)
				}
				want := IntegrationResponse{
					ID: "DefaultIntegrationResponse", IntegrationResponseKey: "$default",
					TemplateSelectionExpression: "$integration.response.statuscode",
					ResponseTemplates:           map[string]string{"200": "$input.body"},
					ContentHandlingStrategy:     "CONVERT_TO_TEXT",
				}
				if diff := cmp.Diff(want, a.Integrations["DefaultIntegration"].IntegrationResponses["$default"]); diff != "" {
					t.Errorf("integration response (-want +got):\n%s", diff)
				}
			},
		},
		{
			"HTTP integration is kept for the local run to refuse",
			func(tmpl map[string]any) {
				p := properties(tmpl, "DefaultIntegration")
				p["IntegrationType"] = "HTTP_PROXY"
				p["IntegrationUri"] = "https://example.com/"
			},
			func(t *testing.T, a *Assembly) {
				in := a.Integrations["DefaultIntegration"]
				if in.IntegrationType != "HTTP_PROXY" || in.FunctionID != "" || in.IntegrationURI != "https://example.com/" {
					t.Errorf("HTTP_PROXY: %+v", in)
				}
			},
		},
		{
			"local secondary index, INCLUDE projection",
			func(tmpl map[string]any) {
				p := properties(tmpl, "Connections827CEF2F")
				p["KeySchema"] = []any{
					map[string]any{"AttributeName": "connectionId", "KeyType": "HASH"},
					map[string]any{"AttributeName": "sk", "KeyType": "RANGE"},
				}
				p["LocalSecondaryIndexes"] = []any{map[string]any{
					"IndexName": "byTime",
					"KeySchema": []any{
						map[string]any{"AttributeName": "connectionId", "KeyType": "HASH"},
						map[string]any{"AttributeName": "connectedAt", "KeyType": "RANGE"},
					},
					"Projection": map[string]any{"ProjectionType": "INCLUDE", "NonKeyAttributes": []any{"principalId"}},
				}}
				delete(p, "BillingMode")
				delete(p, "TimeToLiveSpecification")
			},
			func(t *testing.T, a *Assembly) {
				tb := a.Tables["Connections827CEF2F"]
				want := []SecondaryIndex{{
					IndexName:  "byTime",
					KeySchema:  []KeyElement{{AttributeName: "connectionId", KeyType: "HASH"}, {AttributeName: "connectedAt", KeyType: "RANGE"}},
					Projection: Projection{ProjectionType: "INCLUDE", NonKeyAttributes: []string{"principalId"}},
				}}
				if diff := cmp.Diff(want, tb.LocalSecondaryIndexes); diff != "" {
					t.Errorf("LocalSecondaryIndexes (-want +got):\n%s", diff)
				}
				if len(tb.KeySchema) != 2 || tb.BillingMode != "" || tb.TimeToLive != nil {
					t.Errorf("table %+v", tb)
				}
			},
		},
		{
			"custom resources and their functions are no part of the API",
			func(tmpl map[string]any) {
				res := resources(tmpl)
				res["ProviderRole"] = map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{
					"AssumeRolePolicyDocument": map[string]any{"Statement": []any{}},
				}}
				// Inline code, an environment no Resolver evaluates: neither
				// matters for a function the API never invokes.
				res["ProviderFunction"] = map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{
					"Code":        map[string]any{"ZipFile": "exports.handler = async () => ({})"},
					"Handler":     "index.handler",
					"Runtime":     "nodejs22.x",
					"Role":        getAtt("ProviderRole", "Arn"),
					"Environment": map[string]any{"Variables": map[string]any{"X": fn("Fn::If", []any{"c", "a", "b"})}},
				}}
				res["OtherFunction"] = map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{
					"Code": map[string]any{"S3Bucket": "b", "S3Key": "not-in-the-manifest.zip"},
				}}
				for id, typ := range map[string]string{"Setting": "Custom::ApiGatewayCloudWatchRole", "Generic": "AWS::CloudFormation::CustomResource"} {
					res[id] = map[string]any{"Type": typ, "DependsOn": []any{"ProviderRole"}, "DeletionPolicy": "Delete",
						"Properties": map[string]any{"ServiceToken": getAtt("ProviderFunction", "Arn"), "RoleName": "x"}}
				}
			},
			func(t *testing.T, a *Assembly) {
				base := loadFixture(t, "cognito")
				if diff := cmp.Diff(base.Routes, a.Routes); diff != "" {
					t.Errorf("Routes (-fixture +got):\n%s", diff)
				}
				if diff := cmp.Diff(base.Integrations, a.Integrations); diff != "" {
					t.Errorf("Integrations (-fixture +got):\n%s", diff)
				}
				if diff := cmp.Diff(base.Authorizers, a.Authorizers); diff != "" {
					t.Errorf("Authorizers (-fixture +got):\n%s", diff)
				}
				if fn, ok := a.Functions["ProviderFunction"]; !ok || fn.AssetDir != "" {
					t.Errorf("ProviderFunction %+v", fn)
				}
				if a.ResourceTypes["Setting"] != "Custom::ApiGatewayCloudWatchRole" || a.ResourceTypes["Generic"] != "AWS::CloudFormation::CustomResource" {
					t.Errorf("ResourceTypes: %v %v", a.ResourceTypes["Setting"], a.ResourceTypes["Generic"])
				}
			},
		},
		{
			"client of a pool outside the stack, environment Ref to a parameter",
			func(tmpl map[string]any) {
				properties(tmpl, "UserPoolCliClient1F174B79")["UserPoolId"] = "us-east-1_abc"
				properties(tmpl, "ConnectFunction52BFC429")["Environment"].(map[string]any)["Variables"].(map[string]any)["V"] = ref("BootstrapVersion")
			},
			func(t *testing.T, a *Assembly) {
				if id := a.UserPoolClients["UserPoolCliClient1F174B79"].UserPoolID; id != "" {
					t.Errorf("UserPoolID %q", id)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyFixture(t, "cognito")
			editJSON(t, filepath.Join(dir, "WebSocketApi.template.json"), tt.edit)
			a, err := Load(dir)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, a)
		})
	}
}

// TestLoadSynthesized loads a real assembly when WSAPI_ASSEMBLY names one
// (npx cdk synth --quiet -o <dir>); the fixtures cover the rest.
func TestLoadSynthesized(t *testing.T) {
	dir := os.Getenv("WSAPI_ASSEMBLY")
	if dir == "" {
		t.Skip("WSAPI_ASSEMBLY not set")
	}
	a, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, in := range a.Integrations {
		fn := a.Functions[in.FunctionID]
		info, err := os.Stat(filepath.Join(fn.AssetDir, "bootstrap"))
		if err != nil {
			t.Errorf("integration %s: function %s: %v", in.ID, fn.ID, err)
		} else if info.Mode()&0o111 == 0 {
			t.Errorf("integration %s: function %s: bootstrap is not executable (%v)", in.ID, fn.ID, info.Mode())
		}
	}
	for _, key := range slices.Sorted(maps.Keys(a.Routes)) {
		r := a.Routes[key]
		in := a.Integrations[r.IntegrationID]
		t.Logf("route %-12s auth %-6s → %s %s → %s (%s)", key, r.AuthorizationType, r.IntegrationID, in.IntegrationType,
			in.FunctionID, a.Functions[in.FunctionID].AssetDir)
	}
	for id, az := range a.Authorizers {
		t.Logf("authorizer %s %s %v → %s (%s)", id, az.AuthorizerType, az.IdentitySource, az.FunctionID, a.Functions[az.FunctionID].AssetDir)
	}
	t.Logf("stack %s (%s), stage %s, %d functions, %d tables, %d user pools", a.Stack.Name, a.Stack.Region,
		a.Stage.StageName, len(a.Functions), len(a.Tables), len(a.UserPools))
}

func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(filepath.Join("testdata", name))); err != nil {
		t.Fatal(err)
	}
	return dst
}

func editJSON(t *testing.T, file string, edit func(map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	write(t, file, string(data))
}

func deepCopy(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func write(t *testing.T, file, data string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// fixtureAssetHash is the asset hash of the fixture's function whose
// logical ID starts with prefix: its Code.S3Key without ".zip".
func fixtureAssetHash(t *testing.T, fixture, prefix string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", fixture, "WebSocketApi.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	for id, r := range resources(tmpl) {
		if strings.HasPrefix(id, prefix) && r.(map[string]any)["Type"] == "AWS::Lambda::Function" {
			key, _ := properties(tmpl, id)["Code"].(map[string]any)["S3Key"].(string)
			if hash, ok := strings.CutSuffix(key, ".zip"); ok {
				return hash
			}
		}
	}
	t.Fatalf("fixture %s: no function %s* with a zip asset", fixture, prefix)
	return ""
}
