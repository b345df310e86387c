package assembly

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"wsapi/contract"
)

// Resource types the model is built from. Resources are found by type and
// followed by reference, never by logical ID: CDK derives those from
// construct paths, and they change with the code.
const (
	typeAPI                 = "AWS::ApiGatewayV2::Api"
	typeStage               = "AWS::ApiGatewayV2::Stage"
	typeAuthorizer          = "AWS::ApiGatewayV2::Authorizer"
	typeRoute               = "AWS::ApiGatewayV2::Route"
	typeRouteResponse       = "AWS::ApiGatewayV2::RouteResponse"
	typeIntegration         = "AWS::ApiGatewayV2::Integration"
	typeIntegrationResponse = "AWS::ApiGatewayV2::IntegrationResponse"
	typeFunction            = "AWS::Lambda::Function"
	typeTable               = "AWS::DynamoDB::Table"
	typeUserPool            = "AWS::Cognito::UserPool"
	typeUserPoolClient      = "AWS::Cognito::UserPoolClient"
)

// template is a CloudFormation template as CDK writes it (JSON).
type template struct {
	Resources  map[string]resource
	Parameters map[string]struct {
		Type    string
		Default any
	}
	Outputs map[string]struct {
		Description string
		Value       any
	}
}

type resource struct {
	Type       string
	Properties any
	Condition  any
	Metadata   any
}

// asset is one file asset of an asset manifest.
type asset struct {
	id        string
	path      string // absolute
	packaging string
	manifest  string // the asset manifest that lists it
}

// builder turns a template into the model, collecting every problem rather
// than stopping at the first, so one run of the local app reports them all.
type builder struct {
	t      *template
	assets map[string]asset // by S3 object key
	a      *Assembly
	errs   []error
	// badAsset has the functions whose asset is reported already.
	badAsset map[string]bool
	// fnErrs are the problems of each function, by logical ID.
	fnErrs map[string][]error
}

func (b *builder) fail(err error) {
	if err != nil {
		b.errs = append(b.errs, err)
	}
}

func (b *builder) failf(format string, args ...any) { b.fail(fmt.Errorf(format, args...)) }

// ofType is the logical IDs of resources of type typ, sorted, with their
// Properties.
func (b *builder) ofType(typ string) []string {
	var ids []string
	for _, id := range slices.Sorted(maps.Keys(b.t.Resources)) {
		if b.t.Resources[id].Type == typ {
			ids = append(ids, id)
		}
	}
	return ids
}

func (b *builder) props(id string) (props, bool) {
	p, err := newProps("Resources."+id+".Properties", b.t.Resources[id].Properties)
	b.fail(err)
	return p, err == nil
}

func build(t *template, assets map[string]asset, a *Assembly) error {
	b := &builder{t: t, assets: assets, a: a, badAsset: map[string]bool{}, fnErrs: map[string][]error{}}
	a.ResourceTypes = make(map[string]string, len(t.Resources))
	for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
		r := t.Resources[id]
		if r.Type == "" {
			b.failf("Resources.%s.Type: missing", id)
		}
		if r.Condition != nil {
			// Whether the resource exists depends on deploy-time values.
			b.failf("Resources.%s.Condition: conditional resources are not supported", id)
		}
		a.ResourceTypes[id] = r.Type
	}
	a.Parameters = make(map[string]Parameter, len(t.Parameters))
	for name, p := range t.Parameters {
		a.Parameters[name] = Parameter{Type: p.Type, Default: p.Default}
	}
	a.Outputs = make(map[string]Output, len(t.Outputs))
	for name, o := range t.Outputs {
		a.Outputs[name] = Output{Description: o.Description, Value: o.Value}
	}

	b.functions()
	b.tables()
	b.userPools()
	b.queues()
	b.queuePolicies()
	b.eventSourceMappings()
	if b.api() {
		b.stage()
		b.authorizers()
		b.integrations()
		b.routes()
	}
	b.reportFunctionErrors()
	return errors.Join(b.errs...)
}

