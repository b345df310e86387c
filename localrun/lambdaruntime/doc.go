// Package lambdaruntime runs a Lambda function's bootstrap executable on the
// developer's machine, as real OS processes, behind our own server of the AWS
// Lambda Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
//
// A [Pool] plays the part of the Lambda service for one function. It starts
// instances lazily, at most [Function.MaxInstances] at once, keeps them warm
// between invocations, hands each invocation to an idle instance through
// GET /2018-06-01/runtime/invocation/next and collects what the runtime posts
// back. Like Lambda it kills an instance that overruns the function's timeout,
// and it replaces an instance that crashed, failed its initialization or timed
// out the next time one is needed.
//
// # Why our own server
//
// The official aws-lambda-runtime-interface-emulator serves one invocation at
// a time per emulator process and is meant to run inside a container. A local
// run of the API needs several warm instances of each function at once and no
// Docker. The protocol is small and documented, so the pool serves it itself:
// every instance gets its own HTTP server on 127.0.0.1 with an ephemeral port,
// which keeps routing trivial (the port identifies the instance) and lets a
// slow or broken instance affect nobody else.
//
// Served: invocation/next, invocation/{id}/response (including the error
// trailers aws-lambda-go sends when a streamed response fails),
// invocation/{id}/error and init/error, with Lambda's 6 MB limit on what a
// runtime posts. Not served (404): the Extensions and Telemetry APIs and
// response streaming; a Go function that asks for SIGTERM through
// lambda.WithEnableSIGTERM only logs a warning.
//
// # Environment
//
// A function's process does not inherit the host's environment. It sees
// [Function.Env] plus what Lambda itself sets: AWS_LAMBDA_FUNCTION_NAME,
// AWS_LAMBDA_FUNCTION_VERSION ($LATEST), AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
// AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME,
// AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL (when set),
// AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_INITIALIZATION_TYPE, AWS_REGION and
// AWS_DEFAULT_REGION (from Env, else us-east-1), _HANDLER, LAMBDA_TASK_ROOT,
// and the defaults PATH (Lambda's), LANG and TZ (:UTC), which Env may
// override. The Lambda-set variables win over Env, as Lambda reserves them.
// In particular the developer's real AWS credentials, profile and config
// files are never passed on: a function that must reach a (local) AWS
// endpoint gets exactly the credentials the caller puts in Env.
//
// # Logs
//
// Each process's stdout and stderr are copied to the pool's log writer line
// by line, each line prefixed with "[<function>#<instance>] " and written
// with a single Write call, so lines of different instances never mix.
// Nothing else is done to a line: a JSON log line or an embedded metric
// format record (the functions' metrics) stays whole after the prefix, and
// package localrun/metrics reads the records back from there.
// The pool's own diagnostics go to [Options.Logger].
//
// The package needs a Unix system for the clean shutdown of a function's
// whole process group; elsewhere it kills the bootstrap process only.
package lambdaruntime
