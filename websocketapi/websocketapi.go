package websocketapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"wsapi/contract"
	"wsapi/mappingtemplates"
)

const (
	// FunctionErrorResponseKey selects the integration response for a
	// function error on the two-way routes: any non-empty errorMessage.
	FunctionErrorResponseKey = `/[\s\S]+/`
)

// accessLogFormat is one JSON object per API Gateway request. It names only
// variables that AWS lists for WebSocket access logs (accesslog.go keeps that
// list; an unsupported variable can make the stage fail to create), and no
// query string, header or body, so tokens never reach the log.
var accessLogFormat = `{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId",` +
	`"connectionId":"$context.connectionId","routeKey":"$context.routeKey","eventType":"$context.eventType",` +
	`"status":"$context.status","requestTime":"$context.requestTime","sourceIp":"$context.identity.sourceIp",` +
	`"authorizeError":"$context.authorize.error","authorizerError":"$context.authorizer.error",` +
	`"authorizerLatency":"$context.authorizer.latency","integrationError":"$context.integration.error",` +
	`"integrationStatus":"$context.integration.status","integrationLatency":"$context.integration.latency"}`

// NewWebSocketAPI defines the WebSocket API in scope: the API and its stage,
// the Lambda REQUEST authorizer on $connect, the connections table, the
// built-in routes ($connect, $disconnect, sendmessage, $default) and their
// Go functions, and, unless the props say the account has one, the custom
// resource that gives the account API Gateway's CloudWatch Logs role. Add
// routes of your own with AddRoute.
//
// It panics with every problem at once when props are invalid, as CDK
// constructs do. With id "Default" its resources keep the logical IDs they
// would have directly in scope (CDK hides that id from logical IDs:
// identifiers-logical-id-heuristics), which is how NewWebSocketStack stays
// compatible with stacks deployed before the construct existed.
func NewWebSocketAPI(scope constructs.Construct, id string, props *WebSocketAPIProps) *WebSocketAPI {
	var p WebSocketAPIProps
	if props != nil {
		p = *props
	}
	if err := p.Validate(); err != nil {
		panic(fmt.Sprintf("NewWebSocketAPI %s: invalid props:\n%v", id, err))
	}
	p = p.WithDefaults()
	if p.ModuleDir == "" {
		dir, err := defaultModuleDir()
		if err != nil {
			panic(fmt.Sprintf("NewWebSocketAPI %s: %v", id, err))
		}
		p.ModuleDir = dir
	}

	b := &builder{Construct: constructs.NewConstruct(scope, jsii.String(id)), props: p, routeIDs: map[string]string{}}
	b.stack = awscdk.Stack_Of(b.Construct)
	b.checkDomainRegion(id)

	b.addTable()
	b.addFanOutStorage()
	b.addIdentityProvider()
	b.addAPI()
	b.obs.namespace = b.metricsNamespace()
	b.addFunctions()
	b.addAuthorizer()
	b.addLogRoleSetting()
	b.addStage()
	b.addRoutes()
	b.addDomain()
	b.addObservability()
	b.addNagSuppressions()
	return &WebSocketAPI{b: b}
}

// builder holds what one part of the construct hands to the next.
type builder struct {
	constructs.Construct
	stack awscdk.Stack
	props WebSocketAPIProps

	table    awsdynamodb.Table
	userPool awscognito.UserPool
	client   awscognito.UserPoolClient
	issuer   string
	audience string
	jwksURL  string

	api        awsapigatewayv2.CfnApi
	auth       awsapigatewayv2.CfnAuthorizer
	stage      awsapigatewayv2.CfnStage
	stageName  string
	authorizer *function
	connect    *function
	disconnect *function
	message    *function

	// logRoleSetting is the custom resource that gives the account API
	// Gateway's CloudWatch Logs role when it has none (nil when the props
	// say the account has one).
	logRoleSetting awscdk.CustomResource
	logRoleFn      *function
	// routeIDs maps each route key to the construct id prefix of its
	// resources.
	routeIDs map[string]string

	// obs holds the metrics namespace, the alarms, their topic and the
	// dashboard.
	obs observability

	// domain is the custom domain, its mapping and alias record (domain.go).
	domain customDomain

	// fanOut is the queue, the jobs table, the fanout function and its
	// event source mapping (fanout.go).
	fanOut fanOut
}