// api finds the one WebSocket API; without it nothing else can be checked.
func (b *builder) api() bool {
	ids := b.ofType(typeAPI)
	switch len(ids) {
	case 0:
		b.failf("no %s resource", typeAPI)
		return false
	case 1:
	default:
		b.failf("%d %s resources (%s); the local run serves one", len(ids), typeAPI, strings.Join(ids, ", "))
		return false
	}
	id := ids[0]
	p, ok := b.props(id)
	if !ok {
		return false
	}
	api := API{ID: id}
	var err error
	if api.ProtocolType, err = p.requiredStr("ProtocolType"); err != nil {
		b.fail(err)
		return false
	}
	if api.ProtocolType != "WEBSOCKET" {
		b.failf("%s: %q, want WEBSOCKET", p.at("ProtocolType"), api.ProtocolType)
		return false
	}
	api.RouteSelectionExpression, err = p.requiredStr("RouteSelectionExpression")
	b.fail(err)
	b.a.API = api
	return true
}

// ofAPI reports whether a resource's ApiId refers to the API.
func (b *builder) ofAPI(p props) bool {
	_, err := b.refTo(p, "ApiId", typeAPI)
	b.fail(err)
	return err == nil
}

func (b *builder) stage() {
	var stages []string
	for _, id := range b.ofType(typeStage) {
		if p, ok := b.props(id); ok && b.ofAPI(p) {
			stages = append(stages, id)
		}
	}
	switch len(stages) {
	case 0:
		b.failf("no %s of API %s", typeStage, b.a.API.ID)
		return
	case 1:
	default:
		b.failf("%d stages of API %s (%s); the local run serves one", len(stages), b.a.API.ID, strings.Join(stages, ", "))
		return
	}
	id := stages[0]
	p, _ := b.props(id)
	s := Stage{ID: id}
	var err error
	s.StageName, err = p.requiredStr("StageName")
	b.fail(err)
	s.AutoDeploy, err = p.bool("AutoDeploy")
	b.fail(err)
	s.StageVariables, err = p.strMap("StageVariables")
	b.fail(err)
	def, err := p.object("DefaultRouteSettings")
	b.fail(err)
	s.DefaultRouteSettings = b.routeSettings(def)
	perRoute, err := p.object("RouteSettings")
	b.fail(err)
	for _, key := range slices.Sorted(maps.Keys(perRoute.m)) {
		rs, err := perRoute.object(key)
		b.fail(err)
		if s.RouteSettings == nil {
			s.RouteSettings = make(map[string]RouteSettings)
		}
		s.RouteSettings[key] = b.routeSettings(rs)
	}
	b.a.Stage = s
}

func (b *builder) routeSettings(p props) RouteSettings {
	var rs RouteSettings
	var err error
	rs.ThrottlingRateLimit, err = p.optFloat("ThrottlingRateLimit")
	b.fail(err)
	rs.ThrottlingBurstLimit, err = p.optInt("ThrottlingBurstLimit")
	b.fail(err)
	return rs
}

func (b *builder) authorizers() {
	b.a.Authorizers = make(map[string]Authorizer)
	for _, id := range b.ofType(typeAuthorizer) {
		p, ok := b.props(id)
		if !ok || !b.ofAPI(p) {
			continue
		}
		az := Authorizer{ID: id, AuthorizerURI: p.m["AuthorizerUri"]}
		var err error
		az.AuthorizerType, err = p.requiredStr("AuthorizerType")
		b.fail(err)
		az.IdentitySource, err = p.strList("IdentitySource")
		b.fail(err)
		if p.has("AuthorizerUri") {
			var isLambda bool
			az.FunctionID, isLambda, err = b.lambdaURI(p, "AuthorizerUri")
			b.fail(err)
			if err == nil && !isLambda {
				b.failf("%s: %s invokes no Lambda function", p.at("AuthorizerUri"), b.readable(az.AuthorizerURI))
			}
		} else if az.AuthorizerType == "REQUEST" {
			b.failf("%s: missing (a REQUEST authorizer needs its Lambda function)", p.at("AuthorizerUri"))
		}
		b.a.Authorizers[id] = az
	}
}

