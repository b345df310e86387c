package test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"wsapi/mappingtemplates"
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
			"Name": map[string]any{"Fn::Join": []any{"-", []any{ref("AWS::StackName"), "websocket"}}},
		})
	})
}

// TestNoFixedPhysicalNames: no resource may carry a literal physical name;
// names either derive from the stack name or are left to CloudFormation.
func TestNoFixedPhysicalNames(t *testing.T) {
	nameProps := []string{"Name", "TableName", "FunctionName", "RoleName", "LogGroupName",
		"UserPoolName", "ClientName", "StageName"}
	for _, s := range []*synthesized{defaultStack(t), externalStack(t)} {
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

	// A fresh account has no API Gateway logging role: the stack sets one,
	// and the stage waits for it.
	accountID, account := s.resource(t, "AWS::ApiGateway::Account", "ApiGatewayAccount")
	roleID, role := s.resource(t, "AWS::IAM::Role", "ApiGatewayCloudWatchRole")
	equalJSON(t, "account CloudWatch role", props(account)["CloudWatchRoleArn"], getAtt(roleID, "Arn"))
	equalJSON(t, "logging role trust", props(role)["AssumeRolePolicyDocument"].(map[string]any)["Statement"],
		[]any{map[string]any{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "apigateway.amazonaws.com"}}})
	equalJSON(t, "stage DependsOn", stage["DependsOn"], []any{accountID})
	if role["DeletionPolicy"] != "Retain" || account["DeletionPolicy"] != "Retain" {
		t.Errorf("the account-level logging role and setting must be retained (other APIs use them): role %v, account %v",
			role["DeletionPolicy"], account["DeletionPolicy"])
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
			"Name":           map[string]any{"Fn::Join": []any{"-", []any{ref("AWS::StackName"), "jwt"}}},
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
	return join("arn:", ref("AWS::Partition"), ":apigateway:", ref("AWS::Region"),
		":lambda:path/2015-03-31/functions/", getAtt(functionID, "Arn"), "/invocations")
}

func TestRoutesAndIntegrations(t *testing.T) {
	s := defaultStack(t)
	routes := s.resources("AWS::ApiGatewayV2::Route")
	integrations := s.resources("AWS::ApiGatewayV2::Integration")

	cases := []struct {
		key, function, template string
		twoWay                  bool
	}{
		{"$connect", "ConnectFunction", mappingtemplates.Connect, false},
		{"$disconnect", "DisconnectFunction", mappingtemplates.Disconnect, false},
		{"sendmessage", "MessageFunction", mappingtemplates.Message, true},
		{"$default", "MessageFunction", mappingtemplates.Message, true},
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
			parts := target["Fn::Join"].([]any)[1].([]any)
			integrationID := parts[1].(map[string]any)["Ref"].(string)
			equalJSON(t, "target", target, map[string]any{"Fn::Join": []any{"/", []any{"integrations", ref(integrationID)}}})
			integration := props(integrations[integrationID])
			fnID, _ := s.resource(t, "AWS::Lambda::Function", c.function)
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
			equalJSON(t, "integration responses", integrationResponses, []any{map[string]any{
				"ApiId": ref("WebSocketApi"), "IntegrationId": ref(integrationID), "IntegrationResponseKey": "$default",
			}})
			equalJSON(t, "route responses", routeResponses, []any{map[string]any{
				"ApiId": ref("WebSocketApi"), "RouteId": ref(routeID), "RouteResponseKey": "$default",
			}})
		})
	}
	cdkAssert(t, "no proxy integration", func() {
		s.template.ResourcePropertiesCountIs(jsii.String("AWS::ApiGatewayV2::Integration"),
			map[string]any{"IntegrationType": "AWS_PROXY"}, jsii.Number(0))
	})
	cdkAssert(t, "route and integration responses only for the two two-way routes", func() {
		s.template.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::IntegrationResponse"), jsii.Number(2))
		s.template.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::RouteResponse"), jsii.Number(2))
	})
}

// TestTemplatesAreTheVTLFiles reads the files themselves: what is deployed
// is byte for byte what is reviewed (and rendered by the VTL tests).
func TestTemplatesAreTheVTLFiles(t *testing.T) {
	s := defaultStack(t)
	for prefix, file := range map[string]string{
		"ConnectIntegration": "connect.vtl", "DisconnectIntegration": "disconnect.vtl",
		"SendMessageIntegration": "message.vtl", "DefaultIntegration": "message.vtl",
	} {
		text, err := os.ReadFile(filepath.Join("..", "mappingtemplates", file))
		if err != nil {
			t.Fatal(err)
		}
		_, integration := s.resource(t, "AWS::ApiGatewayV2::Integration", prefix)
		got := props(integration)["RequestTemplates"].(map[string]any)["$default"]
		if got != string(text) {
			t.Errorf("%s request template differs from mappingtemplates/%s", prefix, file)
		}
	}
}
