package stacks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
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

// NewWebSocketStack defines the whole app. It panics with every problem at
// once when props are invalid, as CDK constructs do.
func NewWebSocketStack(scope constructs.Construct, id string, props *WebSocketStackProps) awscdk.Stack {
	var p WebSocketStackProps
	if props != nil {
		p = *props
	}
	if err := p.Validate(); err != nil {
		panic(fmt.Sprintf("NewWebSocketStack %s: invalid props:\n%v", id, err))
	}
	p = p.withDefaults()

	stack := awscdk.NewStack(scope, &id, &p.StackProps)
	b := &builder{stack: stack, props: p}

	b.addTable()
	b.addIdentityProvider()
	b.addAPI()
	b.addFunctions()
	b.addAuthorizer()
	b.addRoutes()
	b.addLogRoleSetting()
	b.addStage()
	b.addOutputs()
	b.addNagSuppressions()
	return stack
}

// builder holds what one part of the stack hands to the next.
type builder struct {
	stack awscdk.Stack
	props WebSocketStackProps

	table    awsdynamodb.Table
	userPool awscognito.UserPool
	client   awscognito.UserPoolClient
	issuer   string
	audience string
	jwksURL  string

	api        awsapigatewayv2.CfnApi
	auth       awsapigatewayv2.CfnAuthorizer
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
	// unauthorizedRoutes are the routes after $connect (no authorizer).
	unauthorizedRoutes []awsapigatewayv2.CfnRoute
}

func (b *builder) addTable() {
	b.table = awsdynamodb.NewTable(b.stack, jsii.String("Connections"), &awsdynamodb.TableProps{
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
	b.userPool = awscognito.NewUserPool(b.stack, jsii.String("UserPool"), &awscognito.UserPoolProps{
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
	b.api = awsapigatewayv2.NewCfnApi(b.stack, jsii.String("WebSocketApi"), &awsapigatewayv2.CfnApiProps{
		Name:                     awscdk.Fn_Join(jsii.String("-"), &[]*string{awscdk.Aws_STACK_NAME(), jsii.String("websocket")}),
		Description:              jsii.String("WebSocket API: Lambda REQUEST authorizer and Lambda proxy integration on $connect, non-proxy Lambda integrations on the other routes"),
		ProtocolType:             jsii.String("WEBSOCKET"),
		RouteSelectionExpression: jsii.String("$request.body.action"),
	})
	b.stageName = b.props.StageName
}

// connectionsEndpoint is the https URL of the API's @connections API.
func (b *builder) connectionsEndpoint() *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("https://"), b.api.Ref(), jsii.String(".execute-api."), awscdk.Aws_REGION(),
		jsii.String("."), awscdk.Aws_URL_SUFFIX(), jsii.String("/" + b.stageName),
	})
}

// executeAPIARN is arn:{partition}:execute-api:{region}:{account}:{apiId}/{rest}.
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
	b.authorizer = b.newFunction("authorizer", "Verifies the JWT of a WebSocket $connect request", 256, 10, authEnv)
	b.connect = b.newFunction("connect", "Stores a new connection", 128, 10, map[string]string{
		contract.EnvTableName:     tableName,
		contract.EnvConnectionTTL: strconv.Itoa(int(b.props.ConnectionTTL.Seconds())),
	})
	b.disconnect = b.newFunction("disconnect", "Deletes a closed connection", 128, 10, map[string]string{
		contract.EnvTableName: tableName,
	})
	b.message = b.newFunction("message", "Delivers messages to connections and replies to the sender", 512, 25, map[string]string{
		contract.EnvTableName:           tableName,
		contract.EnvPrincipalIndexName:  contract.IndexByPrincipal,
		contract.EnvConnectionsEndpoint: *b.connectionsEndpoint(),
		contract.EnvMaxMessageBytes:     strconv.Itoa(b.props.MaxMessageBytes),
		contract.EnvMaxInFlight:         strconv.Itoa(b.props.MaxInFlight),
	})

	// Each function may call exactly what it calls, on exactly what it uses.
	tableARN := b.table.TableArn()
	b.connect.allow([]string{"dynamodb:PutItem"}, tableARN)
	b.disconnect.allow([]string{"dynamodb:DeleteItem"}, tableARN)
	b.message.allow([]string{"dynamodb:Scan", "dynamodb:DeleteItem"}, tableARN)
	b.message.allow([]string{"dynamodb:Query"},
		awscdk.Fn_Join(jsii.String(""), &[]*string{tableARN, jsii.String("/index/" + contract.IndexByPrincipal)}))
	b.message.allow([]string{"execute-api:ManageConnections"},
		b.executeAPIARN(b.stageName+"/POST/@connections/*"))
}