func (b *builder) integrations() {
	b.a.Integrations = make(map[string]Integration)
	for _, id := range b.ofType(typeIntegration) {
		p, ok := b.props(id)
		if !ok || !b.ofAPI(p) {
			continue
		}
		in := Integration{ID: id, IntegrationURI: p.m["IntegrationUri"], IntegrationResponses: map[string]IntegrationResponse{}}
		var err error
		in.IntegrationType, err = p.requiredStr("IntegrationType")
		b.fail(err)
		in.IntegrationMethod, err = p.str("IntegrationMethod")
		b.fail(err)
		if p.has("IntegrationUri") {
			in.FunctionID, _, err = b.lambdaURI(p, "IntegrationUri")
			b.fail(err)
		}
		in.TemplateSelectionExpression, err = p.str("TemplateSelectionExpression")
		b.fail(err)
		in.RequestTemplates, err = p.strMap("RequestTemplates")
		b.fail(err)
		in.PassthroughBehavior, err = p.str("PassthroughBehavior")
		b.fail(err)
		ms, err := p.int("TimeoutInMillis", 29000)
		b.fail(err)
		in.Timeout = time.Duration(ms) * time.Millisecond
		in.ContentHandlingStrategy, err = p.str("ContentHandlingStrategy")
		b.fail(err)
		b.a.Integrations[id] = in
	}

	for _, id := range b.ofType(typeIntegrationResponse) {
		p, ok := b.props(id)
		if !ok || !b.ofAPI(p) {
			continue
		}
		inID, err := b.refTo(p, "IntegrationId", typeIntegration)
		if err != nil {
			b.fail(err)
			continue
		}
		r := IntegrationResponse{ID: id}
		r.IntegrationResponseKey, err = p.requiredStr("IntegrationResponseKey")
		b.fail(err)
		r.TemplateSelectionExpression, err = p.str("TemplateSelectionExpression")
		b.fail(err)
		r.ResponseTemplates, err = p.strMap("ResponseTemplates")
		b.fail(err)
		r.ContentHandlingStrategy, err = p.str("ContentHandlingStrategy")
		b.fail(err)
		in, ok := b.a.Integrations[inID]
		if !ok {
			continue // an integration of no API here: reported already
		}
		if dup, ok := in.IntegrationResponses[r.IntegrationResponseKey]; ok {
			b.failf("Resources.%s: integration response key %q of %s is also %s's", id, r.IntegrationResponseKey, inID, dup.ID)
			continue
		}
		in.IntegrationResponses[r.IntegrationResponseKey] = r
	}
}

func (b *builder) routes() {
	b.a.Routes = make(map[string]Route)
	byID := make(map[string]string) // route logical ID → route key
	for _, id := range b.ofType(typeRoute) {
		p, ok := b.props(id)
		if !ok || !b.ofAPI(p) {
			continue
		}
		r := Route{ID: id, RouteResponses: map[string]RouteResponse{}}
		var err error
		if r.RouteKey, err = p.requiredStr("RouteKey"); err != nil {
			b.fail(err)
			continue
		}
		if r.AuthorizationType, err = p.str("AuthorizationType"); err != nil {
			b.fail(err)
		} else if r.AuthorizationType == "" {
			r.AuthorizationType = "NONE"
		}
		if p.has("AuthorizerId") {
			r.AuthorizerID, err = b.refTo(p, "AuthorizerId", typeAuthorizer)
			b.fail(err)
		} else if r.AuthorizationType == "CUSTOM" {
			b.failf("%s: missing (AuthorizationType is CUSTOM)", p.at("AuthorizerId"))
		}
		r.IntegrationID, err = b.target(p)
		b.fail(err)
		r.RouteResponseSelectionExpression, err = p.str("RouteResponseSelectionExpression")
		b.fail(err)
		if dup, ok := b.a.Routes[r.RouteKey]; ok {
			b.failf("Resources.%s: route key %q is also %s's", id, r.RouteKey, dup.ID)
			continue
		}
		b.a.Routes[r.RouteKey] = r
		byID[id] = r.RouteKey
	}

	for _, id := range b.ofType(typeRouteResponse) {
		p, ok := b.props(id)
		if !ok || !b.ofAPI(p) {
			continue
		}
		routeID, err := b.refTo(p, "RouteId", typeRoute)
		if err != nil {
			b.fail(err)
			continue
		}
		rr := RouteResponse{ID: id}
		if rr.RouteResponseKey, err = p.requiredStr("RouteResponseKey"); err != nil {
			b.fail(err)
			continue
		}
		key, ok := byID[routeID]
		if !ok {
			continue // a route reported already
		}
		route := b.a.Routes[key]
		if dup, ok := route.RouteResponses[rr.RouteResponseKey]; ok {
			b.failf("Resources.%s: route response key %q of %s is also %s's", id, rr.RouteResponseKey, routeID, dup.ID)
			continue
		}
		route.RouteResponses[rr.RouteResponseKey] = rr
	}
}

