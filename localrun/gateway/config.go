// Package gateway emulates, on loopback, the part of Amazon API Gateway that
// a WebSocket API with a Lambda REQUEST authorizer and non-proxy Lambda
// integrations uses: the handshake with identity-source checks and the
// authorizer, route selection, request templates (rendered by package vtl),
// integration and route responses, $disconnect, API Gateway's limits, and the
// @connections API the backend posts replies through.
//
// It is configured from the synthesized template (see package localrun) and
// invokes the real Lambda binaries through the Function interface; nothing
// about routes or templates is written here twice. No existing tool does this
// without Docker or an account: SAM CLI has no WebSocket support and
// serverless-offline only does proxy integrations.
//
// What it does not emulate: AWS_PROXY, HTTP and MOCK integrations, response
// models, API keys, and IAM authorization of routes; Config.Validate refuses
// them so a template that uses them fails loudly instead of half working.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

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

// Integration is a non-proxy (AWS) Lambda integration.
type Integration struct {
	Function                    Function
	TemplateSelectionExpression string
	RequestTemplates            map[string]*vtl.Template
	PassthroughBehavior         string // WHEN_NO_MATCH (default), WHEN_NO_TEMPLATES, NEVER
	Timeout                     time.Duration
	Responses                   map[string]*IntegrationResponse // by key
}

// IntegrationResponse is one integration response; a nil template passes
// the function's payload through.
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

// Validate refuses what the emulator does not implement.
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
	for key, r := range c.Routes {
		if r.Authorizer != nil {
			if key != "$connect" {
				errs = append(errs, fmt.Errorf("route %s: authorizers are only allowed on $connect", key))
			}
			for _, s := range r.Authorizer.IdentitySources {
				if !identitySourcePattern.MatchString(s) {
					errs = append(errs, fmt.Errorf("route %s: identity source %q is not supported", key, s))
				}
			}
		}
		if i := r.Integration; i != nil {
			switch i.PassthroughBehavior {
			case "", "WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER":
			default:
				errs = append(errs, fmt.Errorf("route %s: passthrough behavior %q", key, i.PassthroughBehavior))
			}
		}
	}
	return errors.Join(errs...)
}
