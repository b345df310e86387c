package websocketapi

import (
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"wsapi/contract"
)

// Defaults for FanOutProps; each is documented on its field.
const (
	DefaultConnectionsPerSegment = 5000
	DefaultMaxSegments           = 100
	DefaultWorkerBatchSize       = 1
	DefaultWorkerMaxConcurrency  = 10
	DefaultPostsPerSecond        = 1000
	DefaultWorkerTimeout         = 60 * time.Second
	DefaultMaxReceiveCount       = 5
	DefaultJobTTL                = 24 * time.Hour
	DefaultFanOutPageSize        = 1000
	DefaultWorkerMemoryMB        = 512

	// MaxScanSegments is DynamoDB's largest TotalSegments of a parallel
	// Scan (API_Scan: TotalSegments 1 to 1,000,000).
	MaxScanSegments = 1_000_000

	// visibilityTimeoutFactor: AWS recommends a queue visibility timeout
	// of at least six times the function timeout, so that Lambda can retry
	// a batch whose invocation was throttled
	// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
	visibilityTimeoutFactor = 6
	// deadLetterRetention is SQS's longest message retention, 14 days
	// (sqs-dead-letter-queues: keep a DLQ's retention longer than the
	// source queue's).
	deadLetterRetention = 14 * 24 * time.Hour
)

// FanOutProps configure how a broadcast reaches every connection. The
// message function publishes one job per broadcast to the fan-out queue; the
// fanout function, triggered by the queue's event source mapping, splits the
// job into shards (one per DynamoDB parallel-scan segment of the connections
// table) and posts each shard's frame to its segment's connections, keeping
// progress and totals in the jobs table. The zero value of every field means
// its default.
type FanOutProps struct {
	// FanOutSegments fixes the number of segments (shards) of every
	// broadcast. Default 0: ceil(connections / ConnectionsPerSegment),
	// clamped to 1..MaxSegments, where the connection count is the table's
	// ItemCount (DescribeTable; approximate and updated about every six
	// hours, so it only sizes the work, never decides who receives).
	FanOutSegments int

	// ConnectionsPerSegment is how many connections one shard aims at when
	// FanOutSegments is 0. Default 5,000.
	ConnectionsPerSegment int

	// MaxSegments caps the computed segment count. Default 100; at most
	// 1,000,000, DynamoDB's largest TotalSegments.
	MaxSegments int

	// WorkerBatchSize is the event source mapping's BatchSize: queue
	// messages (jobs or shards) per fanout invocation. Default 1, at most
	// 10 (the largest batch without a batching window, which the mapping
	// does not use: MaximumBatchingWindowInSeconds 0).
	WorkerBatchSize int

	// WorkerMaxConcurrency is the event source mapping's
	// ScalingConfig.MaximumConcurrency: at most this many fanout
	// invocations run at a time. Default 10; 2 to 1000, the range Lambda
	// accepts
	// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
	WorkerMaxConcurrency int

	// PostsPerSecond is the share of the account's API Gateway request
	// quota that this API's fan-out may use. API Gateway throttles "per
	// account, per Region across HTTP APIs, REST APIs, WebSocket APIs, and
	// WebSocket callback APIs" (default 10,000 requests per second, 2,500
	// in some Regions; https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html),
	// and every @connections post counts. Default 1,000.
	//
	// Each fanout invocation gets PostsPerSecond / WorkerMaxConcurrency
	// (WORKER_POSTS_PER_SECOND) with a burst of one second of that
	// (WORKER_POST_BURST): the mapping never runs more than
	// WorkerMaxConcurrency invocations, so together they stay within
	// PostsPerSecond. Direct messages, which the message function posts
	// itself, and clients' own requests are outside this budget: leave
	// room for them in the quota.
	PostsPerSecond float64

	// WorkerTimeout is the fanout function's timeout. Default 60s; 1s to
	// 15m in whole seconds. The queue's visibility timeout is six times
	// it, as AWS recommends
	// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
	WorkerTimeout time.Duration

	// MaxReceiveCount is the queue's redrive maxReceiveCount: a job or
	// shard that failed this many times moves to the dead-letter queue
	// (and its alarm fires). Default 5; 1 to 1000.
	MaxReceiveCount int

	// JobTTL is how long job totals and shard checkpoints live in the jobs
	// table (time to live). Default 24h; at least as long as a message can
	// be retried (MaxReceiveCount visibility timeouts), at most 365 days.
	JobTTL time.Duration

	// FanOutPageSize is the Scan Limit of one page of a shard: the
	// connections posted to between two checkpoints. Default 1,000;
	// 1 to 10,000.
	FanOutPageSize int

	// WorkerMemoryMB is the fanout function's memory (Lambda's CPU share
	// grows with it). Default 512; 128 to 10,240.
	WorkerMemoryMB int
}

