package test

import (
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// tlsOnlyPolicy is the queue policy enforceSSL adds: every request
// without TLS is refused (cdk-nag AwsSolutions-SQS4).
func tlsOnlyPolicy(queueID string) map[string]any {
	return map[string]any{
		"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Action": "sqs:*", "Effect": "Deny", "Principal": map[string]any{"AWS": "*"},
			"Resource":  getAtt(queueID, "Arn"),
			"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
		}}},
		"Queues": []any{ref(queueID)},
	}
}

// TestFanOutQueues: the queue and its dead-letter queue, encrypted
// (SSE-SQS), TLS only, with the redrive and timeouts the props give.
func TestFanOutQueues(t *testing.T) {
	for _, c := range []struct {
		name                string
		s                   *synthesized
		visibility, receive int
	}{
		{"default", defaultStack(t), 360, 5},        // 6 x 60 s
		{"fan-out props", externalStack(t), 720, 3}, // 6 x 2 min
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			cdkAssert(t, "two queues, two queue policies", func() {
				s.template.ResourceCountIs(jsii.String("AWS::SQS::Queue"), jsii.Number(2))
				s.template.ResourceCountIs(jsii.String("AWS::SQS::QueuePolicy"), jsii.Number(2))
			})
			queueID, queue := s.resource(t, "AWS::SQS::Queue", "FanOutQueue")
			dlqID, dlq := s.resource(t, "AWS::SQS::Queue", "FanOutDeadLetterQueue")
			equalJSON(t, "queue", props(queue), map[string]any{
				"SqsManagedSseEnabled": true,
				"VisibilityTimeout":    c.visibility,
				"RedrivePolicy":        map[string]any{"deadLetterTargetArn": getAtt(dlqID, "Arn"), "maxReceiveCount": c.receive},
			})
			equalJSON(t, "dead-letter queue", props(dlq), map[string]any{
				"SqsManagedSseEnabled":   true,
				"MessageRetentionPeriod": 14 * 24 * 3600,
			})
			_, policy := s.resource(t, "AWS::SQS::QueuePolicy", "FanOutQueuePolicy")
			equalJSON(t, "queue policy", props(policy), tlsOnlyPolicy(queueID))
			_, dlqPolicy := s.resource(t, "AWS::SQS::QueuePolicy", "FanOutDeadLetterQueuePolicy")
			equalJSON(t, "dead-letter queue policy", props(dlqPolicy), tlsOnlyPolicy(dlqID))
		})
	}
}

// TestJobsTable: keyed by pk, TTL on expiresAt, on demand, with
// point-in-time recovery; deleted with the stack whatever RemovalPolicy
// says, as jobs live a day.
func TestJobsTable(t *testing.T) {
	_, table := defaultStack(t).resource(t, "AWS::DynamoDB::Table", "Jobs")
	equalJSON(t, "jobs table", props(table), map[string]any{
		"KeySchema":                        []any{map[string]any{"AttributeName": "pk", "KeyType": "HASH"}},
		"AttributeDefinitions":             []any{map[string]any{"AttributeName": "pk", "AttributeType": "S"}},
		"BillingMode":                      "PAY_PER_REQUEST",
		"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
		"TimeToLiveSpecification":          map[string]any{"AttributeName": "expiresAt", "Enabled": true},
	})
	equalJSON(t, "removal", []any{table["DeletionPolicy"], table["UpdateReplacePolicy"]}, []any{"Delete", "Delete"})
}

// TestFanOutEventSource: the queue feeds the fanout function with
// partial batch responses, no batching window, and the props' batch size
// and concurrency; it is created after the role's policy, which Lambda
// checks when the mapping is created.
func TestFanOutEventSource(t *testing.T) {
	for _, c := range []struct {
		name               string
		s                  *synthesized
		batch, concurrency int
	}{
		{"default", defaultStack(t), 1, 10},
		{"fan-out props", externalStack(t), 5, 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			cdkAssert(t, "one event source mapping", func() {
				s.template.ResourceCountIs(jsii.String("AWS::Lambda::EventSourceMapping"), jsii.Number(1))
			})
			queueID, _ := s.resource(t, "AWS::SQS::Queue", "FanOutQueue")
			fnID, _ := s.resource(t, "AWS::Lambda::Function", "FanoutFunction")
			roleID, _ := s.resource(t, "AWS::IAM::Role", "FanoutRole")
			policyID, _ := s.resource(t, "AWS::IAM::Policy", "FanoutRoleDefaultPolicy")
			_, mapping := s.resource(t, "AWS::Lambda::EventSourceMapping", "FanoutEventSource")
			equalJSON(t, "event source mapping", props(mapping), map[string]any{
				"EventSourceArn":                 getAtt(queueID, "Arn"),
				"FunctionName":                   ref(fnID),
				"BatchSize":                      c.batch,
				"MaximumBatchingWindowInSeconds": 0,
				"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
				"ScalingConfig":                  map[string]any{"MaximumConcurrency": c.concurrency},
			})
			equalJSON(t, "depends on", sortedJSON(mapping["DependsOn"].([]any)), sortedJSON([]any{policyID, roleID}))
		})
	}
}

// TestFanOutProps: every fan-out prop reaches the fanout function.
func TestFanOutProps(t *testing.T) {
	s := externalStack(t)
	_, fn := s.resource(t, "AWS::Lambda::Function", "FanoutFunction")
	p := props(fn)
	equalJSON(t, "memory and timeout", []any{p["MemorySize"], p["Timeout"]}, []any{1024, 120})
	env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
	for _, key := range []string{"TABLE_NAME", "JOBS_TABLE_NAME", "FANOUT_QUEUE_URL", "METRICS_NAMESPACE"} {
		delete(env, key) // references, as in the default stack (TestFunctions)
	}
	equalJSON(t, "environment", env, map[string]any{
		"CONNECTIONS_ENDPOINT":    stageURL("https", "live"),
		"FANOUT_SEGMENTS":         "8",
		"CONNECTIONS_PER_SEGMENT": "2000",
		"MAX_SEGMENTS":            "500",
		// 2,500 posts per second shared by at most 40 invocations.
		"WORKER_POSTS_PER_SECOND": "62.5",
		"WORKER_POST_BURST":       "63",
		"MAX_IN_FLIGHT":           "16",
		"JOB_TTL_SECONDS":         "21600",
		"FANOUT_PAGE_SIZE":        "250",
	})
	_, policy := s.resource(t, "AWS::IAM::Policy", "FanoutRoleDefaultPolicy")
	if !strings.Contains(asJSON(policy), "/live/POST/@connections/*") {
		t.Error("the fanout function's ManageConnections is not scoped to the configured stage")
	}
}

// TestMessageFunctionDoesNotScan: in no variant may the message function
// scan the connections table any more; broadcasts go through the queue.
func TestMessageFunctionDoesNotScan(t *testing.T) {
	for name, s := range variants(t) {
		_, policy := s.resource(t, "AWS::IAM::Policy", "MessageRoleDefaultPolicy")
		if text := asJSON(policy); strings.Contains(text, "dynamodb:Scan") || !strings.Contains(text, "sqs:SendMessage") {
			t.Errorf("%s: the message role may scan, or may not publish jobs: %s", name, text)
		}
	}
}
