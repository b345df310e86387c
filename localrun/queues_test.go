package localrun

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"wsapi/internal/testutil"
	"wsapi/localrun/assembly"
	"wsapi/localrun/esm"
	"wsapi/localrun/gateway"
)

// fanOutAssembly is the part of a template the queues and mappings are
// made from: a queue with a dead-letter queue (whose id sorts after it, so
// creation order matters), a named queue, and a mapping per queue.
func fanOutAssembly() *assembly.Assembly {
	yes := true
	return &assembly.Assembly{
		Stack: assembly.Stack{Name: "WebSocketApi"},
		Queues: map[string]assembly.Queue{
			"AJobsQueue12345678": {
				ID: "AJobsQueue12345678", VisibilityTimeout: 5 * time.Second, MessageRetentionPeriod: 345600, SqsManagedSseEnabled: &yes,
				RedrivePolicy: &assembly.RedrivePolicy{DeadLetterQueueID: "ZDeadLetterQueueABCDEF01", MaxReceiveCount: 1},
			},
			"ZDeadLetterQueueABCDEF01": {ID: "ZDeadLetterQueueABCDEF01", VisibilityTimeout: 30 * time.Second, MessageRetentionPeriod: 1209600},
			"Named": {
				ID: "Named", QueueName: map[string]any{"Fn::Join": []any{"-", []any{map[string]any{"Ref": "AWS::StackName"}, "named"}}},
				VisibilityTimeout: 30 * time.Second, MessageRetentionPeriod: 60, KmsMasterKeyID: map[string]any{"Ref": "NoSuchKey"},
			},
		},
		QueuePolicies: map[string]assembly.QueuePolicy{"Policy": {ID: "Policy", QueueIDs: []string{"AJobsQueue12345678"}}},
		EventSourceMappings: map[string]assembly.EventSourceMapping{
			"Mapping": {
				ID: "Mapping", QueueID: "AJobsQueue12345678", FunctionID: "Worker", BatchSize: 2, MaximumConcurrency: 2,
				FunctionResponseTypes: []string{assembly.ReportBatchItemFailures}, Enabled: true,
			},
			"Off": {ID: "Off", QueueID: "Named", FunctionID: "Worker", BatchSize: 10, Enabled: false},
		},
		Functions: map[string]assembly.Function{"Worker": {ID: "Worker", Timeout: 2 * time.Second}},
	}
}

func TestStartSQS(t *testing.T) {
	asm := fanOutAssembly()
	s := &Server{log: slog.New(slog.DiscardHandler)}
	resolver := assembly.Resolver{Pseudo: asm.PseudoParameters(localRegion, localAccount), Refs: map[string]string{}, Attrs: map[string]string{}}
	if err := s.startSQS(asm, resolver); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stopSQS)

	wantNames := map[string]string{
		"AJobsQueue12345678":       "WebSocketApi-AJobsQueue",
		"ZDeadLetterQueueABCDEF01": "WebSocketApi-ZDeadLetterQueue",
		"Named":                    "WebSocketApi-named",
	}
	for id, name := range wantNames {
		q := s.Queue(id)
		if q == nil {
			t.Fatalf("Queue(%s) = nil", id)
		}
		url := s.SQS + "/" + localAccount + "/" + name
		arn := "arn:aws:sqs:" + localRegion + ":" + localAccount + ":" + name
		if q.Name() != name || q.URL() != url || q.ARN() != arn {
			t.Errorf("queue %s: %s %s %s, want %s %s %s", id, q.Name(), q.URL(), q.ARN(), name, url, arn)
		}
		for k, want := range map[string]string{id + ".Arn": arn, id + ".QueueName": name, id + ".QueueUrl": url} {
			if got := resolver.Attrs[k]; got != want {
				t.Errorf("Attrs[%s] = %q, want %q", k, got, want)
			}
		}
		if got := resolver.Refs[id]; got != url {
			t.Errorf("Refs[%s] = %q, want the URL %q", id, got, url)
		}
	}
	if s.Queue("Nope") != nil {
		t.Error("Queue(Nope) is not nil")
	}
	if got := s.Queue("AJobsQueue12345678").VisibilityTimeout(); got != 5*time.Second {
		t.Errorf("visibility timeout %s, want the template's 5s", got)
	}

	// The real SDK client, as the functions get it (AWS_ENDPOINT_URL_SQS),
	// sees the attributes and the redrive policy.
	client := awssqs.New(awssqs.Options{
		Region: localRegion, BaseEndpoint: aws.String(s.SQS),
		Credentials: credentials.NewStaticCredentialsProvider(localAccessKey, localSecret, ""),
	})
	out, err := client.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(resolver.Refs["AJobsQueue12345678"]), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"VisibilityTimeout":      "5",
		"SqsManagedSseEnabled":   "true",
		"MessageRetentionPeriod": "345600",
		"RedrivePolicy":          `{"deadLetterTargetArn":"` + resolver.Attrs["ZDeadLetterQueueABCDEF01.Arn"] + `","maxReceiveCount":1}`,
	} {
		if got := out.Attributes[k]; got != want {
			t.Errorf("attribute %s = %q, want %q", k, got, want)
		}
	}
}