func (b *builder) addTable() {
	b.table = awsdynamodb.NewTable(b.Construct, jsii.String("Connections"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(contract.AttrConnectionID), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		TimeToLiveAttribute: jsii.String(contract.AttrExpiresAt),
		RemovalPolicy:       b.props.RemovalPolicy,
	})
	b.table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(contract.IndexByPrincipal),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(contract.AttrPrincipalID), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType: awsdynamodb.ProjectionType_KEYS_ONLY,
	})
}

// identityProvider creates a Cognito user pool and app client unless the
// props name an external OIDC issuer.
func (b *builder) addIdentityProvider() {
	if b.props.Issuer != "" {
		b.issuer, b.audience, b.jwksURL = b.props.Issuer, b.props.Audience, b.props.JWKSURL
		return
	}
	b.userPool = awscognito.NewUserPool(b.Construct, jsii.String("UserPool"), &awscognito.UserPoolProps{
		SelfSignUpEnabled: jsii.Bool(false),
		SignInAliases:     &awscognito.SignInAliases{Username: jsii.Bool(true), Email: jsii.Bool(true)},
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength:        jsii.Number(12),
			RequireLowercase: jsii.Bool(true),
			RequireUppercase: jsii.Bool(true),
			RequireDigits:    jsii.Bool(true),
			RequireSymbols:   jsii.Bool(true),
		},
		Mfa:             awscognito.Mfa_OPTIONAL,
		MfaSecondFactor: &awscognito.MfaSecondFactor{Otp: jsii.Bool(true), Sms: jsii.Bool(false)},
		AccountRecovery: awscognito.AccountRecovery_EMAIL_ONLY,
		RemovalPolicy:   b.props.RemovalPolicy,
	})
	b.client = b.userPool.AddClient(jsii.String("CliClient"), &awscognito.UserPoolClientOptions{
		GenerateSecret:             jsii.Bool(false),
		AuthFlows:                  &awscognito.AuthFlow{UserPassword: jsii.Bool(true), UserSrp: jsii.Bool(true)},
		PreventUserExistenceErrors: jsii.Bool(true),
		EnableTokenRevocation:      jsii.Bool(true),
		AccessTokenValidity:        awscdk.Duration_Hours(jsii.Number(1)),
		IdTokenValidity:            awscdk.Duration_Hours(jsii.Number(1)),
		DisableOAuth:               jsii.Bool(true),
	})
	// ProviderURL is the issuer without its scheme.
	b.issuer = *awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("https://"), b.userPool.UserPoolProviderUrl()})
	b.audience = *b.client.UserPoolClientId()
	b.jwksURL = b.issuer + "/.well-known/jwks.json"
}

func (b *builder) addAPI() {
	b.api = awsapigatewayv2.NewCfnApi(b.Construct, jsii.String("WebSocketApi"), &awsapigatewayv2.CfnApiProps{
		Name:                     awscdk.Fn_Sub(jsii.String("${AWS::StackName}-websocket"), nil),
		Description:              jsii.String("WebSocket API: Lambda REQUEST authorizer and Lambda proxy integration on $connect, non-proxy Lambda integrations on the other routes"),
		ProtocolType:             jsii.String("WEBSOCKET"),
		RouteSelectionExpression: jsii.String("$request.body.action"),
	})
	b.stageName = b.props.StageName
}

// stageURL is the stage's URL with scheme ("wss" or "https"):
// {scheme}://{apiId}.execute-api.{region}.{urlSuffix}/{stage}.
func (b *builder) stageURL(scheme string) *string {
	return awscdk.Fn_Sub(jsii.String(scheme+"://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"+b.stageName),
		&map[string]*string{"Api": b.api.Ref()})
}

// connectionsEndpoint is the https URL of the API's @connections API.
func (b *builder) connectionsEndpoint() *string { return b.stageURL("https") }

