package test

import (
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"wsapi/mappingtemplates"
	"wsapi/websocketapi"
)

var (
	libraryOnce  sync.Once
	librarySynth *synthesized
	libraryAPI   *websocketapi.WebSocketAPI
)

// libraryTemplate is what a request template of one's own looks like.
const libraryTemplate = `{"connectionId":"$context.connectionId","principalId":"$context.authorizer.principalId"}`

// libraryStack uses the construct as a platform team would: its own
// construct id, three routes of its own (non-proxy two-way, proxy two-way,
// non-proxy one-way) and a grant to a role of its own.
func libraryStack(t *testing.T) *synthesized {
	t.Helper()
	libraryOnce.Do(func() {
		app := awscdk.NewApp(&awscdk.AppProps{Context: cdkJSONContext()})
		stack := awscdk.NewStack(app, jsii.String("Platform"), nil)
		// The platform's own alarm topic.
		topic := awssns.NewTopic(stack, jsii.String("PlatformAlarms"), &awssns.TopicProps{
			MasterKey: awskms.Alias_FromAliasName(stack, jsii.String("PlatformKey"), jsii.String("alias/platform-alarms")),
		})
		api := websocketapi.NewWebSocketAPI(stack, "Chat", &websocketapi.WebSocketAPIProps{ModuleDir: "..", AlarmTopic: topic})
		libraryAPI = api
		// The handlers' code does not matter to the template: one
		// built-in function's code stands in for them.
		handler := func(id string) awslambda.Function {
			return awslambda.NewFunction(stack, jsii.String(id), &awslambda.FunctionProps{
				Runtime: awslambda.Runtime_PROVIDED_AL2023(),
				Handler: jsii.String("bootstrap"),
				Code:    awslambda.Code_FromAsset(jsii.String("../mappingtemplates"), nil),
			})
		}
		api.AddRoute("whoami", &websocketapi.RouteOptions{Function: handler("Whoami"), RequestTemplate: libraryTemplate, TwoWay: true})
		api.AddRoute("echo", &websocketapi.RouteOptions{Function: handler("Echo"), Proxy: true, TwoWay: true})
		notify := handler("Notify")
		api.AddRoute("notify", &websocketapi.RouteOptions{Function: notify, RequestTemplate: libraryTemplate, ID: "Notifications"})
		api.GrantManageConnections(notify, "POST", "DELETE")
		role := awsiam.NewRole(stack, jsii.String("Broadcaster"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		})
		api.GrantManageConnections(role)
		template := assertions.Template_FromStack(stack, nil)
		librarySynth = &synthesized{stack: stack, template: template, json: *template.ToJSON()}
	})
	return librarySynth
}

