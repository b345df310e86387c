package apigwaccount

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

const (
	testAccountID = "123456789012"
	iamNamespace  = "https://iam.amazonaws.com/doc/2010-05-08/"
)

// fakeAWS stands in for API Gateway's control plane (GET and PATCH
// /account, REST JSON) and IAM's query API (POST / with Action=GetRole,
// CreateRole or AttachRolePolicy, XML answers), as the SDK clients send and
// parse them. One mutex serializes every request, as the real services
// serialize writes to one account setting and one role name.
type fakeAWS struct {
	t *testing.T

	mu          sync.Mutex
	accountRole string               // cloudwatchRoleArn; "" for none
	roles       map[string]*fakeRole // by name
	calls       []string             // operation names, in order
	queued      map[string][]fakeErr // errors to answer before serving an operation
	// onCall, when set, runs at each call with f.mu held, before the call
	// is served: a concurrent writer acting between two calls.
	onCall func(op string)
	// getRoleGate, when set, holds the first getRoleGate.n GetRole calls
	// until all of them have arrived, so concurrent callers all see the
	// role missing before any creates it.
	getRoleGate *gate
}

type fakeRole struct {
	name, path, trust, description string
	policies                       []string
}

func (r *fakeRole) arn() string {
	return "arn:aws:iam::" + testAccountID + ":role" + r.path + r.name
}

// fakeErr is one error answer: HTTP status, error code, message.
type fakeErr struct {
	status        int
	code, message string
}

var (
	errNotYetUsable = fakeErr{400, "BadRequestException", "The role ARN does not have required permissions configured. Please grant trust permission for API Gateway and add the required role policy."}
	errTooMany      = fakeErr{429, "TooManyRequestsException", "Too Many Requests"}
	errConflict     = fakeErr{409, "ConflictException", "Unable to complete operation due to concurrent modification. Please try again later."}
	errThrottling   = fakeErr{400, "Throttling", "Rate exceeded"}
	errAccessDenied = fakeErr{403, "AccessDenied", "User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::123456789012:role/APIGatewayCloudWatchLogs"}
)

// gate releases its waiters once n have arrived, or after a timeout so that
// a broken test fails on its assertions instead of hanging.
type gate struct {
	n       int
	arrived int
	open    chan struct{}
}

func newGate(n int) *gate { return &gate{n: n, open: make(chan struct{})} }

func newFakeAWS(t *testing.T) *fakeAWS {
	return &fakeAWS{t: t, roles: map[string]*fakeRole{}, queued: map[string][]fakeErr{}}
}

// queue makes op answer errs, in order, before it is served normally.
func (f *fakeAWS) queue(op string, errs ...fakeErr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued[op] = append(f.queued[op], errs...)
}

func (f *fakeAWS) addRole(name, path string) *fakeRole {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &fakeRole{name: name, path: path, trust: trustPolicy}
	f.roles[name] = r
	return r
}

// count returns how often op was called.
func (f *fakeAWS) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == op {
			n++
		}
	}
	return n
}

func (f *fakeAWS) snapshot() (account string, roles map[string]fakeRole, calls []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	roles = map[string]fakeRole{}
	for k, v := range f.roles {
		roles[k] = *v
	}
	return f.accountRole, roles, append([]string(nil), f.calls...)
}

// start serves f on 127.0.0.1 and returns real SDK clients pointed at it,
// with static credentials and the SDK's retries off: the retries under
// test are the handler's.
func (f *fakeAWS) start() (*apigateway.Client, *iam.Client) {
	srv := httptest.NewServer(f)
	f.t.Cleanup(srv.Close)
	return sdkClients(srv)
}

