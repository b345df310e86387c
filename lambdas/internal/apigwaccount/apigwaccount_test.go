package apigwaccount

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/google/go-cmp/cmp"

	"wsapi/lambdas/internal/testutil"
)

const (
	roleName   = "APIGatewayCloudWatchLogs"
	sharedARN  = "arn:aws:iam::" + testAccountID + ":role/" + roleName
	otherARN   = "arn:aws:iam::" + testAccountID + ":role/team-a/ExistingLogsRole"
	policyARN  = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
	serviceTok = "arn:aws:lambda:eu-west-1:" + testAccountID + ":function:apigwaccount"
)

// fakeClock moves only when the handler sleeps, so retries take no time.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.sleeps = append(c.sleeps, d)
	return ctx.Err()
}

// testHandler returns a Handler on real SDK clients talking to f, a fake
// clock whose jitter always picks the longest wait, and its log.
func testHandler(t *testing.T, f *fakeAWS) (*Handler, *fakeClock, *bytes.Buffer) {
	t.Helper()
	ag, im := f.start()
	logs := &bytes.Buffer{}
	h := New(ag, im, slog.New(slog.NewJSONHandler(logs, nil)))
	clk := &fakeClock{t: time.Now()}
	h.clock = clock{now: clk.now, sleep: clk.sleep, jitter: func(n int64) int64 { return n - 1 }}
	return h, clk, logs
}

// invocation is a context with a Lambda-like deadline, on the fake clock.
func invocation(t *testing.T, clk *fakeClock, timeout time.Duration) context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), clk.now().Add(timeout))
	t.Cleanup(cancel)
	return ctx
}

func props() map[string]any {
	return map[string]any{"ServiceToken": serviceTok, PropRoleName: roleName, PropRolePath: "/", PropPolicyARN: policyARN}
}

func event(rt cfn.RequestType, p map[string]any) cfn.Event {
	return cfn.Event{
		RequestType:        rt,
		RequestID:          "req-" + string(rt),
		ResponseURL:        "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x?X-Amz-Signature=secret",
		ResourceType:       "Custom::ApiGatewayCloudWatchRole",
		LogicalResourceID:  "ApiGatewayCloudWatchRoleSetting",
		StackID:            "arn:aws:cloudformation:eu-west-1:" + testAccountID + ":stack/ws/1",
		ResourceProperties: p,
	}
}

var (
	freshCalls = []string{"GetAccount", "GetRole", "CreateRole", "AttachRolePolicy", "GetAccount", "UpdateAccount"}
	setAgain   = []string{"GetAccount", "UpdateAccount"}
)

