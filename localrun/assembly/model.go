package assembly

import (
	"slices"
	"time"

	"wsapi/contract"
)

// Assembly is one stack of a synthesized cloud assembly, reduced to what a
// local run of its WebSocket API needs. Maps are keyed by logical ID, except
// Routes (by route key, which is how requests select them).
//
// Values that are plain settings (types, keys, templates, names) are literal
// strings: the template must spell them out. Values that CloudFormation
// computes at deploy time (environment variables, outputs, URIs) are kept raw,
// as decoded JSON with numbers as json.Number, for a Resolver.
type Assembly struct {
	Dir   string // absolute directory of the cloud assembly
	Stack Stack

	API             API
	Stage           Stage
	Authorizers     map[string]Authorizer
	Routes          map[string]Route // by RouteKey
	Integrations    map[string]Integration
	Functions       map[string]Function
	Tables          map[string]Table
	UserPools       map[string]UserPool
	UserPoolClients map[string]UserPoolClient
	Queues          map[string]Queue
	QueuePolicies   map[string]QueuePolicy
	// EventSourceMappings are the SQS event source mappings.
	EventSourceMappings map[string]EventSourceMapping
	Parameters          map[string]Parameter
	Outputs             map[string]Output
	// ResourceTypes has every resource of the template, modelled or not,
	// so a caller can give a Ref value to those too (log groups, roles).
	ResourceTypes map[string]string
}

// Stack is the stack artifact of manifest.json.
type Stack struct {
	ArtifactID        string // key of the artifact in manifest.json
	Name              string // CloudFormation stack name (AWS::StackName)
	Account           string // "" when the stack is environment-agnostic
	Region            string // "" when the stack is environment-agnostic
	TemplateFile      string // absolute
	AssetManifestFile string // absolute; "" when the stack has no assets
}

// API is the AWS::ApiGatewayV2::Api.
type API struct {
	ID                       string
	ProtocolType             string // always WEBSOCKET
	RouteSelectionExpression string
}

// Stage is the AWS::ApiGatewayV2::Stage of the API.
type Stage struct {
	ID                   string
	StageName            string
	AutoDeploy           bool
	DefaultRouteSettings RouteSettings
	RouteSettings        map[string]RouteSettings // by route key
	StageVariables       map[string]string
}

// RouteSettings are a stage's throttling limits; nil means not set, and the
// account-level limits apply.
type RouteSettings struct {
	ThrottlingRateLimit  *float64 // requests per second
	ThrottlingBurstLimit *int
}

// Authorizer is an AWS::ApiGatewayV2::Authorizer.
type Authorizer struct {
	ID             string
	AuthorizerType string // REQUEST for WebSocket APIs
	IdentitySource []string
	AuthorizerURI  any    // raw
	FunctionID     string // the Lambda function AuthorizerURI invokes
}

// Route is an AWS::ApiGatewayV2::Route with its route responses.
type Route struct {
	ID                               string
	RouteKey                         string
	AuthorizationType                string // NONE when the template omits it
	AuthorizerID                     string // "" without an authorizer
	IntegrationID                    string // "" without a Target
	RouteResponseSelectionExpression string
	RouteResponses                   map[string]RouteResponse // by RouteResponseKey
}

// RouteResponse is an AWS::ApiGatewayV2::RouteResponse. Its presence makes a
// route two-way: what the integration returns is sent to the client.
type RouteResponse struct {
	ID               string
	RouteResponseKey string
}

// Integration is an AWS::ApiGatewayV2::Integration with its integration
// responses. IntegrationType is kept as written (AWS, AWS_PROXY, MOCK, HTTP,
// HTTP_PROXY): the local run decides what it supports.
type Integration struct {
	ID                          string
	IntegrationType             string
	IntegrationMethod           string
	IntegrationURI              any    // raw; nil for MOCK
	FunctionID                  string // the Lambda function IntegrationURI invokes; "" when it is no Lambda
	TemplateSelectionExpression string
	RequestTemplates            map[string]string
	PassthroughBehavior         string
	Timeout                     time.Duration // TimeoutInMillis; 29 s when the template omits it
	ContentHandlingStrategy     string
	IntegrationResponses        map[string]IntegrationResponse // by IntegrationResponseKey
}

// IntegrationResponse is an AWS::ApiGatewayV2::IntegrationResponse.
type IntegrationResponse struct {
	ID                          string
	IntegrationResponseKey      string
	TemplateSelectionExpression string
	ResponseTemplates           map[string]string
	ContentHandlingStrategy     string
}

