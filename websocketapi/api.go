package websocketapi

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"wsapi/vtl"
)

// WebSocketAPI is the construct NewWebSocketAPI returns.
type WebSocketAPI struct {
	b *builder
}

// Functions are the construct's own Lambda functions.
type Functions struct {
	Authorizer awslambda.Function // verifies the JWT on $connect
	Connect    awslambda.Function // stores a new connection
	Disconnect awslambda.Function // deletes a closed connection
	Message    awslambda.Function // sendmessage and $default
	FanOut     awslambda.Function // posts broadcasts, fed by the fan-out queue
	// APIGatewayAccount backs the custom resource that sets the account's
	// CloudWatch Logs role; nil with APIGatewayCloudWatchRoleExists.
	APIGatewayAccount awslambda.Function
}

// Node is the construct's node, for dependencies, aspects and metadata.
func (w *WebSocketAPI) Node() constructs.Node { return w.b.Node() }

// Construct is the construct itself, to use as a scope.
func (w *WebSocketAPI) Construct() constructs.Construct { return w.b.Construct }

// API is the AWS::ApiGatewayV2::Api.
func (w *WebSocketAPI) API() awsapigatewayv2.CfnApi { return w.b.api }

// Stage is the API's one stage.
func (w *WebSocketAPI) Stage() awsapigatewayv2.CfnStage { return w.b.stage }

// StageName is the stage's name, part of every URL and execute-api ARN.
func (w *WebSocketAPI) StageName() string { return w.b.stageName }

// Table is the DynamoDB table of connections.
func (w *WebSocketAPI) Table() awsdynamodb.Table { return w.b.table }

// FanOutQueue is the SQS queue of broadcast jobs and shards that feeds
// the fanout function.
func (w *WebSocketAPI) FanOutQueue() awssqs.Queue { return w.b.fanOut.queue }

// FanOutDeadLetterQueue receives the jobs and shards that failed
// MaxReceiveCount times.
func (w *WebSocketAPI) FanOutDeadLetterQueue() awssqs.Queue { return w.b.fanOut.deadLetter }

// JobsTable is the DynamoDB table of broadcast totals and shard
// checkpoints.
func (w *WebSocketAPI) JobsTable() awsdynamodb.Table { return w.b.fanOut.jobs }

// FanOutEventSource is the event source mapping from FanOutQueue to the
// fanout function.
func (w *WebSocketAPI) FanOutEventSource() awslambda.CfnEventSourceMapping {
	return w.b.fanOut.mapping
}

// UserPool and UserPoolClient are the Cognito user pool that issues the
// tokens and its app client (the audience); both nil with an external
// Issuer.
func (w *WebSocketAPI) UserPool() awscognito.UserPool { return w.b.userPool }

// UserPoolClient: see UserPool.
func (w *WebSocketAPI) UserPoolClient() awscognito.UserPoolClient { return w.b.client }

// Functions are the built-in functions.
func (w *WebSocketAPI) Functions() Functions {
	f := Functions{
		Authorizer: w.b.authorizer.fn,
		Connect:    w.b.connect.fn,
		Disconnect: w.b.disconnect.fn,
		Message:    w.b.message.fn,
		FanOut:     w.b.fanOut.fn.fn,
	}
	if w.b.logRoleFn != nil {
		f.APIGatewayAccount = w.b.logRoleFn.fn
	}
	return f
}

// Architecture is the built-in functions' CPU architecture
// (LambdaArchitecture), for functions of your own that should match.
func (w *WebSocketAPI) Architecture() awslambda.Architecture { return w.b.architecture() }

// URL is the wss URL clients connect to (a token): wss://<DomainName>
// with a custom domain.
func (w *WebSocketAPI) URL() *string {
	if u := w.b.domainURL(); u != nil {
		return u
	}
	return w.b.stageURL("wss")
}