func TestRunCreateAndUpdate(t *testing.T) {
	tests := []struct {
		name       string
		rt         cfn.RequestType
		setup      func(f *fakeAWS)
		wantData   map[string]any // nil when an error is wanted
		wantErr    []string       // substrings of the error
		wantCalls  []string
		wantSleeps []time.Duration
		wantRoles  int // roles in the account afterwards
	}{
		{
			name:      "fresh account: role created and set",
			rt:        cfn.RequestCreate,
			wantData:  map[string]any{DataRoleARN: sharedARN, DataAction: ActionSet},
			wantCalls: freshCalls,
			wantRoles: 1,
		},
		{
			name:      "update on a fresh account works like create",
			rt:        cfn.RequestUpdate,
			wantData:  map[string]any{DataRoleARN: sharedARN, DataAction: ActionSet},
			wantCalls: freshCalls,
			wantRoles: 1,
		},
		{
			name:      "account has another role: kept, nothing created",
			rt:        cfn.RequestCreate,
			setup:     func(f *fakeAWS) { f.accountRole = otherARN },
			wantData:  map[string]any{DataRoleARN: otherARN, DataAction: ActionKept},
			wantCalls: []string{"GetAccount"},
		},
		{
			name:      "account already uses the shared role: kept",
			rt:        cfn.RequestUpdate,
			setup:     func(f *fakeAWS) { f.addRole(roleName, "/").policies = []string{policyARN}; f.accountRole = sharedARN },
			wantData:  map[string]any{DataRoleARN: sharedARN, DataAction: ActionKept},
			wantCalls: []string{"GetAccount"},
			wantRoles: 1,
		},
		{
			name:      "role left by an earlier stack, account empty: no CreateRole",
			rt:        cfn.RequestCreate,
			setup:     func(f *fakeAWS) { f.addRole(roleName, "/") },
			wantData:  map[string]any{DataRoleARN: sharedARN, DataAction: ActionSet},
			wantCalls: []string{"GetAccount", "GetRole", "AttachRolePolicy", "GetAccount", "UpdateAccount"},
			wantRoles: 1,
		},
		{
			name: "a concurrent writer sets a role before the update: kept",
			rt:   cfn.RequestCreate,
			setup: func(f *fakeAWS) {
				// After AttachRolePolicy, before step 3's read.
				f.onCall = func(op string) {
					if op == "AttachRolePolicy" {
						f.accountRole = otherARN
					}
				}
			},
			wantData:  map[string]any{DataRoleARN: otherARN, DataAction: ActionKept},
			wantCalls: []string{"GetAccount", "GetRole", "CreateRole", "AttachRolePolicy", "GetAccount"},
			wantRoles: 1,
		},
		{
			name:       "role not yet usable twice, then set",
			rt:         cfn.RequestCreate,
			setup:      func(f *fakeAWS) { f.queue("UpdateAccount", errNotYetUsable, errNotYetUsable) },
			wantData:   map[string]any{DataRoleARN: sharedARN, DataAction: ActionSet},
			wantCalls:  append(slices.Clone(freshCalls), append(setAgain, setAgain...)...),
			wantSleeps: []time.Duration{time.Second, 2 * time.Second},
			wantRoles:  1,
		},
		{
			name:       "429 on UpdateAccount, then set",
			rt:         cfn.RequestCreate,
			setup:      func(f *fakeAWS) { f.queue("UpdateAccount", errTooMany) },
			wantData:   map[string]any{DataRoleARN: sharedARN, DataAction: ActionSet},
			wantCalls:  append(slices.Clone(freshCalls), setAgain...),
			wantSleeps: []time.Duration{time.Second},
			wantRoles:  1,
		},
		{
			name:       "ConflictException on UpdateAccount, then set",
			rt:         cfn.RequestCreate,
			setup:      func(f *fakeAWS) { f.queue("UpdateAccount", errConflict) },
			wantData:   map[string]any{DataRoleARN: sharedARN, DataAction: ActionSet},
			wantCalls:  append(slices.Clone(freshCalls), setAgain...),
			wantSleeps: []time.Duration{time.Second},
			wantRoles:  1,
		},
		{
			name:       "429 on the first GetAccount, then set",
			rt:         cfn.RequestCreate,
			setup:      func(f *fakeAWS) { f.queue("GetAccount", errTooMany) },
			wantData:   map[string]any{DataRoleARN: sharedARN, DataAction: ActionSet},
			wantCalls:  append([]string{"GetAccount"}, freshCalls...),
			wantSleeps: []time.Duration{time.Second},
			wantRoles:  1,
		},
		{
			name:       "IAM throttles GetRole and AttachRolePolicy, then set",
			rt:         cfn.RequestCreate,
			setup:      func(f *fakeAWS) { f.queue("GetRole", errThrottling); f.queue("AttachRolePolicy", errThrottling) },
			wantData:   map[string]any{DataRoleARN: sharedARN, DataAction: ActionSet},
			wantCalls:  []string{"GetAccount", "GetRole", "GetRole", "CreateRole", "AttachRolePolicy", "AttachRolePolicy", "GetAccount", "UpdateAccount"},
			wantSleeps: []time.Duration{time.Second, time.Second},
			wantRoles:  1,
		},
		{
			name: "IAM ConcurrentModification on AttachRolePolicy, then set",
			rt:   cfn.RequestCreate,
			setup: func(f *fakeAWS) {
				f.queue("AttachRolePolicy", fakeErr{409, "ConcurrentModification", "Multiple requests to change this object were submitted simultaneously."})
			},
			wantData:   map[string]any{DataRoleARN: sharedARN, DataAction: ActionSet},
			wantCalls:  []string{"GetAccount", "GetRole", "CreateRole", "AttachRolePolicy", "AttachRolePolicy", "GetAccount", "UpdateAccount"},
			wantSleeps: []time.Duration{time.Second},
			wantRoles:  1,
		},
		{
			name: "role created elsewhere but not yet visible: retried",
			rt:   cfn.RequestCreate,
			setup: func(f *fakeAWS) {
				f.queue("CreateRole", fakeErr{409, "EntityAlreadyExists", "Role with name " + roleName + " already exists."})
			},
			wantData:   map[string]any{DataRoleARN: sharedARN, DataAction: ActionSet},
			wantCalls:  []string{"GetAccount", "GetRole", "CreateRole", "GetRole", "GetRole", "CreateRole", "AttachRolePolicy", "GetAccount", "UpdateAccount"},
			wantSleeps: []time.Duration{time.Second},
			wantRoles:  1,
		},
		{
			name:      "AccessDenied on CreateRole fails at once",
			rt:        cfn.RequestCreate,
			setup:     func(f *fakeAWS) { f.queue("CreateRole", errAccessDenied) },
			wantErr:   []string{"ensure role " + roleName, "CreateRole " + roleName, "AccessDenied", "not authorized to perform: iam:CreateRole"},
			wantCalls: []string{"GetAccount", "GetRole", "CreateRole"},
		},
		{
			name: "a BadRequest not about the role fails at once",
			rt:   cfn.RequestCreate,
			setup: func(f *fakeAWS) {
				f.queue("UpdateAccount", fakeErr{400, "BadRequestException", "Invalid ARN specified in the request"})
			},
			wantErr:   []string{"set account role", "UpdateAccount cloudwatchRoleArn=" + sharedARN, "BadRequestException", "Invalid ARN specified"},
			wantCalls: freshCalls,
			wantRoles: 1,
		},
		{
			name: "a role of that name that API Gateway cannot assume fails at once",
			rt:   cfn.RequestCreate,
			setup: func(f *fakeAWS) {
				f.addRole(roleName, "/").trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
			},
			wantErr:   []string{"role " + sharedARN + " exists but its trust policy does not name apigateway.amazonaws.com", "choose another RoleName"},
			wantCalls: []string{"GetAccount", "GetRole"},
			wantRoles: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAWS(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			h, clk, logs := testHandler(t, f)

			id, data, err := h.Run(invocation(t, clk, 5*time.Minute), event(tt.rt, props()))

			if id != PhysicalResourceID {
				t.Errorf("PhysicalResourceId = %q, want %q", id, PhysicalResourceID)
			}
			if diff := cmp.Diff(tt.wantData, data); diff != "" {
				t.Errorf("Data (-want +got):\n%s", diff)
			}
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want one containing %q", err, w)
				}
			}
			account, roles, calls := f.snapshot()
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSleeps, clk.sleeps); diff != "" {
				t.Errorf("retry waits (-want +got):\n%s", diff)
			}
			if len(roles) != tt.wantRoles {
				t.Errorf("%d roles in the account, want %d", len(roles), tt.wantRoles)
			}
			if data != nil && account != data[DataRoleARN] {
				t.Errorf("account role = %q, Data says %v", account, data[DataRoleARN])
			}
			if data != nil && data[DataAction] == ActionSet {
				r := roles[roleName]
				if r.path != "/" || !strings.Contains(r.trust, `"Service":"apigateway.amazonaws.com"`) || !slices.Equal(r.policies, []string{policyARN}) {
					t.Errorf("shared role = %+v: want path /, trusting API Gateway, with only the policy", r)
				}
			}
			checkLogs(t, logs, err == nil, data)
		})
	}
}

