// Package test asserts on the CloudFormation template that the app
// synthesizes. Each stack variant is synthesized once per test binary (jsii
// start-up and the Lambda builds dominate the cost) and shared by the tests.
package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"wsapi/stacks"
	"wsapi/websocketapi"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// synthesized is one stack, synthesized with the cdk-nag checks applied.
type synthesized struct {
	stack    awscdk.Stack
	template assertions.Template
	json     map[string]any // the template, decoded
	raw      []byte         // the template, indented with sorted keys
}

// synth builds the app as `cdk synth` does (the same stack, the same nag
// pack, the feature flags of cdk.json) with the given props, from the module
// root one level up.
func synth(props stacks.WebSocketStackProps) *synthesized {
	app := awscdk.NewApp(&awscdk.AppProps{Context: cdkJSONContext()})
	props.ModuleDir = ".."
	stack := stacks.NewWebSocketStack(app, "WebSocketApi", &props)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	template := assertions.Template_FromStack(stack, nil)
	doc := *template.ToJSON()
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	return &synthesized{stack: stack, template: template, json: doc, raw: append(raw, '\n')}
}

// cdkJSONContext is cdk.json's context, as the CDK CLI would pass it.
func cdkJSONContext() *map[string]any {
	ctx, err := stacks.CDKJSONContext(filepath.Join("..", "cdk.json"))
	if err != nil {
		panic(err)
	}
	return ctx
}

var (
	defaultOnce  sync.Once
	defaultSynth *synthesized

	externalOnce  sync.Once
	externalSynth *synthesized

	headerOnce  sync.Once
	headerSynth *synthesized

	alarmEmailOnce  sync.Once
	alarmEmailSynth *synthesized
)

// defaultStack is the stack with every prop at its default.
func defaultStack(t *testing.T) *synthesized {
	t.Helper()
	defaultOnce.Do(func() { defaultSynth = synth(stacks.WebSocketStackProps{}) })
	return defaultSynth
}

// externalProps point at an external OIDC issuer, read the token from a
// header, reuse an existing API Gateway logging role, and set every
// fan-out prop.
var externalProps = stacks.WebSocketStackProps{WebSocketAPIProps: websocketapi.WebSocketAPIProps{
	StageName:                      "live",
	IdentitySource:                 "route.request.header.Authorization",
	Issuer:                         "https://login.example.com/tenant",
	Audience:                       "api://chat",
	ThrottlingRateLimit:            50,
	ThrottlingBurstLimit:           25,
	APIGatewayCloudWatchRoleExists: true,
	LambdaArchitecture:             "x86_64",
	RemovalPolicy:                  awscdk.RemovalPolicy_DESTROY,
	FanOutProps: websocketapi.FanOutProps{
		FanOutSegments:        8,
		ConnectionsPerSegment: 2000,
		MaxSegments:           500,
		WorkerBatchSize:       5,
		WorkerMaxConcurrency:  40,
		PostsPerSecond:        2500,
		WorkerTimeout:         2 * time.Minute,
		MaxReceiveCount:       3,
		JobTTL:                6 * time.Hour,
		FanOutPageSize:        250,
		WorkerMemoryMB:        1024,
	},
}}

func externalStack(t *testing.T) *synthesized {
	t.Helper()
	externalOnce.Do(func() { externalSynth = synth(externalProps) })
	return externalSynth
}

// headerProps keep the Cognito user pool but read the token from a header,
// accept Cognito ID tokens too, and name their own account logging role.
//
// It is the one variant with an explicit account and region, as `cdk synth`
// gives the app from the CLI's credentials: CDK then writes some values as
// literals, which must not change what the template means.
var headerProps = stacks.WebSocketStackProps{StackProps: awscdk.StackProps{
	Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1")},
}, WebSocketAPIProps: websocketapi.WebSocketAPIProps{
	IdentitySource:               "route.request.header.Authorization",
	AllowedTokenUse:              []string{"access", "id"},
	APIGatewayCloudWatchRoleName: "ChatApiGatewayLogs",
	APIGatewayCloudWatchRolePath: "/service-role/",
}}