// targetPattern is a route's Target, integrations/<integration ID>, with the
// Ref as the symbolic evaluator renders it.
var targetPattern = regexp.MustCompile("^integrations/\x00R([^\x00]+)\x00$")

func (b *builder) target(p props) (string, error) {
	v, ok := p.m["Target"]
	if !ok {
		return "", nil // allowed: $connect, for one, may have no integration
	}
	s, err := b.symbolic().str(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.at("Target"), err)
	}
	m := targetPattern.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Errorf("%s: %s is not integrations/<Ref of an integration of this template>", p.at("Target"), b.readable(v))
	}
	if typ := b.a.ResourceTypes[m[1]]; typ != typeIntegration {
		return "", fmt.Errorf("%s: Ref %s: is %s, not %s", p.at("Target"), m[1], typ, typeIntegration)
	}
	return m[1], nil
}

// lambdaInvocationPath separates the API Gateway part of a Lambda
// invocation URI, arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/
// functions/{function ARN}/invocations, from the function's ARN.
const lambdaInvocationPath = ":lambda:path/2015-03-31/functions/"

// lambdaURI finds the function a URI invokes. isLambda is false for URIs
// of anything else (HTTP, other AWS services); a Lambda URI must invoke a
// function of this template by Fn::GetAtt Arn, or the local run could not
// run it.
func (b *builder) lambdaURI(p props, key string) (fnID string, isLambda bool, err error) {
	v := p.m[key]
	s, err := b.symbolic().str(v)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", p.at(key), err)
	}
	head, fnARN, ok := strings.Cut(s, lambdaInvocationPath)
	if !ok || !strings.HasPrefix(head, "arn:") || !strings.Contains(head, ":apigateway:") {
		return "", false, nil
	}
	fnARN, ok = strings.CutSuffix(fnARN, "/invocations")
	id, isAtt := attArnID(fnARN)
	if !ok || !isAtt {
		return "", true, fmt.Errorf("%s: %s does not invoke a Lambda function of this template by Fn::GetAtt <function>.Arn", p.at(key), b.readable(v))
	}
	if typ := b.a.ResourceTypes[id]; typ != typeFunction {
		return "", true, fmt.Errorf("%s: Fn::GetAtt %s.Arn: is %s, not %s", p.at(key), id, typ, typeFunction)
	}
	if err := b.runnable(p.at(key), id); err != nil {
		return "", true, err
	}
	return id, true, nil
}

// attArnID is the resource of a symbolic Fn::GetAtt <id>.Arn (see
// symbolic), or false when s is anything else.
func attArnID(s string) (string, bool) {
	id, isAtt := strings.CutPrefix(s, "\x00A")
	id, isArn := strings.CutSuffix(id, "\x01Arn\x00")
	return id, isAtt && isArn && !strings.ContainsAny(id, "\x00\x01")
}

// runnable refuses a function the local run has no code for; one whose
// asset is bad has its own error already.
func (b *builder) runnable(at, fnID string) error {
	if b.a.Functions[fnID].AssetDir == "" && !b.badAsset[fnID] {
		return fmt.Errorf("%s: function %s has no directory asset in the assembly to run", at, fnID)
	}
	return nil
}