// executeAPIARN is arn:{partition}:execute-api:{region}:{account}:{apiId}/{rest}.
// Not Stack.FormatArn: in a stack with an explicit env it writes the
// partition and region as literals, and not Fn::Sub: cdk-nag names a
// finding on an Fn::Sub with variables by its raw JSON, which the
// suppression in nag.go would then have to spell.
func (b *builder) executeAPIARN(rest string) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":execute-api:"), awscdk.Aws_REGION(),
		jsii.String(":"), awscdk.Aws_ACCOUNT_ID(), jsii.String(":"), b.api.Ref(), jsii.String("/" + rest),
	})
}

func (b *builder) addFunctions() {
	tableName := *b.table.TableName()
	authEnv := map[string]string{
		contract.EnvIssuerURL:       b.issuer,
		contract.EnvAudience:        b.audience,
		contract.EnvIdentitySource:  b.props.IdentitySource,
		contract.EnvAllowedTokenUse: b.allowedTokenUse(),
	}
	if b.jwksURL != "" {
		authEnv[contract.EnvJWKSURL] = b.jwksURL
	}
	b.authorizer = b.newFunction("authorizer", "Verifies the JWT of a WebSocket $connect request", 256, 10, authEnv, true)
	// Which variables name the issuer and audience, for tools that read the
	// template (the local run) rather than this code.
	b.authorizer.fn.Node().DefaultChild().(awscdk.CfnResource).AddMetadata(jsii.String(contract.MetadataAuthorizer), authorizerMetadata())
	b.connect = b.newFunction("connect", "Stores a new connection", 128, 10, map[string]string{
		contract.EnvTableName:     tableName,
		contract.EnvConnectionTTL: strconv.Itoa(int(b.props.ConnectionTTL.Seconds())),
	}, true)
	b.disconnect = b.newFunction("disconnect", "Deletes a closed connection", 128, 10, map[string]string{
		contract.EnvTableName: tableName,
	}, true)
	b.message = b.newFunction("message", "Delivers messages to connections and replies to the sender", 512, 25, map[string]string{
		contract.EnvTableName:           tableName,
		contract.EnvPrincipalIndexName:  contract.IndexByPrincipal,
		contract.EnvConnectionsEndpoint: *b.connectionsEndpoint(),
		contract.EnvMaxMessageBytes:     strconv.Itoa(b.props.MaxMessageBytes),
		contract.EnvMaxInFlight:         strconv.Itoa(b.props.MaxInFlight),
		contract.EnvFanOutQueueURL:      *b.fanOut.queue.QueueUrl(),
	}, true)

	// Each function may call exactly what it calls, on exactly what it uses.
	tableARN := b.table.TableArn()
	b.connect.allow([]string{"dynamodb:PutItem"}, tableARN)
	b.disconnect.allow([]string{"dynamodb:DeleteItem"}, tableARN)
	// A broadcast is one job on the fan-out queue; direct messages query
	// the principal's connections and post to them, removing gone ones.
	b.message.allow([]string{"dynamodb:DeleteItem"}, tableARN)
	b.message.allow([]string{"dynamodb:Query"},
		awscdk.Fn_Sub(jsii.String("${Table}/index/"+contract.IndexByPrincipal), &map[string]*string{"Table": tableARN}))
	b.message.allow([]string{"execute-api:ManageConnections"}, b.connectionsARN("POST"))
	b.message.allow([]string{"sqs:SendMessage"}, b.fanOut.queue.QueueArn())

	b.addFanOutFunction()
}

// connectionsARN is what execute-api:ManageConnections is granted on for
// one method of the @connections API, for every connection of this stage
// (apigateway-how-to-call-websocket-api-connections).
func (b *builder) connectionsARN(method string) *string {
	return b.executeAPIARN(b.stageName + "/" + method + "/@connections/*")
}

func (b *builder) addAuthorizer() {
	b.auth = awsapigatewayv2.NewCfnAuthorizer(b.Construct, jsii.String("Authorizer"), &awsapigatewayv2.CfnAuthorizerProps{
		ApiId:          b.api.Ref(),
		AuthorizerType: jsii.String("REQUEST"),
		Name:           awscdk.Fn_Sub(jsii.String("${AWS::StackName}-jwt"), nil),
		AuthorizerUri:  lambdaInvocationURI(b.authorizer.fn),
		IdentitySource: &[]*string{jsii.String(b.props.IdentitySource)},
	})
	b.authorizer.allowInvoke("Authorizer", b.executeAPIARN("authorizers/"+*b.auth.Ref()))
}