func (b *builder) addAuthorizer() {
	b.auth = awsapigatewayv2.NewCfnAuthorizer(b.stack, jsii.String("Authorizer"), &awsapigatewayv2.CfnAuthorizerProps{
		ApiId:          b.api.Ref(),
		AuthorizerType: jsii.String("REQUEST"),
		Name:           awscdk.Fn_Join(jsii.String("-"), &[]*string{awscdk.Aws_STACK_NAME(), jsii.String("jwt")}),
		AuthorizerUri:  lambdaInvocationURI(b.authorizer.fn),
		IdentitySource: &[]*string{jsii.String(b.props.IdentitySource)},
	})
	b.authorizer.allowInvoke("Authorizer", b.executeAPIARN("authorizers/"+*b.auth.Ref()))
}

// addRoutes wires every route to its function. $connect is a Lambda proxy
// integration: the documented way for a function to refuse the handshake is
// a statusCode outside 2xx (apigateway-websocket-api-route-keys-connect-disconnect).
// The other routes are non-proxy integrations shaped by the .vtl templates.
func (b *builder) addRoutes() {
	b.proxyRoute("Connect", contract.RouteConnect, b.connect)
	b.route("Disconnect", contract.RouteDisconnect, b.disconnect, mappingtemplates.Disconnect, false)
	b.route("SendMessage", contract.RouteSendMessage, b.message, mappingtemplates.Message, true)
	b.route("Default", contract.RouteDefault, b.message, mappingtemplates.Message, true)
}

// proxyRoute wires routeKey to fn through an AWS_PROXY integration, with no
// route response: $connect cannot send a frame anyway.
func (b *builder) proxyRoute(id, routeKey string, fn *function) {
	integration := awsapigatewayv2.NewCfnIntegration(b.stack, jsii.String(id+"Integration"), &awsapigatewayv2.CfnIntegrationProps{
		ApiId:             b.api.Ref(),
		IntegrationType:   jsii.String("AWS_PROXY"),
		IntegrationMethod: jsii.String("POST"),
		IntegrationUri:    lambdaInvocationURI(fn.fn),
		TimeoutInMillis:   jsii.Number(29000),
	})
	b.addRoute(id, routeKey, fn, integration, false)
}

