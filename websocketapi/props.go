package websocketapi

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
)

// Defaults for WebSocketAPIProps; each is documented on its field.
const (
	DefaultStageName            = "prod"
	DefaultIdentitySource       = "route.request.querystring.token"
	DefaultThrottlingRateLimit  = 100
	DefaultThrottlingBurstLimit = 200
	DefaultConnectionTTL        = 2 * time.Hour
	DefaultMaxMessageBytes      = 32 * 1024
	DefaultMaxInFlight          = 16
	DefaultLambdaArchitecture   = "arm64"
	DefaultLogRetention         = awslogs.RetentionDays_ONE_MONTH
	DefaultRemovalPolicy        = awscdk.RemovalPolicy_RETAIN

	// DefaultAPIGatewayCloudWatchRoleName is the account-wide role the
	// stack's custom resource creates when the account has no API Gateway
	// CloudWatch Logs role; every stack of the account shares it.
	DefaultAPIGatewayCloudWatchRoleName = "APIGatewayPushToCloudWatchLogs"
	DefaultAPIGatewayCloudWatchRolePath = "/"
)

// DefaultCognitoTokenUse is the token_use the authorizer accepts with the
// stack's own user pool: Cognito access tokens, which the README tells
// clients to send.
var DefaultCognitoTokenUse = []string{"access"}

// WebSocketAPIProps configures NewWebSocketAPI. The zero value of every
// field means its default.
type WebSocketAPIProps struct {
	// ModuleDir is the root of the wsapi Go module (holding lambdas/), where
	// the built-in functions are built. Default: the module's directory as
	// the go command resolves it from the working directory (this checkout,
	// a replace directive's directory or the module cache).
	ModuleDir string

	// StageName is the API stage, part of every URL. Default "prod".
	StageName string

	// IdentitySource is where the authorizer reads the token:
	// route.request.querystring.<name> (default route.request.querystring.token,
	// as browsers cannot set headers on a WebSocket) or
	// route.request.header.<name>. API Gateway answers 401 without invoking the
	// authorizer when it is missing.
	IdentitySource string

	// Issuer and Audience point the authorizer at an external OIDC issuer
	// (its `iss` and the expected `aud`, or Cognito `client_id`). Set both or
	// neither; when neither is set the stack creates a Cognito user pool and an
	// app client and uses those.
	Issuer   string
	Audience string
	// JWKSURL overrides the issuer's key set URL; by default the authorizer
	// reads it from the issuer's OIDC discovery document. Only with Issuer.
	JWKSURL string

	// AllowedTokenUse lists the token_use claim values the authorizer
	// accepts; a token without token_use is then refused. With the stack's
	// Cognito user pool it defaults to ["access"] and may only name "access"
	// and "id". With an external Issuer it sets the list; left empty, the
	// check is off (RFC 9068 access tokens carry no token_use), and the
	// audience check alone tells the API's tokens from others.
	AllowedTokenUse []string

	// ThrottlingRateLimit (requests per second, steady) and
	// ThrottlingBurstLimit are the stage's default route throttling.
	// Defaults 100 and 200.
	ThrottlingRateLimit  float64
	ThrottlingBurstLimit float64

	// APIGatewayCloudWatchRoleExists says the account already has API
	// Gateway's account-level CloudWatch Logs role in this region, and the
	// stack need not check. When false (default) a custom resource checks at
	// deploy time: if the account has no role, it creates the shared role
	// APIGatewayCloudWatchRoleName and sets it; a role already set is never
	// changed. Without any role, the stage's access logging fails to deploy.
	APIGatewayCloudWatchRoleExists bool

	// APIGatewayCloudWatchRoleName and APIGatewayCloudWatchRolePath name the
	// account-wide role created when the account has none. Defaults
	// "APIGatewayPushToCloudWatchLogs" and "/". Every stack in the account
	// must use the same name, or two roles may be created (one of them used).
	APIGatewayCloudWatchRoleName string
	APIGatewayCloudWatchRolePath string

	// ConnectionTTL is how long a connection row lives before DynamoDB's TTL
	// may delete it, in case $disconnect never ran. Default 2h, API Gateway's
	// maximum connection duration.
	ConnectionTTL time.Duration

	// MaxMessageBytes limits the UTF-8 length of a chat message. Default 32 KiB
	// (one API Gateway frame).
	MaxMessageBytes int

	// MaxInFlight bounds concurrent PostToConnection calls of one broadcast.
	// Default 16.
	MaxInFlight int

	// LambdaArchitecture is "arm64" (default) or "x86_64".
	LambdaArchitecture string

	// LogRetention applies to the access log and every function's log group.
	// Default one month.
	LogRetention awslogs.RetentionDays

	// RemovalPolicy applies to the table, the user pool and the log groups.
	// Default RETAIN: `cdk destroy` keeps the data.
	RemovalPolicy awscdk.RemovalPolicy

	// DisableTracing turns off X-Ray active tracing of the built-in
	// functions (on by default). API Gateway WebSocket APIs emit no X-Ray
	// segments of their own: traces start at the functions.
	DisableTracing bool

	// DisableAlarms leaves out the CloudWatch alarms (defined by default,
	// see AlarmSettings).
	DisableAlarms bool

	// Where the alarms send their ALARM and OK notifications; set at most
	// one. AlarmTopic is a topic of your own (library use); AlarmTopicARN
	// names an existing topic (it must let cloudwatch.amazonaws.com publish,
	// and, when encrypted, use its key); AlarmEmail creates a topic,
	// encrypted with a key of its own that CloudWatch may use, subscribing
	// the address (which must confirm the subscription). With none, the
	// alarms have no actions: they show in the console only.
	AlarmTopic    awssns.ITopic
	AlarmTopicARN string
	AlarmEmail    string

	// Alarms sets each alarm's threshold and evaluation; zero fields mean
	// DefaultAlarmSettings.
	Alarms AlarmSettings

	// DisableDashboard leaves out the CloudWatch dashboard (defined by
	// default).
	DisableDashboard bool

	// A custom domain (domain.go); without DomainName nothing of it is
	// defined. DomainName (e.g. chat.example.com, one host, no wildcard)
	// and CertificateARN (an ACM certificate for it, in the stack's Region:
	// WebSocket APIs take Regional domains only) give a Regional
	// AWS::ApiGatewayV2::DomainName with TLS 1.2, mapped at its root to the
	// stage: URL becomes wss://<DomainName>. ConnectionsEndpoint stays on
	// execute-api. A Route 53 hosted zone that holds the name, HostedZone
	// or HostedZoneID with HostedZoneName (imported), adds an alias A
	// record; without one, point the name at the domain's regional domain
	// name yourself.
	DomainName     string
	CertificateARN string
	HostedZone     awsroute53.IHostedZone
	HostedZoneID   string
	HostedZoneName string

	// How broadcasts are delivered: the fan-out queue, its fanout
	// function and the jobs table (fanout.go, FanOutProps).
	FanOutProps
}

