package sqs

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// Region and Account make up queue ARNs and URLs; the defaults are
	// us-east-1 and 000000000000.
	Region, Account string
	// BaseURL is the scheme and host in queue URLs
	// ({BaseURL}/{account}/{name}); empty means the Host of the request
	// that created the queue (http://127.0.0.1:port for an httptest server),
	// or http://sqs.local for queues created through the Go API.
	BaseURL string
	// Now is the clock for visibility timeouts, delays and timestamps; nil
	// means time.Now. Long polling waits in real time whatever the clock.
	Now func() time.Time
}

// Server is an in-process SQS API. Its zero value is not usable; use New.
type Server struct {
	region, account, baseURL string
	now                      func() time.Time

	mu     sync.Mutex
	queues map[string]*queue // by name
	seq    uint64
	notify chan struct{} // closed and replaced when messages may have become receivable
}

// New returns an empty server.
func New(o Options) *Server {
	s := &Server{region: o.Region, account: o.Account, baseURL: strings.TrimSuffix(o.BaseURL, "/"), now: o.Now,
		queues: map[string]*queue{}, notify: make(chan struct{})}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.account == "" {
		s.account = "000000000000"
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Wake makes long-polling receives look at their queues again; call it
// after advancing an injected clock so that waiting receives see messages
// whose visibility timeout has run out.
func (s *Server) Wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wake()
}

func (s *Server) wake() {
	close(s.notify)
	s.notify = make(chan struct{})
}

// Queue returns the named queue, or false if there is none.
func (s *Server) Queue(name string) (*Queue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[name]
	if !ok {
		return nil, false
	}
	return &Queue{s: s, q: q}, true
}

// QueueByARN returns the queue with that ARN, or false if there is none.
func (s *Server) QueueByARN(arn string) (*Queue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queueByARN(arn)
	if q == nil {
		return nil, false
	}
	return &Queue{s: s, q: q}, true
}

// CreateQueue creates a queue (or returns the existing one with the same
// attributes) with CreateQueue's attribute names and values.
func (s *Server) CreateQueue(name string, attrs map[string]string) (*Queue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.createQueue(name, attrs, "")
	if err != nil {
		return nil, err
	}
	return &Queue{s: s, q: q}, nil
}

func (s *Server) queueByARN(arn string) *queue {
	prefix := fmt.Sprintf("arn:aws:sqs:%s:%s:", s.region, s.account)
	if !strings.HasPrefix(arn, prefix) {
		return nil
	}
	return s.queues[strings.TrimPrefix(arn, prefix)]
}

var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// createQueue is called with s.mu held. "If you provide the name of an
// existing queue along with the exact names and values of all the queue's
// attributes, CreateQueue returns the queue URL for the existing queue. If
// the queue name, attribute names, or attribute values don't match an
// existing queue, CreateQueue returns an error." (CreateQueue, API reference)
func (s *Server) createQueue(name string, attrs map[string]string, host string) (*queue, error) {
	if strings.HasSuffix(name, ".fifo") {
		return nil, invalidParameter("FIFO queues are not emulated")
	}
	if !queueName.MatchString(name) {
		return nil, invalidParameter("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	if q, ok := s.queues[name]; ok {
		if maps.Equal(q.given, attrs) || (len(q.given) == 0 && len(attrs) == 0) {
			return q, nil
		}
		return nil, &apiError{typ: "QueueNameExists", query: "QueueAlreadyExists", msg: "A queue already exists with the same name and a different value for attribute(s)"}
	}
	base := s.baseURL
	if base == "" {
		base = "http://sqs.local"
		if host != "" {
			base = "http://" + host
		}
	}
	q := &queue{
		name:       name,
		arn:        fmt.Sprintf("arn:aws:sqs:%s:%s:%s", s.region, s.account, name),
		url:        fmt.Sprintf("%s/%s/%s", base, s.account, name),
		created:    s.now(),
		given:      maps.Clone(attrs),
		visibility: defaultVisibility,
		echo:       map[string]string{},
	}
	if err := s.parseQueueAttributes(q, attrs); err != nil {
		return nil, err
	}
	s.queues[name] = q
	return q, nil
}

// onQueue runs fn on the queue at queueURL, under the server's lock.
func (s *Server) onQueue(queueURL string, fn func(*queue) (any, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.byURL(queueURL)
	if err != nil {
		return nil, err
	}
	return fn(q)
}

// byURL finds the queue a QueueUrl names by its last path segment, as AWS
// addresses queues by account and name; called with s.mu held.
func (s *Server) byURL(u string) (*queue, error) {
	p, err := url.Parse(u)
	if u == "" || err != nil {
		return nil, notExist()
	}
	parts := strings.Split(strings.Trim(p.Path, "/"), "/")
	if len(parts) != 2 || parts[0] != s.account {
		return nil, notExist()
	}
	q, ok := s.queues[parts[1]]
	if !ok {
		return nil, notExist()
	}
	return q, nil
}

// apiError is an error in the AWS JSON protocol's shape: HTTP 400,
// {"__type": "com.amazonaws.sqs#<type>", "message": ...}, plus the
// x-amzn-query-error header SQS sends for clients of the query protocol's
// error codes (the SDK's awsQueryCompatible trait reads it).
type apiError struct {
	typ, query, msg string
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

func invalidParameter(msg string) *apiError {
	return &apiError{typ: "InvalidParameterValue", query: "InvalidParameterValue", msg: msg}
}

func invalidAttributeValue(name, value string, err error) *apiError {
	return &apiError{typ: "InvalidAttributeValue", query: "InvalidAttributeValue",
		msg: fmt.Sprintf("Invalid value for the parameter %s. Reason: %v (%q)", name, err, value)}
}

func notExist() *apiError {
	return &apiError{typ: "QueueDoesNotExist", query: "AWS.SimpleQueueService.NonExistentQueue", msg: "The specified queue does not exist."}
}

// ServeHTTP answers the AWS JSON 1.0 protocol the aws-sdk-go-v2 sqs client
// speaks: POST /, X-Amz-Target: AmazonSQS.<Action>,
// Content-Type: application/x-amz-json-1.0. Signatures are not checked.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if r.Method != http.MethodPost || !ok {
		writeError(w, &apiError{typ: "UnsupportedOperation", query: "AWS.SimpleQueueService.UnsupportedOperation", msg: "only the AWS JSON 1.0 protocol (X-Amz-Target: AmazonSQS.<Action>) is emulated"})
		return
	}
	h, ok := handlers[action]
	if !ok {
		writeError(w, &apiError{typ: "UnsupportedOperation", query: "AWS.SimpleQueueService.UnsupportedOperation", msg: action + " is not emulated"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 2<<20)
	out, err := h(s, r)
	if err != nil {
		writeError(w, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", "00000000-0000-0000-0000-000000000000")
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, err error) {
	e, ok := err.(*apiError)
	if !ok {
		e = invalidParameter(err.Error())
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Query-Error", e.query+";Sender")
	w.WriteHeader(http.StatusBadRequest)
	b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#" + e.typ, "message": e.msg})
	_, _ = w.Write(b)
}

type handler func(*Server, *http.Request) (any, error)

var handlers = map[string]handler{
	"CreateQueue":                  (*Server).httpCreateQueue,
	"GetQueueUrl":                  (*Server).httpGetQueueURL,
	"GetQueueAttributes":           (*Server).httpGetQueueAttributes,
	"SendMessage":                  (*Server).httpSendMessage,
	"SendMessageBatch":             (*Server).httpSendMessageBatch,
	"ReceiveMessage":               (*Server).httpReceiveMessage,
	"DeleteMessage":                (*Server).httpDeleteMessage,
	"DeleteMessageBatch":           (*Server).httpDeleteMessageBatch,
	"ChangeMessageVisibility":      (*Server).httpChangeMessageVisibility,
	"ChangeMessageVisibilityBatch": (*Server).httpChangeMessageVisibilityBatch,
}

func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return &apiError{typ: "InvalidParameterValue", query: "MalformedInput", msg: "cannot read the request: " + err.Error()}
	}
	return nil
}

func (s *Server) httpCreateQueue(r *http.Request) (any, error) {
	var in struct {
		QueueName  string
		Attributes map[string]string
		Tags       map[string]string
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.createQueue(in.QueueName, in.Attributes, r.Host)
	if err != nil {
		return nil, err
	}
	return map[string]string{"QueueUrl": q.url}, nil
}

func (s *Server) httpGetQueueURL(r *http.Request) (any, error) {
	var in struct {
		QueueName              string
		QueueOwnerAWSAccountId string
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[in.QueueName]
	if !ok || (in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != s.account) {
		return nil, notExist()
	}
	return map[string]string{"QueueUrl": q.url}, nil
}

func (s *Server) httpGetQueueAttributes(r *http.Request) (any, error) {
	var in struct {
		QueueUrl       string
		AttributeNames []string
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.onQueue(in.QueueUrl, func(q *queue) (any, error) {
		attrs, err := s.attributes(q, in.AttributeNames)
		if err != nil {
			return nil, err
		}
		if len(attrs) == 0 {
			return struct{}{}, nil
		}
		return map[string]any{"Attributes": attrs}, nil
	})
}

type sendEntry struct {
	Id                      string
	MessageBody             string
	DelaySeconds            *int32
	MessageAttributes       map[string]json.RawMessage
	MessageSystemAttributes map[string]json.RawMessage
	MessageDeduplicationId  *string
	MessageGroupId          *string
}

// check refuses what is not emulated rather than dropping it silently.
func (e *sendEntry) check() error {
	switch {
	case len(e.MessageAttributes) > 0:
		return invalidParameter("MessageAttributes are not emulated")
	case len(e.MessageSystemAttributes) > 0:
		return invalidParameter("MessageSystemAttributes are not emulated")
	case e.MessageDeduplicationId != nil || e.MessageGroupId != nil:
		return invalidParameter("The request include parameter that is not valid for this queue type (FIFO parameters on a standard queue)")
	}
	return nil
}

func (s *Server) httpSendMessage(r *http.Request) (any, error) {
	var in struct {
		QueueUrl string
		sendEntry
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	return s.onQueue(in.QueueUrl, func(q *queue) (any, error) {
		m, err := s.send(q, in.MessageBody, in.DelaySeconds)
		if err != nil {
			return nil, err
		}
		return map[string]string{"MessageId": m.id, "MD5OfMessageBody": m.md5}, nil
	})
}

var batchID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// checkBatch applies the rules every batch action shares: 1 to 10 entries,
// distinct ids of at most 80 alphanumerics, hyphens and underscores.
func checkBatch(ids []string) error {
	if len(ids) == 0 {
		return &apiError{typ: "EmptyBatchRequest", query: "AWS.SimpleQueueService.EmptyBatchRequest", msg: "There should be at least one entry in the request."}
	}
	if len(ids) > maxBatchEntries {
		return &apiError{typ: "TooManyEntriesInBatchRequest", query: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
			msg: fmt.Sprintf("Maximum number of entries per request are %d. You have sent %d.", maxBatchEntries, len(ids))}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !batchID.MatchString(id) {
			return &apiError{typ: "InvalidBatchEntryId", query: "AWS.SimpleQueueService.InvalidBatchEntryId",
				msg: "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."}
		}
		if seen[id] {
			return &apiError{typ: "BatchEntryIdsNotDistinct", query: "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", msg: "Id " + id + " repeated."}
		}
		seen[id] = true
	}
	return nil
}

type batchFailure struct {
	Id          string
	Code        string
	Message     string
	SenderFault bool
}

func failure(id string, err error) batchFailure {
	e, ok := err.(*apiError)
	if !ok {
		e = invalidParameter(err.Error())
	}
	return batchFailure{Id: id, Code: e.typ, Message: e.msg, SenderFault: true}
}

func (s *Server) httpSendMessageBatch(r *http.Request) (any, error) {
	var in struct {
		QueueUrl string
		Entries  []sendEntry
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	total := 0
	for i, e := range in.Entries {
		ids[i] = e.Id
		total += len(e.MessageBody)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.byURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	if total > maxMessageSize {
		return nil, &apiError{typ: "BatchRequestTooLong", query: "AWS.SimpleQueueService.BatchRequestTooLong",
			msg: fmt.Sprintf("Batch requests cannot be longer than %d bytes. You have sent %d bytes.", maxMessageSize, total)}
	}
	type ok struct {
		Id               string
		MessageId        string
		MD5OfMessageBody string
	}
	out := struct {
		Successful []ok
		Failed     []batchFailure
	}{Successful: []ok{}, Failed: []batchFailure{}}
	for _, e := range in.Entries {
		if err := e.check(); err != nil {
			out.Failed = append(out.Failed, failure(e.Id, err))
			continue
		}
		m, err := s.send(q, e.MessageBody, e.DelaySeconds)
		if err != nil {
			out.Failed = append(out.Failed, failure(e.Id, err))
			continue
		}
		out.Successful = append(out.Successful, ok{Id: e.Id, MessageId: m.id, MD5OfMessageBody: m.md5})
	}
	return out, nil
}

func (s *Server) httpReceiveMessage(r *http.Request) (any, error) {
	var in struct {
		QueueUrl                    string
		MaxNumberOfMessages         *int
		VisibilityTimeout           *int
		WaitTimeSeconds             *int
		AttributeNames              []string
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
		ReceiveRequestAttemptId     *string
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	q, err := s.byURL(in.QueueUrl)
	wait := 0
	if q != nil {
		wait = q.wait
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	max := 1
	if in.MaxNumberOfMessages != nil {
		max = *in.MaxNumberOfMessages
	}
	if in.WaitTimeSeconds != nil {
		wait = *in.WaitTimeSeconds
	}
	names := map[string]bool{}
	for _, n := range append(in.AttributeNames, in.MessageSystemAttributeNames...) {
		names[n] = true
	}
	msgs, err := s.receive(r.Context(), q, max, in.VisibilityTimeout, time.Duration(wait)*time.Second, names)
	if err != nil {
		if r.Context().Err() != nil {
			return struct{}{}, nil // the client has gone; nothing was taken
		}
		return nil, err
	}
	type msg struct {
		MessageId     string
		ReceiptHandle string
		MD5OfBody     string
		Body          string
		Attributes    map[string]string `json:",omitempty"`
	}
	out := struct {
		Messages []msg `json:",omitempty"`
	}{}
	for _, m := range msgs {
		out.Messages = append(out.Messages, msg{m.MessageID, m.ReceiptHandle, m.MD5OfBody, m.Body, m.Attributes})
	}
	return out, nil
}

func (s *Server) httpDeleteMessage(r *http.Request) (any, error) {
	var in struct{ QueueUrl, ReceiptHandle string }
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.onQueue(in.QueueUrl, func(q *queue) (any, error) {
		if err := s.deleteMessage(q, in.ReceiptHandle); err != nil {
			return nil, err
		}
		return struct{}{}, nil
	})
}

type idOnly struct{ Id string }

type batchResult struct {
	Successful []idOnly
	Failed     []batchFailure
}

func (s *Server) httpDeleteMessageBatch(r *http.Request) (any, error) {
	type entry struct{ Id, ReceiptHandle string }
	var in struct {
		QueueUrl string
		Entries  []entry
	}
	return batchOnQueue(s, r, &in.QueueUrl, &in, &in.Entries,
		func(e entry) string { return e.Id },
		func(q *queue, e entry) error { return s.deleteMessage(q, e.ReceiptHandle) })
}

// batchOnQueue runs one of the receipt-handle batch actions: it decodes the
// request into in, finds the queue, checks the batch's ids (count,
// distinct, well-formed) and applies do to each entry, each entry
// succeeding or failing on its own, as SQS answers a batch.
func batchOnQueue[E any](s *Server, r *http.Request, queueURL *string, in any, entries *[]E, id func(E) string, do func(*queue, E) error) (any, error) {
	if err := decode(r, in); err != nil {
		return nil, err
	}
	return s.onQueue(*queueURL, func(q *queue) (any, error) {
		ids := make([]string, len(*entries))
		for i, e := range *entries {
			ids[i] = id(e)
		}
		if err := checkBatch(ids); err != nil {
			return nil, err
		}
		out := batchResult{Successful: []idOnly{}, Failed: []batchFailure{}}
		for _, e := range *entries {
			if err := do(q, e); err != nil {
				out.Failed = append(out.Failed, failure(id(e), err))
				continue
			}
			out.Successful = append(out.Successful, idOnly{id(e)})
		}
		return out, nil
	})
}

func (s *Server) httpChangeMessageVisibility(r *http.Request) (any, error) {
	var in struct {
		QueueUrl, ReceiptHandle string
		VisibilityTimeout       int
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.onQueue(in.QueueUrl, func(q *queue) (any, error) {
		if err := s.changeVisibility(q, in.ReceiptHandle, in.VisibilityTimeout); err != nil {
			return nil, err
		}
		return struct{}{}, nil
	})
}

func (s *Server) httpChangeMessageVisibilityBatch(r *http.Request) (any, error) {
	type entry struct {
		Id, ReceiptHandle string
		VisibilityTimeout int
	}
	var in struct {
		QueueUrl string
		Entries  []entry
	}
	return batchOnQueue(s, r, &in.QueueUrl, &in, &in.Entries,
		func(e entry) string { return e.Id },
		func(q *queue, e entry) error { return s.changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout) })
}
