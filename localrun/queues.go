package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"wsapi/localrun/assembly"
	"wsapi/localrun/esm"
	"wsapi/localrun/sqs"
)

// startSQS starts the in-process SQS API (package localrun/sqs) on
// 127.0.0.1 and creates the template's queues in it, each dead-letter
// queue before the queues that name it (a RedrivePolicy must name an
// existing queue). A queue's Ref is its URL, as CloudFormation documents
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html),
// and its Arn, QueueName and QueueUrl attributes are the local ones.
func (s *Server) startSQS(asm *assembly.Assembly, resolver assembly.Resolver) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for SQS: %w", err)
	}
	s.SQS = "http://" + ln.Addr().String()
	s.sqs = sqs.New(sqs.Options{Region: localRegion, Account: localAccount, BaseURL: s.SQS})
	// No write timeout: a ReceiveMessage long-polls for up to 20 s.
	srv := &http.Server{Handler: s.sqs, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.stopSQS = func() { _ = srv.Close() }

	s.queues = map[string]*sqs.Queue{}
	s.QueueNames = map[string]string{}
	for _, id := range queueOrder(asm.Queues) {
		q := asm.Queues[id]
		name := functionName(asm.Stack.Name, shortName(id))
		if q.QueueName != nil {
			if name, err = resolver.String(q.QueueName); err != nil {
				return fmt.Errorf("queue %s: QueueName: %w", id, err)
			}
		}
		attrs, err := s.queueAttributes(q, resolver)
		if err != nil {
			return fmt.Errorf("queue %s: %w", id, err)
		}
		h, err := s.sqs.CreateQueue(name, attrs)
		if err != nil {
			return fmt.Errorf("queue %s (%s): %w", id, name, err)
		}
		s.queues[id] = h
		s.QueueNames[id] = name
		resolver.Refs[id] = h.URL()
		resolver.Attrs[id+".Arn"] = h.ARN()
		resolver.Attrs[id+".QueueName"] = name
		resolver.Attrs[id+".QueueUrl"] = h.URL()
	}
	for _, id := range slices.Sorted(maps.Keys(asm.QueuePolicies)) {
		// Recorded, not enforced (FIDELITY.md): the local SQS API checks
		// no signature, so there is no principal to match a policy against.
		s.log.Debug("queue policy not enforced", "policy", id, "queues", asm.QueuePolicies[id].QueueIDs)
	}
	return nil
}

// queueOrder sorts queue ids so that each dead-letter queue comes before
// the queues whose RedrivePolicy names it (assembly.Load refuses cycles).
func queueOrder(queues map[string]assembly.Queue) []string {
	var out []string
	done := map[string]bool{}
	var visit func(id string)
	visit = func(id string) {
		if done[id] {
			return
		}
		done[id] = true
		if rp := queues[id].RedrivePolicy; rp != nil {
			visit(rp.DeadLetterQueueID)
		}
		out = append(out, id)
	}
	for _, id := range slices.Sorted(maps.Keys(queues)) {
		visit(id)
	}
	return out
}

// queueAttributes are CreateQueue's attributes for a template's queue;
// its dead-letter queue exists already (queueOrder).
func (s *Server) queueAttributes(q assembly.Queue, resolver assembly.Resolver) (map[string]string, error) {
	attrs := map[string]string{
		"VisibilityTimeout":             strconv.Itoa(int(q.VisibilityTimeout / time.Second)),
		"DelaySeconds":                  strconv.Itoa(q.DelaySeconds),
		"ReceiveMessageWaitTimeSeconds": strconv.Itoa(q.ReceiveMessageWaitTimeSeconds),
		"MessageRetentionPeriod":        strconv.Itoa(q.MessageRetentionPeriod),
	}
	if q.SqsManagedSseEnabled != nil {
		attrs["SqsManagedSseEnabled"] = strconv.FormatBool(*q.SqsManagedSseEnabled)
	}
	if q.KmsMasterKeyID != nil {
		// Stored and reported back only; a key of the template has no
		// local value, and nothing is encrypted anyway (FIDELITY.md).
		if key, err := resolver.String(q.KmsMasterKeyID); err == nil {
			attrs["KmsMasterKeyId"] = key
		} else {
			s.log.Warn("queue's KMS key has no local value; the local queue encrypts nothing anyway", "queue", q.ID, "error", err)
		}
	}
	if rp := q.RedrivePolicy; rp != nil {
		dlq, ok := s.queues[rp.DeadLetterQueueID]
		if !ok {
			return nil, fmt.Errorf("dead-letter queue %s not created", rp.DeadLetterQueueID)
		}
		data, err := json.Marshal(map[string]any{"deadLetterTargetArn": dlq.ARN(), "maxReceiveCount": rp.MaxReceiveCount})
		if err != nil {
			return nil, err
		}
		attrs["RedrivePolicy"] = string(data)
	}
	return attrs, nil
}

// mappingFunctions are the functions event source mappings invoke, with the
// most concurrent invocations each may receive: MaximumConcurrency, or the
// emulator's fixed poller count without it (localrun/esm).
func mappingFunctions(asm *assembly.Assembly) map[string]int {
	out := map[string]int{}
	for _, m := range asm.EventSourceMappings {
		if !m.Enabled {
			continue
		}
		out[m.FunctionID] += esm.Pollers(m.MaximumConcurrency)
	}
	return out
}

// startMappings starts an event source mapping emulator (localrun/esm) for
// each enabled mapping of the template. A disabled one is not polled, as
// Lambda "pauses polling and invocation"
// (https://docs.aws.amazon.com/lambda/latest/dg/API_CreateEventSourceMapping.html).
func (s *Server) startMappings(asm *assembly.Assembly, functions map[string]esm.Invoker) error {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(asm.EventSourceMappings)) {
		m := asm.EventSourceMappings[id]
		if !m.Enabled {
			s.log.Info("event source mapping disabled in the template: not polled", "mapping", id)
			continue
		}
		mapping := &esm.Mapping{
			Queue:                   s.queues[m.QueueID],
			Function:                functions[m.FunctionID],
			BatchSize:               m.BatchSize,
			MaximumBatchingWindow:   m.MaximumBatchingWindow,
			MaximumConcurrency:      m.MaximumConcurrency,
			ReportBatchItemFailures: m.ReportsBatchItemFailures(),
			FunctionTimeout:         asm.Functions[m.FunctionID].Timeout,
		}
		// Its own context: Close stops it, not the end of Start's ctx.
		if err := mapping.Start(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("event source mapping %s: %w", id, err))
			continue
		}
		s.mappings = append(s.mappings, mapping)
	}
	return errors.Join(errs...)
}

// Queue is the local queue of the template's AWS::SQS::Queue with that
// logical ID, or nil; tests and benchmarks watch its counts through it.
func (s *Server) Queue(logicalID string) *sqs.Queue {
	return s.queues[logicalID]
}

// SQSServer is the in-process SQS API the run serves at s.SQS.
func (s *Server) SQSServer() *sqs.Server {
	return s.sqs
}