// ConnectionsEndpoint is the https endpoint of the @connections API, for
// the API Gateway Management API client (a token). It is on execute-api
// also with a custom domain, where @connections calls would need the
// mapping's base path (domain.go says why).
func (w *WebSocketAPI) ConnectionsEndpoint() *string { return w.b.connectionsEndpoint() }

// ConnectionMethods are the methods of the @connections API:
// PostToConnection, GetConnection and DeleteConnection.
var ConnectionMethods = []string{"POST", "GET", "DELETE"}

// GrantManageConnections lets grantee call the @connections API of this
// API's stage, for any connection (connection ids exist only at run time),
// with the given methods, POST (send a message) when none are given. It
// panics on a method the @connections API does not have.
func (w *WebSocketAPI) GrantManageConnections(grantee awsiam.IGrantable, methods ...string) awsiam.Grant {
	methods, err := connectionMethods(methods)
	if err != nil {
		panic("GrantManageConnections: " + err.Error())
	}
	arns := make([]*string, len(methods))
	for i, m := range methods {
		arns[i] = w.b.connectionsARN(m)
	}
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("execute-api:ManageConnections"),
		ResourceArns: &arns,
	})
}

// connectionMethods checks methods of the @connections API, POST when
// none are given, and drops repeats.
func connectionMethods(methods []string) ([]string, error) {
	if len(methods) == 0 {
		return []string{"POST"}, nil
	}
	var out, bad []string
	for _, m := range methods {
		switch {
		case !slices.Contains(ConnectionMethods, m):
			bad = append(bad, fmt.Sprintf("%q", m))
		case !slices.Contains(out, m):
			out = append(out, m)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: the @connections API has %s", strings.Join(bad, ", "), strings.Join(ConnectionMethods, ", "))
	}
	return out, nil
}

// RouteOptions configures a route added with AddRoute.
type RouteOptions struct {
	// Function handles the route; API Gateway may invoke it from this
	// route only. Required.
	Function awslambda.IFunction

	// RequestTemplate is the VTL request template of a non-proxy
	// integration, as text (go:embed a .vtl file): what it renders is the
	// function's event. Required unless Proxy; not allowed with Proxy. It
	// is parsed at synth time, so a syntax error fails the synth, not the
	// deploy.
	RequestTemplate string

	// Proxy makes the integration AWS_PROXY: the function receives API
	// Gateway's whole event (aws-lambda-go's
	// events.APIGatewayWebsocketProxyRequest) and returns
	// {"statusCode": ..., "body": ...}.
	Proxy bool

	// TwoWay sends what the function returns back to the sender. A
	// non-proxy route then gets the built-in routes' responses: the
	// function's result as is, and for a function error (timeout, crash)
	// the API's error frame instead of Lambda's error document. A proxy
	// route sends the body of the function's response.
	TwoWay bool

	// ID starts the construct ids of the route's resources ("<ID>Route",
	// "<ID>Integration", ...). Default: the route key's letters and digits,
	// the first upper-cased ("whoami" becomes "Whoami"). Changing it
	// replaces the route's resources.
	ID string
}

// maxTemplateBytes is API Gateway's mapping template size quota
// (apigateway-execution-service-websocket-limits-table: 300 KB).
const maxTemplateBytes = 300 * 1024

// AddRoute adds a route with the user's own function. Route keys are the
// values of the message's "action" field (the API's route selection
// expression is $request.body.action). It panics with every problem in
// options at once, before defining anything.
func (w *WebSocketAPI) AddRoute(routeKey string, options *RouteOptions) awsapigatewayv2.CfnRoute {
	var o RouteOptions
	if options != nil {
		o = *options
	}
	id, err := w.b.validateRoute(routeKey, o)
	if err != nil {
		panic(fmt.Sprintf("AddRoute %q: invalid options:\n%v", routeKey, err))
	}
	return w.b.addRoute(id, routeKey, o.Function, routeShape{proxy: o.Proxy, template: o.RequestTemplate, twoWay: o.TwoWay})
}

// validateRoute reports every problem of a new route at once and returns
// its construct id prefix.
func (b *builder) validateRoute(routeKey string, o RouteOptions) (string, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch {
	case routeKey == "":
		bad("route key: empty")
	case strings.HasPrefix(routeKey, "$"):
		// $connect, $disconnect and $default are API Gateway's predefined
		// routes, and the construct defines all three.
		bad("route key %q: keys starting with $ are API Gateway's predefined routes, which the construct defines", routeKey)
	case !utf8.ValidString(routeKey) || strings.IndexFunc(routeKey, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		bad("route key %q: use printable characters without spaces", routeKey)
	default:
		if _, taken := b.routeIDs[routeKey]; taken {
			bad("route key %q: the API already has this route", routeKey)
		}
	}

	id := o.ID
	if id == "" {
		id = routeID(routeKey)
	}
	switch {
	case id == "":
		bad("ID: the route key has no letters or digits to name its resources after; set ID")
	case !isConstructID(id):
		bad("ID %q: use letters and digits, starting with a letter", id)
	default:
		for key, taken := range b.routeIDs {
			if strings.EqualFold(taken, id) {
				bad("ID %q: route %q already uses it; set another ID", id, key)
			}
		}
	}

	if o.Function == nil {
		bad("Function: required")
	}
	switch {
	case o.Proxy && o.RequestTemplate != "":
		bad("RequestTemplate: a proxy integration passes API Gateway's event as is; leave it empty or set Proxy false")
	case !o.Proxy && strings.TrimSpace(o.RequestTemplate) == "":
		bad("RequestTemplate: a non-proxy route needs a request template (or set Proxy)")
	case !o.Proxy:
		if len(o.RequestTemplate) > maxTemplateBytes {
			bad("RequestTemplate: %d bytes, API Gateway's limit is %d", len(o.RequestTemplate), maxTemplateBytes)
		}
		if _, err := vtl.Parse(routeKey, o.RequestTemplate); err != nil {
			bad("RequestTemplate: %v", err)
		}
	}
	return id, errors.Join(errs...)
}

// routeID turns a route key into a construct id prefix: its ASCII letters
// and digits, the first letter upper-cased, with a leading letter.
func routeID(routeKey string) string {
	var sb strings.Builder
	for _, r := range routeKey {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			sb.WriteRune(r)
		}
	}
	id := sb.String()
	if id == "" {
		return ""
	}
	if id[0] >= '0' && id[0] <= '9' {
		id = "Route" + id
	}
	return strings.ToUpper(id[:1]) + id[1:]
}

// isConstructID accepts what routeID makes: ASCII letters and digits,
// starting with a letter, so the logical IDs derived from it are readable.
func isConstructID(id string) bool {
	if id == "" || !unicode.IsLetter(rune(id[0])) {
		return false
	}
	for _, r := range id {
		if r >= 128 || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

// MetricsNamespace is the CloudWatch namespace the built-in functions emit
// their EMF metrics into (contract.EnvMetricsNamespace): wsapi/<stack name>,
// followed by /<construct path> unless the construct's id is "Default".
func (w *WebSocketAPI) MetricsNamespace() *string { return w.b.obs.namespace }

// Alarms are the construct's CloudWatch alarms by construct id
// ("ApiIntegrationErrors", "MessageErrors", ...; the README lists them);
// empty with DisableAlarms.
func (w *WebSocketAPI) Alarms() map[string]awscloudwatch.Alarm {
	out := make(map[string]awscloudwatch.Alarm, len(w.b.obs.alarms))
	for id, a := range w.b.obs.alarms {
		out[id] = a
	}
	return out
}

// AlarmTopic is the topic the alarms notify: the props' AlarmTopic, the
// topic imported from AlarmTopicARN or the one created for AlarmEmail; nil
// when the alarms have no actions.
func (w *WebSocketAPI) AlarmTopic() awssns.ITopic { return w.b.obs.topic }

// Dashboard is the CloudWatch dashboard; nil with DisableDashboard.
func (w *WebSocketAPI) Dashboard() awscloudwatch.Dashboard { return w.b.obs.dashboard }