var (
	stageNamePattern      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	tokenUsePattern       = regexp.MustCompile(`^[A-Za-z0-9_.:+-]{1,64}$`)
	roleNamePattern       = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	rolePathPattern       = regexp.MustCompile(`^/([\x21-\x7e]{0,510}/)?$`)
	identitySourcePattern = regexp.MustCompile(`^route\.request\.(header|querystring)\.[A-Za-z0-9_.~!#$%&'*+^|-]+$`)
)

// WithDefaults returns the props with every zero field set to its default.
func (p WebSocketAPIProps) WithDefaults() WebSocketAPIProps {
	if p.StageName == "" {
		p.StageName = DefaultStageName
	}
	if p.IdentitySource == "" {
		p.IdentitySource = DefaultIdentitySource
	}
	if p.ThrottlingRateLimit == 0 {
		p.ThrottlingRateLimit = DefaultThrottlingRateLimit
	}
	if p.ThrottlingBurstLimit == 0 {
		p.ThrottlingBurstLimit = DefaultThrottlingBurstLimit
	}
	if p.ConnectionTTL == 0 {
		p.ConnectionTTL = DefaultConnectionTTL
	}
	if p.MaxMessageBytes == 0 {
		p.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if p.MaxInFlight == 0 {
		p.MaxInFlight = DefaultMaxInFlight
	}
	if p.LambdaArchitecture == "" {
		p.LambdaArchitecture = DefaultLambdaArchitecture
	}
	if p.LogRetention == "" {
		p.LogRetention = DefaultLogRetention
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = DefaultRemovalPolicy
	}
	if p.AllowedTokenUse == nil && p.Issuer == "" {
		p.AllowedTokenUse = DefaultCognitoTokenUse
	}
	if p.APIGatewayCloudWatchRoleName == "" {
		p.APIGatewayCloudWatchRoleName = DefaultAPIGatewayCloudWatchRoleName
	}
	if p.APIGatewayCloudWatchRolePath == "" {
		p.APIGatewayCloudWatchRolePath = DefaultAPIGatewayCloudWatchRolePath
	}
	p.Alarms = p.Alarms.withDefaults()
	p.FanOutProps = p.FanOutProps.withDefaults()
	return p
}

// Validate reports every invalid prop at once. Zero values are valid: they
// mean the defaults.
func (p WebSocketAPIProps) Validate() error {
	p = p.WithDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !stageNamePattern.MatchString(p.StageName) {
		bad("StageName %q: use 1-128 letters, digits, '-' or '_'", p.StageName)
	}
	if !identitySourcePattern.MatchString(p.IdentitySource) {
		bad("IdentitySource %q: want route.request.querystring.<name> or route.request.header.<name>", p.IdentitySource)
	}
	if (p.Issuer == "") != (p.Audience == "") {
		bad("Issuer and Audience: set both (external OIDC issuer) or neither (Cognito user pool)")
	}
	if p.Issuer != "" {
		if u, err := url.Parse(p.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("Issuer %q: want an https URL", p.Issuer)
		}
	}
	if p.JWKSURL != "" {
		if p.Issuer == "" {
			bad("JWKSURL is only used with an external Issuer")
		}
		if u, err := url.Parse(p.JWKSURL); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("JWKSURL %q: want an https URL", p.JWKSURL)
		}
	}
	for _, use := range p.AllowedTokenUse {
		if !tokenUsePattern.MatchString(use) {
			bad("AllowedTokenUse %q: want 1-64 letters, digits or . _ : + -", use)
		} else if p.Issuer == "" && use != "access" && use != "id" {
			bad("AllowedTokenUse %q: Cognito tokens are \"access\" or \"id\"", use)
		}
	}
	if p.Issuer == "" && len(p.AllowedTokenUse) == 0 {
		bad("AllowedTokenUse: with the stack's Cognito user pool, name at least one of \"access\" and \"id\"")
	}
	if !roleNamePattern.MatchString(p.APIGatewayCloudWatchRoleName) {
		bad("APIGatewayCloudWatchRoleName %q: want an IAM role name (1-64 of letters, digits and +=,.@_-)", p.APIGatewayCloudWatchRoleName)
	}
	if !rolePathPattern.MatchString(p.APIGatewayCloudWatchRolePath) {
		bad("APIGatewayCloudWatchRolePath %q: want an IAM path, \"/\" or /.../", p.APIGatewayCloudWatchRolePath)
	}
	if p.ThrottlingRateLimit < 0 || p.ThrottlingBurstLimit < 0 {
		bad("throttling limits must not be negative")
	}
	if p.ConnectionTTL < time.Minute || p.ConnectionTTL > 24*time.Hour {
		bad("ConnectionTTL %s: want between 1m and 24h", p.ConnectionTTL)
	}
	// A reply must fit API Gateway's 128 KB message limit with its envelope.
	if p.MaxMessageBytes < 1 || p.MaxMessageBytes > 96*1024 {
		bad("MaxMessageBytes %d: want 1 to %d", p.MaxMessageBytes, 96*1024)
	}
	if p.MaxInFlight < 1 || p.MaxInFlight > 256 {
		bad("MaxInFlight %d: want 1 to 256", p.MaxInFlight)
	}
	if p.LambdaArchitecture != "arm64" && p.LambdaArchitecture != "x86_64" {
		bad("LambdaArchitecture %q: want arm64 or x86_64", p.LambdaArchitecture)
	}
	p.validateObservability(bad)
	p.validateDomain(bad)
	p.FanOutProps.validate(bad)
	return errors.Join(errs...)
}
