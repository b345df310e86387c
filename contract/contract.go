// Package contract is the one place where the names shared by the stack
// (stacks), the functions (lambdas) and the local run (localrun, cmd) are
// spelled: the functions' environment variable names, the API's route keys
// and its one action, the connections table's attribute and index names, and
// the authorizer's context keys.
//
// Each of these strings is written here once and imported everywhere else,
// so the stack cannot set a variable that a function does not read, nor a
// function query an index that the stack does not create. The package is a
// leaf: constants only, no imports of the CDK or the AWS SDK.
//
// Go struct tags cannot name a constant, so JSON tags such as
// `json:"connectionId"` in event types still spell their key; so do log field
// names and the API Gateway $context variables, which are not part of this
// contract.
package contract

// Route keys of the API. sendmessage is selected by
// {"action":"sendmessage"}; anything else falls to $default.
const (
	RouteConnect     = "$connect"
	RouteDisconnect  = "$disconnect"
	RouteSendMessage = "sendmessage"
	RouteDefault     = "$default"

	// ActionSendMessage is the "action" value that selects RouteSendMessage.
	ActionSendMessage = RouteSendMessage

	// SelectionKeyDefault is API Gateway's catch-all selection key: of a
	// request template, an integration response and a route response.
	SelectionKeyDefault = "$default"
)

// Attribute and index names of the connections table.
const (
	AttrConnectionID = "connectionId" // partition key
	AttrPrincipalID  = "principalId"  // partition key of IndexByPrincipal
	AttrConnectedAt  = "connectedAt"
	AttrExpiresAt    = "expiresAt" // time-to-live attribute

	// IndexByPrincipal is the table's index by principal (direct messages).
	IndexByPrincipal = "byPrincipal"
)

// Authorizer context keys: what the authorizer returns and the functions
// read from requestContext.authorizer. The mapping templates rely on every
// key being present, "" when the token lacks the claim.
const (
	AuthContextPrincipalID = "principalId"
	AuthContextSub         = "sub"
	AuthContextUsername    = "username"
	AuthContextEmail       = "email"
	AuthContextScope       = "scope"
)

// Environment variables of the authorizer function.
const (
	EnvIssuerURL       = "ISSUER_URL"
	EnvAudience        = "AUDIENCE"
	EnvJWKSURL         = "JWKS_URL"
	EnvIdentitySource  = "IDENTITY_SOURCE"
	EnvAllowedTokenUse = "ALLOWED_TOKEN_USE"
)

// Environment variables of the connect, disconnect and message functions.
const (
	EnvTableName           = "TABLE_NAME"             // connect, disconnect, message
	EnvConnectionTTL       = "CONNECTION_TTL_SECONDS" // connect
	EnvPrincipalIndexName  = "PRINCIPAL_INDEX_NAME"   // message
	EnvConnectionsEndpoint = "CONNECTIONS_ENDPOINT"   // message
	EnvMaxMessageBytes     = "MAX_MESSAGE_BYTES"      // message
	EnvMaxInFlight         = "MAX_IN_FLIGHT"          // message
)

// MetadataAuthorizer is the CloudFormation Metadata key the construct puts
// on the authorizer function's resource. Its value, an AuthorizerMetadata,
// names the function's environment variables, so a tool that reads the
// template (the local run) finds the issuer and audience without knowing
// this app. Metadata is not a property: adding it replaces nothing.
const MetadataAuthorizer = "wsapi:authorizer"

// AuthorizerMetadata is the value of MetadataAuthorizer.
type AuthorizerMetadata struct {
	// IssuerVariable holds the issuer URL (the tokens' iss).
	IssuerVariable string `json:"issuerVariable"`
	// AudienceVariable holds the audience the tokens must name.
	AudienceVariable string `json:"audienceVariable"`
	// JWKSVariable, when set, holds the key set URL that overrides the
	// issuer's discovery document.
	JWKSVariable string `json:"jwksVariable"`
}

// Authorizer is this app's AuthorizerMetadata.
var Authorizer = AuthorizerMetadata{
	IssuerVariable:   EnvIssuerURL,
	AudienceVariable: EnvAudience,
	JWKSVariable:     EnvJWKSURL,
}