func (f FanOutProps) withDefaults() FanOutProps {
	if f.ConnectionsPerSegment == 0 {
		f.ConnectionsPerSegment = DefaultConnectionsPerSegment
	}
	if f.MaxSegments == 0 {
		f.MaxSegments = DefaultMaxSegments
	}
	if f.WorkerBatchSize == 0 {
		f.WorkerBatchSize = DefaultWorkerBatchSize
	}
	if f.WorkerMaxConcurrency == 0 {
		f.WorkerMaxConcurrency = DefaultWorkerMaxConcurrency
	}
	if f.PostsPerSecond == 0 {
		f.PostsPerSecond = DefaultPostsPerSecond
	}
	if f.WorkerTimeout == 0 {
		f.WorkerTimeout = DefaultWorkerTimeout
	}
	if f.MaxReceiveCount == 0 {
		f.MaxReceiveCount = DefaultMaxReceiveCount
	}
	if f.JobTTL == 0 {
		f.JobTTL = DefaultJobTTL
	}
	if f.FanOutPageSize == 0 {
		f.FanOutPageSize = DefaultFanOutPageSize
	}
	if f.WorkerMemoryMB == 0 {
		f.WorkerMemoryMB = DefaultWorkerMemoryMB
	}
	return f
}

// validate reports every invalid field (after defaults).
func (f FanOutProps) validate(bad func(string, ...any)) {
	if f.MaxSegments < 1 || f.MaxSegments > MaxScanSegments {
		bad("MaxSegments %d: want 1 to %d (DynamoDB's TotalSegments)", f.MaxSegments, MaxScanSegments)
	}
	if f.FanOutSegments < 0 || f.FanOutSegments > MaxScanSegments {
		bad("FanOutSegments %d: want 0 (from the table's size) or 1 to %d", f.FanOutSegments, MaxScanSegments)
	}
	if f.ConnectionsPerSegment < 1 {
		bad("ConnectionsPerSegment %d: want at least 1", f.ConnectionsPerSegment)
	}
	if f.WorkerBatchSize < 1 || f.WorkerBatchSize > 10 {
		bad("WorkerBatchSize %d: want 1 to 10", f.WorkerBatchSize)
	}
	if f.WorkerMaxConcurrency < 2 || f.WorkerMaxConcurrency > 1000 {
		bad("WorkerMaxConcurrency %d: want 2 to 1000 (the event source mapping's MaximumConcurrency)", f.WorkerMaxConcurrency)
	}
	if !(f.PostsPerSecond > 0) || math.IsInf(f.PostsPerSecond, 1) {
		bad("PostsPerSecond %v: want a positive number of requests per second", f.PostsPerSecond)
	}
	if f.WorkerTimeout < time.Second || f.WorkerTimeout > 15*time.Minute || f.WorkerTimeout%time.Second != 0 {
		bad("WorkerTimeout %s: want whole seconds from 1s to 15m (Lambda's limit)", f.WorkerTimeout)
	}
	if f.MaxReceiveCount < 1 || f.MaxReceiveCount > 1000 {
		bad("MaxReceiveCount %d: want 1 to 1000", f.MaxReceiveCount)
	}
	if retries := f.visibilityTimeout() * time.Duration(max(f.MaxReceiveCount, 1)); f.JobTTL <= 0 || f.JobTTL < retries || f.JobTTL > 365*24*time.Hour {
		bad("JobTTL %s: want from %s (MaxReceiveCount times the queue's visibility timeout, so checkpoints outlive retries) to 365 days", f.JobTTL, retries)
	}
	if f.FanOutPageSize < 1 || f.FanOutPageSize > 10000 {
		bad("FanOutPageSize %d: want 1 to 10000", f.FanOutPageSize)
	}
	if f.WorkerMemoryMB < 128 || f.WorkerMemoryMB > 10240 {
		bad("WorkerMemoryMB %d: want 128 to 10240", f.WorkerMemoryMB)
	}
}

// visibilityTimeout is the fan-out queue's visibility timeout.
func (f FanOutProps) visibilityTimeout() time.Duration {
	return visibilityTimeoutFactor * f.WorkerTimeout
}

// WorkerPostsPerSecond is one fanout invocation's share of PostsPerSecond
// (WORKER_POSTS_PER_SECOND): at most WorkerMaxConcurrency invocations run
// at a time.
func (f FanOutProps) WorkerPostsPerSecond() float64 {
	f = f.withDefaults()
	return f.PostsPerSecond / float64(f.WorkerMaxConcurrency)
}

// WorkerPostBurst is one invocation's token bucket size
// (WORKER_POST_BURST): one second of its rate, at least one post.
func (f FanOutProps) WorkerPostBurst() int {
	return max(1, int(math.Ceil(f.WorkerPostsPerSecond())))
}

// fanOut holds the fan-out resources.
type fanOut struct {
	queue      awssqs.Queue
	deadLetter awssqs.Queue
	jobs       awsdynamodb.Table
	fn         *function
	mapping    awslambda.CfnEventSourceMapping
}

