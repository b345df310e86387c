package message

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"iter"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	apitypes "github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/google/go-cmp/cmp"

	"wsapi/contract"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/fanout"
	"wsapi/lambdas/internal/metrics"
	"wsapi/lambdas/internal/metrics/emftest"
	"wsapi/lambdas/internal/reply"
	"wsapi/lambdas/internal/testutil"
)

const (
	awsRequestID = "aws-req-3"
	// testID is the message id of every message a rig handles.
	testID = "0123456789abcdef0123456789abcdef"
)

// rig is a Handler over the real adapters (connections.Lister and Deleter,
// reply.Sender, SQSPublisher) and hand-written fakes of the SDK calls
// beneath them.
type rig struct {
	table   *fakeTable
	poster  *fakePoster
	queue   *fakeQueue
	metrics *fakeMetrics
	logs    *bytes.Buffer
	h       *Handler
}

func newRig(rows []row, limits Limits) *rig {
	j := &journal{}
	r := &rig{
		table:   &fakeTable{journal: j, pageSize: 2, rows: slices.Clone(rows)},
		poster:  &fakePoster{journal: j, errs: map[string]error{}, reached: make(chan struct{})},
		queue:   &fakeQueue{journal: j},
		metrics: &fakeMetrics{},
		logs:    &bytes.Buffer{},
	}
	log := slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lister := connections.NewLister(r.table, "conns", "byPrincipal")
	r.h = New(lister, connections.NewDeleter(r.table, "conns"), reply.NewSender(r.poster),
		NewSQSPublisher(r.queue, testQueueURL), limits, r.metrics, log)
	r.h.now = func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	r.h.newID = func() string { return testID }
	return r
}

func (r *rig) handle(t *testing.T, ev connections.MessageEvent) reply.Reply {
	t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: awsRequestID})
	got, err := r.h.Handle(ctx, ev)
	if err != nil {
		t.Fatalf("Handle() returned a Go error: %v", err)
	}
	return got
}

// loadEvent decodes a rendered template strictly, so a fixture that drifts
// from the event contract fails here.
func loadEvent(t *testing.T, name string) connections.MessageEvent {
	t.Helper()
	return testutil.DecodeStrict[connections.MessageEvent](t, "testdata/"+name)
}

func withBody(ev connections.MessageEvent, body string) connections.MessageEvent {
	ev.Body = body
	return ev
}

func replyJSON(t *testing.T, r reply.Reply) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// people: alice-1= is the sender in every fixture; bob has three
// connections, more than the fake table's page of two.
var people = []row{
	{"alice-1=", "alice"}, {"bob-1=", "bob"}, {"alice-2=", "alice"},
	{"carol-1=", "carol"}, {"bob-2=", "bob"}, {"bob-3=", "bob"},
}

// frameOf is the frame alice's message msg becomes, with the rig's id.
func frameOf(msg string) string {
	return `{"type":"message","id":"` + testID + `","from":"alice","message":"` + msg + `","sentAt":"2023-11-14T22:13:20Z"}`
}

