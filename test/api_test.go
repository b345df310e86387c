package test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"wsapi/mappingtemplates"
	"wsapi/websocketapi"
)

func TestAPI(t *testing.T) {
	s := defaultStack(t)
	cdkAssert(t, "one WebSocket API", func() {
		s.template.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Api"), jsii.Number(1))
	})
	cdkAssert(t, "API protocol and route selection", func() {
		s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), map[string]any{
			"ProtocolType":             "WEBSOCKET",
			"RouteSelectionExpression": "$request.body.action",
			// The name derives from the stack, so two stacks can share an account.
			"Name": sub("${AWS::StackName}-websocket", nil),
		})
	})
}

// TestNoFixedPhysicalNames: no resource may carry a literal physical name;
// names either derive from the stack name or are left to CloudFormation.
func TestNoFixedPhysicalNames(t *testing.T) {
	nameProps := []string{"Name", "TableName", "FunctionName", "RoleName", "LogGroupName",
		"UserPoolName", "ClientName", "StageName"}
	for _, s := range variants(t) {
		for id, r := range s.json["Resources"].(map[string]any) {
			p := props(r.(map[string]any))
			for _, key := range nameProps {
				v, ok := p[key].(string)
				if !ok {
					continue
				}
				// A stage name is part of the URL, scoped to its API.
				if key == "StageName" {
					continue
				}
				// API Gateway's logging role is one per account by design:
				// every stack must name the same role, so the name is fixed.
				if key == "RoleName" && r.(map[string]any)["Type"] == "Custom::ApiGatewayCloudWatchRole" {
					continue
				}
				t.Errorf("%s has a fixed %s %q", id, key, v)
			}
		}
	}
}

func TestStage(t *testing.T) {
	s := defaultStack(t)
	_, logGroup := s.resource(t, "AWS::Logs::LogGroup", "AccessLogs")
	accessLogsID, _ := s.resource(t, "AWS::Logs::LogGroup", "AccessLogs")
	if got := props(logGroup)["RetentionInDays"]; got != float64(30) {
		t.Errorf("access log retention = %v, want 30 days", got)
	}
	cdkAssert(t, "stage settings", func() {
		s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
			"ApiId":      ref("WebSocketApi"),
			"StageName":  "prod",
			"AutoDeploy": true,
			"DefaultRouteSettings": map[string]any{
				"ThrottlingRateLimit":  100,
				"ThrottlingBurstLimit": 200,
				"DataTraceEnabled":     false,
			},
			"AccessLogSettings": map[string]any{
				"DestinationArn": getAtt(accessLogsID, "Arn"),
				"Format":         assertions.Match_AnyValue(),
			},
		})
	})

	_, stage := s.resource(t, "AWS::ApiGatewayV2::Stage", "Stage")
	format := props(stage)["AccessLogSettings"].(map[string]any)["Format"].(string)
	var fields map[string]string
	if err := json.Unmarshal([]byte(format), &fields); err != nil {
		t.Fatalf("access log format is not one JSON object: %v\n%s", err, format)
	}
	want := map[string]string{
		"requestId":          "$context.requestId",
		"connectionId":       "$context.connectionId",
		"routeKey":           "$context.routeKey",
		"eventType":          "$context.eventType",
		"status":             "$context.status",
		"authorizerError":    "$context.authorizer.error",
		"integrationError":   "$context.integration.error",
		"integrationLatency": "$context.integration.latency",
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("access log field %s = %q, want %q", k, fields[k], v)
		}
	}
	for k, v := range fields {
		lower := strings.ToLower(v)
		if strings.Contains(lower, "querystring") || strings.Contains(lower, "header") ||
			strings.Contains(lower, "token") || strings.Contains(lower, "body") {
			t.Errorf("access log field %s = %q may leak a token or body", k, v)
		}
	}

	if bad := websocketapi.UndocumentedAccessLogVariables(format); len(bad) != 0 {
		t.Errorf("access log format names variables AWS does not list for WebSocket APIs: %v", bad)
	}

	// The account's API Gateway logging role is set, when missing, by the
	// custom resource; the stage waits for it. The stack owns no
	// AWS::ApiGateway::Account and no logging role of its own.
	settingID, setting := s.resource(t, "Custom::ApiGatewayCloudWatchRole", "ApiGatewayCloudWatchRoleSetting")
	fnID, _ := s.resource(t, "AWS::Lambda::Function", "ApigwaccountFunction")
	equalJSON(t, "custom resource", props(setting), map[string]any{
		"ServiceToken": getAtt(fnID, "Arn"),
		"RoleName":     "APIGatewayPushToCloudWatchLogs",
		"RolePath":     "/",
		"PolicyARN":    sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs", nil),
	})
	if setting["DeletionPolicy"] != "Delete" {
		// Its delete handler leaves the account setting alone; retaining
		// the resource would only orphan it.
		t.Errorf("custom resource DeletionPolicy = %v, want Delete", setting["DeletionPolicy"])
	}
	// ... and for every route, so its first deployment has them all.
	equalJSON(t, "stage DependsOn", stage["DependsOn"], []any{settingID, "ConnectRoute", "DefaultRoute", "DisconnectRoute", "SendMessageRoute"})
	for _, typ := range []string{"AWS::ApiGateway::Account"} {
		if n := len(s.resources(typ)); n != 0 {
			t.Errorf("%d %s: one setting per account and region must not belong to a stack", n, typ)
		}
	}
	for id, role := range s.resources("AWS::IAM::Role") {
		if strings.Contains(asJSON(props(role)["AssumeRolePolicyDocument"]), "apigateway.amazonaws.com") {
			t.Errorf("%s is an API Gateway role of this stack; it would be orphaned or break other APIs' logs", id)
		}
	}
}

