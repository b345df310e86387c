// Package localrun runs a synthesized cloud assembly of this app on
// loopback: the WebSocket API (package gateway) configured from the
// template, the real Lambda binaries from the assembly's assets (package
// lambdaruntime), a DynamoDB API server with the template's tables, an SQS
// API server (package sqs) with the template's queues polled by its event
// source mappings (package esm), and an OIDC issuer (package devissuer)
// that the real authorizer verifies tokens against. Nothing about routes,
// templates, functions, tables or queues is written here: it is all read
// from the template.
//
// FIDELITY.md lists each behaviour of API Gateway the run emulates, the AWS
// page it comes from and the test that covers it, and every known
// difference from AWS.
package localrun

import (
	"context"
	"crypto/tls"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"wsapi/contract"
	"wsapi/localrun/assembly"
	"wsapi/localrun/devissuer"
	"wsapi/localrun/devpage"
	"wsapi/localrun/esm"
	"wsapi/localrun/gateway"
	"wsapi/localrun/lambdaruntime"
	"wsapi/localrun/runstate"
	"wsapi/localrun/sqs"
	"wsapi/vtl"
)

// Fixed identities of the local run. The account is the one AWS documents
// as an example; nothing is ever sent to AWS.
const (
	localRegion    = "us-east-1"
	localAccount   = "000000000000"
	localAPIID     = "localapi01"
	localAccessKey = "AKIDWSAPILOCAL"
	localSecret    = "wsapi-local-secret"
	localAudience  = "wsapi-local-client"
)

// Options configure a local run.
type Options struct {
	AssemblyDir string // cdk.dev.out, say
	Stack       string // "" when the assembly has one stack
	Host        string // loopback address to listen on; default 127.0.0.1
	Port        int    // WebSocket port; 0 picks a free one
	IssuerPort  int    // OIDC issuer (https) port; 0 picks a free one
	// DynamoDBEndpoint uses an external DynamoDB API instead of the
	// embedded one; its tables are created when missing.
	DynamoDBEndpoint string
	// StateDir holds the issuer keys, shared by the runs that use it, and
	// runs/<port>.json, this run's record for `wslocal token` (package
	// runstate); default .wslocal.
	StateDir string
	LogLevel slog.Level
	Logs     io.Writer // function and gateway logs; default stderr
	// Limits override API Gateway's quotas (tests shorten them).
	Limits          gateway.Limits
	DisconnectDelay time.Duration
	// MaxInstances is the number of warm instances per function; default 4.
	// A function an event source mapping invokes gets at least as many as
	// the mapping's concurrent invocations.
	MaxInstances int
	// MaxConnections caps the TCP connections the WebSocket server holds
	// at once (gateway.ServerLimits.MaxConnections); 0 is its default.
	MaxConnections int
	// PostLatency, PostRateLimit and PostBurst shape the @connections API
	// (gateway.Options): a delay on every answer, and a token bucket past
	// which requests get 429 LimitExceededException (0: unlimited).
	PostLatency   time.Duration
	PostRateLimit float64
	PostBurst     int
}

// Server is a running local API.
type Server struct {
	URL          string // ws://host:port/stage
	IssuerURL    string
	Audience     string
	StateDir     string
	TableNames   map[string]string // logical id → table name
	DynamoDB     string            // endpoint URL
	QueueNames   map[string]string // logical id → queue name
	SQS          string            // endpoint URL
	issuer       *devissuer.Issuer
	gateway      *gateway.Gateway
	httpServers  []*http.Server
	pools        map[string]*lambdaruntime.Pool // by function logical id
	stopDynamoDB func()
	sqs          *sqs.Server
	queues       map[string]*sqs.Queue // by logical id
	mappings     []*esm.Mapping
	stopSQS      func()
	run          *runstate.Registration // this run's record in StateDir
	log          *slog.Logger
}

