package assembly

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Resource types of the broadcast fan-out.
const (
	typeQueue              = "AWS::SQS::Queue"
	typeQueuePolicy        = "AWS::SQS::QueuePolicy"
	typeEventSourceMapping = "AWS::Lambda::EventSourceMapping"
)

// Queue properties: those the model carries, and those accepted and not
// acted on. Any other property is refused, so that a setting the local
// queue would silently ignore cannot slip in.
var (
	queueIgnored = map[string]bool{
		"Tags": true, "RedriveAllowPolicy": true, "MaximumMessageSize": true, "KmsDataKeyReusePeriodSeconds": true,
	}
	queueFIFO = map[string]bool{
		"FifoQueue": true, "ContentBasedDeduplication": true, "DeduplicationScope": true, "FifoThroughputLimit": true,
	}
	queueModelled = map[string]bool{
		"QueueName": true, "VisibilityTimeout": true, "DelaySeconds": true, "ReceiveMessageWaitTimeSeconds": true,
		"MessageRetentionPeriod": true, "RedrivePolicy": true, "SqsManagedSseEnabled": true, "KmsMasterKeyId": true,
	}
	esmModelled = map[string]bool{
		"EventSourceArn": true, "FunctionName": true, "BatchSize": true, "MaximumBatchingWindowInSeconds": true,
		"ScalingConfig": true, "FunctionResponseTypes": true, "Enabled": true, "Tags": true,
	}
)

// Defaults of AWS::SQS::Queue
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html)
// and of an SQS event source mapping
// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html).
const (
	defaultVisibilityTimeout = 30 * time.Second
	defaultRetentionPeriod   = 345600 // 4 days
	defaultESMBatchSize      = 10
)

func (b *builder) queues() {
	b.a.Queues = make(map[string]Queue)
	for _, id := range b.ofType(typeQueue) {
		p, ok := b.props(id)
		if !ok {
			continue
		}
		q := Queue{ID: id, QueueName: p.m["QueueName"]}
		if refuseKeys(b, p, func(k string) string {
			switch {
			case queueFIFO[k]:
				return "FIFO queues are not emulated (localrun/sqs serves standard queues)"
			case queueModelled[k], queueIgnored[k]:
				return ""
			}
			return "not emulated by the local queue"
		}) {
			continue
		}
		if name, isLiteral := q.QueueName.(string); isLiteral && strings.HasSuffix(name, ".fifo") {
			b.failf("%s: %q: FIFO queues are not emulated (localrun/sqs serves standard queues)", p.at("QueueName"), name)
			continue
		}
		if q.QueueName != nil {
			if _, err := b.symbolic().str(q.QueueName); err != nil {
				b.failf("%s: %v", p.at("QueueName"), err)
			}
		}
		seconds, err := p.int("VisibilityTimeout", int(defaultVisibilityTimeout/time.Second))
		b.fail(err)
		q.VisibilityTimeout = time.Duration(seconds) * time.Second
		q.DelaySeconds, err = p.int("DelaySeconds", 0)
		b.fail(err)
		q.ReceiveMessageWaitTimeSeconds, err = p.int("ReceiveMessageWaitTimeSeconds", 0)
		b.fail(err)
		q.MessageRetentionPeriod, err = p.int("MessageRetentionPeriod", defaultRetentionPeriod)
		b.fail(err)
		if p.has("SqsManagedSseEnabled") {
			sse, err := p.bool("SqsManagedSseEnabled")
			b.fail(err)
			q.SqsManagedSseEnabled = &sse
		}
		if v, ok := p.m["KmsMasterKeyId"]; ok {
			if _, err := b.symbolic().str(v); err != nil {
				b.failf("%s: %v", p.at("KmsMasterKeyId"), err)
			}
			q.KmsMasterKeyID = v
		}
		if p.has("RedrivePolicy") {
			q.RedrivePolicy, err = b.redrivePolicy(p)
			b.fail(err)
		}
		b.a.Queues[id] = q
	}
	// A dead-letter queue that names a dead-letter queue again is fine; a
	// cycle could never be created.
	for _, id := range slices.Sorted(maps.Keys(b.a.Queues)) {
		seen := map[string]bool{id: true}
		for q := b.a.Queues[id]; q.RedrivePolicy != nil; q = b.a.Queues[q.RedrivePolicy.DeadLetterQueueID] {
			next := q.RedrivePolicy.DeadLetterQueueID
			if seen[next] {
				b.failf("Resources.%s.Properties.RedrivePolicy: the dead-letter queues form a cycle through %s", id, next)
				break
			}
			seen[next] = true
		}
	}
}

// refuseKeys fails for each property why(key) refuses (a non-empty reason)
// and reports whether any was refused.
func refuseKeys(b *builder, p props, why func(key string) string) bool {
	refused := false
	for _, k := range slices.Sorted(maps.Keys(p.m)) {
		if reason := why(k); reason != "" {
			b.failf("%s: %s", p.at(k), reason)
			refused = true
		}
	}
	return refused
}

// redrivePolicy reads RedrivePolicy, an object (or its JSON text) whose
// deadLetterTargetArn must be Fn::GetAtt <queue>.Arn of a queue of this
// template: the local run can only move messages to a queue it runs.
func (b *builder) redrivePolicy(p props) (*RedrivePolicy, error) {
	raw := p.m["RedrivePolicy"]
	if s, ok := raw.(string); ok {
		var v any
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: not JSON: %w", p.at("RedrivePolicy"), err)
		}
		raw = v
	}
	rp, err := newProps(p.at("RedrivePolicy"), raw)
	if err != nil {
		return nil, err
	}
	target, ok := rp.m["deadLetterTargetArn"]
	if !ok {
		return nil, fmt.Errorf("%s: missing", rp.at("deadLetterTargetArn"))
	}
	id, err := b.getAttArn(rp, "deadLetterTargetArn", target, typeQueue)
	if err != nil {
		return nil, err
	}
	if !rp.has("maxReceiveCount") {
		return nil, fmt.Errorf("%s: missing", rp.at("maxReceiveCount"))
	}
	n, err := rp.int("maxReceiveCount", 0)
	if err != nil {
		return nil, err
	}
	return &RedrivePolicy{DeadLetterQueueID: id, MaxReceiveCount: n}, nil
}