func TestAuthorizer(t *testing.T) {
	s := defaultStack(t)
	fnID, _ := s.resource(t, "AWS::Lambda::Function", "AuthorizerFunction")
	cdkAssert(t, "one authorizer", func() {
		s.template.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Authorizer"), jsii.Number(1))
	})
	cdkAssert(t, "REQUEST authorizer", func() {
		s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Authorizer"), map[string]any{
			"ApiId":          ref("WebSocketApi"),
			"AuthorizerType": "REQUEST",
			"IdentitySource": []any{"route.request.querystring.token"},
			"AuthorizerUri":  invocationURI(fnID),
			"Name":           sub("${AWS::StackName}-jwt", nil),
		})
	})
	cdkAssert(t, "header identity source when set", func() {
		externalStack(t).template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Authorizer"), map[string]any{
			"IdentitySource": []any{"route.request.header.Authorization"},
		})
	})
}

// invocationURI is how API Gateway names a Lambda function to invoke.
func invocationURI(functionID string) map[string]any {
	return sub("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Function}/invocations",
		map[string]any{"Function": getAtt(functionID, "Arn")})
}

func TestRoutesAndIntegrations(t *testing.T) {
	s := defaultStack(t)
	routes := s.resources("AWS::ApiGatewayV2::Route")
	integrations := s.resources("AWS::ApiGatewayV2::Integration")

	cases := []struct {
		key, function, template string
		proxy, twoWay           bool
	}{
		{key: "$connect", function: "ConnectFunction", proxy: true},
		{key: "$disconnect", function: "DisconnectFunction", template: mappingtemplates.Disconnect},
		{key: "sendmessage", function: "MessageFunction", template: mappingtemplates.Message, twoWay: true},
		{key: "$default", function: "MessageFunction", template: mappingtemplates.Message, twoWay: true},
	}
	if len(routes) != len(cases) {
		t.Errorf("routes: got %d, want exactly %d (%v)", len(routes), len(cases), slices.Sorted(maps.Keys(routes)))
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			var route map[string]any
			for _, r := range routes {
				if props(r)["RouteKey"] == c.key {
					route = props(r)
				}
			}
			if route == nil {
				t.Fatalf("no route %s", c.key)
			}
			if c.key == "$connect" {
				equalJSON(t, "authorization", []any{route["AuthorizationType"], route["AuthorizerId"]}, []any{"CUSTOM", ref("Authorizer")})
			} else {
				equalJSON(t, "authorization", []any{route["AuthorizationType"], route["AuthorizerId"]}, []any{"NONE", nil})
			}

			// The target names the integration; the integration names the function.
			target, _ := route["Target"].(map[string]any)
			parts, _ := target["Fn::Sub"].([]any)
			if len(parts) != 2 {
				t.Fatalf("target %s: want Fn::Sub integrations/${Integration}", asJSON(target))
			}
			integrationID, _ := parts[1].(map[string]any)["Integration"].(map[string]any)["Ref"].(string)
			equalJSON(t, "target", target, sub("integrations/${Integration}", map[string]any{"Integration": ref(integrationID)}))
			integration := props(integrations[integrationID])
			fnID, _ := s.resource(t, "AWS::Lambda::Function", c.function)
			if c.proxy {
				// $connect: the function's statusCode decides the handshake.
				equalJSON(t, "integration", integration, map[string]any{
					"ApiId":             ref("WebSocketApi"),
					"IntegrationType":   "AWS_PROXY",
					"IntegrationMethod": "POST",
					"IntegrationUri":    invocationURI(fnID),
					"TimeoutInMillis":   29000,
				})
			} else {
				equalJSON(t, "integration", integration, map[string]any{
					"ApiId":                       ref("WebSocketApi"),
					"IntegrationType":             "AWS",
					"IntegrationMethod":           "POST",
					"IntegrationUri":              invocationURI(fnID),
					"TemplateSelectionExpression": `\$default`,
					"RequestTemplates":            map[string]any{"$default": c.template},
					"PassthroughBehavior":         "NEVER",
					"TimeoutInMillis":             29000,
				})
			}

			// Two-way routes send what the function returns to the sender.
			var integrationResponses, routeResponses []map[string]any
			for _, r := range s.resources("AWS::ApiGatewayV2::IntegrationResponse") {
				if asJSON(props(r)["IntegrationId"]) == asJSON(ref(integrationID)) {
					integrationResponses = append(integrationResponses, props(r))
				}
			}
			routeID := ""
			for id, r := range routes {
				if props(r)["RouteKey"] == c.key {
					routeID = id
				}
			}
			for _, r := range s.resources("AWS::ApiGatewayV2::RouteResponse") {
				if asJSON(props(r)["RouteId"]) == asJSON(ref(routeID)) {
					routeResponses = append(routeResponses, props(r))
				}
			}
			if !c.twoWay {
				if len(integrationResponses)+len(routeResponses) != 0 || route["RouteResponseSelectionExpression"] != nil {
					t.Errorf("one-way route has responses: %v %v", integrationResponses, routeResponses)
				}
				return
			}
			equalJSON(t, "route response selection", route["RouteResponseSelectionExpression"], "$default")
			// A success passes through $default; a function error (any
			// non-empty errorMessage) becomes the internal error frame.
			equalJSON(t, "integration responses", sortedJSON(anySlice(integrationResponses)), sortedJSON([]any{
				map[string]any{"ApiId": ref("WebSocketApi"), "IntegrationId": ref(integrationID), "IntegrationResponseKey": "$default"},
				map[string]any{
					"ApiId": ref("WebSocketApi"), "IntegrationId": ref(integrationID),
					"IntegrationResponseKey":      `/[\s\S]+/`,
					"TemplateSelectionExpression": `\$default`,
					"ResponseTemplates":           map[string]any{"$default": mappingtemplates.InternalError},
				},
			}))
			equalJSON(t, "route responses", routeResponses, []any{map[string]any{
				"ApiId": ref("WebSocketApi"), "RouteId": ref(routeID), "RouteResponseKey": "$default",
			}})
		})
	}
	cdkAssert(t, "one proxy integration, for $connect", func() {
		s.template.ResourcePropertiesCountIs(jsii.String("AWS::ApiGatewayV2::Integration"),
			map[string]any{"IntegrationType": "AWS_PROXY"}, jsii.Number(1))
	})
	cdkAssert(t, "route and integration responses only for the two two-way routes", func() {
		s.template.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::IntegrationResponse"), jsii.Number(4))
		s.template.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::RouteResponse"), jsii.Number(2))
	})
}