func TestHandleRefusesBadFrames(t *testing.T) {
	small := Limits{MaxMessageBytes: 16, MaxInFlight: 4}
	tests := []struct {
		name   string
		route  string // default sendmessage
		body   string
		limits Limits // default small
		want   reply.Code
	}{
		{name: "not JSON", body: `hello`, want: reply.CodeInvalidJSON},
		{name: "empty body", body: ``, want: reply.CodeInvalidJSON},
		{name: "truncated", body: `{"action":"sendmessage","message":"hi"`, want: reply.CodeInvalidJSON},
		{name: "trailing data", body: `{"action":"sendmessage","message":"hi"} {}`, want: reply.CodeInvalidJSON},
		{name: "invalid UTF-8", body: "{\"action\":\"sendmessage\",\"message\":\"\xff\xfe\"}", want: reply.CodeInvalidJSON},
		{name: "repeated field", body: `{"action":"sendmessage","message":"a","message":"b"}`, want: reply.CodeInvalidJSON},
		{name: "array", body: `[{"action":"sendmessage"}]`, want: reply.CodeNotObject},
		{name: "string", body: `"sendmessage"`, want: reply.CodeNotObject},
		{name: "number", body: ` 42 `, want: reply.CodeNotObject},
		{name: "null", body: `null`, want: reply.CodeNotObject},
		{name: "no action", body: `{"message":"hi"}`, want: reply.CodeUnknownAction},
		{name: "empty object", body: `{}`, want: reply.CodeUnknownAction},
		{name: "other action", body: `{"action":"shout","message":"hi"}`, want: reply.CodeUnknownAction},
		{name: "action in other case", body: `{"action":"SendMessage","message":"hi"}`, want: reply.CodeUnknownAction},
		{name: "action not a string", body: `{"action":1,"message":"hi"}`, want: reply.CodeUnknownAction},
		{name: "misspelt to", body: `{"action":"sendmessage","message":"hi","To":"bob"}`, want: reply.CodeUnknownField},
		{name: "extra field", body: `{"action":"sendmessage","message":"hi","id":7}`, want: reply.CodeUnknownField},
		{name: "no message", body: `{"action":"sendmessage"}`, want: reply.CodeMissingMessage},
		{name: "no message, to given", body: `{"action":"sendmessage","to":"bob"}`, want: reply.CodeMissingMessage},
		{name: "message number", body: `{"action":"sendmessage","message":42}`, want: reply.CodeInvalidMessage},
		{name: "message null", body: `{"action":"sendmessage","message":null}`, want: reply.CodeInvalidMessage},
		{name: "message object", body: `{"action":"sendmessage","message":{"text":"hi"}}`, want: reply.CodeInvalidMessage},
		{name: "message array", body: `{"action":"sendmessage","message":["hi"]}`, want: reply.CodeInvalidMessage},
		{name: "message bool", body: `{"action":"sendmessage","message":true}`, want: reply.CodeInvalidMessage},
		{name: "message empty", body: `{"action":"sendmessage","message":""}`, want: reply.CodeEmptyMessage},
		{name: "message white space", body: `{"action":"sendmessage","message":" \t\n\r"}`, want: reply.CodeEmptyMessage},
		{name: "message unicode space", body: `{"action":"sendmessage","message":"\u00a0\u3000"}`, want: reply.CodeEmptyMessage},
		{name: "message one byte over", body: `{"action":"sendmessage","message":"12345678901234567"}`, want: reply.CodeMessageTooLarge},
		{name: "message over in bytes, not in characters", body: `{"action":"sendmessage","message":"ééééééééé"}`, want: reply.CodeMessageTooLarge},
		{name: "body over the cap", body: `{"action":"sendmessage","message":"hi"}` + strings.Repeat(" ", maxBodyBytes(16)), want: reply.CodeMessageTooLarge},
		{
			name:   "frame over 128 KB once escaped",
			body:   `{"action":"sendmessage","message":"` + strings.Repeat(`\u0001`, 30000) + `"}`,
			limits: Limits{MaxMessageBytes: MaxMaxMessageBytes, MaxInFlight: 4},
			want:   reply.CodeMessageTooLarge,
		},
		{name: "to empty", body: `{"action":"sendmessage","message":"hi","to":""}`, want: reply.CodeInvalidRecipient},
		{name: "to white space", body: `{"action":"sendmessage","message":"hi","to":"  "}`, want: reply.CodeInvalidRecipient},
		{name: "to null", body: `{"action":"sendmessage","message":"hi","to":null}`, want: reply.CodeInvalidRecipient},
		{name: "to number", body: `{"action":"sendmessage","message":"hi","to":7}`, want: reply.CodeInvalidRecipient},
		{name: "to list", body: `{"action":"sendmessage","message":"hi","to":["bob"]}`, want: reply.CodeInvalidRecipient},
		{name: "to too long", body: `{"action":"sendmessage","message":"hi","to":"` + strings.Repeat("b", 2049) + `"}`, want: reply.CodeInvalidRecipient},
		{name: "default: not JSON", route: "$default", body: `hello?`, want: reply.CodeInvalidJSON},
		{name: "default: not an object", route: "$default", body: `[1]`, want: reply.CodeNotObject},
		{name: "default: no action", route: "$default", body: `{"message":"hi"}`, want: reply.CodeUnknownAction},
		{name: "default: other action", route: "$default", body: `{"action":"join"}`, want: reply.CodeUnknownAction},
		{name: "default: even sendmessage", route: "$default", body: `{"action":"sendmessage","message":"hi"}`, want: reply.CodeUnknownAction},
		{name: "default: oversized", route: "$default", body: strings.Repeat("x", maxBodyBytes(16)+1), want: reply.CodeMessageTooLarge},
		{name: "unknown route", route: "join", body: `{"action":"join"}`, want: reply.CodeUnknownAction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limits := tt.limits
			if limits == (Limits{}) {
				limits = small
			}
			r := newRig(people, limits)
			ev := withBody(loadEvent(t, "sendmessage.json"), tt.body)
			if tt.route != "" {
				ev.RouteKey = tt.route
			}

			got := r.handle(t, ev)

			if got.Type != reply.TypeError || got.Code != tt.want || got.Message == "" {
				t.Fatalf("reply = %s, want an error with code %s", replyJSON(t, got), tt.want)
			}
			if r.table.scans+r.table.queries+len(r.table.deleted) != 0 || len(r.poster.journal.all()) != 0 {
				t.Errorf("refused frame still reached the table, the queue or the API: %q", r.poster.journal.all())
			}
			if got := r.metrics.all(); len(got) != 0 {
				t.Errorf("refused frame recorded a fan-out: %+v", got)
			}
			lines := testutil.LogLines(t, r.logs)
			if len(lines) != 1 || lines[0]["code"] != string(tt.want) || lines[0]["bodyBytes"] != float64(len(tt.body)) {
				t.Errorf("log = %v, want one line with the code and the body size", lines)
			}
		})
	}
}

