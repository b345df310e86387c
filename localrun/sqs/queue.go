package sqs

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits AWS documents for standard queues
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
// and the API reference of each action, as quoted in the aws-sdk-go-v2 sqs
// package's doc comments).
const (
	maxMessageSize     = 262144 // 256 KiB, a message and a whole batch
	maxVisibility      = 43200  // 12 hours
	maxWaitSeconds     = 20
	maxBatchEntries    = 10
	maxDelaySeconds    = 900
	defaultVisibility  = 30
	maxReceiveCountMax = 1000
)

// queue is one standard queue. Every field is guarded by Server.mu.
type queue struct {
	name       string
	arn        string
	url        string
	created    time.Time
	given      map[string]string // attributes as CreateQueue got them, for idempotency
	visibility int               // VisibilityTimeout, seconds
	delay      int               // DelaySeconds, seconds
	wait       int               // ReceiveMessageWaitTimeSeconds, seconds
	redrive    *redrivePolicy
	echo       map[string]string // stored and reported back, not acted on (KMS/SSE, retention, size)
	msgs       []*message        // in send order
}

type redrivePolicy struct {
	DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

type message struct {
	id           string
	body         string
	md5          string
	sent         time.Time
	firstReceive time.Time // zero until received
	receiveCount int
	visibleAt    time.Time // invisible until then (delay or visibility timeout)
	deliveredAt  time.Time // start of the current receive, for the 12-hour cap
	inFlight     bool      // received and not yet visible again
	handle       string    // the most recent receipt handle
}

// Message is a received message, as ReceiveMessage returns it.
type Message struct {
	MessageID     string
	ReceiptHandle string
	Body          string
	MD5OfBody     string
	// Attributes holds the system attributes asked for (every one of
	// ApproximateReceiveCount, SentTimestamp, ApproximateFirstReceiveTimestamp
	// and SenderId through the Go API).
	Attributes map[string]string
}

// ReceiveOptions are ReceiveMessage's parameters for the Go API.
type ReceiveOptions struct {
	// Max is MaxNumberOfMessages, 1-10; 0 means 1.
	Max int
	// VisibilityTimeout, when not nil, overrides the queue's for this receive.
	VisibilityTimeout *int
	// Wait is the long-polling wait, up to 20 s; 0 returns at once.
	Wait time.Duration
}

// Queue is a handle on one queue for in-process callers (the event source
// mapping emulator): the same operations the HTTP API offers, without JSON.
type Queue struct {
	s *Server
	q *queue
}

// Name is the queue's name.
func (h *Queue) Name() string { return h.q.name }

// ARN is the queue's ARN, arn:aws:sqs:{region}:{account}:{name}.
func (h *Queue) ARN() string { return h.q.arn }

// URL is the queue's URL as CreateQueue returned it.
func (h *Queue) URL() string {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.q.url
}

// VisibilityTimeout is the queue's visibility timeout.
func (h *Queue) VisibilityTimeout() time.Duration {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return time.Duration(h.q.visibility) * time.Second
}

// Counts returns ApproximateNumberOfMessages (visible),
// ApproximateNumberOfMessagesNotVisible (in flight) and
// ApproximateNumberOfMessagesDelayed, exact here.
func (h *Queue) Counts() (visible, inFlight, delayed int) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.counts(h.q)
}

// Send sends one message and returns its id.
func (h *Queue) Send(body string) (string, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	m, err := h.s.send(h.q, body, nil)
	if err != nil {
		return "", err
	}
	return m.id, nil
}

// Receive receives up to o.Max messages, long polling for o.Wait.
func (h *Queue) Receive(ctx context.Context, o ReceiveOptions) ([]Message, error) {
	if o.Max == 0 {
		o.Max = 1
	}
	all := map[string]bool{"All": true}
	return h.s.receive(ctx, h.q, o.Max, o.VisibilityTimeout, o.Wait, all)
}

// Delete deletes the message a receipt handle names.
func (h *Queue) Delete(receiptHandle string) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.deleteMessage(h.q, receiptHandle)
}