// addRoutes wires every built-in route to its function. $connect is a
// Lambda proxy integration: the documented way for a function to refuse the
// handshake is a statusCode outside 2xx
// (apigateway-websocket-api-route-keys-connect-disconnect). The other routes
// are non-proxy integrations shaped by the .vtl templates.
func (b *builder) addRoutes() {
	b.addRoute("Connect", contract.RouteConnect, b.connect.fn, routeShape{proxy: true})
	b.addRoute("Disconnect", contract.RouteDisconnect, b.disconnect.fn, routeShape{template: mappingtemplates.Disconnect})
	b.addRoute("SendMessage", contract.RouteSendMessage, b.message.fn, routeShape{template: mappingtemplates.Message, twoWay: true})
	b.addRoute("Default", contract.RouteDefault, b.message.fn, routeShape{template: mappingtemplates.Message, twoWay: true})
}

// routeShape is how a route reaches its function.
type routeShape struct {
	proxy    bool   // AWS_PROXY; otherwise AWS with template
	template string // the $default request template of a non-proxy integration
	twoWay   bool   // what the function returns goes back to the client
}

// addRoute wires routeKey to fn: the integration, its responses when the
// route is two-way, the route, its route response, and the permission for
// API Gateway to invoke fn from this route only. Construct ids start with
// id, as they always have, so logical IDs stay put.
func (b *builder) addRoute(id, routeKey string, fn awslambda.IFunction, shape routeShape) awsapigatewayv2.CfnRoute {
	b.routeIDs[routeKey] = id
	integrationProps := &awsapigatewayv2.CfnIntegrationProps{
		ApiId:             b.api.Ref(),
		IntegrationType:   jsii.String("AWS_PROXY"),
		IntegrationMethod: jsii.String("POST"),
		IntegrationUri:    lambdaInvocationURI(fn),
		TimeoutInMillis:   jsii.Number(29000),
	}
	if !shape.proxy {
		integrationProps.IntegrationType = jsii.String("AWS")
		integrationProps.TemplateSelectionExpression = jsii.String(`\$default`)
		integrationProps.RequestTemplates = map[string]*string{contract.SelectionKeyDefault: jsii.String(shape.template)}
		integrationProps.PassthroughBehavior = jsii.String("NEVER")
	}
	integration := awsapigatewayv2.NewCfnIntegration(b.Construct, jsii.String(id+"Integration"), integrationProps)
	if shape.twoWay && !shape.proxy {
		// What the function returns goes back to the sender: the $default
		// integration response passes a successful result on, the route
		// response sends it. A proxy integration has no integration
		// responses; the body of what the function returns is sent.
		awsapigatewayv2.NewCfnIntegrationResponse(b.Construct, jsii.String(id+"IntegrationResponse"), &awsapigatewayv2.CfnIntegrationResponseProps{
			ApiId:                  b.api.Ref(),
			IntegrationId:          integration.Ref(),
			IntegrationResponseKey: jsii.String(contract.SelectionKeyDefault),
		})
		// A function error (timeout, crash, out of memory, failed start)
		// would otherwise reach the client as Lambda's raw
		// {"errorMessage","errorType"}. For Lambda non-proxy integrations
		// API Gateway matches /regex/ keys against errorMessage
		// (websocket-api-data-transformations); [\s\S]+ matches any
		// non-empty message, whether the match is anchored or not, and
		// never a success, which has none.
		awsapigatewayv2.NewCfnIntegrationResponse(b.Construct, jsii.String(id+"FunctionErrorResponse"), &awsapigatewayv2.CfnIntegrationResponseProps{
			ApiId:                       b.api.Ref(),
			IntegrationId:               integration.Ref(),
			IntegrationResponseKey:      jsii.String(FunctionErrorResponseKey),
			TemplateSelectionExpression: jsii.String(`\$default`),
			ResponseTemplates:           map[string]*string{contract.SelectionKeyDefault: jsii.String(mappingtemplates.InternalError)},
		})
	}

	routeProps := &awsapigatewayv2.CfnRouteProps{
		ApiId:             b.api.Ref(),
		RouteKey:          jsii.String(routeKey),
		AuthorizationType: jsii.String("NONE"),
		Target:            awscdk.Fn_Sub(jsii.String("integrations/${Integration}"), &map[string]*string{"Integration": integration.Ref()}),
	}
	if routeKey == contract.RouteConnect {
		// WebSocket APIs authorize once, on $connect; later routes ride the
		// authorized connection.
		routeProps.AuthorizationType = jsii.String("CUSTOM")
		routeProps.AuthorizerId = b.auth.Ref()
	}
	if shape.twoWay {
		routeProps.RouteResponseSelectionExpression = jsii.String(contract.SelectionKeyDefault)
	}
	route := awsapigatewayv2.NewCfnRoute(b.Construct, jsii.String(id+"Route"), routeProps)
	if routeKey != contract.RouteConnect {
		suppress(route, suppression("AwsSolutions-APIG4",
			"WebSocket APIs accept an authorizer on $connect only; this route runs on a connection the JWT authorizer already admitted."))
	}
	if shape.twoWay {
		awsapigatewayv2.NewCfnRouteResponse(b.Construct, jsii.String(id+"RouteResponse"), &awsapigatewayv2.CfnRouteResponseProps{
			ApiId:            b.api.Ref(),
			RouteId:          route.Ref(),
			RouteResponseKey: jsii.String(contract.SelectionKeyDefault),
		})
	}
	// The stage deploys itself (AutoDeploy) when routes change; ordering it
	// after every route also makes its first deployment include them all.
	b.stage.Node().AddDependency(route)
	fn.AddPermission(jsii.String("InvokeFrom"+id+"Route"), &awslambda.Permission{
		Principal: awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		Action:    jsii.String("lambda:InvokeFunction"),
		SourceArn: b.executeAPIARN(b.stageName + "/" + routeKey),
	})
	return route
}