// getAttArn reads a value that must be Fn::GetAtt <id>.Arn of a resource
// of type typ.
func (b *builder) getAttArn(p props, key string, v any, typ string) (string, error) {
	s, err := b.symbolic().str(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.at(key), err)
	}
	id, ok := attArnID(s)
	if !ok {
		return "", fmt.Errorf("%s: %s is not Fn::GetAtt <%s of this template>.Arn", p.at(key), b.readable(v), typ)
	}
	if got := b.a.ResourceTypes[id]; got != typ {
		return "", fmt.Errorf("%s: Fn::GetAtt %s.Arn: is %s, not %s", p.at(key), id, got, typ)
	}
	return id, nil
}

func (b *builder) queuePolicies() {
	b.a.QueuePolicies = make(map[string]QueuePolicy)
	for _, id := range b.ofType(typeQueuePolicy) {
		p, ok := b.props(id)
		if !ok {
			continue
		}
		qp := QueuePolicy{ID: id, PolicyDocument: p.m["PolicyDocument"]}
		list, ok := p.m["Queues"].([]any)
		if !ok {
			b.failf("%s: expected a list of Refs to queues of this template, got %s", p.at("Queues"), describe(p.m["Queues"]))
			continue
		}
		for i, v := range list {
			key := fmt.Sprintf("Queues[%d]", i)
			qid, err := b.refTo(props{path: p.path, m: map[string]any{key: v}}, key, typeQueue)
			if err != nil {
				b.fail(err)
				continue
			}
			qp.QueueIDs = append(qp.QueueIDs, qid)
		}
		b.a.QueuePolicies[id] = qp
	}
}

func (b *builder) eventSourceMappings() {
	b.a.EventSourceMappings = make(map[string]EventSourceMapping)
	for _, id := range b.ofType(typeEventSourceMapping) {
		p, ok := b.props(id)
		if !ok {
			continue
		}
		if refuseKeys(b, p, func(k string) string {
			switch {
			case esmModelled[k]:
				return ""
			case k == "FilterCriteria":
				return "event filtering is not emulated: every message would reach the function"
			default:
				return "not emulated for SQS event sources (localrun/esm)"
			}
		}) {
			continue
		}
		m := EventSourceMapping{ID: id}
		arn, ok := p.m["EventSourceArn"]
		if !ok {
			b.failf("%s: missing (only SQS queues of this template are emulated as event sources)", p.at("EventSourceArn"))
			continue
		}
		var err error
		if m.QueueID, err = b.getAttArn(p, "EventSourceArn", arn, typeQueue); err != nil {
			b.failf("%v (only SQS queues of this template are emulated as event sources)", err)
			continue
		}
		if m.FunctionID, err = b.esmFunction(p); err != nil {
			b.fail(err)
			continue
		}
		m.BatchSize, err = p.int("BatchSize", defaultESMBatchSize)
		b.fail(err)
		window, err := p.int("MaximumBatchingWindowInSeconds", 0)
		b.fail(err)
		m.MaximumBatchingWindow = time.Duration(window) * time.Second
		scaling, err := p.object("ScalingConfig")
		b.fail(err)
		m.MaximumConcurrency, err = scaling.int("MaximumConcurrency", 0)
		b.fail(err)
		m.FunctionResponseTypes, err = p.strList("FunctionResponseTypes")
		b.fail(err)
		for i, t := range m.FunctionResponseTypes {
			if t != ReportBatchItemFailures {
				b.failf("%s[%d]: %q, want %s", p.at("FunctionResponseTypes"), i, t, ReportBatchItemFailures)
			}
		}
		m.Enabled = true
		if p.has("Enabled") {
			m.Enabled, err = p.bool("Enabled")
			b.fail(err)
		}
		b.a.EventSourceMappings[id] = m
	}
}

// esmFunction follows FunctionName, a Ref to a function of this template
// or its Fn::GetAtt Arn, to the function; it must have code the local run
// can run.
func (b *builder) esmFunction(p props) (string, error) {
	v, ok := p.m["FunctionName"]
	if !ok {
		return "", fmt.Errorf("%s: missing", p.at("FunctionName"))
	}
	s, err := b.symbolic().str(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.at("FunctionName"), err)
	}
	id, ok := attArnID(s)
	if !ok { // a Ref, then: \x00R<id>\x00
		name, isRef := strings.CutPrefix(s, "\x00R")
		name, ends := strings.CutSuffix(name, "\x00")
		id, ok = name, isRef && ends && !strings.ContainsAny(name, "\x00\x01")
	}
	if !ok || id == "" {
		return "", fmt.Errorf("%s: %s is not a Ref to a function of this template (or its Fn::GetAtt Arn)", p.at("FunctionName"), b.readable(v))
	}
	if typ := b.a.ResourceTypes[id]; typ != typeFunction {
		return "", fmt.Errorf("%s: %s: is %s, not %s", p.at("FunctionName"), id, typ, typeFunction)
	}
	if err := b.runnable(p.at("FunctionName"), id); err != nil {
		return "", err
	}
	return id, nil
}