func TestLibraryRoutes(t *testing.T) {
	s := libraryStack(t)
	routes := map[string]map[string]any{} // route key → route resource
	for _, r := range s.resources("AWS::ApiGatewayV2::Route") {
		routes[props(r)["RouteKey"].(string)] = r
	}
	if len(routes) != 7 {
		t.Errorf("%d routes, want the 4 built-in and 3 added", len(routes))
	}
	cases := []struct {
		key, id, function string
		proxy, twoWay     bool
	}{
		{key: "whoami", id: "ChatWhoami", function: "Whoami", twoWay: true},
		{key: "echo", id: "ChatEcho", function: "Echo", proxy: true, twoWay: true},
		{key: "notify", id: "ChatNotifications", function: "Notify"},
	}
	apiID, _ := s.resource(t, "AWS::ApiGatewayV2::Api", "ChatWebSocketApi")
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			routeID, route := s.resource(t, "AWS::ApiGatewayV2::Route", c.id+"Route")
			if props(route)["RouteKey"] != c.key {
				t.Fatalf("%s has route key %v", routeID, props(route)["RouteKey"])
			}
			integrationID, integration := s.resource(t, "AWS::ApiGatewayV2::Integration", c.id+"Integration")
			fnID, _ := s.resource(t, "AWS::Lambda::Function", c.function)
			equalJSON(t, "target", props(route)["Target"], sub("integrations/${Integration}", map[string]any{"Integration": ref(integrationID)}))
			equalJSON(t, "authorization", props(route)["AuthorizationType"], "NONE")
			want := map[string]any{
				"ApiId":             ref(apiID),
				"IntegrationType":   "AWS_PROXY",
				"IntegrationMethod": "POST",
				"IntegrationUri":    invocationURI(fnID),
				"TimeoutInMillis":   29000,
			}
			if !c.proxy {
				want["IntegrationType"] = "AWS"
				want["TemplateSelectionExpression"] = `\$default`
				want["RequestTemplates"] = map[string]any{"$default": libraryTemplate}
				want["PassthroughBehavior"] = "NEVER"
			}
			equalJSON(t, "integration", props(integration), want)

			// Integration responses: a non-proxy two-way route gets the
			// built-in routes' pair, a proxy or one-way route none.
			var responses []any
			for _, r := range s.resources("AWS::ApiGatewayV2::IntegrationResponse") {
				if asJSON(props(r)["IntegrationId"]) == asJSON(ref(integrationID)) {
					p := props(r)
					delete(p, "ApiId")
					delete(p, "IntegrationId")
					responses = append(responses, p)
				}
			}
			var wantResponses []any
			if c.twoWay && !c.proxy {
				wantResponses = []any{
					map[string]any{"IntegrationResponseKey": "$default"},
					map[string]any{
						"IntegrationResponseKey":      websocketapi.FunctionErrorResponseKey,
						"TemplateSelectionExpression": `\$default`,
						"ResponseTemplates":           map[string]any{"$default": mappingtemplates.InternalError},
					},
				}
			}
			equalJSON(t, "integration responses", sortedJSON(responses), sortedJSON(wantResponses))

			var routeResponses []any
			for _, r := range s.resources("AWS::ApiGatewayV2::RouteResponse") {
				if asJSON(props(r)["RouteId"]) == asJSON(ref(routeID)) {
					routeResponses = append(routeResponses, props(r)["RouteResponseKey"])
				}
			}
			if c.twoWay {
				equalJSON(t, "route response", []any{props(route)["RouteResponseSelectionExpression"], routeResponses}, []any{"$default", []any{"$default"}})
			} else {
				equalJSON(t, "route response", []any{props(route)["RouteResponseSelectionExpression"], routeResponses}, []any{nil, nil})
			}

			// API Gateway may invoke the function from this route only.
			var sources []any
			for _, perm := range s.resources("AWS::Lambda::Permission") {
				if asJSON(props(perm)["FunctionName"]) == asJSON(getAtt(fnID, "Arn")) {
					sources = append(sources, props(perm)["SourceArn"])
				}
			}
			equalJSON(t, "invoke permissions", sources, []any{join("arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":",
				ref("AWS::AccountId"), ":", ref(apiID), "/prod/"+c.key)})

			// The stage's first deployment waits for the route.
			_, stage := s.resource(t, "AWS::ApiGatewayV2::Stage", "ChatStage")
			if !strings.Contains(asJSON(stage["DependsOn"]), `"`+routeID+`"`) {
				t.Errorf("stage DependsOn %v, without %s", stage["DependsOn"], routeID)
			}
		})
	}
}

func TestLibraryGrantManageConnections(t *testing.T) {
	s := libraryStack(t)
	apiID, _ := s.resource(t, "AWS::ApiGatewayV2::Api", "ChatWebSocketApi")
	connections := func(method string) any {
		return join("arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":",
			ref("AWS::AccountId"), ":", ref(apiID), "/prod/"+method+"/@connections/*")
	}
	cases := []struct {
		policy string
		want   []any
	}{
		{policy: "NotifyServiceRoleDefaultPolicy", want: []any{connections("POST"), connections("DELETE")}},
		{policy: "BroadcasterDefaultPolicy", want: []any{connections("POST")}},
	}
	for _, c := range cases {
		_, policy := s.resource(t, "AWS::IAM::Policy", c.policy)
		statements := props(policy)["PolicyDocument"].(map[string]any)["Statement"].([]any)
		var got []any
		for _, st := range statements {
			st := st.(map[string]any)
			if st["Action"] == "execute-api:ManageConnections" && st["Effect"] == "Allow" && len(st) == 3 {
				resources, isList := st["Resource"].([]any)
				if !isList {
					resources = []any{st["Resource"]}
				}
				got = append(got, resources...)
			} else if asJSON(st) != "" && strings.Contains(asJSON(st), "execute-api") {
				t.Errorf("%s: unexpected statement %s", c.policy, asJSON(st))
			}
		}
		equalJSON(t, c.policy, sortedJSON(got), sortedJSON(c.want))
	}
}

// TestLibraryLogicalIDs: under another construct id, every resource is
// named after it, so two APIs can share a stack.
func TestLibraryLogicalIDs(t *testing.T) {
	s := libraryStack(t)
	own := map[string]bool{"Whoami": true, "Echo": true, "Notify": true, "Broadcaster": true, "PlatformAlarms": true, "CDKMetadata": true}
	for id, r := range s.json["Resources"].(map[string]any) {
		if strings.HasPrefix(id, "Chat") {
			continue
		}
		isOwn := false
		for prefix := range own {
			isOwn = isOwn || strings.HasPrefix(id, prefix)
		}
		if !isOwn {
			t.Errorf("%s (%s) is not named after the construct", id, r.(map[string]any)["Type"])
		}
	}
}