// checkLogs: JSON lines, never the ResponseURL, and a last line that says
// what was done or why not.
func checkLogs(t *testing.T, logs *bytes.Buffer, ok bool, data map[string]any) {
	t.Helper()
	if strings.Contains(logs.String(), "X-Amz-Signature") {
		t.Errorf("the log holds the ResponseURL:\n%s", logs)
	}
	lines := testutil.LogLines(t, logs)
	if len(lines) == 0 {
		t.Fatal("nothing logged")
	}
	last := lines[len(lines)-1]
	switch {
	case ok && (last["level"] != "INFO" || last["action"] != data[DataAction] || last["roleArn"] != data[DataRoleARN]):
		t.Errorf("last log line %v: want INFO with action and roleArn %v", last, data)
	case !ok && (last["level"] != "ERROR" || last["error"] == nil):
		t.Errorf("last log line %v: want ERROR with the error", last)
	}
	if last["requestId"] == nil || last["logicalResourceId"] == nil {
		t.Errorf("last log line %v: want the request's ids", last)
	}
}

// Two stacks deploy at once into a fresh account: both GetRole before
// either CreateRole, so one CreateRole gets EntityAlreadyExists.
func TestRunConcurrentCreates(t *testing.T) {
	f := newFakeAWS(t)
	f.getRoleGate = newGate(2)
	type result struct {
		data map[string]any
		err  error
	}
	results := make([]result, 2)
	var logs [2]*bytes.Buffer
	var wg sync.WaitGroup
	for i := range results {
		h, clk, buf := testHandler(t, f)
		logs[i] = buf
		ctx := invocation(t, clk, 5*time.Minute)
		wg.Go(func() {
			_, data, err := h.Run(ctx, event(cfn.RequestCreate, props()))
			results[i] = result{data, err}
		})
	}
	wg.Wait()

	account, roles, _ := f.snapshot()
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("stack %d: %v", i, r.err)
		}
		if r.data[DataRoleARN] != sharedARN {
			t.Errorf("stack %d: Data = %v, want RoleArn %s", i, r.data, sharedARN)
		}
	}
	if len(roles) != 1 || account != sharedARN {
		t.Errorf("roles %v, account role %q: want the one shared role, set", roles, account)
	}
	if n := f.count("CreateRole"); n != 2 {
		t.Errorf("CreateRole called %d times, want 2 (one EntityAlreadyExists)", n)
	}
	lost := 0
	for _, l := range logs {
		if strings.Contains(l.String(), "shared role created by a concurrent deploy") {
			lost++
		}
	}
	if lost != 1 {
		t.Errorf("%d stacks took the concurrent deploy's role, want 1", lost)
	}
}