func sdkClients(srv *httptest.Server) (*apigateway.Client, *iam.Client) {
	cfg := aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		HTTPClient:  srv.Client(),
	}
	ag := apigateway.NewFromConfig(cfg, func(o *apigateway.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	im := iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return ag, im
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		f.t.Errorf("%s %s: request not signed with SigV4", r.Method, r.URL.Path)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read body: %v", err)
		return
	}
	switch {
	case r.URL.Path == "/account" && r.Method == http.MethodGet:
		f.serveAPIGateway(w, "GetAccount", func() (any, *fakeErr) { return f.account(), nil })
	case r.URL.Path == "/account" && r.Method == http.MethodPatch:
		f.serveAPIGateway(w, "UpdateAccount", func() (any, *fakeErr) { return f.updateAccount(body) })
	case r.URL.Path == "/" && r.Method == http.MethodPost:
		f.serveIAM(w, r, body)
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

// popErr records the call and returns its queued error, if any. f.mu held.
func (f *fakeAWS) popErr(op string) *fakeErr {
	f.calls = append(f.calls, op)
	if f.onCall != nil {
		f.onCall(op)
	}
	if q := f.queued[op]; len(q) > 0 {
		f.queued[op] = q[1:]
		return &q[0]
	}
	return nil
}

func (f *fakeAWS) serveAPIGateway(w http.ResponseWriter, op string, serve func() (any, *fakeErr)) {
	f.mu.Lock()
	out, ferr := any(nil), f.popErr(op)
	if ferr == nil {
		out, ferr = serve()
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if ferr != nil {
		// REST JSON errors: the type in X-Amzn-Errortype, the text in
		// "message".
		w.Header().Set("X-Amzn-Errortype", ferr.code)
		w.WriteHeader(ferr.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": ferr.message})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

// account is the Account resource. f.mu held.
func (f *fakeAWS) account() map[string]any {
	a := map[string]any{
		"throttleSettings": map[string]any{"burstLimit": 5000, "rateLimit": 10000.0},
		"features":         []string{"UsagePlans"},
		"apiKeyVersion":    "4",
	}
	if f.accountRole != "" {
		a["cloudwatchRoleArn"] = f.accountRole
	}
	return a
}

// updateAccount applies UpdateAccount's one supported patch. f.mu held.
func (f *fakeAWS) updateAccount(body []byte) (any, *fakeErr) {
	var in struct {
		PatchOperations []struct{ Op, Path, Value string } `json:"patchOperations"`
	}
	if err := json.Unmarshal(body, &in); err != nil || len(in.PatchOperations) != 1 {
		return nil, &fakeErr{400, "BadRequestException", fmt.Sprintf("bad patch %s", body)}
	}
	p := in.PatchOperations[0]
	if p.Op != "replace" || p.Path != "/cloudwatchRoleArn" {
		return nil, &fakeErr{400, "BadRequestException", fmt.Sprintf("Invalid patch operation specified. Must be one of: [replace] for /cloudwatchRoleArn, got %s %s", p.Op, p.Path)}
	}
	// Like API Gateway, accept only a role it can assume with the policy.
	usable := false
	for _, r := range f.roles {
		if r.arn() == p.Value && strings.Contains(r.trust, apiGatewayPrincipal) && len(r.policies) > 0 {
			usable = true
		}
	}
	if !usable {
		return nil, &errNotYetUsable
	}
	f.accountRole = p.Value
	return f.account(), nil
}

func (f *fakeAWS) serveIAM(w http.ResponseWriter, r *http.Request, body []byte) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.t.Errorf("IAM request Content-Type %q", ct)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Version") != "2010-05-08" {
		f.t.Errorf("IAM request body %q: %v", body, err)
	}
	op := form.Get("Action")
	name := form.Get("RoleName")

	if op == "GetRole" {
		f.waitAtGate()
	}
	f.mu.Lock()
	var result *xmlRole
	ferr := f.popErr(op)
	if ferr == nil {
		switch op {
		case "GetRole":
			if role, ok := f.roles[name]; ok {
				result = xmlRoleOf(role)
			} else {
				ferr = &fakeErr{404, "NoSuchEntity", "The role with name " + name + " cannot be found."}
			}
		case "CreateRole":
			if _, ok := f.roles[name]; ok {
				ferr = &fakeErr{409, "EntityAlreadyExists", "Role with name " + name + " already exists."}
			} else {
				role := &fakeRole{name: name, path: form.Get("Path"), trust: form.Get("AssumeRolePolicyDocument"), description: form.Get("Description")}
				if role.path == "" {
					role.path = "/"
				}
				f.roles[name] = role
				result = xmlRoleOf(role)
			}
		case "AttachRolePolicy":
			if role, ok := f.roles[name]; !ok {
				ferr = &fakeErr{404, "NoSuchEntity", "The role with name " + name + " cannot be found."}
			} else if p := form.Get("PolicyArn"); !slices.Contains(role.policies, p) {
				role.policies = append(role.policies, p)
			}
		default:
			f.t.Errorf("unexpected IAM action %q", op)
			ferr = &fakeErr{400, "InvalidAction", "no such action " + op}
		}
	}
	f.mu.Unlock()

	w.Header().Set("Content-Type", "text/xml")
	if ferr != nil {
		w.WriteHeader(ferr.status)
		_ = xml.NewEncoder(w).Encode(xmlErrorResponse{
			XMLNS:     iamNamespace,
			Error:     xmlError{Type: "Sender", Code: ferr.code, Message: ferr.message},
			RequestID: "req-1",
		})
		return
	}
	_, _ = fmt.Fprintf(w, `<%sResponse xmlns=%q>`, op, iamNamespace)
	if result != nil {
		_, _ = fmt.Fprintf(w, "<%sResult>", op)
		_ = xml.NewEncoder(w).EncodeElement(result, xml.StartElement{Name: xml.Name{Local: "Role"}})
		_, _ = fmt.Fprintf(w, "</%sResult>", op)
	}
	_, _ = fmt.Fprintf(w, `<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></%sResponse>`, op)
}

func (f *fakeAWS) waitAtGate() {
	f.mu.Lock()
	g := f.getRoleGate
	if g == nil || g.arrived >= g.n {
		f.mu.Unlock()
		return
	}
	g.arrived++
	if g.arrived == g.n {
		close(g.open)
	}
	f.mu.Unlock()
	select {
	case <-g.open:
	case <-time.After(5 * time.Second):
		f.t.Errorf("only %d of %d GetRole calls arrived together", g.arrived, g.n)
	}
}

// xmlRole is IAM's Role shape; the trust policy comes URL-encoded, as IAM
// returns it.
type xmlRole struct {
	Path                     string `xml:"Path"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
	RoleID                   string `xml:"RoleId"`
	RoleName                 string `xml:"RoleName"`
	Description              string `xml:"Description,omitempty"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
}

func xmlRoleOf(r *fakeRole) *xmlRole {
	return &xmlRole{
		Path:                     r.path,
		AssumeRolePolicyDocument: url.QueryEscape(r.trust),
		MaxSessionDuration:       3600,
		RoleID:                   "AROAEXAMPLE" + strings.ToUpper(r.name),
		RoleName:                 r.name,
		Description:              r.description,
		Arn:                      r.arn(),
		CreateDate:               "2024-05-06T07:08:09Z",
	}
}

type xmlErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	XMLNS     string   `xml:"xmlns,attr"`
	Error     xmlError `xml:"Error"`
	RequestID string   `xml:"RequestId"`
}

type xmlError struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}