func headerStack(t *testing.T) *synthesized {
	t.Helper()
	headerOnce.Do(func() { headerSynth = synth(headerProps) })
	return headerSynth
}

// alarmEmailProps send the alarms to an email address (the stack creates
// an encrypted topic), set two alarms' thresholds, and turn tracing and the
// dashboard off.
var alarmEmailProps = stacks.WebSocketStackProps{WebSocketAPIProps: websocketapi.WebSocketAPIProps{
	AlarmEmail:       "oncall@example.com",
	DisableTracing:   true,
	DisableDashboard: true,
	Alarms: websocketapi.AlarmSettings{
		PostFailed:       websocketapi.AlarmSetting{Threshold: 20, EvaluationPeriods: 2, Period: 10 * time.Minute},
		FunctionDuration: websocketapi.AlarmSetting{Threshold: 50},
	},
}}

func alarmEmailStack(t *testing.T) *synthesized {
	t.Helper()
	alarmEmailOnce.Do(func() { alarmEmailSynth = synth(alarmEmailProps) })
	return alarmEmailSynth
}

// variants are all the stacks the tests synthesize, by name: checks that
// hold for any props (cfn-lint, cdk-nag, physical names) run on each.
func variants(t *testing.T) map[string]*synthesized {
	t.Helper()
	return map[string]*synthesized{
		"default":         defaultStack(t),
		"external-issuer": externalStack(t),
		"header-identity": headerStack(t),
		"alarm-email":     alarmEmailStack(t),
	}
}

// cdkAssert runs a CDK assertion, turning the panic jsii raises on failure
// into a test error that carries CDK's own message.
func cdkAssert(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s:\n%v", what, r)
		}
	}()
	assertion()
}

// resources returns the template's resources of one type by logical id.
func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// resource returns the one resource of a type whose logical id starts with
// prefix (the construct id; CDK appends a hash).
func (s *synthesized) resource(t *testing.T, typ, prefix string) (string, map[string]any) {
	t.Helper()
	var ids []string
	for id := range s.resources(typ) {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("want one %s with logical id %s*, found %v", typ, prefix, ids)
	}
	return ids[0], s.resources(typ)[ids[0]]
}

// props returns a resource's Properties.
func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// asJSON renders v compactly with sorted keys, for readable comparisons.
func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// equalJSON compares two values as JSON documents. A value that does not
// encode to JSON fails the comparison: it is reported, not taken as null.
func equalJSON(t testing.TB, what string, got, want any) {
	t.Helper()
	g, gErr := normalizeJSON(got)
	if gErr != nil {
		t.Errorf("%s: got %#v: %v", what, got, gErr)
	}
	w, wErr := normalizeJSON(want)
	if wErr != nil {
		t.Errorf("%s: want %#v: %v", what, want, wErr)
	}
	if gErr != nil || wErr != nil {
		return
	}
	if asJSON(g) != asJSON(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, asJSON(g), asJSON(w))
	}
}

// normalizeJSON round-trips v through JSON, so that Go values and decoded
// template values of the same document compare equal.
func normalizeJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ref and getAtt build CloudFormation intrinsics as they appear in templates.
func ref(id string) map[string]any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

// sub is Fn::Sub, with variables when vars is not nil.
func sub(body string, vars map[string]any) map[string]any {
	if vars == nil {
		return map[string]any{"Fn::Sub": body}
	}
	return map[string]any{"Fn::Sub": []any{body, vars}}
}

// stageURL is the stage's URL in a template: scheme://{api}.execute-api.{region}.{suffix}/{stage}.
func stageURL(scheme, stage string) map[string]any {
	return sub(scheme+"://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"+stage, map[string]any{"Api": ref("WebSocketApi")})
}

func join(parts ...any) map[string]any {
	return map[string]any{"Fn::Join": []any{"", parts}}
}

// executeAPIARN is arn:{partition}:execute-api:{region}:{account}:{api}/{rest}.
func executeAPIARN(rest string) map[string]any {
	return join("arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":",
		ref("AWS::AccountId"), ":", ref("WebSocketApi"), "/"+rest)
}