// TestDefaultFixture runs the sample $default event as rendered.
func TestDefaultFixture(t *testing.T) {
	r := newRig(people, Limits{})
	got := replyJSON(t, r.handle(t, loadEvent(t, "default.json")))
	want := `{"type":"error","code":"invalid_json","message":"the body must be a JSON object in UTF-8 text"}`
	if got != want {
		t.Errorf("reply = %s, want %s", got, want)
	}
}

// TestHandleQueuesBroadcasts: a broadcast lists and posts nothing; it
// publishes one job that package fanout decodes back to the id, the
// sender and the frame, and is acked as queued with the frame's id.
func TestHandleQueuesBroadcasts(t *testing.T) {
	tests := []struct {
		name      string
		body      string // replaces the fixture's when set
		wantFrame string
	}{
		{name: "the fixture", wantFrame: frameOf(`hello <b>&</b> O'Brien é`)},
		{
			name:      "message of exactly the limit",
			body:      `{"action":"sendmessage","message":"` + strings.Repeat("é", 16) + `"}`,
			wantFrame: frameOf(strings.Repeat("é", 16)),
		},
		{
			name:      "control characters and quotes, escaped once",
			body:      `{"message":"a\"b\\c\u0001","action":"sendmessage"}`,
			wantFrame: frameOf(`a\"b\\c\u0001`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(people, Limits{MaxMessageBytes: 32, MaxInFlight: 3})
			ev := loadEvent(t, "sendmessage.json")
			if tt.body != "" {
				ev.Body = tt.body
			}

			if got, want := replyJSON(t, r.handle(t, ev)), `{"type":"ack","queued":true,"id":"`+testID+`"}`; got != want {
				t.Errorf("reply = %s, want %s", got, want)
			}
			if j := r.poster.journal.all(); !slices.Equal(j, []string{"publish 1"}) {
				t.Errorf("calls %q, want one publish and no scan, query or post", j)
			}
			sent := r.queue.all()
			if len(sent) != 1 || aws.ToString(sent[0].QueueUrl) != testQueueURL {
				t.Fatalf("sent %+v, want one message to %s", sent, testQueueURL)
			}
			job, shard, err := fanout.DecodeRecord([]byte(aws.ToString(sent[0].MessageBody)))
			if err != nil || shard != nil || job == nil {
				t.Fatalf("DecodeRecord(job) = %+v, %+v, %v; want a job", job, shard, err)
			}
			if job.ID != testID || job.Sender != ev.ConnectionID || string(job.Frame) != tt.wantFrame || job.TotalShards != 0 {
				t.Errorf("job = {%s %s %s %d}, want {%s %s %s 0}", job.ID, job.Sender, job.Frame, job.TotalShards, testID, ev.ConnectionID, tt.wantFrame)
			}

			lines := testutil.LogLines(t, r.logs)
			if len(lines) != 1 || lines[0]["level"] != "INFO" || lines[0]["msg"] != "message queued" ||
				lines[0]["messageId"] != testID || lines[0]["mode"] != "broadcast" || lines[0]["apiRequestId"] != ev.RequestID {
				t.Errorf("log = %v, want one INFO line, message queued, with the ids", lines)
			}
			got := r.metrics.all()
			if len(got) != 1 || got[0].Duration < 0 {
				t.Fatalf("fan-out records %+v, want 1", got)
			}
			got[0].Duration = 0
			if want := (metrics.FanOut{FrameBytes: len(tt.wantFrame)}); got[0] != want {
				t.Errorf("fan-out record %+v, want %+v", got[0], want)
			}
		})
	}
}