// ChangeVisibility sets a received message's visibility timeout, counted
// from now.
func (h *Queue) ChangeVisibility(receiptHandle string, timeout time.Duration) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.changeVisibility(h.q, receiptHandle, int(timeout/time.Second))
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// validBody reports whether every character is one AWS allows in a message:
// #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF
// (SendMessage, MessageBody).
func validBody(s string) bool {
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// parseQueueAttributes validates CreateQueue's attributes into q.
func (s *Server) parseQueueAttributes(q *queue, attrs map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[k]
		switch k {
		case "VisibilityTimeout":
			n, err := intIn(v, 0, maxVisibility)
			if err != nil {
				return invalidAttributeValue(k, v, err)
			}
			q.visibility = n
		case "DelaySeconds":
			n, err := intIn(v, 0, maxDelaySeconds)
			if err != nil {
				return invalidAttributeValue(k, v, err)
			}
			q.delay = n
		case "ReceiveMessageWaitTimeSeconds":
			n, err := intIn(v, 0, maxWaitSeconds)
			if err != nil {
				return invalidAttributeValue(k, v, err)
			}
			q.wait = n
		case "RedrivePolicy":
			p, err := s.parseRedrive(v)
			if err != nil {
				return invalidAttributeValue(k, v, err)
			}
			q.redrive = p
		case "MessageRetentionPeriod":
			if _, err := intIn(v, 60, 1209600); err != nil {
				return invalidAttributeValue(k, v, err)
			}
			q.echo[k] = v
		case "MaximumMessageSize":
			if _, err := intIn(v, 1024, maxMessageSize); err != nil {
				return invalidAttributeValue(k, v, err)
			}
			q.echo[k] = v
		case "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled":
			// Accepted and reported back; nothing is encrypted locally.
			q.echo[k] = v
		case "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit":
			return invalidParameter("Attribute " + k + ": FIFO queues are not emulated")
		default:
			return &apiError{typ: "InvalidAttributeName", query: "InvalidAttributeName", msg: "Unknown Attribute " + k + "."}
		}
	}
	return nil
}

// parseRedrive reads a RedrivePolicy; maxReceiveCount may be a number or a
// string, as the console and CloudFormation send either.
func (s *Server) parseRedrive(v string) (*redrivePolicy, error) {
	var raw struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	n, err := strconv.Atoi(strings.Trim(string(raw.MaxReceiveCount), `"`))
	if err != nil || n < 1 || n > maxReceiveCountMax {
		return nil, fmt.Errorf("maxReceiveCount must be an integer from 1 to %d", maxReceiveCountMax)
	}
	if s.queueByARN(raw.DeadLetterTargetArn) == nil {
		return nil, errors.New("dead letter target does not exist")
	}
	return &redrivePolicy{DeadLetterTargetArn: raw.DeadLetterTargetArn, MaxReceiveCount: n}, nil
}

func intIn(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be an integer from %d to %d", lo, hi)
	}
	return n, nil
}

// attributes returns GetQueueAttributes' answer for the names asked for
// ("All" or specific names).
func (s *Server) attributes(q *queue, names []string) (map[string]string, error) {
	visible, inFlight, delayed := s.counts(q)
	all := map[string]string{
		"QueueArn":                              q.arn,
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inFlight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(delayed),
		"VisibilityTimeout":                     strconv.Itoa(q.visibility),
		"DelaySeconds":                          strconv.Itoa(q.delay),
		"ReceiveMessageWaitTimeSeconds":         strconv.Itoa(q.wait),
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.created.Unix(), 10),
		"MaximumMessageSize":                    strconv.Itoa(maxMessageSize),
		"MessageRetentionPeriod":                "345600",
		"SqsManagedSseEnabled":                  "false",
	}
	for k, v := range q.echo {
		all[k] = v
	}
	if _, kms := q.echo["KmsMasterKeyId"]; kms {
		if _, set := q.echo["SqsManagedSseEnabled"]; !set {
			delete(all, "SqsManagedSseEnabled")
		}
	}
	if q.redrive != nil {
		b, _ := json.Marshal(q.redrive)
		all["RedrivePolicy"] = string(b)
	}
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			return all, nil
		}
		v, ok := all[n]
		if !ok {
			if !knownAttribute[n] {
				return nil, &apiError{typ: "InvalidAttributeName", query: "InvalidAttributeName", msg: "Unknown Attribute " + n + "."}
			}
			continue
		}
		out[n] = v
	}
	return out, nil
}

