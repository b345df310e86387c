package assembly

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The fan-out resources of testdata/fanout/resources.json are written as
// CDK renders an SQS queue with a dead-letter queue, a queue policy and an
// SqsEventSource; fanOutFixture adds them to the cognito fixture, the
// function's Code being the message function's (an asset of the fixture).
const (
	dlqID      = "FanOutDeadLetterQueue1A2B3C4D"
	queueID    = "FanOutQueue5E6F7A8B"
	namedID    = "NamedQueue9C0D1E2F"
	policyID   = "FanOutQueuePolicy3A4B5C6D"
	fanOutFnID = "FanOutFunction7E8F9A0B"
	esmID      = "FanOutFunctionSqsEventSourceWebSocketApiFanOutQueue1C2D3E4F"
)

func fanOutFixture(t *testing.T, edit func(tmpl map[string]any)) string {
	t.Helper()
	dir := copyFixture(t, "cognito")
	data, err := os.ReadFile(filepath.Join("testdata", "fanout", "resources.json"))
	if err != nil {
		t.Fatal(err)
	}
	var extra map[string]any
	if err := json.Unmarshal(data, &extra); err != nil {
		t.Fatal(err)
	}
	editJSON(t, filepath.Join(dir, "WebSocketApi.template.json"), func(tmpl map[string]any) {
		for id, r := range extra {
			resources(tmpl)[id] = r
		}
		properties(tmpl, fanOutFnID)["Code"] = deepCopy(t, properties(tmpl, "MessageFunction5E234045")["Code"])
		if edit != nil {
			edit(tmpl)
		}
	})
	return dir
}