// TestHandleDeliversDirect: a message with "to" is still posted within the
// invocation, to the principal's connections, and acked with the counts.
func TestHandleDeliversDirect(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name        string
		body        string // replaces the direct fixture's when set
		rows        []row
		postErrs    map[string]error
		delErr      error
		wantReply   string
		wantPosted  []string // ids that received wantFrame
		wantFrame   string
		wantDeleted []string
		wantRows    int
		wantWarn    []string // recipientConnectionId of each WARN line
		// wantFanOut is the one record; FrameBytes is len(wantFrame) and
		// Duration is not compared.
		wantFanOut metrics.FanOut
	}{
		{
			name:       "only the recipient's connections",
			rows:       people,
			wantReply:  `{"type":"ack","delivered":3,"stale":0,"id":"` + testID + `"}`,
			wantPosted: []string{"bob-1=", "bob-2=", "bob-3="},
			wantFrame:  frameOf("psst"),
			wantRows:   6,
			wantFanOut: metrics.FanOut{Recipients: 3, Delivered: 3},
		},
		{
			name:       "message of exactly the limit",
			body:       `{"action":"sendmessage","message":"` + strings.Repeat("é", 16) + `","to":"bob"}`,
			rows:       people[:2],
			wantReply:  `{"type":"ack","delivered":1,"stale":0,"id":"` + testID + `"}`,
			wantPosted: []string{"bob-1="},
			wantFrame:  frameOf(strings.Repeat("é", 16)),
			wantRows:   2,
			wantFanOut: metrics.FanOut{Recipients: 1, Delivered: 1},
		},
		{
			name:       "to oneself: the other connections only",
			body:       `{"action":"sendmessage","message":"psst","to":"alice"}`,
			rows:       people,
			wantReply:  `{"type":"ack","delivered":1,"stale":0,"id":"` + testID + `"}`,
			wantPosted: []string{"alice-2="},
			wantFrame:  frameOf("psst"),
			wantRows:   6,
			wantFanOut: metrics.FanOut{Recipients: 1, Delivered: 1},
		},
		{
			name:       "to nobody connected",
			body:       `{"to":"dave","message":"psst","action":"sendmessage"}`,
			rows:       people,
			wantReply:  `{"type":"ack","delivered":0,"stale":0,"id":"` + testID + `"}`,
			wantFrame:  frameOf("psst"),
			wantRows:   6,
			wantFanOut: metrics.FanOut{},
		},
		{
			name:        "gone connection: removed, counted stale, others delivered",
			rows:        people,
			postErrs:    map[string]error{"bob-1=": &apitypes.GoneException{Message: aws.String("Gone")}},
			wantReply:   `{"type":"ack","delivered":2,"stale":1,"id":"` + testID + `"}`,
			wantPosted:  []string{"bob-2=", "bob-3="},
			wantFrame:   frameOf("psst"),
			wantDeleted: []string{"bob-1="},
			wantRows:    5,
			wantFanOut:  metrics.FanOut{Recipients: 3, Delivered: 2, Stale: 1},
		},
		{
			name:        "gone connection that cannot be removed: still stale",
			rows:        people,
			postErrs:    map[string]error{"bob-2=": &apitypes.GoneException{}},
			delErr:      boom,
			wantReply:   `{"type":"ack","delivered":2,"stale":1,"id":"` + testID + `"}`,
			wantPosted:  []string{"bob-1=", "bob-3="},
			wantFrame:   frameOf("psst"),
			wantDeleted: []string{"bob-2="},
			wantRows:    6,
			wantWarn:    []string{"bob-2="},
			wantFanOut:  metrics.FanOut{Recipients: 3, Delivered: 2, Stale: 1},
		},
		{
			name: "other post errors: counted failed, logged, others delivered",
			rows: people,
			postErrs: map[string]error{
				"bob-1=": &apitypes.ForbiddenException{Message: aws.String("Forbidden")},
				"bob-3=": boom,
			},
			wantReply:  `{"type":"ack","delivered":1,"stale":0,"failed":2,"id":"` + testID + `"}`,
			wantPosted: []string{"bob-2="},
			wantFrame:  frameOf("psst"),
			wantRows:   6,
			wantWarn:   []string{"bob-1=", "bob-3="},
			wantFanOut: metrics.FanOut{Recipients: 3, Delivered: 1, PostFailed: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(tt.rows, Limits{MaxMessageBytes: 32, MaxInFlight: 3})
			r.table.delErr = tt.delErr
			r.poster.errs = tt.postErrs
			ev := loadEvent(t, "direct.json")
			if tt.body != "" {
				ev.Body = tt.body
			}

			if got := replyJSON(t, r.handle(t, ev)); got != tt.wantReply {
				t.Errorf("reply = %s, want %s", got, tt.wantReply)
			}
			if got := r.poster.ids(); !slices.Equal(got, tt.wantPosted) {
				t.Errorf("posted to %q, want %q", got, tt.wantPosted)
			}
			for id, data := range r.poster.posted {
				if string(data) != tt.wantFrame {
					t.Errorf("frame to %s = %s, want %s", id, data, tt.wantFrame)
				}
			}
			if slices.Contains(r.poster.journal.all(), "post "+ev.ConnectionID) {
				t.Errorf("posted to the sender's own connection")
			}
			slices.Sort(r.table.deleted)
			if !slices.Equal(r.table.deleted, tt.wantDeleted) {
				t.Errorf("deleted %q, want %q", r.table.deleted, tt.wantDeleted)
			}
			if len(r.table.rows) != tt.wantRows {
				t.Errorf("%d rows left, want %d", len(r.table.rows), tt.wantRows)
			}
			if r.table.scans != 0 || r.table.queries == 0 || len(r.queue.all()) != 0 {
				t.Errorf("%d scans, %d queries, %d published; want a query only", r.table.scans, r.table.queries, len(r.queue.all()))
			}

			var warned []string
			var summary map[string]any
			for _, l := range testutil.LogLines(t, r.logs) {
				switch l["level"] {
				case "WARN":
					warned = append(warned, l["recipientConnectionId"].(string))
					if l["error"] == nil {
						t.Errorf("WARN line without the error: %v", l)
					}
				case "INFO":
					summary = l
				default:
					t.Errorf("unexpected log line %v", l)
				}
			}
			slices.Sort(warned)
			if !slices.Equal(warned, tt.wantWarn) {
				t.Errorf("warned about %q, want %q", warned, tt.wantWarn)
			}
			if summary == nil || summary["msg"] != "message sent" || summary["apiRequestId"] != ev.RequestID ||
				summary["messageId"] != testID || summary["mode"] != "direct" {
				t.Errorf("summary log line = %v", summary)
			}

			got := r.metrics.all()
			if len(got) != 1 {
				t.Fatalf("%d fan-out records, want 1: %+v", len(got), got)
			}
			want := tt.wantFanOut
			want.FrameBytes = len(tt.wantFrame)
			if got[0].Duration < 0 {
				t.Errorf("negative duration %v", got[0].Duration)
			}
			got[0].Duration = 0
			if got[0] != want {
				t.Errorf("fan-out record %+v, want %+v", got[0], want)
			}
		})
	}
}