func (b *builder) addStage() {
	logGroup := awslogs.NewLogGroup(b.Construct, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     b.props.LogRetention,
		RemovalPolicy: b.props.RemovalPolicy,
	})
	b.stage = awsapigatewayv2.NewCfnStage(b.Construct, jsii.String("Stage"), &awsapigatewayv2.CfnStageProps{
		ApiId:      b.api.Ref(),
		StageName:  jsii.String(b.stageName),
		AutoDeploy: jsii.Bool(true),
		DefaultRouteSettings: &awsapigatewayv2.CfnStage_RouteSettingsProperty{
			ThrottlingRateLimit:  jsii.Number(b.props.ThrottlingRateLimit),
			ThrottlingBurstLimit: jsii.Number(b.props.ThrottlingBurstLimit),
			DataTraceEnabled:     jsii.Bool(false), // would log message bodies
		},
		AccessLogSettings: &awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
			DestinationArn: logGroup.LogGroupArn(),
			Format:         jsii.String(accessLogFormat),
		},
	})
	if b.logRoleSetting != nil {
		b.stage.Node().AddDependency(b.logRoleSetting)
	}
}

// lambdaInvocationURI is the API Gateway URI that invokes fn
// (partition-aware).
func lambdaInvocationURI(fn awslambda.IFunction) *string {
	return awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Function}/invocations"),
		&map[string]*string{"Function": fn.FunctionArn()})
}

// allowedTokenUse is the authorizer's ALLOWED_TOKEN_USE: the comma-separated
// allow-list, or "*" for no token_use check (an external issuer without a
// list).
func (b *builder) allowedTokenUse() string {
	if len(b.props.AllowedTokenUse) == 0 {
		return "*"
	}
	return strings.Join(b.props.AllowedTokenUse, ",")
}

// authorizerMetadata is contract.Authorizer as the JSON object jsii can pass
// (a Go struct would not cross as one).
func authorizerMetadata() map[string]any {
	raw, err := json.Marshal(contract.Authorizer)
	if err != nil {
		panic(err) // a struct of strings always encodes
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	return m
}