func TestLoadFanOut(t *testing.T) {
	a, err := Load(fanOutFixture(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	wantQueues := map[string]Queue{
		dlqID: {ID: dlqID, VisibilityTimeout: 30 * time.Second, MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: &yes},
		queueID: {
			ID: queueID, VisibilityTimeout: 180 * time.Second, MessageRetentionPeriod: 345600, SqsManagedSseEnabled: &yes,
			RedrivePolicy: &RedrivePolicy{DeadLetterQueueID: dlqID, MaxReceiveCount: 5},
		},
		namedID: {
			ID: namedID, QueueName: join("-", ref("AWS::StackName"), "named"), VisibilityTimeout: 30 * time.Second,
			DelaySeconds: 5, ReceiveMessageWaitTimeSeconds: 20, MessageRetentionPeriod: 345600, KmsMasterKeyID: "alias/aws/sqs",
		},
	}
	if diff := cmp.Diff(wantQueues, a.Queues); diff != "" {
		t.Errorf("Queues (-want +got):\n%s", diff)
	}
	wantMappings := map[string]EventSourceMapping{esmID: {
		ID: esmID, QueueID: queueID, FunctionID: fanOutFnID, BatchSize: 10, MaximumBatchingWindow: time.Second,
		MaximumConcurrency: 4, FunctionResponseTypes: []string{ReportBatchItemFailures}, Enabled: true,
	}}
	if diff := cmp.Diff(wantMappings, a.EventSourceMappings); diff != "" {
		t.Errorf("EventSourceMappings (-want +got):\n%s", diff)
	}
	if !a.EventSourceMappings[esmID].ReportsBatchItemFailures() {
		t.Error("ReportsBatchItemFailures() = false")
	}
	policy := a.QueuePolicies[policyID]
	if policy.ID != policyID || len(policy.QueueIDs) != 1 || policy.QueueIDs[0] != queueID || policy.PolicyDocument == nil {
		t.Errorf("QueuePolicies[%s] = %+v", policyID, policy)
	}
	fn := a.Functions[fanOutFnID]
	if fn.Timeout != 30*time.Second || fn.AssetDir == "" {
		t.Errorf("function %s: timeout %s, asset %q", fanOutFnID, fn.Timeout, fn.AssetDir)
	}
}

func TestLoadFanOutDefaults(t *testing.T) {
	a, err := Load(fanOutFixture(t, func(tmpl map[string]any) {
		p := properties(tmpl, esmID)
		for _, k := range []string{"BatchSize", "MaximumBatchingWindowInSeconds", "ScalingConfig", "FunctionResponseTypes"} {
			delete(p, k)
		}
		p["Enabled"] = "false"
		p["FunctionName"] = getAtt(fanOutFnID, "Arn")
		q := properties(tmpl, queueID)
		delete(q, "RedrivePolicy")
		delete(q, "VisibilityTimeout")
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := EventSourceMapping{ID: esmID, QueueID: queueID, FunctionID: fanOutFnID, BatchSize: 10}
	if diff := cmp.Diff(want, a.EventSourceMappings[esmID]); diff != "" {
		t.Errorf("mapping (-want +got):\n%s", diff)
	}
	if a.EventSourceMappings[esmID].ReportsBatchItemFailures() {
		t.Error("ReportsBatchItemFailures() = true without FunctionResponseTypes")
	}
	if q := a.Queues[queueID]; q.VisibilityTimeout != 30*time.Second || q.RedrivePolicy != nil {
		t.Errorf("queue defaults: %s, %+v", q.VisibilityTimeout, q.RedrivePolicy)
	}
}

func TestLoadFanOutErrors(t *testing.T) {
	at := func(id, rest string) string { return "Resources." + id + ".Properties." + rest }
	tests := []struct {
		name string
		edit func(tmpl map[string]any)
		want []string
	}{
		{
			"FIFO queue",
			func(tmpl map[string]any) { properties(tmpl, queueID)["FifoQueue"] = true },
			[]string{at(queueID, "FifoQueue") + ": FIFO queues are not emulated"},
		},
		{
			"FIFO name",
			func(tmpl map[string]any) { properties(tmpl, namedID)["QueueName"] = "jobs.fifo" },
			[]string{at(namedID, "QueueName") + `: "jobs.fifo": FIFO queues are not emulated`},
		},
		{
			"unknown queue property",
			func(tmpl map[string]any) { properties(tmpl, queueID)["Bogus"] = 1 },
			[]string{at(queueID, "Bogus") + ": not emulated by the local queue"},
		},
		{
			"dead-letter target not a queue of the template",
			func(tmpl map[string]any) {
				properties(tmpl, queueID)["RedrivePolicy"] = map[string]any{
					"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:elsewhere", "maxReceiveCount": 5,
				}
			},
			[]string{at(queueID, "RedrivePolicy.deadLetterTargetArn") + `: "arn:aws:sqs:us-east-1:123456789012:elsewhere" is not Fn::GetAtt <AWS::SQS::Queue of this template>.Arn`},
		},
		{
			"dead-letter target a table",
			func(tmpl map[string]any) {
				properties(tmpl, queueID)["RedrivePolicy"] = map[string]any{
					"deadLetterTargetArn": getAtt("Connections827CEF2F", "Arn"), "maxReceiveCount": 5,
				}
			},
			[]string{at(queueID, "RedrivePolicy.deadLetterTargetArn") + ": Fn::GetAtt Connections827CEF2F.Arn: is AWS::DynamoDB::Table, not AWS::SQS::Queue"},
		},
		{
			"redrive policy without maxReceiveCount",
			func(tmpl map[string]any) {
				delete(properties(tmpl, queueID)["RedrivePolicy"].(map[string]any), "maxReceiveCount")
			},
			[]string{at(queueID, "RedrivePolicy.maxReceiveCount") + ": missing"},
		},
		{
			"redrive policy text that is no JSON",
			func(tmpl map[string]any) { properties(tmpl, queueID)["RedrivePolicy"] = "{" },
			[]string{at(queueID, "RedrivePolicy") + ": not JSON"},
		},
		{
			"dead-letter queues in a cycle",
			func(tmpl map[string]any) {
				properties(tmpl, dlqID)["RedrivePolicy"] = map[string]any{"deadLetterTargetArn": getAtt(queueID, "Arn"), "maxReceiveCount": 1}
			},
			[]string{"Resources." + dlqID + ".Properties.RedrivePolicy: the dead-letter queues form a cycle"},
		},
		{
			"queue policy of no queue of the template",
			func(tmpl map[string]any) {
				properties(tmpl, policyID)["Queues"] = []any{"https://sqs.us-east-1.amazonaws.com/1/x"}
			},
			[]string{at(policyID, "Queues[0]") + ": expected a Ref to an AWS::SQS::Queue of this template, got a string"},
		},
		{
			"filter criteria",
			func(tmpl map[string]any) {
				properties(tmpl, esmID)["FilterCriteria"] = map[string]any{"Filters": []any{map[string]any{"Pattern": "{}"}}}
			},
			[]string{at(esmID, "FilterCriteria") + ": event filtering is not emulated"},
		},
		{
			"stream setting",
			func(tmpl map[string]any) { properties(tmpl, esmID)["StartingPosition"] = "LATEST" },
			[]string{at(esmID, "StartingPosition") + ": not emulated for SQS event sources"},
		},
		{
			"event source other than a queue",
			func(tmpl map[string]any) {
				properties(tmpl, esmID)["EventSourceArn"] = "arn:aws:kinesis:us-east-1:123456789012:stream/s"
			},
			[]string{at(esmID, "EventSourceArn") + `: "arn:aws:kinesis:us-east-1:123456789012:stream/s" is not Fn::GetAtt <AWS::SQS::Queue of this template>.Arn (only SQS queues of this template are emulated as event sources)`},
		},
		{
			"no event source",
			func(tmpl map[string]any) { delete(properties(tmpl, esmID), "EventSourceArn") },
			[]string{at(esmID, "EventSourceArn") + ": missing"},
		},
		{
			"function of no asset",
			func(tmpl map[string]any) {
				properties(tmpl, fanOutFnID)["Code"] = map[string]any{"ZipFile": "exports.handler = async () => {}"}
			},
			[]string{at(esmID, "FunctionName") + ": function " + fanOutFnID + " has no directory asset in the assembly to run"},
		},
		{
			"function name not of the template",
			func(tmpl map[string]any) { properties(tmpl, esmID)["FunctionName"] = "elsewhere" },
			[]string{at(esmID, "FunctionName") + `: "elsewhere" is not a Ref to a function of this template`},
		},
		{
			"function name a queue",
			func(tmpl map[string]any) { properties(tmpl, esmID)["FunctionName"] = ref(queueID) },
			[]string{at(esmID, "FunctionName") + ": " + queueID + ": is AWS::SQS::Queue, not AWS::Lambda::Function"},
		},
		{
			"unknown response type",
			func(tmpl map[string]any) { properties(tmpl, esmID)["FunctionResponseTypes"] = []any{"Everything"} },
			[]string{at(esmID, "FunctionResponseTypes[0]") + `: "Everything", want ReportBatchItemFailures`},
		},
		{
			"a mapped function's problems are reported",
			func(tmpl map[string]any) { properties(tmpl, fanOutFnID)["Timeout"] = "long" },
			[]string{at(fanOutFnID, "Timeout") + `: expected a number, got "long"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Load(fanOutFixture(t, tt.edit))
			if err == nil {
				t.Fatalf("Load: no error; queues %v, mappings %v", a.Queues, a.EventSourceMappings)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain:\n%s", err, w)
				}
			}
		})
	}
}
