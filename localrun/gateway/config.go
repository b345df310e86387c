// Package gateway emulates, on loopback, the part of Amazon API Gateway that
// a WebSocket API with a Lambda REQUEST authorizer and Lambda integrations
// uses: the handshake with identity-source checks and the authorizer, Lambda
// proxy (AWS_PROXY) integrations on any route (the proxy event in, statusCode
// and body out), non-proxy (AWS) integrations with route selection, request
// templates (rendered by package vtl), integration responses selected by
// /regex/ keys on a function error's errorMessage and their response
// templates, route responses, $disconnect, API Gateway's limits and its
// rejection of binary frames, and the @connections API the backend posts
// replies through.
//
// It is configured from the synthesized template (see package localrun) and
// invokes the real Lambda binaries through the Function interface; nothing
// about routes or templates is written here twice. No existing tool does this
// without Docker or an account: SAM CLI has no WebSocket support and
// serverless-offline only does proxy integrations.
//
// It emulates what AWS documents, or what AWS's own samples show, and no
// more; where the documentation is silent it says so (a startup warning, a
// log line) rather than invent behaviour a stack could come to depend on.
// FIDELITY.md in the parent directory lists every emulated behaviour with its
// source and test, and every known difference from AWS.
//
// Unlike API Gateway it is one process with one file-descriptor limit, so
// it bounds what a client can hold (ServerLimits, Options.Server): every
// connection's socket is released when it ends, however it ends; plain
// requests have a 10 s header timeout, 30 s read, write and keep-alive idle
// timeouts, and @connections bodies are read up to 128 KB; at most 768 TCP
// connections are open at once, WebSocket ones included (a default `ulimit -n`
// of 1024 leaves room for the functions and files; under a lower limit, three
// quarters of it), and past that new
// connections wait in the kernel's accept queue until one closes. WebSocket
// connections themselves live under API Gateway's idle and duration limits.
//
// What it does not emulate: HTTP, HTTP_PROXY and MOCK integrations, response
// models, API keys, IAM authorization of routes and
// ${integration.response...} template selection; Config.Validate refuses
// them so a template that uses them fails loudly instead of half working.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"wsapi/contract"
	"wsapi/vtl"
)

// Function invokes one Lambda function synchronously.
type Function interface {
	Invoke(ctx context.Context, payload []byte) (Result, error)
}

// Result is a finished invocation: the response payload, or the function's
// error (returned error, timeout or crash).
type Result struct {
	Payload []byte
	Error   *FunctionError
}