// TestMessageIDs runs broadcasts and direct messages through a Handler
// with its own id generator: every message gets a new id of 32 lower-case
// hex digits (128 bits), and its frame carries the id its ack names.
func TestMessageIDs(t *testing.T) {
	r := newRig(people, Limits{})
	r.h.newID = newMessageID
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	const n = 200
	for i := range n {
		ev := loadEvent(t, "sendmessage.json")
		if i%2 == 1 {
			ev = loadEvent(t, "direct.json")
		}
		got := r.handle(t, ev)
		if !hex32.MatchString(got.ID) || seen[got.ID] {
			t.Fatalf("message %d: id %q, want 32 hex digits, new", i, got.ID)
		}
		seen[got.ID] = true

		var frames [][]byte
		if i%2 == 0 {
			sent := r.queue.all()
			job, _, err := fanout.DecodeRecord([]byte(aws.ToString(sent[len(sent)-1].MessageBody)))
			if err != nil {
				t.Fatal(err)
			}
			if job.ID != got.ID {
				t.Errorf("job id %s, ack id %s", job.ID, got.ID)
			}
			frames = append(frames, job.Frame)
		} else {
			for _, data := range r.poster.posted {
				frames = append(frames, data)
			}
			r.poster.posted = nil
		}
		for _, f := range frames {
			var m reply.Message
			if err := json.Unmarshal(f, &m); err != nil || m.ID != got.ID {
				t.Errorf("message %d: frame %s (%v) does not carry the ack's id %s", i, f, err, got.ID)
			}
		}
	}
	if len(seen) != n {
		t.Errorf("%d ids for %d messages", len(seen), n)
	}
}

func TestHandleInternalErrors(t *testing.T) {
	boom := errors.New("ProvisionedThroughputExceededException: slow down")
	tests := []struct {
		name       string
		event      string
		edit       func(*connections.MessageEvent)
		failPage   int
		publishErr error
		wantPosted int
		// wantRecord: a fan-out record, whose Recipients is wantPosted
		wantRecord bool
	}{
		{name: "query fails at once", event: "direct.json", failPage: 1, wantRecord: true},
		{name: "query fails on page 2", event: "direct.json", failPage: 2, wantPosted: 2, wantRecord: true},
		{name: "publishing fails", event: "sendmessage.json", publishErr: boom, wantRecord: true},
		{name: "the sender's connection id is too long for a job", event: "sendmessage.json", edit: func(ev *connections.MessageEvent) { ev.ConnectionID = strings.Repeat("c", 300) }},
		{name: "no principal in the event", event: "sendmessage.json", edit: func(ev *connections.MessageEvent) { ev.Authorizer.PrincipalID = "" }},
		{name: "no connection id in the event", event: "sendmessage.json", edit: func(ev *connections.MessageEvent) { ev.ConnectionID = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(people, Limits{})
			r.table.failPage, r.table.err = tt.failPage, boom
			r.queue.err = tt.publishErr
			ev := loadEvent(t, tt.event)
			if tt.edit != nil {
				tt.edit(&ev)
			}

			got := replyJSON(t, r.handle(t, ev))

			want := `{"type":"error","code":"internal","message":"internal error, request id ` + ev.RequestID + `"}`
			if got != want {
				t.Errorf("reply = %s, want %s", got, want)
			}
			if strings.Contains(got, "Provisioned") {
				t.Errorf("reply leaks the cause: %s", got)
			}
			if n := len(r.poster.ids()); n != tt.wantPosted {
				t.Errorf("posted %d, want %d", n, tt.wantPosted)
			}
			recs := r.metrics.all()
			switch {
			case !tt.wantRecord && len(recs) != 0:
				t.Errorf("fan-out records %+v, want none", recs)
			case tt.wantRecord && (len(recs) != 1 || recs[0].Recipients != tt.wantPosted || recs[0].Delivered != tt.wantPosted):
				t.Errorf("fan-out records %+v, want one with %d recipients, all delivered", recs, tt.wantPosted)
			}
			var errorLines int
			for _, l := range testutil.LogLines(t, r.logs) {
				if l["level"] == "ERROR" {
					errorLines++
					if l["apiRequestId"] != ev.RequestID || l["awsRequestId"] != awsRequestID {
						t.Errorf("ERROR line without both request ids: %v", l)
					}
					if tt.wantRecord && (l["error"] == nil || l["messageId"] != testID) {
						t.Errorf("ERROR line without the error or the message id: %v", l)
					}
				}
			}
			if errorLines != 1 {
				t.Errorf("%d ERROR lines, want 1: %s", errorLines, r.logs)
			}
		})
	}
}