// The retries end before the invocation's deadline less the margin, and
// the error says so.
func TestRunDeadline(t *testing.T) {
	f := newFakeAWS(t)
	notUsable := make([]fakeErr, 50)
	for i := range notUsable {
		notUsable[i] = errNotYetUsable
	}
	f.queue("UpdateAccount", notUsable...)
	h, clk, _ := testHandler(t, f)
	h.retry = retryPolicy{first: time.Second, max: 4 * time.Second, margin: 10 * time.Second, noDeadline: time.Minute}
	start := clk.now()
	ctx := invocation(t, clk, 30*time.Second)

	_, data, err := h.Run(ctx, event(cfn.RequestCreate, props()))

	if err == nil || data != nil {
		t.Fatalf("Run() = %v, %v: want an error", data, err)
	}
	if !errors.Is(err, errOutOfTime) {
		t.Errorf("error %v: want errOutOfTime", err)
	}
	for _, w := range []string{"set account role: gave up after 7 attempts", "out of time", "deadline less 10s", "role ARN does not have required permissions"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error = %v, want one containing %q", err, w)
		}
	}
	// Waits 1+2+4+4+4+4 = 19 s; another 4 s would end past 30-10 = 20 s.
	if got, stop := clk.now(), start.Add(20*time.Second); got.After(stop) {
		t.Errorf("clock at %s after start, past the budget's end at 20s", got.Sub(start))
	}
	if n := f.count("UpdateAccount"); n != 7 {
		t.Errorf("UpdateAccount called %d times, want 7", n)
	}
}

func TestRunNoTimeLeft(t *testing.T) {
	f := newFakeAWS(t)
	h, clk, _ := testHandler(t, f)

	_, _, err := h.Run(invocation(t, clk, 5*time.Second), event(cfn.RequestCreate, props()))

	if !errors.Is(err, errOutOfTime) || !strings.Contains(err.Error(), "raise the function's timeout") {
		t.Errorf("error = %v, want out of time, with the fix", err)
	}
	if _, _, calls := f.snapshot(); len(calls) != 0 {
		t.Errorf("calls %v, want none", calls)
	}
}

func TestRunDelete(t *testing.T) {
	for name, p := range map[string]map[string]any{
		"valid properties":   props(),
		"invalid properties": {"RoleName": "no spaces allowed"},
		"no properties":      nil,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeAWS(t)
			h, clk, logs := testHandler(t, f)

			id, data, err := h.Run(invocation(t, clk, time.Minute), event(cfn.RequestDelete, p))

			if id != PhysicalResourceID || data != nil || err != nil {
				t.Errorf("Run() = %q, %v, %v: want %q, no data, no error", id, data, err, PhysicalResourceID)
			}
			if _, _, calls := f.snapshot(); len(calls) != 0 {
				t.Errorf("calls %v, want none", calls)
			}
			if !strings.Contains(logs.String(), "left in place") {
				t.Errorf("log %s: want the delete explained", logs)
			}
		})
	}
}