// route wires routeKey to fn through a non-proxy integration whose request
// template is template.
func (b *builder) route(id, routeKey string, fn *function, template string, twoWay bool) {
	integration := awsapigatewayv2.NewCfnIntegration(b.stack, jsii.String(id+"Integration"), &awsapigatewayv2.CfnIntegrationProps{
		ApiId:                       b.api.Ref(),
		IntegrationType:             jsii.String("AWS"),
		IntegrationMethod:           jsii.String("POST"),
		IntegrationUri:              lambdaInvocationURI(fn.fn),
		TemplateSelectionExpression: jsii.String(`\$default`),
		RequestTemplates:            map[string]*string{contract.SelectionKeyDefault: jsii.String(template)},
		PassthroughBehavior:         jsii.String("NEVER"),
		TimeoutInMillis:             jsii.Number(29000),
	})
	if twoWay {
		// What the function returns goes back to the sender: the $default
		// integration response passes a successful result on, the route
		// response sends it.
		awsapigatewayv2.NewCfnIntegrationResponse(b.stack, jsii.String(id+"IntegrationResponse"), &awsapigatewayv2.CfnIntegrationResponseProps{
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
		awsapigatewayv2.NewCfnIntegrationResponse(b.stack, jsii.String(id+"FunctionErrorResponse"), &awsapigatewayv2.CfnIntegrationResponseProps{
			ApiId:                       b.api.Ref(),
			IntegrationId:               integration.Ref(),
			IntegrationResponseKey:      jsii.String(FunctionErrorResponseKey),
			TemplateSelectionExpression: jsii.String(`\$default`),
			ResponseTemplates:           map[string]*string{contract.SelectionKeyDefault: jsii.String(mappingtemplates.InternalError)},
		})
	}
	b.addRoute(id, routeKey, fn, integration, twoWay)
}

func (b *builder) addRoute(id, routeKey string, fn *function, integration awsapigatewayv2.CfnIntegration, twoWay bool) {
	routeProps := &awsapigatewayv2.CfnRouteProps{
		ApiId:             b.api.Ref(),
		RouteKey:          jsii.String(routeKey),
		AuthorizationType: jsii.String("NONE"),
		Target:            awscdk.Fn_Join(jsii.String("/"), &[]*string{jsii.String("integrations"), integration.Ref()}),
	}
	if routeKey == contract.RouteConnect {
		// WebSocket APIs authorize once, on $connect; later routes ride the
		// authorized connection.
		routeProps.AuthorizationType = jsii.String("CUSTOM")
		routeProps.AuthorizerId = b.auth.Ref()
	}
	if twoWay {
		routeProps.RouteResponseSelectionExpression = jsii.String(contract.SelectionKeyDefault)
	}
	route := awsapigatewayv2.NewCfnRoute(b.stack, jsii.String(id+"Route"), routeProps)
	if routeKey != contract.RouteConnect {
		b.unauthorizedRoutes = append(b.unauthorizedRoutes, route)
	}
	if twoWay {
		awsapigatewayv2.NewCfnRouteResponse(b.stack, jsii.String(id+"RouteResponse"), &awsapigatewayv2.CfnRouteResponseProps{
			ApiId:            b.api.Ref(),
			RouteId:          route.Ref(),
			RouteResponseKey: jsii.String(contract.SelectionKeyDefault),
		})
	}
	fn.allowInvoke(id+"Route", b.executeAPIARN(b.stageName+"/"+routeKey))
}

func (b *builder) addStage() {
	logGroup := awslogs.NewLogGroup(b.stack, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     b.props.LogRetention,
		RemovalPolicy: b.props.RemovalPolicy,
	})
	stage := awsapigatewayv2.NewCfnStage(b.stack, jsii.String("Stage"), &awsapigatewayv2.CfnStageProps{
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
		stage.Node().AddDependency(b.logRoleSetting)
	}
}

func (b *builder) addOutputs() {
	wssURL := awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("wss://"), b.api.Ref(), jsii.String(".execute-api."), awscdk.Aws_REGION(),
		jsii.String("."), awscdk.Aws_URL_SUFFIX(), jsii.String("/" + b.stageName),
	})
	b.output("WebSocketURL", wssURL, "wss URL clients connect to")
	b.output("ConnectionsEndpoint", b.connectionsEndpoint(), "API Gateway Management API endpoint (@connections)")
	b.output("TableName", b.table.TableName(), "DynamoDB table of connections")
	if b.userPool != nil {
		b.output("UserPoolId", b.userPool.UserPoolId(), "Cognito user pool that issues tokens")
		b.output("UserPoolClientId", b.client.UserPoolClientId(), "Cognito app client (the token audience)")
	}
	b.output("WscatCommand", awscdk.Fn_Join(jsii.String(""), wscatParts(wssURL, b.props.IdentitySource)),
		"Set TOKEN to a JWT, then run this to connect")
}

// wscatParts is a shell command line that connects with the token in $TOKEN,
// passed where the identity source says.
func wscatParts(wssURL *string, identitySource string) *[]*string {
	name := identitySource[strings.LastIndex(identitySource, ".")+1:]
	if strings.HasPrefix(identitySource, "route.request.header.") {
		return &[]*string{jsii.String("npx wscat -H \"" + name + ": Bearer $TOKEN\" -c \""), wssURL, jsii.String("\"")}
	}
	return &[]*string{jsii.String("npx wscat -c \""), wssURL, jsii.String("?" + name + "=$TOKEN\"")}
}

func (b *builder) output(id string, value *string, description string) {
	awscdk.NewCfnOutput(b.stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
}

// lambdaInvocationURI is the API Gateway URI that invokes fn (partition-aware).
func lambdaInvocationURI(fn awslambda.Function) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":apigateway:"), awscdk.Aws_REGION(),
		jsii.String(":lambda:path/2015-03-31/functions/"), fn.FunctionArn(), jsii.String("/invocations"),
	})
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