// Function is an AWS::Lambda::Function.
type Function struct {
	ID            string
	Handler       string
	Runtime       string
	Architectures []string      // [x86_64] when the template omits it, as Lambda
	MemorySize    int           // MB; 128 when the template omits it, as Lambda
	Timeout       time.Duration // 3 s when the template omits it, as Lambda
	// AssetDir is the staged directory asset of the code (absolute). It is
	// "" for code that is no directory asset of the assembly (inline code,
	// container images); Load fails if the API invokes such a function.
	AssetDir      string
	Environment   map[string]any // variable → raw value, for Resolver.Env
	LoggingConfig LoggingConfig
	// Authorizer is the resource's contract.MetadataAuthorizer Metadata:
	// which of its variables hold the issuer and audience. nil without it.
	Authorizer *contract.AuthorizerMetadata
}

// LoggingConfig is a function's LoggingConfig as written; "" means unset,
// and Lambda's defaults apply.
type LoggingConfig struct {
	LogFormat           string // JSON or Text
	ApplicationLogLevel string
	SystemLogLevel      string
}

// Table is an AWS::DynamoDB::Table.
type Table struct {
	ID                     string
	KeySchema              []KeyElement
	AttributeDefinitions   []AttributeDefinition
	GlobalSecondaryIndexes []SecondaryIndex
	LocalSecondaryIndexes  []SecondaryIndex
	BillingMode            string      // as written; "" means PROVISIONED
	TimeToLive             *TimeToLive // TimeToLiveSpecification; nil when absent
}

// KeyElement is one attribute of a key schema.
type KeyElement struct {
	AttributeName string
	KeyType       string // HASH or RANGE
}

// AttributeDefinition is one key attribute's type.
type AttributeDefinition struct {
	AttributeName string
	AttributeType string // S, N or B
}

// SecondaryIndex is a global or local secondary index.
type SecondaryIndex struct {
	IndexName  string
	KeySchema  []KeyElement
	Projection Projection
}

// Projection is the attributes an index holds besides the keys.
type Projection struct {
	ProjectionType   string // KEYS_ONLY, INCLUDE or ALL
	NonKeyAttributes []string
}

// TimeToLive is a table's TimeToLiveSpecification.
type TimeToLive struct {
	AttributeName string
	Enabled       bool
}

// UserPool is an AWS::Cognito::UserPool: the tokens' issuer, when the stack
// has its own.
type UserPool struct {
	ID string
}

// UserPoolClient is an AWS::Cognito::UserPoolClient: a token audience.
type UserPoolClient struct {
	ID         string
	UserPoolID string // logical ID of its user pool
}

// Parameter is a template parameter.
type Parameter struct {
	Type    string
	Default any // raw; nil without a default
}

// Output is a template output, raw.
type Output struct {
	Description string
	Value       any
}

// Queue is an AWS::SQS::Queue, a standard queue (FIFO queues are refused).
// Omitted settings have the values CloudFormation documents as defaults
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html).
type Queue struct {
	ID string
	// QueueName is raw; nil when the template names none and
	// CloudFormation generates a name.
	QueueName                     any
	VisibilityTimeout             time.Duration // 30 s when omitted
	DelaySeconds                  int
	ReceiveMessageWaitTimeSeconds int
	MessageRetentionPeriod        int // seconds; 345600 (4 days) when omitted
	RedrivePolicy                 *RedrivePolicy
	// SqsManagedSseEnabled is nil when omitted.
	SqsManagedSseEnabled *bool
	// KmsMasterKeyID is KmsMasterKeyId, raw; nil when omitted.
	KmsMasterKeyID any
}

// RedrivePolicy is a queue's RedrivePolicy with deadLetterTargetArn
// followed to the dead-letter queue of this template it names.
type RedrivePolicy struct {
	DeadLetterQueueID string // logical ID of an AWS::SQS::Queue
	MaxReceiveCount   int
}

// QueuePolicy is an AWS::SQS::QueuePolicy: recorded, not enforced.
type QueuePolicy struct {
	ID             string
	QueueIDs       []string // logical IDs of the queues whose URLs Queues lists
	PolicyDocument any      // raw
}

// EventSourceMapping is an AWS::Lambda::EventSourceMapping of an SQS queue
// of this template; other event sources are refused. Omitted settings have
// Lambda's defaults for SQS
// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html).
type EventSourceMapping struct {
	ID         string
	QueueID    string // logical ID of the AWS::SQS::Queue EventSourceArn names
	FunctionID string // logical ID of the AWS::Lambda::Function FunctionName names
	BatchSize  int    // 10 when omitted
	// MaximumBatchingWindow is MaximumBatchingWindowInSeconds; 0 when omitted.
	MaximumBatchingWindow time.Duration
	// MaximumConcurrency is ScalingConfig.MaximumConcurrency; 0 without it.
	MaximumConcurrency    int
	FunctionResponseTypes []string
	Enabled               bool // true when omitted
}

// ReportsBatchItemFailures reports whether FunctionResponseTypes has
// ReportBatchItemFailures.
func (m EventSourceMapping) ReportsBatchItemFailures() bool {
	return slices.Contains(m.FunctionResponseTypes, ReportBatchItemFailures)
}

// ReportBatchItemFailures is the one FunctionResponseTypes value.
const ReportBatchItemFailures = "ReportBatchItemFailures"
