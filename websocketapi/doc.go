// Package websocketapi is the WebSocket API as a Go CDK construct: an API
// Gateway WebSocket API (L1 constructs) whose $connect route is guarded by a
// Lambda REQUEST authorizer that verifies a JWT, a DynamoDB table of
// connections, the built-in routes and their Go functions, and routes of
// your own.
//
//	api := websocketapi.NewWebSocketAPI(stack, "Chat", &websocketapi.WebSocketAPIProps{})
//	api.AddRoute("whoami", &websocketapi.RouteOptions{
//		Function:        whoamiFn,       // e.g. gofunction.NewGoFunction
//		RequestTemplate: whoamiTemplate, // a .vtl file, go:embed-ded
//		TwoWay:          true,
//	})
//	api.GrantManageConnections(whoamiFn) // to PostToConnection
//
// # Built-in routes
//
// $connect is a Lambda proxy integration, so that the connect function can
// refuse the handshake with a status code; $disconnect, sendmessage and
// $default are non-proxy (AWS) integrations whose events the request
// templates of package mappingtemplates shape. sendmessage and $default are
// two-way: the message function's result is the reply, and a function error
// becomes the API's error frame (internal_error.vtl) instead of Lambda's
// error document.
//
// # Routes of your own
//
// AddRoute wires a route key to your function, non-proxy with your request
// template or proxy, optionally two-way with the same integration and route
// responses as the built-in routes. Options are checked before anything is
// defined: every problem (a taken or reserved key, a missing function, a
// template that does not parse or is over API Gateway's 300 KB) is reported
// at once.
//
// # Broadcasts
//
// A broadcast is one job on the fan-out queue (FanOutQueue, SSE-SQS, TLS
// only, with a dead-letter queue after MaxReceiveCount failures): the
// message function publishes it and acknowledges at once. The fanout
// function, fed by the queue's event source mapping (BatchSize
// WorkerBatchSize, MaximumConcurrency WorkerMaxConcurrency, partial batch
// responses), splits each job into shards, one per DynamoDB parallel-scan
// segment of the connections table, re-enqueues them, and posts each
// shard's frame to its segment's connections within its share of
// PostsPerSecond; the jobs table (JobsTable) holds each job's totals and
// each shard's checkpoint until their time to live (JobTTL). FanOutProps
// documents each setting.
//
// # Props
//
// Every input is a WebSocketAPIProps field; the zero value means the
// default, and every invalid field is reported at once, in one panic, as
// CDK constructs do. The built-in functions are built from this module's
// lambdas/ with package gofunction: ModuleDir finds it by default.
//
// # Alarms, dashboard and tracing
//
// The built-in functions emit CloudWatch embedded metric format records
// (package contract names the metrics) into one namespace per construct,
// wsapi/<stack name> (MetricsNamespace), which they read from
// contract.EnvMetricsNamespace. By default the construct also defines:
//
//   - CloudWatch alarms (Alarms) on the stage's IntegrationError,
//     ExecutionError and ClientError; each API function's Errors, Throttles
//     and p99 Duration near its timeout (the fanout function's too); the
//     table's throttled requests and system errors; the message and fanout
//     functions' failed posts; messages in the fan-out dead-letter queue;
//     and a spike in the authorizer's refusals. Each threshold, evaluation periods and
//     period come from WebSocketAPIProps.Alarms (DefaultAlarmSettings);
//     AlarmTopic, AlarmTopicARN or AlarmEmail say where they notify;
//     DisableAlarms leaves them out;
//   - one CloudWatch dashboard (Dashboard; DisableDashboard leaves it out);
//   - X-Ray active tracing on the API's functions (DisableTracing turns it
//     off). API Gateway WebSocket APIs emit no X-Ray segments themselves.
//
// The README's "Alarms, dashboard and tracing" is the runbook of each alarm.
//
// # Custom domain
//
// DomainName and CertificateARN (ACM, the stack's Region) add a Regional
// AWS::ApiGatewayV2::DomainName with TLS 1.2 and an API mapping of its
// root to the stage; URL is then wss://<DomainName>. A Route 53 hosted
// zone (HostedZone, or HostedZoneID and HostedZoneName) adds an alias A
// record. ConnectionsEndpoint stays on execute-api: through a custom
// domain, @connections calls need the mapping's base path, and users
// report 403s. Without DomainName the template is unchanged.
//
// # Logical IDs
//
// Resources get logical IDs from their construct ids, as CDK does. With
// construct id "Default" the construct adds nothing to them, so its
// resources have the IDs they would have directly in the stack: package
// stacks uses that to keep every resource of stacks deployed before this
// construct existed.
package websocketapi