func TestQueueOrder(t *testing.T) {
	queues := map[string]assembly.Queue{
		"A": {ID: "A", RedrivePolicy: &assembly.RedrivePolicy{DeadLetterQueueID: "C"}},
		"B": {ID: "B"},
		"C": {ID: "C", RedrivePolicy: &assembly.RedrivePolicy{DeadLetterQueueID: "D"}},
		"D": {ID: "D"},
	}
	got := strings.Join(queueOrder(queues), ",")
	if want := "D,C,A,B"; got != want {
		t.Errorf("queueOrder = %s, want %s", got, want)
	}
}

// recordingWorker fails every record whose body is "fail" through a
// partial batch response.
type recordingWorker struct {
	mu     sync.Mutex
	bodies []string
}

func (w *recordingWorker) Invoke(_ context.Context, payload []byte) (gateway.Result, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return gateway.Result{}, err
	}
	var resp events.SQSEventResponse
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range ev.Records {
		w.bodies = append(w.bodies, r.Body)
		if r.Body == "fail" {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	b, _ := json.Marshal(resp)
	return gateway.Result{Payload: b}, nil
}

func (w *recordingWorker) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.bodies...)
}

func TestStartMappings(t *testing.T) {
	asm := fanOutAssembly()
	s := &Server{log: slog.New(slog.DiscardHandler)}
	resolver := assembly.Resolver{Pseudo: asm.PseudoParameters(localRegion, localAccount), Refs: map[string]string{}, Attrs: map[string]string{}}
	if err := s.startSQS(asm, resolver); err != nil {
		t.Fatal(err)
	}
	worker := &recordingWorker{}
	if err := s.startMappings(asm, map[string]esm.Invoker{"Worker": worker}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if len(s.mappings) != 1 {
		t.Fatalf("%d mappings started, want 1 (the disabled one is not)", len(s.mappings))
	}
	m := s.mappings[0]
	if m.BatchSize != 2 || m.MaximumConcurrency != 2 || !m.ReportBatchItemFailures || m.FunctionTimeout != 2*time.Second {
		t.Errorf("mapping settings: %+v", m)
	}

	jobs, dlq, named := s.Queue("AJobsQueue12345678"), s.Queue("ZDeadLetterQueueABCDEF01"), s.Queue("Named")
	for _, body := range []string{"ok", "fail"} {
		if _, err := jobs.Send(body); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := named.Send("unpolled"); err != nil {
		t.Fatal(err)
	}
	// "ok" is deleted; "fail" is kept, comes back after the 5 s visibility
	// timeout and, with maxReceiveCount 1, moves to the dead-letter queue
	// instead of a second receive.
	testutil.Eventually(t, 20*time.Second, func() bool {
		visible, _, _ := dlq.Counts()
		return visible == 1
	}, "the failed record reaches the dead-letter queue")
	v, f, d := jobs.Counts()
	if v+f+d != 0 {
		t.Errorf("jobs queue still holds %d visible, %d in flight, %d delayed", v, f, d)
	}
	if got := strings.Join(worker.seen(), ","); got != "ok,fail" && got != "fail,ok" {
		t.Errorf("the worker saw %s, want ok and fail once each", got)
	}
	if visible, _, _ := named.Counts(); visible != 1 {
		t.Errorf("the disabled mapping's queue has %d visible messages, want 1 (not polled)", visible)
	}
}