// Metrics: what the functions emit as CloudWatch embedded metric format
// (EMF) records in their logs, and what the stack's alarms and dashboard
// read. Every record has the dimension DimensionFunction (a FunctionX
// value); refusals also carry DimensionReason, one of the authorizer's
// fixed refusal reasons. No connection id, principal or other unbounded
// value is ever a dimension.
const (
	// EnvMetricsNamespace is the CloudWatch namespace every function
	// emits into; the stack sets one per stack, so stacks do not mix.
	EnvMetricsNamespace = "METRICS_NAMESPACE"

	DimensionFunction = "Function"
	DimensionReason   = "Reason"

	FunctionAuthorizer = "authorizer"
	FunctionConnect    = "connect"
	FunctionDisconnect = "disconnect"
	FunctionMessage    = "message"

	// Message function, one record per invocation.
	MetricDelivered      = "Delivered"      // Count: frames posted
	MetricStale          = "Stale"          // Count: 410 Gone, rows removed
	MetricPostFailed     = "PostFailed"     // Count: posts that failed otherwise
	MetricRecipients     = "Recipients"     // Count: connections listed for the message
	MetricFanOutDuration = "FanOutDuration" // Milliseconds: listing and posting
	MetricFrameBytes     = "FrameBytes"     // Bytes: the frame sent to each recipient

	// Authorizer, one record per invocation.
	MetricAuthAccepted = "AuthAccepted" // Count
	MetricAuthRefused  = "AuthRefused"  // Count; also by DimensionReason

	// Connect and disconnect, one record per invocation.
	MetricConnected        = "Connected"        // Count: row stored
	MetricConnectFailed    = "ConnectFailed"    // Count: handshake refused (500)
	MetricDisconnected     = "Disconnected"     // Count: row deleted
	MetricDisconnectFailed = "DisconnectFailed" // Count
)

// Fan-out: a broadcast is one job message on the fan-out queue; a worker
// (the fanout function) splits it into shards, one per DynamoDB parallel
// scan segment of the connections table, and posts each shard's frame to
// its segment's connections. Progress and totals live in the jobs table.
const (
	FunctionFanOut = "fanout"

	// Environment variables of the message function (the queue) and of
	// the fanout function (all of them).
	EnvFanOutQueueURL        = "FANOUT_QUEUE_URL"        // message, fanout
	EnvJobsTableName         = "JOBS_TABLE_NAME"         // fanout
	EnvFanOutSegments        = "FANOUT_SEGMENTS"         // fanout: fixed segment count; 0 = from the table's size
	EnvConnectionsPerSegment = "CONNECTIONS_PER_SEGMENT" // fanout: with FANOUT_SEGMENTS=0
	EnvMaxSegments           = "MAX_SEGMENTS"            // fanout: with FANOUT_SEGMENTS=0
	EnvWorkerPostsPerSecond  = "WORKER_POSTS_PER_SECOND" // fanout: this worker's share of the post quota
	EnvWorkerPostBurst       = "WORKER_POST_BURST"       // fanout
	EnvJobTTL                = "JOB_TTL_SECONDS"         // fanout: how long job items live
	EnvFanOutPageSize        = "FANOUT_PAGE_SIZE"        // fanout: Scan Limit per page
	// EnvFanOutCPUProfile is never set by the stack: a local benchmark
	// sets it (a path prefix) to have the fanout function write CPU
	// profiles of itself.
	EnvFanOutCPUProfile = "WSAPI_FANOUT_CPU_PROFILE"

	// Attribute names of the jobs table. One partition key, no sort key:
	// a job's totals item has key "<job id>", a shard's checkpoint item
	// "<job id>#<segment>".
	AttrJobKey         = "pk"
	AttrJobDelivered   = "delivered"
	AttrJobStale       = "stale"
	AttrJobFailed      = "failed"
	AttrJobShardsDone  = "shardsDone"
	AttrJobTotalShards = "totalShards"  // the segment count the split chose, stored once
	AttrJobSegments    = "segmentsDone" // number set: the segments already added
	AttrJobResumeKey   = "resumeKey"    // checkpoint: the scan key to resume after
	AttrJobFinished    = "finished"     // checkpoint: the segment has no pages left
	// The jobs table's time-to-live attribute is AttrExpiresAt.

	// Frame types the fan-out adds: the delivery report to the sender.
	FrameTypeDelivery = "delivery"
	// FrameTypeMessage is the type of the frame a broadcast or direct
	// message reaches its recipients in (each carries the message "id");
	// clients such as cmd/wsbench tell it from acks and reports.
	FrameTypeMessage = "message"

	// Metrics of the fanout function, one record per shard (and per job
	// split); Delivered, Stale and PostFailed are shared with the message
	// function and told apart by DimensionFunction.
	MetricPostThrottled = "PostThrottled" // Count: throttled post attempts (429), each retried or failed
	MetricShardDuration = "ShardDuration" // Milliseconds: one shard, listing and posting
	MetricJobShards     = "JobShards"     // Count: segments a job was split into
)