var knownAttribute = map[string]bool{
	"Policy": true, "RedrivePolicy": true, "RedriveAllowPolicy": true, "KmsMasterKeyId": true,
	"KmsDataKeyReusePeriodSeconds": true, "FifoQueue": true, "ContentBasedDeduplication": true,
	"DeduplicationScope": true, "FifoThroughputLimit": true,
}

// counts is called with s.mu held.
func (s *Server) counts(q *queue) (visible, inFlight, delayed int) {
	now := s.now()
	for _, m := range q.msgs {
		switch {
		case !m.visibleAt.After(now):
			visible++
		case m.inFlight:
			inFlight++
		default:
			delayed++
		}
	}
	return
}

// send is called with s.mu held.
func (s *Server) send(q *queue, body string, delay *int32) (*message, error) {
	if body == "" {
		return nil, invalidParameter("The request must contain the parameter MessageBody.")
	}
	if len(body) > maxMessageSize {
		return nil, invalidParameter(fmt.Sprintf("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", maxMessageSize))
	}
	if !validBody(body) {
		return nil, &apiError{typ: "InvalidMessageContents", query: "InvalidMessageContents", msg: "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"}
	}
	d := q.delay
	if delay != nil {
		if *delay < 0 || *delay > maxDelaySeconds {
			return nil, invalidParameter(fmt.Sprintf("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= %d.", *delay, maxDelaySeconds))
		}
		d = int(*delay)
	}
	now := s.now()
	s.seq++
	m := &message{
		id:        fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq>>16, s.seq),
		body:      body,
		md5:       md5Hex(body),
		sent:      now,
		visibleAt: now.Add(time.Duration(d) * time.Second),
	}
	q.msgs = append(q.msgs, m)
	s.wake()
	return m, nil
}