// direct is a direct message to principal.
func direct(principal string) string {
	return `{"action":"sendmessage","message":"hi","to":"` + principal + `"}`
}

func TestHandleBoundsConcurrency(t *testing.T) {
	for _, limit := range []int{1, 3, 16} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			rows := []row{{"alice-1=", "alice"}}
			for i := range 3 * limit {
				rows = append(rows, row{"peer-" + strconv.Itoa(i) + "=", "peer"})
			}
			r := newRig(rows, Limits{MaxInFlight: limit})
			r.poster.hold = limit

			got := replyJSON(t, r.handle(t, withBody(loadEvent(t, "direct.json"), direct("peer"))))

			if want := `{"type":"ack","delivered":` + strconv.Itoa(3*limit) + `,"stale":0,"id":"` + testID + `"}`; got != want {
				t.Errorf("reply = %s, want %s", got, want)
			}
			if m := r.poster.maxInFlight.Load(); m != int64(limit) {
				t.Errorf("at most %d posts in flight, want exactly the limit %d", m, limit)
			}
		})
	}
}

// TestHandleStreamsPages checks that recipients are read page by page as
// posts go out, not all before the first post.
func TestHandleStreamsPages(t *testing.T) {
	var rows []row
	for i := range 7 {
		rows = append(rows, row{"c" + strconv.Itoa(i) + "=", "p"})
	}
	r := newRig(rows, Limits{MaxInFlight: 1})
	ev := withBody(loadEvent(t, "direct.json"), direct("p"))
	ev.ConnectionID = "c0="

	got := replyJSON(t, r.handle(t, ev))

	if want := `{"type":"ack","delivered":6,"stale":0,"id":"` + testID + `"}`; got != want {
		t.Errorf("reply = %s, want %s", got, want)
	}
	if r.table.queries != 4 {
		t.Errorf("%d queries, want 4 pages of 2", r.table.queries)
	}
	j := r.poster.journal.all()
	firstPost := slices.IndexFunc(j, func(e string) bool { return strings.HasPrefix(e, "post ") })
	lastQuery := slices.Index(j, "query 4")
	if firstPost < 0 || lastQuery < 0 || firstPost > lastQuery {
		t.Errorf("calls %q: want posting to start before the last page is read", j)
	}
}