func anySlice[T any](in []T) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}

// TestFunctionErrorKeyMatchesEveryErrorAndNoSuccess: the error key's regex
// selects any non-empty errorMessage (Lambda's timeout, crash and init
// messages among them), whether API Gateway anchors it or not, and never the
// empty errorMessage of a successful invocation.
func TestFunctionErrorKeyMatchesEveryErrorAndNoSuccess(t *testing.T) {
	key := websocketapi.FunctionErrorResponseKey
	if !strings.HasPrefix(key, "/") || !strings.HasSuffix(key, "/") {
		t.Fatalf("key %q is not a /regex/ key", key)
	}
	pattern := key[1 : len(key)-1]
	anchored := regexp.MustCompile(`^(?:` + pattern + `)$`)
	unanchored := regexp.MustCompile(pattern)
	for _, msg := range []string{
		"2026-11-28T10:00:00.000Z 5b2e Task timed out after 25.03 seconds",
		"RequestId: 5b2e Error: Runtime exited with error: signal: killed",
		"Runtime.ExitError",
		"line one\nline two",
		"x",
	} {
		if !anchored.MatchString(msg) || !unanchored.MatchString(msg) {
			t.Errorf("%s does not select errorMessage %q", key, msg)
		}
	}
	if anchored.MatchString("") || unanchored.MatchString("") {
		t.Errorf("%s selects the empty errorMessage of a success", key)
	}
}

// TestTemplatesAreTheVTLFiles reads the files themselves: what is deployed
// is byte for byte what is reviewed (and rendered by the VTL tests).
func TestTemplatesAreTheVTLFiles(t *testing.T) {
	s := defaultStack(t)
	read := func(file string) string {
		text, err := os.ReadFile(filepath.Join("..", "mappingtemplates", file))
		if err != nil {
			t.Fatal(err)
		}
		return string(text)
	}
	for prefix, file := range map[string]string{
		"DisconnectIntegration": "disconnect.vtl", "SendMessageIntegration": "message.vtl", "DefaultIntegration": "message.vtl",
	} {
		_, integration := s.resource(t, "AWS::ApiGatewayV2::Integration", prefix)
		if got := props(integration)["RequestTemplates"].(map[string]any)["$default"]; got != read(file) {
			t.Errorf("%s request template differs from mappingtemplates/%s", prefix, file)
		}
	}
	for _, prefix := range []string{"SendMessageFunctionErrorResponse", "DefaultFunctionErrorResponse"} {
		_, response := s.resource(t, "AWS::ApiGatewayV2::IntegrationResponse", prefix)
		if got := props(response)["ResponseTemplates"].(map[string]any)["$default"]; got != read("internal_error.vtl") {
			t.Errorf("%s response template differs from mappingtemplates/internal_error.vtl", prefix)
		}
	}
}