func TestRunInvalidPropertiesCallsNothing(t *testing.T) {
	f := newFakeAWS(t)
	h, clk, _ := testHandler(t, f)
	p := map[string]any{"ServiceToken": serviceTok, "RoleName": "bad name", "RolePath": "team", "PolicyArn": policyARN}

	_, _, err := h.Run(invocation(t, clk, time.Minute), event(cfn.RequestCreate, p))

	for _, w := range []string{"invalid properties", `RoleName="bad name"`, `RolePath="team"`, "PolicyARN is missing", `unknown property "PolicyArn"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error = %v, want one containing %q", err, w)
		}
	}
	if _, _, calls := f.snapshot(); len(calls) != 0 {
		t.Errorf("calls %v, want none", calls)
	}
}

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name    string
		raw     map[string]any
		want    Properties
		wantErr []string
	}{
		{name: "valid", raw: props(), want: Properties{RoleName: roleName, RolePath: "/", PolicyARN: policyARN}},
		{
			name: "path defaults to /, other partition, ServiceTimeout allowed",
			raw:  map[string]any{"ServiceToken": serviceTok, "ServiceTimeout": "600", "RoleName": "r", "PolicyARN": "arn:aws-cn:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"},
			want: Properties{RoleName: "r", RolePath: "/", PolicyARN: "arn:aws-cn:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"},
		},
		{
			name: "nested path, customer managed policy",
			raw:  map[string]any{"RoleName": "a+b=c,d.e@f-g_h", "RolePath": "/org/logs/", "PolicyARN": "arn:aws:iam::123456789012:policy/mine"},
			want: Properties{RoleName: "a+b=c,d.e@f-g_h", RolePath: "/org/logs/", PolicyARN: "arn:aws:iam::123456789012:policy/mine"},
		},
		{name: "nothing", raw: nil, wantErr: []string{"RoleName is missing", "PolicyARN is missing"}},
		{name: "empty strings", raw: map[string]any{"RoleName": "", "RolePath": "", "PolicyARN": ""}, wantErr: []string{"RoleName is empty", "PolicyARN is empty"}},
		{name: "not strings", raw: map[string]any{"RoleName": 7.0, "RolePath": true, "PolicyARN": []any{"x"}}, wantErr: []string{"RoleName: want a string, got float64", "RolePath: want a string, got bool", "PolicyARN: want a string, got []interface {}"}},
		{name: "name too long", raw: map[string]any{"RoleName": strings.Repeat("r", 65), "PolicyARN": policyARN}, wantErr: []string{"RoleName=", "1 to 64"}},
		{name: "path without trailing slash", raw: map[string]any{"RoleName": "r", "RolePath": "/logs", "PolicyARN": policyARN}, wantErr: []string{`RolePath="/logs"`}},
		{name: "path with a space", raw: map[string]any{"RoleName": "r", "RolePath": "/a b/", "PolicyARN": policyARN}, wantErr: []string{`RolePath="/a b/"`}},
		{name: "policy not an IAM policy ARN", raw: map[string]any{"RoleName": "r", "PolicyARN": "arn:aws:s3:::bucket"}, wantErr: []string{`PolicyARN="arn:aws:s3:::bucket"`}},
		{name: "misspelt names", raw: map[string]any{"Rolename": "r", "PolicyArn": policyARN}, wantErr: []string{"RoleName is missing", "PolicyARN is missing", `unknown property "PolicyArn"`, `unknown property "Rolename"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties(tt.raw)
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want one containing %q", err, w)
				}
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	h := Unavailable(errors.New("load AWS config: no region"), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx := context.Background()
	if _, _, err := h.Run(ctx, event(cfn.RequestCreate, props())); err == nil || !strings.Contains(err.Error(), "cold start: load AWS config: no region") {
		t.Errorf("Create: error = %v, want the cold start's", err)
	}
	if _, _, err := h.Run(ctx, event(cfn.RequestDelete, props())); err != nil {
		t.Errorf("Delete: error = %v, want none", err)
	}
}

func TestReasonIsBounded(t *testing.T) {
	long := strings.Repeat("é", 2000) // 4000 bytes
	got := reasonError{errors.New(long)}.Error()
	if len(got) > maxReasonBytes || !strings.HasSuffix(got, "(see the function's log)") || !strings.HasPrefix(got, "éé") {
		t.Errorf("reason of %d bytes, ending %q", len(got), got[len(got)-30:])
	}
	if short := (reasonError{errors.New("short")}).Error(); short != "short" {
		t.Errorf("short reason = %q", short)
	}
}

// cfnResponse is what CloudFormation reads from the ResponseURL.
type cfnResponse struct {
	Status             string
	Reason             string
	PhysicalResourceID string `json:"PhysicalResourceId"`
	StackID            string `json:"StackId"`
	RequestID          string `json:"RequestId"`
	LogicalResourceID  string `json:"LogicalResourceId"`
	Data               map[string]any
}

// Through cfn.LambdaWrap, as Lambda runs it: the answer is PUT to the
// ResponseURL, and Handle itself succeeds once it is sent.
func TestHandleAnswersCloudFormation(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(f *fakeAWS)
		want       cfnResponse // but Reason
		wantReason []string    // substrings of the Reason
	}{
		{
			name: "success",
			want: cfnResponse{Status: "SUCCESS", Data: map[string]any{DataRoleARN: sharedARN, DataAction: ActionSet}},
		},
		{
			name:  "failure",
			setup: func(f *fakeAWS) { f.queue("CreateRole", errAccessDenied) },
			want:  cfnResponse{Status: "FAILED"},
			wantReason: []string{"ensure role " + roleName + ": CreateRole " + roleName + ": ", "StatusCode: 403",
				"api error AccessDenied: " + errAccessDenied.message},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu      sync.Mutex
				puts    []cfnResponse
				queries []string
			)
			cfnSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var got cfnResponse
				err := json.NewDecoder(r.Body).Decode(&got)
				mu.Lock()
				defer mu.Unlock()
				if r.Method != http.MethodPut || err != nil {
					t.Errorf("%s %s: %v; want a PUT of JSON", r.Method, r.URL, err)
				}
				puts = append(puts, got)
				queries = append(queries, r.URL.RawQuery)
			}))
			defer cfnSrv.Close()
			f := newFakeAWS(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			h, clk, logs := testHandler(t, f)
			ev := decodeEvent(t, "testdata/create.json")
			ev.ResponseURL = cfnSrv.URL + "/cloudformation-response?X-Amz-Signature=secret"

			reason, err := h.Handle(invocation(t, clk, 5*time.Minute), ev)

			if reason != "" || err != nil {
				t.Fatalf("Handle() = %q, %v: want the answer sent", reason, err)
			}
			if len(puts) != 1 || queries[0] != "X-Amz-Signature=secret" {
				t.Fatalf("%d answers (queries %v), want 1 to the ResponseURL", len(puts), queries)
			}
			got := puts[0]
			for _, w := range tt.wantReason {
				if !strings.Contains(got.Reason, w) {
					t.Errorf("Reason = %q, want one containing %q", got.Reason, w)
				}
			}
			if len(tt.wantReason) == 0 && got.Reason != "" {
				t.Errorf("Reason = %q, want none", got.Reason)
			}
			got.Reason = ""
			want := tt.want
			want.PhysicalResourceID = PhysicalResourceID
			want.StackID, want.RequestID, want.LogicalResourceID = ev.StackID, ev.RequestID, ev.LogicalResourceID
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if strings.Contains(logs.String(), "X-Amz-Signature") || strings.Contains(logs.String(), cfnSrv.URL) {
				t.Errorf("the log holds the ResponseURL:\n%s", logs)
			}
		})
	}
}

// decodeEvent reads a CloudFormation request as Lambda would. Not strictly:
// CloudFormation also sends a top-level ServiceToken that cfn.Event does
// not model.
func decodeEvent(t *testing.T, path string) cfn.Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ev cfn.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if ev.RequestType != cfn.RequestCreate || ev.ResponseURL == "" || len(ev.ResourceProperties) == 0 {
		t.Fatalf("%s: %+v is not a Create request", path, ev)
	}
	return ev
}