// refTo reads a {"Ref": id} property that must name a resource of type typ.
func (b *builder) refTo(p props, key, typ string) (string, error) {
	v, ok := p.m[key]
	if !ok {
		return "", fmt.Errorf("%s: missing", p.at(key))
	}
	m, _ := v.(map[string]any)
	name, arg, ok := intrinsic(m)
	id, isStr := arg.(string)
	if !ok || name != "Ref" || !isStr {
		return "", fmt.Errorf("%s: expected a Ref to an %s of this template, got %s", p.at(key), typ, describe(v))
	}
	switch got, ok := b.a.ResourceTypes[id]; {
	case !ok:
		return "", fmt.Errorf("%s: Ref %s: no such resource", p.at(key), id)
	case got != typ:
		return "", fmt.Errorf("%s: Ref %s: is %s, not %s", p.at(key), id, got, typ)
	}
	return id, nil
}

// symbolic evaluates a value with each Ref and Fn::GetAtt left as a marker
// (\x00R<name>\x00, \x00A<id>\x01<attr>\x00), so the shape of a URI or
// Target can be matched and its references followed. References to names
// the template does not have are errors: they would fail to deploy.
func (b *builder) symbolic() evaluator {
	return evaluator{
		ref: func(name string) (string, error) {
			_, isResource := b.a.ResourceTypes[name]
			_, isParameter := b.t.Parameters[name]
			if !isResource && !isParameter && !pseudoParameters[name] {
				return "", errors.New("no such resource, parameter or pseudo parameter")
			}
			return "\x00R" + name + "\x00", nil
		},
		attr: func(id, attr string) (string, error) {
			if _, ok := b.a.ResourceTypes[id]; !ok {
				return "", errors.New("no such resource")
			}
			return "\x00A" + id + "\x01" + attr + "\x00", nil
		},
	}
}

// readable renders a raw value for an error message, references as ${...}.
func (b *builder) readable(v any) string {
	s, err := b.symbolic().str(v)
	if err != nil {
		return describe(v)
	}
	s = strings.NewReplacer("\x00R", "${", "\x00A", "${", "\x01", ".", "\x00", "}").Replace(s)
	return fmt.Sprintf("%q", s)
}

func (b *builder) functions() {
	b.a.Functions = make(map[string]Function)
	for _, id := range b.ofType(typeFunction) {
		p, ok := b.props(id)
		if !ok {
			continue
		}
		fn := Function{ID: id}
		// Problems of a function are reported only if the API invokes it
		// (reportFunctionErrors): others, such as a custom resource's, are
		// no part of the local run.
		fail := func(err error) {
			if err != nil {
				b.fnErrs[id] = append(b.fnErrs[id], err)
			}
		}
		var err error
		fn.Handler, err = p.str("Handler")
		fail(err)
		fn.Runtime, err = p.str("Runtime")
		fail(err)
		fn.Architectures, err = p.strList("Architectures")
		fail(err)
		if len(fn.Architectures) == 0 {
			fn.Architectures = []string{"x86_64"}
		}
		fn.MemorySize, err = p.int("MemorySize", 128)
		fail(err)
		seconds, err := p.int("Timeout", 3)
		fail(err)
		fn.Timeout = time.Duration(seconds) * time.Second
		fn.AssetDir, err = b.assetDir(p)
		fail(err)
		b.badAsset[id] = err != nil

		env, err := p.object("Environment")
		fail(err)
		vars, err := env.object("Variables")
		fail(err)
		fn.Environment = make(map[string]any, len(vars.m))
		sym := b.symbolic()
		for _, name := range slices.Sorted(maps.Keys(vars.m)) {
			raw := vars.m[name]
			fn.Environment[name] = raw
			// Catch what no Resolver could evaluate now, not at run time.
			if !isNoValue(raw) {
				if _, err := sym.str(raw); err != nil {
					fail(fmt.Errorf("%s: %w", vars.at(name), err))
				}
			}
		}

		fn.Authorizer, err = authorizerMetadata(id, b.t.Resources[id].Metadata, vars)
		fail(err)

		lc, err := p.object("LoggingConfig")
		fail(err)
		fn.LoggingConfig.LogFormat, err = lc.str("LogFormat")
		fail(err)
		fn.LoggingConfig.ApplicationLogLevel, err = lc.str("ApplicationLogLevel")
		fail(err)
		fn.LoggingConfig.SystemLogLevel, err = lc.str("SystemLogLevel")
		fail(err)
		b.a.Functions[id] = fn
	}
}