// addFanOutStorage defines the fan-out queue, its dead-letter queue and the
// jobs table, which the message function needs before the fanout function
// exists.
func (b *builder) addFanOutStorage() {
	p := b.props.FanOutProps
	// Both queues are encrypted with SQS-managed keys (SSE-SQS: no key to
	// manage, and the event source mapping needs no kms:Decrypt) and
	// refuse requests without TLS: enforceSSL adds a queue policy denying
	// aws:SecureTransport false (cdk-nag AwsSolutions-SQS2, SQS4).
	b.fanOut.deadLetter = awssqs.NewQueue(b.Construct, jsii.String("FanOutDeadLetterQueue"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Seconds(jsii.Number(deadLetterRetention.Seconds())),
	})
	b.fanOut.queue = awssqs.NewQueue(b.Construct, jsii.String("FanOutQueue"), &awssqs.QueueProps{
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(p.visibilityTimeout().Seconds())),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           b.fanOut.deadLetter,
			MaxReceiveCount: jsii.Number(float64(p.MaxReceiveCount)),
		},
	})
	// Jobs are transient (a day by default, then TTL deletes them): the
	// table is destroyed with the stack whatever RemovalPolicy says, as
	// nothing in it outlives the broadcasts in flight. Point-in-time
	// recovery as on the connections table (cdk-nag AwsSolutions-DDB3).
	b.fanOut.jobs = awsdynamodb.NewTable(b.Construct, jsii.String("Jobs"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(contract.AttrJobKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		TimeToLiveAttribute: jsii.String(contract.AttrExpiresAt),
		RemovalPolicy:       awscdk.RemovalPolicy_DESTROY,
	})
}

// addFanOutFunction defines the fanout function, its exact permissions and
// the event source mapping that feeds it the queue.
func (b *builder) addFanOutFunction() {
	p := b.props.FanOutProps
	queueARN := b.fanOut.queue.QueueArn()
	f := b.newFunction(contract.FunctionFanOut, "Splits broadcast jobs into shards and posts each shard to its connections",
		float64(p.WorkerMemoryMB), p.WorkerTimeout.Seconds(), map[string]string{
			contract.EnvTableName:             *b.table.TableName(),
			contract.EnvJobsTableName:         *b.fanOut.jobs.TableName(),
			contract.EnvConnectionsEndpoint:   *b.connectionsEndpoint(),
			contract.EnvFanOutQueueURL:        *b.fanOut.queue.QueueUrl(),
			contract.EnvFanOutSegments:        strconv.Itoa(p.FanOutSegments),
			contract.EnvConnectionsPerSegment: strconv.Itoa(p.ConnectionsPerSegment),
			contract.EnvMaxSegments:           strconv.Itoa(p.MaxSegments),
			contract.EnvWorkerPostsPerSecond:  strconv.FormatFloat(p.WorkerPostsPerSecond(), 'f', -1, 64),
			contract.EnvWorkerPostBurst:       strconv.Itoa(p.WorkerPostBurst()),
			contract.EnvMaxInFlight:           strconv.Itoa(b.props.MaxInFlight),
			contract.EnvJobTTL:                strconv.Itoa(int(p.JobTTL.Seconds())),
			contract.EnvFanOutPageSize:        strconv.Itoa(p.FanOutPageSize),
		}, true)
	b.fanOut.fn = f

	// Connections: the parallel Scan of a segment, removing gone
	// connections, and the table's approximate ItemCount for the split.
	f.allow([]string{"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:DescribeTable"}, b.table.TableArn())
	// Jobs: the totals item and the checkpoints.
	f.allow([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, b.fanOut.jobs.TableArn())
	// Its own calls: enqueueing shards (SendMessageBatch is authorized as
	// sqs:SendMessage:
	// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api-actions.html)
	// and changing a message's visibility (a retry sooner or later). The
	// event source mapping polls with the function's execution role, which
	// needs ReceiveMessage, DeleteMessage and GetQueueAttributes
	// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html);
	// ChangeMessageVisibility is granted with them as CDK's SqsEventSource
	// does. IAM's policy minimization merges the two statements.
	f.allow([]string{"sqs:SendMessage", "sqs:ChangeMessageVisibility"}, queueARN)
	f.allow([]string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}, queueARN)
	f.allow([]string{"execute-api:ManageConnections"}, b.connectionsARN("POST"))

	b.fanOut.mapping = awslambda.NewCfnEventSourceMapping(b.Construct, jsii.String("FanoutEventSource"), &awslambda.CfnEventSourceMappingProps{
		EventSourceArn:                 queueARN,
		FunctionName:                   f.fn.FunctionName(),
		BatchSize:                      jsii.Number(float64(p.WorkerBatchSize)),
		MaximumBatchingWindowInSeconds: jsii.Number(0),
		FunctionResponseTypes:          jsii.Strings("ReportBatchItemFailures"),
		ScalingConfig: &awslambda.CfnEventSourceMapping_ScalingConfigProperty{
			MaximumConcurrency: jsii.Number(float64(p.WorkerMaxConcurrency)),
		},
	})
	// Lambda checks the role's SQS permissions when the mapping is
	// created ("The provided execution role does not have permissions to
	// call ReceiveMessage"): create it after the role's policy. It also
	// checks that the function's timeout is at most the queue's visibility
	// timeout (services-sqs-configure), which six times always is.
	b.fanOut.mapping.Node().AddDependency(f.role)
}
