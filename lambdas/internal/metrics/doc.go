// Package metrics writes the functions' CloudWatch metrics as embedded metric
// format (EMF) records: one JSON object per line on the function's standard
// output, from which CloudWatch Logs extracts the metrics. The names (the
// namespace variable, the dimensions and the metrics) are package contract's.
//
// # Why no library
//
// AWS's own EMF client libraries (awslabs/aws-embedded-metrics-*) have no Go
// version. The one Go library the module proxy serves,
// github.com/prozz/aws-embedded-metrics-golang (v1.2.0), was judged and not
// adopted:
//
//   - it is not kept: its code last changed in September 2021, and nothing
//     but two dependabot bumps (to 2023) has landed since;
//   - its Log method discards the json.Marshal error and the write error
//     and returns nothing, so a record that could not be written cannot be
//     logged, which these functions require;
//   - by default it adds a ServiceName/ServiceType dimension set and
//     logStreamId, executionEnvironment and traceId properties read from
//     the Lambda environment, which would publish extra metrics per
//     function name (WithoutDimensions turns the dimensions off, not the
//     properties);
//   - it checks none of the specification's limits (100 metrics per
//     directive, 30 keys per dimension set, valid units, finite values) and
//     appends a metric name twice if it is put twice.
//
// What these functions need is small: a fixed namespace, at most two
// dimension sets, a handful of metrics per record. Encode is that, checked
// against the specification and its example (testdata/).
//
// # The specification
//
// Specification: Embedded metric format,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html:
// the root object holds "_aws" with "Timestamp" (milliseconds since the Unix
// epoch) and "CloudWatchMetrics", an array of directives, each with a
// "Namespace", "Dimensions" (an array of dimension sets, each an array of at
// most 30 keys) and "Metrics" (at most 100 definitions, each a "Name" and an
// optional "Unit" from CloudWatch's list). Every dimension key names a root
// member with a string value, every metric name a root member with a number
// (or an array of at most 100 numbers). An older copy of the page
// (awsdocs/amazon-cloudwatch-user-guide on GitHub, archived) allowed 9 keys
// per dimension set; the records here have at most 2, within both.
//
// # Where the records go
//
// Lambda sends whatever a function writes to standard output to its log
// group, and CloudWatch Logs extracts metrics from every log event that is an
// EMF document ("Using the embedded metric format with Lambda",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html:
// "To publish metrics from a function, write embedded metric format logs to
// STDOUT"). The functions run with Lambda's JSON log format; on an OS-only
// runtime such as provided.al2023 Lambda formats only its own system logs
// as JSON and passes the function's output through, and it does not encode
// again a line that is already a JSON object ("Configuring JSON and plain
// text log formats",
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html).
// A record must be the whole log event, not a field of one: AWS's Node.js
// EMF library lost metrics under the JSON log format while it wrote through
// console.log, which Lambda wraps into {"message": ...}, and was fixed by
// writing to stdout directly (its versions 4.1.1, 3.0.2 and 2.0.7, as the
// CloudWatch page above notes). So records are written straight to
// os.Stdout, never through slog, whose JSON handler would make the record
// the value of one attribute of its own line.
//
// slog's handler writes to the same os.Stdout, one Write per line. EMF
// writes each record, newline included, with one Write as well, and a
// record is a few hundred bytes, well under the 4,096 bytes a pipe writes
// atomically, so a log line cannot split it.
//
// Log-level filtering: a record has no "level" member, and Lambda treats
// such a JSON line as INFO ("Log-level filtering",
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
// The stack sets the application log level to INFO; a level above INFO
// (WARN, ERROR) would drop every record, and with them the metrics.
//
// # Cardinality
//
// A record's only dimensions are contract.DimensionFunction (one of the
// four function names) and, on the authorizer's refusals,
// contract.DimensionReason, one of the authorizer's fixed refusal reasons.
// Nothing else is written: no connection id, principal, request id, token
// or message, not even as a property.
//
// # The namespace
//
// NamespaceFromEnv reads contract.EnvMetricsNamespace, which the stack sets
// for every function. Unset or blank, the namespace is DefaultNamespace:
// the functions then still run (the local run's older templates do not set
// the variable) and their metrics land in a namespace shared by every stack
// that also lacks it. A value CloudWatch would refuse fails the cold start,
// as other bad configuration does (package env).
package metrics