// TestLogsCarryNoClientText sends frames holding a marker through every
// path and checks that no log line repeats it, nor the job that carries it.
func TestLogsCarryNoClientText(t *testing.T) {
	const secret = "s3cr3t-Marker"
	bodies := []string{
		`{"action":"sendmessage","message":"` + secret + `"}`,
		`{"action":"sendmessage","message":"` + secret + `","to":"bob"}`,
		`{"action":"sendmessage","message":"hi","to":"` + secret + `"}`,
		`{"action":"sendmessage","message":"` + secret + `","` + secret + `":1}`,
		`{"action":"` + secret + `"}`,
		secret,
		`{"action":"sendmessage","message":"` + strings.Repeat(secret, 10000) + `"}`,
	}
	for _, fail := range []string{"", "post", "query", "publish"} {
		r := newRig(people, Limits{})
		switch fail {
		case "post":
			r.poster.errs = map[string]error{"bob-1=": errors.New("boom"), "bob-2=": &apitypes.GoneException{}}
		case "query":
			r.table.failPage, r.table.err = 1, errors.New("boom")
		case "publish":
			r.queue.err = errors.New("boom")
		}
		for _, b := range bodies {
			r.handle(t, withBody(loadEvent(t, "sendmessage.json"), b))
		}
		logs := r.logs.String()
		if strings.Contains(logs, secret) {
			t.Errorf("failure %q: logs repeat client text:\n%s", fail, logs)
		}
		sent := r.queue.all()
		if len(sent) == 0 {
			t.Errorf("failure %q: nothing published", fail)
		}
		for _, m := range sent {
			var job struct{ Frame string }
			if err := json.Unmarshal([]byte(aws.ToString(m.MessageBody)), &job); err != nil || len(job.Frame) < 40 {
				t.Fatalf("job %s: %v", aws.ToString(m.MessageBody), err)
			}
			if strings.Contains(logs, job.Frame[:40]) {
				t.Errorf("failure %q: logs repeat the job's frame:\n%s", fail, logs)
			}
		}
		if r.logs.Len() == 0 {
			t.Errorf("failure %q: nothing logged", fail)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	full := map[string]string{
		"TABLE_NAME":           "conns",
		"PRINCIPAL_INDEX_NAME": "byPrincipal",
		"CONNECTIONS_ENDPOINT": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
		"FANOUT_QUEUE_URL":     testQueueURL,
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range full {
			m[a] = b
		}
		m[k] = v
		return m
	}
	defaults := Config{
		TableName:           "conns",
		PrincipalIndexName:  "byPrincipal",
		ConnectionsEndpoint: "https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
		FanOutQueueURL:      testQueueURL,
		Limits:              Limits{MaxMessageBytes: 32768, MaxInFlight: 16},
	}
	withQueue := func(u string) Config {
		c := defaults
		c.FanOutQueueURL = u
		return c
	}
	const local = "http://127.0.0.1:4566/000000000000/wsapi-fanout_1"
	testutil.RunConfigTests(t, ConfigFromEnv, []testutil.ConfigTest[Config]{
		{Name: "defaults", Env: full, Want: defaults},
		{Name: "limits", Env: with("MAX_IN_FLIGHT", "4"), Want: Config{TableName: "conns", PrincipalIndexName: "byPrincipal", ConnectionsEndpoint: defaults.ConnectionsEndpoint, FanOutQueueURL: testQueueURL, Limits: Limits{MaxMessageBytes: 32768, MaxInFlight: 4}}},
		{Name: "trailing slash", Env: with("CONNECTIONS_ENDPOINT", "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/"), Want: defaults},
		{Name: "local queue", Env: with("FANOUT_QUEUE_URL", local), Want: withQueue(local)},
		{Name: "nothing set", Env: map[string]string{}, WantErr: []string{"TABLE_NAME is not set", "PRINCIPAL_INDEX_NAME is not set", "CONNECTIONS_ENDPOINT is not set", "FANOUT_QUEUE_URL is not set"}},
		{Name: "endpoint without scheme", Env: with("CONNECTIONS_ENDPOINT", "abc123.execute-api.eu-west-1.amazonaws.com/prod"), WantErr: []string{"CONNECTIONS_ENDPOINT="}},
		{Name: "endpoint wss", Env: with("CONNECTIONS_ENDPOINT", "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"), WantErr: []string{"CONNECTIONS_ENDPOINT="}},
		{Name: "endpoint with query", Env: with("CONNECTIONS_ENDPOINT", "https://h/prod?x=1"), WantErr: []string{"CONNECTIONS_ENDPOINT="}},
		{Name: "queue: a queue's ARN", Env: with("FANOUT_QUEUE_URL", "arn:aws:sqs:eu-west-1:123456789012:fanout"), WantErr: []string{"FANOUT_QUEUE_URL="}},
		{Name: "queue: no scheme", Env: with("FANOUT_QUEUE_URL", "sqs.eu-west-1.amazonaws.com/123456789012/fanout"), WantErr: []string{"FANOUT_QUEUE_URL="}},
		{Name: "queue: only the name", Env: with("FANOUT_QUEUE_URL", "fanout"), WantErr: []string{"FANOUT_QUEUE_URL="}},
		{Name: "queue: no name", Env: with("FANOUT_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/"), WantErr: []string{"FANOUT_QUEUE_URL="}},
		{Name: "queue: no account", Env: with("FANOUT_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/fanout"), WantErr: []string{"FANOUT_QUEUE_URL="}},
		{Name: "queue: FIFO", Env: with("FANOUT_QUEUE_URL", testQueueURL+".fifo"), WantErr: []string{"FANOUT_QUEUE_URL="}},
		{Name: "queue: name over 80 characters", Env: with("FANOUT_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/"+strings.Repeat("q", 81)), WantErr: []string{"FANOUT_QUEUE_URL="}},
		{Name: "queue: with query", Env: with("FANOUT_QUEUE_URL", testQueueURL+"?Action=SendMessage"), WantErr: []string{"FANOUT_QUEUE_URL="}},
		{Name: "queue: with user", Env: with("FANOUT_QUEUE_URL", "https://me@sqs.eu-west-1.amazonaws.com/123456789012/fanout"), WantErr: []string{"FANOUT_QUEUE_URL="}},
		{Name: "queue: wss", Env: with("FANOUT_QUEUE_URL", "wss://sqs.eu-west-1.amazonaws.com/123456789012/fanout"), WantErr: []string{"FANOUT_QUEUE_URL="}},
		{Name: "message limit zero", Env: with("MAX_MESSAGE_BYTES", "0"), WantErr: []string{"MAX_MESSAGE_BYTES"}},
		{Name: "message limit over the frame", Env: with("MAX_MESSAGE_BYTES", "131072"), WantErr: []string{"MAX_MESSAGE_BYTES"}},
		{Name: "in flight not a number", Env: with("MAX_IN_FLIGHT", "many"), WantErr: []string{"MAX_IN_FLIGHT"}},
		{Name: "in flight too high", Env: with("MAX_IN_FLIGHT", "257"), WantErr: []string{"MAX_IN_FLIGHT"}},
	})
}

type panicDirectory struct{ ids []string }

func (d panicDirectory) OfPrincipal(context.Context, string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for _, id := range d.ids {
			if !yield(id, nil) {
				return
			}
		}
		if d.ids == nil {
			panic("bug in the directory")
		}
	}
}

type panicSender struct{}

func (panicSender) Send(_ context.Context, id string, _ []byte) error {
	if id == "bad=" {
		panic("bug in the sender")
	}
	return nil
}

type panicPublisher struct{}

func (panicPublisher) Publish(context.Context, []byte) error { panic("bug in the publisher") }

func TestHandleRecoversPanics(t *testing.T) {
	tests := []struct {
		name  string
		event string
		dir   panicDirectory
		want  string // "" for the internal error
	}{
		{name: "in the directory", event: "direct.json"},
		{name: "in the publisher", event: "sendmessage.json"},
		{name: "in a post", event: "direct.json", dir: panicDirectory{ids: []string{"ok=", "bad="}}, want: `{"type":"ack","delivered":1,"stale":0,"failed":1,"id":"` + testID + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := New(tt.dir, nil, panicSender{}, panicPublisher{}, Limits{}, nil, slog.New(slog.NewJSONHandler(&logs, nil)))
			h.newID = func() string { return testID }
			ev := loadEvent(t, tt.event)
			want := tt.want
			if want == "" {
				want = `{"type":"error","code":"internal","message":"internal error, request id ` + ev.RequestID + `"}`
			}
			got, err := h.Handle(context.Background(), ev)
			if err != nil || replyJSON(t, got) != want {
				t.Errorf("Handle() = %s, %v; want %s", replyJSON(t, got), err, want)
			}
			if !strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("panic not logged at ERROR: %s", logs.String())
			}
		})
	}
}