// FunctionError is the error a function reported, as Lambda reports it.
type FunctionError struct {
	Type    string
	Message string
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Config is the API as the template defines it.
type Config struct {
	APIID                    string // what $context.apiId and ARNs say
	Region                   string
	AccountID                string
	Stage                    string
	StageVariables           map[string]string
	RouteSelectionExpression string
	Routes                   map[string]*Route // by route key
	// Throttling of the stage's default route settings; zero means none.
	RateLimit  float64
	BurstLimit int

	Limits Limits
}

// Route is one route with its integration.
type Route struct {
	Key string
	// Authorizer is set on $connect when AuthorizationType is CUSTOM.
	Authorizer *Authorizer
	// Integration is nil for a route without one ($connect may have none).
	Integration *Integration
	// RouteResponseSelectionExpression and RouteResponses decide whether
	// the integration's response is sent back to the client.
	RouteResponseSelectionExpression string
	RouteResponses                   []string
}

// Authorizer is a Lambda REQUEST authorizer.
type Authorizer struct {
	IdentitySources []string
	Function        Function
}

// Integration types the emulator runs: Lambda functions, with or without
// the proxy.
const (
	IntegrationAWS      = "AWS"       // non-proxy: request templates, integration responses
	IntegrationAWSProxy = "AWS_PROXY" // Lambda proxy: the whole event in, statusCode and body out
)

// Integration is a Lambda integration, non-proxy (AWS) or proxy
// (AWS_PROXY). Templates, passthrough behavior and integration responses
// apply to non-proxy integrations only.
type Integration struct {
	Type                        string // IntegrationAWS when empty
	Function                    Function
	TemplateSelectionExpression string
	RequestTemplates            map[string]*vtl.Template
	PassthroughBehavior         string // WHEN_NO_MATCH (default), WHEN_NO_TEMPLATES, NEVER
	Timeout                     time.Duration
	Responses                   map[string]*IntegrationResponse // by key
}

// IntegrationResponse is one integration response: Key is $default or a
// /regex/ matched against a function error's errorMessage. Without a
// template the function's payload passes through.
type IntegrationResponse struct {
	Key                         string
	TemplateSelectionExpression string
	ResponseTemplates           map[string]*vtl.Template
}

// Limits are API Gateway's WebSocket quotas. Tests shorten them.
type Limits struct {
	MaxMessageBytes    int64         // 128 KB: larger closes with 1009
	MaxFrameBytes      int64         // 32 KB: larger closes with 1009
	IdleTimeout        time.Duration // 10 min without a message either way
	MaxConnection      time.Duration // 2 h
	MaxAuthorizerBytes int           // 8 KB authorizer result
}

// DefaultLimits are API Gateway's documented WebSocket quotas.
var DefaultLimits = Limits{
	MaxMessageBytes:    128 * 1024,
	MaxFrameBytes:      32 * 1024,
	IdleTimeout:        10 * time.Minute,
	MaxConnection:      2 * time.Hour,
	MaxAuthorizerBytes: 8 * 1024,
}

var identitySourcePattern = regexp.MustCompile(`^route\.request\.(header|querystring)\.(.+)$`)

// Validate refuses what the emulator does not implement, and what API
// Gateway would ignore or refuse, so that the stack cannot come to rely on
// it locally.
func (c *Config) Validate() error {
	var errs []error
	if c.Stage == "" {
		errs = append(errs, errors.New("no stage"))
	}
	if !strings.HasPrefix(c.RouteSelectionExpression, "$request.body.") {
		errs = append(errs, fmt.Errorf("route selection expression %q: only $request.body.<field> is supported", c.RouteSelectionExpression))
	}
	if len(c.Routes) == 0 {
		errs = append(errs, errors.New("no routes"))
	}
	for _, key := range slices.Sorted(maps.Keys(c.Routes)) {
		r := c.Routes[key]
		if r.Authorizer != nil {
			if key != contract.RouteConnect {
				errs = append(errs, fmt.Errorf("route %s: authorizers are only allowed on $connect", key))
			}
			for _, s := range r.Authorizer.IdentitySources {
				if !identitySourcePattern.MatchString(s) {
					errs = append(errs, fmt.Errorf("route %s: identity source %q is not supported", key, s))
				}
			}
		}
		if i := r.Integration; i != nil {
			if err := validateIntegration(r, i); err != nil {
				errs = append(errs, fmt.Errorf("route %s: %w", key, err))
			}
		}
	}
	return errors.Join(errs...)
}

func validateIntegration(r *Route, i *Integration) error {
	var errs []error
	if i.Function == nil {
		errs = append(errs, errors.New("integration without a function"))
	}
	switch i.Type {
	case IntegrationAWSProxy:
		// API Gateway passes a proxy integration's event and response
		// through untouched (apigateway-websocket-api-integration-responses).
		if len(i.RequestTemplates) > 0 {
			errs = append(errs, errors.New("AWS_PROXY integration with request templates, which API Gateway does not apply"))
		}
		if len(i.Responses) > 0 {
			errs = append(errs, errors.New("AWS_PROXY integration with integration responses, which API Gateway does not apply"))
		}
		return errors.Join(errs...)
	case "", IntegrationAWS:
	default:
		return fmt.Errorf("integration type %q: only Lambda AWS and AWS_PROXY integrations are emulated", i.Type)
	}
	switch i.PassthroughBehavior {
	case "", "WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER":
	default:
		errs = append(errs, fmt.Errorf("passthrough behavior %q", i.PassthroughBehavior))
	}
	if err := validateTemplateSelection(i.TemplateSelectionExpression, false); err != nil {
		errs = append(errs, fmt.Errorf("template selection expression: %w", err))
	}
	for _, key := range slices.Sorted(maps.Keys(i.Responses)) {
		if key != contract.SelectionKeyDefault {
			if _, err := parseResponseKey(key); err != nil {
				errs = append(errs, err)
			}
		}
		if err := validateTemplateSelection(i.Responses[key].TemplateSelectionExpression, true); err != nil {
			errs = append(errs, fmt.Errorf("integration response %s: template selection expression: %w", key, err))
		}
	}
	// "$default is required for non-proxy integrations to act as the
	// catch-all for successful responses" (apigateway-websocket-api-selection-expressions);
	// without it API Gateway reports "No match for output mapping".
	if r.twoWay() && i.Responses[contract.SelectionKeyDefault] == nil {
		errs = append(errs, errors.New("two-way route whose non-proxy integration has no $default integration response"))
	}
	return errors.Join(errs...)
}

// validateTemplateSelection accepts what the emulator evaluates: a static
// key (\$default among them) or ${request.body.<field>}. Integration
// responses may also use ${integration.response...}, which is not emulated.
func validateTemplateSelection(expr string, response bool) error {
	switch {
	case !strings.Contains(strings.ReplaceAll(expr, `\$`, ""), "$"):
		return nil
	case strings.HasPrefix(expr, "${request.body.") && strings.HasSuffix(expr, "}") && strings.Count(expr, "$") == 1:
		return nil
	case response && strings.Contains(expr, "integration.response"):
		return fmt.Errorf("%q: ${integration.response...} is not emulated", expr)
	}
	return fmt.Errorf("%q: only static keys and ${request.body.<field>} are emulated", expr)
}

// twoWay reports whether the route sends what its integration returns back
// to the client: it has the $default route response, the only key API
// Gateway supports (apigateway-websocket-api-route-response).
func (r *Route) twoWay() bool {
	return r.RouteResponseSelectionExpression != "" && slices.Contains(r.RouteResponses, contract.SelectionKeyDefault)
}

func (i *Integration) proxy() bool { return i.Type == IntegrationAWSProxy }

// Warnings are what a valid configuration does that the stack should not
// rely on, or that the emulator cannot settle; New logs each at WARN.
func (c *Config) Warnings() []string {
	var out []string
	if r := c.Routes[contract.RouteConnect]; r != nil && r.Integration != nil && !r.Integration.proxy() {
		out = append(out, "route $connect: a non-proxy (AWS) integration cannot refuse a connection; "+
			"API Gateway connects the client whatever the function returns, errors included "+
			"(re:Post QU8pVByT1jRvW3hb4MD6UtoQ); use AWS_PROXY and a statusCode to refuse")
	}
	for _, key := range slices.Sorted(maps.Keys(c.Routes)) {
		i := c.Routes[key].Integration
		if i == nil || i.proxy() {
			continue
		}
		var regexKeys []string
		for _, k := range slices.Sorted(maps.Keys(i.Responses)) {
			if k == contract.SelectionKeyDefault {
				continue
			}
			regexKeys = append(regexKeys, k)
			rk, err := parseResponseKey(k)
			if err != nil {
				continue // Validate reports it
			}
			if probe, ok := rk.ambiguity(); ok {
				out = append(out, fmt.Sprintf("route %s: integration response key %s matches the errorMessage %q as a "+
					"partial match but not as a whole-message match (or the reverse); AWS does not document which "+
					"it does, the local run matches the whole message (FIDELITY.md)", key, k, probe))
			}
		}
		if len(regexKeys) > 1 {
			out = append(out, fmt.Sprintf("route %s: integration response keys %s may all match one error; AWS does not "+
				"document which wins, the local run tries them in sorted order", key, strings.Join(regexKeys, " ")))
		}
	}
	return out
}