// authorizerMetadata reads a function's contract.MetadataAuthorizer
// Metadata, which tells the local run which of its environment variables
// hold the issuer and the audience (this app's names are not assumed). It is
// nil when the function has none; vars are the function's variables.
func authorizerMetadata(id string, metadata any, vars props) (*contract.AuthorizerMetadata, error) {
	md, err := newProps("Resources."+id+".Metadata", metadata)
	if err != nil {
		return nil, err
	}
	raw, ok := md.m[contract.MetadataAuthorizer]
	if !ok {
		return nil, nil
	}
	at := md.at(contract.MetadataAuthorizer)
	if _, isObject := raw.(map[string]any); !isObject {
		return nil, fmt.Errorf("%s: expected an object, got %s", at, describe(raw))
	}
	// Decoded by the contract's own type, so the keys cannot drift from
	// what the construct writes. Unknown keys are left to newer readers.
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	var out contract.AuthorizerMetadata
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	var errs []error
	// The issuer and audience are rewritten for the local issuer, so each
	// must be a variable the function is given; the key set URL is
	// optional (the issuer's discovery document names it otherwise).
	for _, v := range []struct{ key, name string }{
		{"issuerVariable", out.IssuerVariable},
		{"audienceVariable", out.AudienceVariable},
	} {
		switch {
		case v.name == "":
			errs = append(errs, fmt.Errorf("%s.%s: missing or empty", at, v.key))
		case !vars.has(v.name) || isNoValue(vars.m[v.name]):
			errs = append(errs, fmt.Errorf("%s.%s: %q is not a variable of %s", at, v.key, v.name, vars.path))
		}
	}
	if out.IssuerVariable != "" && out.IssuerVariable == out.AudienceVariable {
		errs = append(errs, fmt.Errorf("%s: issuerVariable and audienceVariable are both %q", at, out.IssuerVariable))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &out, nil
}

// reportFunctionErrors reports the problems of the functions the API
// invokes, through an integration or an authorizer, or an event source
// mapping does; of every function when there is no API to tell which.
func (b *builder) reportFunctionErrors() {
	if b.a.Integrations == nil {
		for _, id := range slices.Sorted(maps.Keys(b.fnErrs)) {
			b.errs = append(b.errs, b.fnErrs[id]...)
		}
		return
	}
	used := map[string]bool{}
	for _, m := range b.a.EventSourceMappings {
		used[m.FunctionID] = true
	}
	for _, in := range b.a.Integrations {
		used[in.FunctionID] = true
	}
	for _, az := range b.a.Authorizers {
		used[az.FunctionID] = true
	}
	for _, id := range slices.Sorted(maps.Keys(b.fnErrs)) {
		if used[id] {
			b.errs = append(b.errs, b.fnErrs[id]...)
		}
	}
}

// assetDir finds the staged directory of a function's code through its S3
// key, which the asset manifest maps to the asset's source.
func (b *builder) assetDir(p props) (string, error) {
	code, err := p.object("Code")
	if err != nil {
		return "", err
	}
	key, isLiteral := code.m["S3Key"].(string)
	if !isLiteral {
		return "", nil // inline code, an image, or no asset of the assembly
	}
	a, ok := b.assets[key]
	if !ok {
		return "", fmt.Errorf("%s: %q is not an asset of the stack's asset manifest %s", code.at("S3Key"), key, b.a.Stack.AssetManifestFile)
	}
	if a.packaging != "zip" {
		return "", fmt.Errorf("%s: asset %s of %s is packaged %q, not as a zipped directory", code.at("S3Key"), a.id, a.manifest, a.packaging)
	}
	info, err := os.Stat(a.path)
	if err != nil {
		return "", fmt.Errorf("%s: asset %s of %s: %w", code.at("S3Key"), a.id, a.manifest, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("%s: asset %s of %s: %s is not a directory", code.at("S3Key"), a.id, a.manifest, a.path)
	}
	return a.path, nil
}

func (b *builder) tables() {
	b.a.Tables = make(map[string]Table)
	for _, id := range b.ofType(typeTable) {
		p, ok := b.props(id)
		if !ok {
			continue
		}
		t := Table{ID: id}
		var err error
		t.KeySchema, err = keySchema(p)
		b.fail(err)
		defs, err := p.objects("AttributeDefinitions")
		b.fail(err)
		for _, d := range defs {
			var ad AttributeDefinition
			ad.AttributeName, err = d.requiredStr("AttributeName")
			b.fail(err)
			ad.AttributeType, err = d.requiredStr("AttributeType")
			b.fail(err)
			t.AttributeDefinitions = append(t.AttributeDefinitions, ad)
		}
		t.GlobalSecondaryIndexes, err = indexes(p, "GlobalSecondaryIndexes")
		b.fail(err)
		t.LocalSecondaryIndexes, err = indexes(p, "LocalSecondaryIndexes")
		b.fail(err)
		t.BillingMode, err = p.str("BillingMode")
		b.fail(err)
		if p.has("TimeToLiveSpecification") {
			ttl, err := p.object("TimeToLiveSpecification")
			b.fail(err)
			t.TimeToLive = &TimeToLive{}
			t.TimeToLive.AttributeName, err = ttl.str("AttributeName")
			b.fail(err)
			t.TimeToLive.Enabled, err = ttl.bool("Enabled")
			b.fail(err)
		}
		b.a.Tables[id] = t
	}
}

func keySchema(p props) ([]KeyElement, error) {
	elems, err := p.objects("KeySchema")
	if err != nil {
		return nil, err
	}
	if len(elems) == 0 {
		return nil, fmt.Errorf("%s: missing", p.at("KeySchema"))
	}
	out := make([]KeyElement, len(elems))
	for i, e := range elems {
		if out[i].AttributeName, err = e.requiredStr("AttributeName"); err != nil {
			return nil, err
		}
		if out[i].KeyType, err = e.requiredStr("KeyType"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func indexes(p props, key string) ([]SecondaryIndex, error) {
	list, err := p.objects(key)
	if err != nil {
		return nil, err
	}
	var out []SecondaryIndex
	for _, ip := range list {
		var ix SecondaryIndex
		if ix.IndexName, err = ip.requiredStr("IndexName"); err != nil {
			return nil, err
		}
		if ix.KeySchema, err = keySchema(ip); err != nil {
			return nil, err
		}
		proj, err := ip.object("Projection")
		if err != nil {
			return nil, err
		}
		if ix.Projection.ProjectionType, err = proj.str("ProjectionType"); err != nil {
			return nil, err
		}
		if ix.Projection.NonKeyAttributes, err = proj.strList("NonKeyAttributes"); err != nil {
			return nil, err
		}
		out = append(out, ix)
	}
	return out, nil
}

func (b *builder) userPools() {
	b.a.UserPools = make(map[string]UserPool)
	for _, id := range b.ofType(typeUserPool) {
		b.a.UserPools[id] = UserPool{ID: id}
	}
	b.a.UserPoolClients = make(map[string]UserPoolClient)
	for _, id := range b.ofType(typeUserPoolClient) {
		p, ok := b.props(id)
		if !ok {
			continue
		}
		c := UserPoolClient{ID: id}
		// A literal ID is a pool outside the stack; that is no dangling Ref.
		if _, external := p.m["UserPoolId"].(string); !external {
			var err error
			c.UserPoolID, err = b.refTo(p, "UserPoolId", typeUserPool)
			b.fail(err)
		}
		b.a.UserPoolClients[id] = c
	}
}