// TestFanOutRecord runs a direct message to three connections, one of them
// gone, and a broadcast through the EMF recorder, and reads the records
// back as CloudWatch would.
func TestFanOutRecord(t *testing.T) {
	tests := []struct {
		name  string
		event string
		want  map[string]float64 // without FrameBytes and FanOutDuration
	}{
		{
			name:  "direct",
			event: "direct.json",
			want:  map[string]float64{contract.MetricRecipients: 3, contract.MetricDelivered: 2, contract.MetricStale: 1, contract.MetricPostFailed: 0},
		},
		{
			name:  "broadcast: nothing posted here",
			event: "sendmessage.json",
			want:  map[string]float64{contract.MetricRecipients: 0, contract.MetricDelivered: 0, contract.MetricStale: 0, contract.MetricPostFailed: 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(people, Limits{})
			var out bytes.Buffer
			r.h.metrics = metrics.New(&out, "wsapi-test", contract.FunctionMessage, slog.New(slog.NewJSONHandler(r.logs, nil)))
			r.poster.errs = map[string]error{"bob-3=": &apitypes.GoneException{}}
			ev := loadEvent(t, tt.event)

			r.handle(t, ev)

			t.Logf("record: %s", strings.TrimSpace(out.String()))
			docs := emftest.Lines(t, out.String())
			if len(docs) != 1 {
				t.Fatalf("%d records, want 1: %s", len(docs), out.String())
			}
			d := docs[0]
			// The frame's size, from what a recipient got or the job.
			frameBytes := float64(len(r.poster.posted["bob-1="]))
			if sent := r.queue.all(); len(sent) == 1 {
				job, _, err := fanout.DecodeRecord([]byte(aws.ToString(sent[0].MessageBody)))
				if err != nil {
					t.Fatal(err)
				}
				frameBytes = float64(len(job.Frame))
			}
			if frameBytes == 0 {
				t.Fatal("no frame sent")
			}
			want := maps.Clone(tt.want)
			want[contract.MetricFrameBytes] = frameBytes
			want[contract.MetricFanOutDuration] = d.Values()[contract.MetricFanOutDuration]
			if diff := cmp.Diff(want, d.Values()); diff != "" {
				t.Errorf("record values (-want +got):\n%s", diff)
			}
			if d.Metrics[contract.MetricFanOutDuration].Unit != "Milliseconds" || d.Metrics[contract.MetricFrameBytes].Unit != "Bytes" {
				t.Errorf("units %+v", d.Metrics)
			}
			if got := d.Dimension(contract.DimensionFunction); got != contract.FunctionMessage || len(d.Directives) != 1 ||
				!cmp.Equal(d.Directives[0].Dimensions, [][]string{{contract.DimensionFunction}}) {
				t.Errorf("dimensions %+v, Function %q", d.Directives, got)
			}
			line := out.String()
			for _, forbidden := range []string{ev.ConnectionID, ev.RequestID, ev.Authorizer.PrincipalID, testID, "alice", "bob-1=", "bob-3=", "hello", "psst"} {
				if strings.Contains(line, forbidden) {
					t.Errorf("record holds %q: %s", forbidden, line)
				}
			}
		})
	}
}