// receive collects up to maxMsgs visible messages, long polling for wait.
func (s *Server) receive(ctx context.Context, q *queue, maxMsgs int, vt *int, wait time.Duration, names map[string]bool) ([]Message, error) {
	if maxMsgs < 1 || maxMsgs > maxBatchEntries {
		return nil, invalidParameter(fmt.Sprintf("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", maxMsgs))
	}
	if vt != nil && (*vt < 0 || *vt > maxVisibility) {
		return nil, invalidParameter(fmt.Sprintf("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", *vt))
	}
	if wait < 0 || wait > maxWaitSeconds*time.Second {
		return nil, invalidParameter(fmt.Sprintf("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", int(wait/time.Second)))
	}
	deadline := time.Now().Add(wait) // long polling waits in real time
	for {
		s.mu.Lock()
		got := s.take(q, maxMsgs, vt, names)
		next := s.nextVisible(q)
		woken := s.notify
		s.mu.Unlock()
		remaining := time.Until(deadline)
		if len(got) > 0 || remaining <= 0 {
			return got, nil
		}
		if !next.IsZero() {
			if d := next.Sub(s.now()); d < remaining {
				remaining = max(d, time.Millisecond)
			}
		}
		t := time.NewTimer(remaining)
		select {
		case <-woken:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
	}
}

// nextVisible is the earliest time an invisible message becomes visible
// (zero if none); called with s.mu held.
func (s *Server) nextVisible(q *queue) time.Time {
	var next time.Time
	for _, m := range q.msgs {
		if next.IsZero() || m.visibleAt.Before(next) {
			next = m.visibleAt
		}
	}
	return next
}

// take receives up to maxMsgs visible messages, oldest first; called with s.mu
// held. A message whose receive count would exceed the source queue's
// maxReceiveCount moves to the dead-letter queue instead of being returned:
// "Amazon SQS moves messages to a dead-letter queue when the ReceiveCount for
// a message exceeds the maxReceiveCount for a queue"
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
func (s *Server) take(q *queue, maxMsgs int, vt *int, names map[string]bool) []Message {
	now := s.now()
	visibility := q.visibility
	if vt != nil {
		visibility = *vt
	}
	var dlq *queue
	if q.redrive != nil {
		dlq = s.queueByARN(q.redrive.DeadLetterTargetArn)
	}
	var out []Message
	kept := q.msgs[:0]
	moved := false
	for _, m := range q.msgs {
		if len(out) == maxMsgs || m.visibleAt.After(now) {
			kept = append(kept, m)
			continue
		}
		if dlq != nil && m.receiveCount+1 > q.redrive.MaxReceiveCount {
			// The message keeps its id, body and SentTimestamp; the
			// receive count starts again in the dead-letter queue.
			m.receiveCount, m.firstReceive, m.inFlight, m.handle = 0, time.Time{}, false, ""
			m.visibleAt = now
			dlq.msgs = append(dlq.msgs, m)
			moved = true
			continue
		}
		m.receiveCount++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		m.deliveredAt = now
		m.visibleAt = now.Add(time.Duration(visibility) * time.Second)
		m.inFlight = true
		s.seq++
		m.handle = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s\x00%s\x00%d", q.name, m.id, s.seq))
		out = append(out, Message{MessageID: m.id, ReceiptHandle: m.handle, Body: m.body, MD5OfBody: m.md5, Attributes: systemAttributes(m, s.account, names)})
		kept = append(kept, m)
	}
	q.msgs = kept
	if moved {
		s.wake()
	}
	return out
}

func systemAttributes(m *message, account string, names map[string]bool) map[string]string {
	all := map[string]string{
		"ApproximateReceiveCount":          strconv.Itoa(m.receiveCount),
		"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstReceive.UnixMilli(), 10),
		"SenderId":                         account,
	}
	if names["All"] {
		return all
	}
	out := map[string]string{}
	for n := range names {
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// findHandle parses a receipt handle this server issued; called with s.mu
// held. It returns the message (nil if deleted) and whether the handle is its
// most recent one. A string that is no handle of this queue is
// ReceiptHandleIsInvalid.
func (s *Server) findHandle(q *queue, h string) (*message, bool, error) {
	raw, err := base64.RawURLEncoding.DecodeString(h)
	parts := strings.Split(string(raw), "\x00")
	if h == "" || err != nil || len(parts) != 3 || parts[0] != q.name {
		return nil, false, &apiError{typ: "ReceiptHandleIsInvalid", query: "ReceiptHandleIsInvalid", msg: fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", h)}
	}
	for _, m := range q.msgs {
		if m.id == parts[1] {
			return m, m.handle == h, nil
		}
	}
	return nil, false, nil
}

// deleteMessage is called with s.mu held. An outdated receipt handle
// succeeds without deleting: "If you use an old ReceiptHandle, the request
// will succeed, but the message might not be deleted" (DeleteMessage, API
// reference); here it is never deleted, so that a consumer relying on an old
// handle finds out locally. Deleting an already deleted message succeeds.
func (s *Server) deleteMessage(q *queue, h string) error {
	m, latest, err := s.findHandle(q, h)
	if err != nil || m == nil || !latest {
		return err
	}
	for i, x := range q.msgs {
		if x == m {
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			break
		}
	}
	return nil
}

// changeVisibility is called with s.mu held. The timeout counts from now
// and may not take the message past 12 hours from its receive ("If you
// attempt to set the VisibilityTimeout to a value greater than the maximum
// time left, Amazon SQS returns an error", ChangeMessageVisibility, API
// reference).
func (s *Server) changeVisibility(q *queue, h string, timeout int) error {
	if timeout < 0 || timeout > maxVisibility {
		return invalidParameter(fmt.Sprintf("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", timeout))
	}
	m, latest, err := s.findHandle(q, h)
	if err != nil {
		return err
	}
	if m == nil || !latest {
		return invalidParameter(fmt.Sprintf("Value %s for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.", h))
	}
	now := s.now()
	if !m.inFlight || !m.visibleAt.After(now) {
		return &apiError{typ: "MessageNotInflight", query: "AWS.SimpleQueueService.MessageNotInflight", msg: "The message referred to isn't in flight."}
	}
	until := now.Add(time.Duration(timeout) * time.Second)
	if until.After(m.deliveredAt.Add(maxVisibility * time.Second)) {
		return invalidParameter(fmt.Sprintf("Value %d for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]", timeout))
	}
	m.visibleAt = until
	if timeout == 0 {
		m.inFlight = false
	}
	s.wake()
	return nil
}