// Start loads the assembly and starts everything; Close stops it.
func Start(ctx context.Context, opts Options) (_ *Server, err error) {
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.StateDir == "" {
		opts.StateDir = ".wslocal"
	}
	// Functions run in their asset directories: every path they get is absolute.
	stateDir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	opts.StateDir = stateDir
	if opts.Logs == nil {
		opts.Logs = os.Stderr
	}
	if opts.MaxInstances == 0 {
		opts.MaxInstances = 4
	}
	if opts.Limits == (gateway.Limits{}) {
		opts.Limits = gateway.DefaultLimits
	}
	log := slog.New(slog.NewTextHandler(opts.Logs, &slog.HandlerOptions{Level: opts.LogLevel}))
	s := &Server{StateDir: opts.StateDir, log: log, TableNames: map[string]string{}}
	defer func() {
		if err != nil {
			s.Close(context.Background())
		}
	}()

	asm, err := assembly.LoadStack(opts.AssemblyDir, opts.Stack)
	if err != nil {
		return nil, err
	}
	wsListener, err := net.Listen("tcp", net.JoinHostPort(opts.Host, fmt.Sprint(opts.Port)))
	if err != nil {
		return nil, fmt.Errorf("listen for WebSocket clients: %w", err)
	}
	issuerListener, err := net.Listen("tcp", net.JoinHostPort(opts.Host, fmt.Sprint(opts.IssuerPort)))
	if err != nil {
		wsListener.Close()
		return nil, fmt.Errorf("listen for the OIDC issuer: %w", err)
	}
	wsAddr, issuerAddr := wsListener.Addr().String(), issuerListener.Addr().String()
	s.URL = "ws://" + wsAddr + "/" + asm.Stage.StageName
	s.IssuerURL = "https://" + issuerAddr

	// The issuer: the authorizer fetches its keys over https, trusting the
	// local CA through SSL_CERT_FILE.
	if s.issuer, err = devissuer.Open(opts.StateDir); err != nil {
		return nil, err
	}
	// The gateway's timeouts for plain requests bound idle and slow clients here too.
	// TLS is the listener's: Serve never reads the server's TLSConfig.
	issuerServer := gateway.NewHTTPServer(s.issuer.Handler(s.IssuerURL), gateway.ServerLimits{}, log.With("component", "issuer"))
	s.serve(issuerServer, tls.NewListener(issuerListener, s.issuer.TLSConfig()))

	resolver := localResolver(asm, s.IssuerURL)
	s.Audience = localAudience
	if err := s.startDynamoDB(ctx, asm, opts.DynamoDBEndpoint, resolver); err != nil {
		return nil, err
	}
	if err := s.startSQS(asm, resolver); err != nil {
		return nil, err
	}

	pools, err := s.startFunctions(asm, resolver, opts, wsAddr)
	if err != nil {
		return nil, err
	}
	functions := make(map[string]gateway.Function, len(pools))
	invokers := make(map[string]esm.Invoker, len(pools))
	for id, p := range pools {
		functions[id], invokers[id] = p, p
	}
	cfg, err := gatewayConfig(asm, functions, opts.Limits)
	if err != nil {
		return nil, err
	}
	if s.gateway, err = gateway.New(cfg, gateway.Options{
		Logger:          log.With("component", "gateway"),
		Credentials:     map[string]string{localAccessKey: localSecret},
		DisconnectDelay: opts.DisconnectDelay,
		Server:          gateway.ServerLimits{MaxConnections: opts.MaxConnections},
		PostLatency:     opts.PostLatency,
		PostRateLimit:   opts.PostRateLimit,
		PostBurst:       opts.PostBurst,
	}); err != nil {
		return nil, err
	}
	// The dev chat page (package devpage) shares the API's origin; the
	// stage's paths and everything the page does not serve stay the gateway's.
	handler := devpage.Handler(s.gateway, devpage.Options{Stage: asm.Stage.StageName, Mint: s.Token})
	// Timeouts for plain requests, and a cap on open connections, WebSocket
	// ones included (gateway.DefaultServerLimits).
	s.serve(s.gateway.HTTPServer(handler), s.gateway.Listener(wsListener))
	// The mappings last: what they invoke posts to the gateway.
	if err := s.startMappings(asm, invokers); err != nil {
		return nil, err
	}

	// Last, once everything answers: `wslocal token` finds the run by this
	// record, and Close removes it.
	if s.run, err = runstate.Register(opts.StateDir, runstate.Run{
		Port: wsListener.Addr().(*net.TCPAddr).Port, URL: s.URL, IssuerURL: s.IssuerURL, Audience: s.Audience,
		PID: os.Getpid(), StartedAt: time.Now().UTC(),
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// localResolver gives the ids and names the template refers to the values
// they would have once deployed here. A Cognito user pool's provider URL is
// the local issuer and its clients' ids are localAudience, so a template
// with its own user pool trusts the local issuer as it is.
func localResolver(asm *assembly.Assembly, issuerURL string) assembly.Resolver {
	resolver := assembly.Resolver{
		Pseudo: asm.PseudoParameters(localRegion, localAccount),
		Refs:   map[string]string{asm.API.ID: localAPIID, asm.Stage.ID: asm.Stage.StageName},
		Attrs:  map[string]string{},
	}
	for id := range asm.Authorizers {
		resolver.Refs[id] = "local" + strings.ToLower(id)
	}
	for id := range asm.Integrations {
		resolver.Refs[id] = "local" + strings.ToLower(id)
	}
	for id := range asm.UserPools {
		// The template builds the issuer as "https://" + ProviderURL.
		resolver.Refs[id] = localRegion + "_local"
		resolver.Attrs[id+".ProviderURL"] = strings.TrimPrefix(issuerURL, "https://")
	}
	for id := range asm.UserPoolClients {
		resolver.Refs[id] = localAudience
	}
	for id := range asm.Functions {
		name := functionName(asm.Stack.Name, id)
		resolver.Refs[id] = name
		resolver.Attrs[id+".Arn"] = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", localRegion, localAccount, name)
	}
	return resolver
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	s.httpServers = append(s.httpServers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("server stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
}

// Token returns a token the authorizer accepts, for subject sub.
func (s *Server) Token(sub string, ttl time.Duration) (string, error) {
	return s.MintToken(devissuer.Claims{Subject: sub, Username: sub, TTL: ttl})
}

// MintToken signs claims with the local issuer; an empty audience is the
// one the authorizer expects.
func (s *Server) MintToken(c devissuer.Claims) (string, error) {
	if c.Audience == "" {
		c.Audience = s.Audience
	}
	return s.issuer.Token(s.IssuerURL, c)
}

// Close closes every connection (running their $disconnect), then stops
// the functions and servers.
func (s *Server) Close(ctx context.Context) error {
	// The record first: no token is minted for a run that is stopping.
	errs := []error{s.run.Close()}
	// The pollers first: no batch is invoked into functions being stopped;
	// a batch in flight stays on its queue.
	for _, m := range s.mappings {
		m.Close()
	}
	if s.gateway != nil {
		errs = append(errs, s.gateway.Close(ctx))
	}
	for _, srv := range s.httpServers {
		errs = append(errs, srv.Close())
	}
	for _, p := range s.pools {
		errs = append(errs, p.Close())
	}
	if s.stopDynamoDB != nil {
		s.stopDynamoDB()
	}
	if s.stopSQS != nil {
		s.stopSQS()
	}
	return errors.Join(errs...)
}

// functionName is the deployed function's name: the stack's name, then the
// logical id, as CloudFormation names resources without a fixed name.
func functionName(stack, id string) string {
	name := stack + "-" + id
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// Gateway is the running gateway: tests and benchmarks register virtual
// connections and read its counters through it.
func (s *Server) Gateway() *gateway.Gateway {
	return s.gateway
}

// ConnectionsCredentials are the access key, secret and region the
// functions sign their @connections calls with, and the gateway checks
// (benchmarks posting as a function would need them).
func (s *Server) ConnectionsCredentials() (accessKeyID, secret, region string) {
	return localAccessKey, localSecret, localRegion
}

// startFunctions starts a pool per function the API or an event source
// mapping invokes, with the environment the template gives it, pointed at
// the local services.
func (s *Server) startFunctions(asm *assembly.Assembly, resolver assembly.Resolver, opts Options, wsAddr string) (map[string]poolFunction, error) {
	mapped := mappingFunctions(asm)
	used := map[string]bool{}
	for id := range mapped {
		used[id] = true
	}
	for _, a := range asm.Authorizers {
		used[a.FunctionID] = true
	}
	for _, in := range asm.Integrations {
		if in.FunctionID != "" {
			used[in.FunctionID] = true
		}
	}
	ids := make([]string, 0, len(used))
	for id := range used {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := map[string]poolFunction{}
	for _, id := range ids {
		fn := asm.Functions[id]
		env, err := s.templateEnv(asm, resolver, id, wsAddr)
		if err != nil {
			return nil, err
		}
		env["AWS_REGION"] = localRegion
		env["AWS_ACCESS_KEY_ID"] = localAccessKey
		env["AWS_SECRET_ACCESS_KEY"] = localSecret
		env["AWS_ENDPOINT_URL_DYNAMODB"] = s.DynamoDB
		env["AWS_ENDPOINT_URL_SQS"] = s.SQS
		env["AWS_EC2_METADATA_DISABLED"] = "true"
		env["SSL_CERT_FILE"] = s.issuer.CAFile()

		executable := filepath.Join(fn.AssetDir, "bootstrap")
		if err := checkExecutable(executable); err != nil {
			return nil, fmt.Errorf("function %s: %w", id, err)
		}
		pool, err := lambdaruntime.NewPool(lambdaruntime.Function{
			Name:         strings.TrimSuffix(shortName(id), "Function"),
			Executable:   executable,
			Dir:          fn.AssetDir,
			Env:          env,
			Timeout:      fn.Timeout,
			MemoryMB:     fn.MemorySize,
			MaxInstances: max(opts.MaxInstances, mapped[id]),
			LogFormat:    fn.LoggingConfig.LogFormat,
			LogLevel:     fn.LoggingConfig.ApplicationLogLevel,
		}, opts.Logs, &lambdaruntime.Options{Logger: s.log.With("component", "lambda")})
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", id, err)
		}
		if s.pools == nil {
			s.pools = map[string]*lambdaruntime.Pool{}
		}
		s.pools[id] = pool
		out[id] = poolFunction{pool}
	}
	return out, nil
}

// templateEnv is the environment the template gives function id, pointed
// at the local services: the connections endpoint at the gateway and, for
// an authorizer of an external issuer, the issuer at the local one (whose
// audience becomes s.Audience).
func (s *Server) templateEnv(asm *assembly.Assembly, resolver assembly.Resolver, id, wsAddr string) (map[string]string, error) {
	fn := asm.Functions[id]
	env, err := resolver.Env(fn)
	if err != nil {
		return nil, err
	}
	// The connections endpoint as deployed, and where it is here.
	deployedEndpoint := fmt.Sprintf("https://%s.execute-api.%s.%s", localAPIID, localRegion, resolver.Pseudo["AWS::URLSuffix"])
	for k, v := range env {
		if strings.HasPrefix(v, deployedEndpoint) {
			env[k] = "http://" + wsAddr + strings.TrimPrefix(v, deployedEndpoint)
		}
	}
	// With a user pool the resolver already points the authorizer at the
	// local issuer (localResolver); an external issuer is swapped here.
	if len(asm.UserPools) > 0 || !isAuthorizer(asm, id) {
		return env, nil
	}
	audience, err := authorizerEnv(env, fn.Authorizer, s.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("authorizer function %s: %w", id, err)
	}
	s.Audience = audience
	return env, nil
}

func isAuthorizer(asm *assembly.Assembly, fnID string) bool {
	for _, a := range asm.Authorizers {
		if a.FunctionID == fnID {
			return true
		}
	}
	return false
}

// authorizerEnv points an authorizer of an external issuer, which cannot
// be reached offline, at the local issuer: it rewrites the variable md
// names for the issuer, drops the key set URL (the local issuer's
// discovery document names its own) and returns the audience the template
// gives, which the local tokens then carry. md comes from the template, as
// the local run knows no variable names of its own.
func authorizerEnv(env map[string]string, md *contract.AuthorizerMetadata, issuerURL string) (audience string, err error) {
	if md == nil {
		return "", fmt.Errorf("the local run cannot tell which environment variables name the issuer and the audience: "+
			"the function's resource has no %q Metadata (the websocketapi construct adds it)", contract.MetadataAuthorizer)
	}
	// assembly.Load checked that both variables are in the template; a
	// value can still resolve to nothing.
	audience = env[md.AudienceVariable]
	if audience == "" {
		return "", fmt.Errorf("audience variable %s (%q Metadata) is empty", md.AudienceVariable, contract.MetadataAuthorizer)
	}
	if _, ok := env[md.IssuerVariable]; !ok {
		return "", fmt.Errorf("issuer variable %s (%q Metadata) is not set", md.IssuerVariable, contract.MetadataAuthorizer)
	}
	env[md.IssuerVariable] = issuerURL
	if md.JWKSVariable != "" {
		delete(env, md.JWKSVariable)
	}
	return audience, nil
}

// shortName drops the hash CDK appends to logical ids.
func shortName(id string) string {
	if len(id) > 8 {
		tail := id[len(id)-8:]
		if strings.ToUpper(tail) == tail && strings.Trim(tail, "0123456789ABCDEF") == "" {
			return id[:len(id)-8]
		}
	}
	return id
}

// checkExecutable refuses a bootstrap built for another OS or CPU, with the
// way out.
func checkExecutable(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a Linux executable (%v); synthesize with make dev", path, err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if runtime.GOOS != "linux" || f.Machine != want {
		return fmt.Errorf("%s is built for %v, this machine is %s/%s; synthesize with -c lambdaArchitecture=%s (make dev does)",
			path, f.Machine, runtime.GOOS, runtime.GOARCH, map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH])
	}
	return nil
}

// poolFunction adapts a lambdaruntime pool to the gateway.
type poolFunction struct{ pool *lambdaruntime.Pool }

func (f poolFunction) Invoke(ctx context.Context, payload []byte) (gateway.Result, error) {
	res, err := f.pool.Invoke(ctx, payload)
	if err != nil {
		return gateway.Result{}, err
	}
	out := gateway.Result{Payload: res.Payload}
	if res.Error != nil {
		out.Error = &gateway.FunctionError{Type: res.Error.Type, Message: res.Error.Message}
	}
	return out, nil
}

// gatewayConfig turns the template's API into the gateway's configuration.
func gatewayConfig(asm *assembly.Assembly, functions map[string]gateway.Function, limits gateway.Limits) (gateway.Config, error) {
	cfg := gateway.Config{
		APIID:                    localAPIID,
		Region:                   localRegion,
		AccountID:                localAccount,
		Stage:                    asm.Stage.StageName,
		StageVariables:           asm.Stage.StageVariables,
		RouteSelectionExpression: asm.API.RouteSelectionExpression,
		Routes:                   map[string]*gateway.Route{},
		Limits:                   limits,
	}
	if r := asm.Stage.DefaultRouteSettings.ThrottlingRateLimit; r != nil {
		cfg.RateLimit = *r
	}
	if b := asm.Stage.DefaultRouteSettings.ThrottlingBurstLimit; b != nil {
		cfg.BurstLimit = *b
	}
	var errs []error
	for key, r := range asm.Routes {
		route := &gateway.Route{Key: key, RouteResponseSelectionExpression: r.RouteResponseSelectionExpression}
		for k := range r.RouteResponses {
			route.RouteResponses = append(route.RouteResponses, k)
		}
		if r.AuthorizationType == "CUSTOM" {
			a := asm.Authorizers[r.AuthorizerID]
			if a.AuthorizerType != "REQUEST" {
				errs = append(errs, fmt.Errorf("route %s: authorizer type %q is not supported", key, a.AuthorizerType))
				continue
			}
			route.Authorizer = &gateway.Authorizer{IdentitySources: a.IdentitySource, Function: functions[a.FunctionID]}
		} else if r.AuthorizationType != "NONE" {
			errs = append(errs, fmt.Errorf("route %s: authorization type %q is not supported", key, r.AuthorizationType))
		}
		if r.IntegrationID != "" {
			in, err := integration(asm.Integrations[r.IntegrationID], functions)
			if err != nil {
				errs = append(errs, fmt.Errorf("route %s: %w", key, err))
				continue
			}
			route.Integration = in
		}
		cfg.Routes[key] = route
	}
	return cfg, errors.Join(errs...)
}

func integration(in assembly.Integration, functions map[string]gateway.Function) (*gateway.Integration, error) {
	switch {
	case in.IntegrationType != gateway.IntegrationAWS && in.IntegrationType != gateway.IntegrationAWSProxy:
		return nil, fmt.Errorf("integration %s: only Lambda integrations (AWS, AWS_PROXY) are emulated, not %s", in.ID, in.IntegrationType)
	case in.FunctionID == "":
		return nil, fmt.Errorf("integration %s: %s integration invokes no Lambda function of the template", in.ID, in.IntegrationType)
	}
	out := &gateway.Integration{
		Type:                        in.IntegrationType,
		Function:                    functions[in.FunctionID],
		TemplateSelectionExpression: in.TemplateSelectionExpression,
		PassthroughBehavior:         in.PassthroughBehavior,
		Timeout:                     in.Timeout,
		RequestTemplates:            map[string]*vtl.Template{},
		Responses:                   map[string]*gateway.IntegrationResponse{},
	}
	parse := func(into map[string]*vtl.Template, templates map[string]string, what string) error {
		for k, src := range templates {
			t, err := vtl.Parse(in.ID+" "+what+" "+k, src)
			if err != nil {
				return err
			}
			into[k] = t
		}
		return nil
	}
	if err := parse(out.RequestTemplates, in.RequestTemplates, "request template"); err != nil {
		return nil, err
	}
	for k, r := range in.IntegrationResponses {
		ir := &gateway.IntegrationResponse{Key: k, TemplateSelectionExpression: r.TemplateSelectionExpression, ResponseTemplates: map[string]*vtl.Template{}}
		if err := parse(ir.ResponseTemplates, r.ResponseTemplates, "response template"); err != nil {
			return nil, err
		}
		out.Responses[k] = ir
	}
	return out, nil
}
