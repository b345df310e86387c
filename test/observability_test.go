package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// alarmWant is what one alarm must say, apart from its description and
// actions.
type alarmWant struct {
	id    string // construct id, the logical id's prefix
	props map[string]any
}

// apiAlarm, lambdaAlarm and emfAlarm build an alarm's expected properties.
func apiAlarm(metric string, threshold, periods, period float64) map[string]any {
	return map[string]any{
		"Namespace": "AWS/ApiGateway", "MetricName": metric,
		"Dimensions": []any{map[string]any{"Name": "ApiId", "Value": ref("WebSocketApi")}, map[string]any{"Name": "Stage", "Value": "prod"}},
		"Statistic":  "Sum", "Period": period, "Threshold": threshold, "EvaluationPeriods": periods,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
	}
}

func lambdaAlarm(fnID, metric, statistic string, threshold, periods float64) map[string]any {
	p := map[string]any{
		"Namespace": "AWS/Lambda", "MetricName": metric,
		"Dimensions": []any{map[string]any{"Name": "FunctionName", "Value": ref(fnID)}},
		"Period":     300, "Threshold": threshold, "EvaluationPeriods": periods,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
	}
	if strings.HasPrefix(statistic, "p") {
		p["ExtendedStatistic"] = statistic
	} else {
		p["Statistic"] = statistic
	}
	return p
}

func emfAlarm(namespace any, metric, function string, threshold, periods, period float64) map[string]any {
	return map[string]any{
		"Namespace": namespace, "MetricName": metric,
		"Dimensions": []any{map[string]any{"Name": "Function", "Value": function}},
		"Statistic":  "Sum", "Period": period, "Threshold": threshold, "EvaluationPeriods": periods,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
	}
}

// authorizerErrorsAlarm: the authorizer's Errors less its refusals, which
// it returns as the error "Unauthorized".
func authorizerErrorsAlarm(fnID string, namespace any) map[string]any {
	return map[string]any{
		"Metrics": []any{
			map[string]any{"Id": "expr_1", "Expression": "FILL(errors, 0) - FILL(refused, 0)", "Label": "Errors other than refusals", "ReturnData": true},
			map[string]any{"Id": "errors", "ReturnData": false, "MetricStat": map[string]any{"Period": 300, "Stat": "Sum", "Metric": map[string]any{
				"Namespace": "AWS/Lambda", "MetricName": "Errors", "Dimensions": []any{map[string]any{"Name": "FunctionName", "Value": ref(fnID)}},
			}}},
			map[string]any{"Id": "refused", "ReturnData": false, "MetricStat": map[string]any{"Period": 300, "Stat": "Sum", "Metric": map[string]any{
				"Namespace": namespace, "MetricName": "AuthRefused", "Dimensions": []any{map[string]any{"Name": "Function", "Value": "authorizer"}},
			}}},
		},
		"Threshold": 1, "EvaluationPeriods": 1,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
	}
}

// tableAlarm sums a DynamoDB metric over the four operations the
// functions call.
func tableAlarm(tableID, metric, prefix string) map[string]any {
	metrics := []any{map[string]any{
		"Id":         "expr_1",
		"Expression": fmt.Sprintf("FILL(%[1]sPutItem, 0) + FILL(%[1]sDeleteItem, 0) + FILL(%[1]sScan, 0) + FILL(%[1]sQuery, 0)", prefix),
		"Label":      metric, "ReturnData": true,
	}}
	for _, op := range []string{"DeleteItem", "PutItem", "Query", "Scan"} {
		metrics = append(metrics, map[string]any{
			"Id": prefix + op, "ReturnData": false,
			"MetricStat": map[string]any{"Period": 300, "Stat": "Sum", "Metric": map[string]any{
				"Namespace": "AWS/DynamoDB", "MetricName": metric,
				"Dimensions": []any{map[string]any{"Name": "Operation", "Value": op}, map[string]any{"Name": "TableName", "Value": ref(tableID)}},
			}},
		})
	}
	return map[string]any{
		"Metrics": metrics, "Threshold": 1, "EvaluationPeriods": 1,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
	}
}

// wantAlarms are the alarms of a stack named WebSocketApi with the default
// thresholds, except where the caller changes them.
func wantAlarms(s *synthesized, t *testing.T, durationPercent float64, postFailed map[string]any) []alarmWant {
	t.Helper()
	tableID, _ := s.resource(t, "AWS::DynamoDB::Table", "Connections")
	ns := sub("wsapi/${AWS::StackName}", nil)
	want := []alarmWant{
		{"ApiIntegrationErrors", apiAlarm("IntegrationError", 1, 1, 300)},
		{"ApiExecutionErrors", apiAlarm("ExecutionError", 1, 1, 300)},
		{"ApiClientErrors", apiAlarm("ClientError", 100, 1, 300)},
	}
	for _, f := range []struct {
		id      string
		timeout float64
	}{{"Authorizer", 10}, {"Connect", 10}, {"Disconnect", 10}, {"Message", 25}, {"Fanout", 60}} {
		fnID, _ := s.resource(t, "AWS::Lambda::Function", f.id+"Function")
		errors := lambdaAlarm(fnID, "Errors", "Sum", 1, 1)
		if f.id == "Authorizer" {
			errors = authorizerErrorsAlarm(fnID, ns)
		}
		want = append(want,
			alarmWant{f.id + "Errors", errors},
			alarmWant{f.id + "Throttles", lambdaAlarm(fnID, "Throttles", "Sum", 1, 1)},
			alarmWant{f.id + "Duration", lambdaAlarm(fnID, "Duration", "p99", f.timeout*1000*durationPercent/100, 3)},
		)
	}
	if postFailed == nil {
		postFailed = emfAlarm(ns, "PostFailed", "message", 5, 1, 300)
	}
	// The same PostFailed setting watches the fanout function's posts.
	fanoutPostFailed := maps.Clone(postFailed)
	fanoutPostFailed["Dimensions"] = []any{map[string]any{"Name": "Function", "Value": "fanout"}}
	dlqID, _ := s.resource(t, "AWS::SQS::Queue", "FanOutDeadLetterQueue")
	return append(want,
		alarmWant{"TableThrottles", tableAlarm(tableID, "ThrottledRequests", "throttled")},
		alarmWant{"TableSystemErrors", tableAlarm(tableID, "SystemErrors", "errors")},
		alarmWant{"MessagePostFailed", postFailed},
		alarmWant{"FanoutPostFailed", fanoutPostFailed},
		// Any message in the dead-letter queue: a broadcast missed some
		// connections.
		alarmWant{"FanOutDeadLetters", map[string]any{
			"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
			"Dimensions": []any{map[string]any{"Name": "QueueName", "Value": getAtt(dlqID, "QueueName")}},
			"Statistic":  "Maximum", "Period": 300, "Threshold": 1, "EvaluationPeriods": 1,
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
		}},
		alarmWant{"AuthorizerRefusals", emfAlarm(ns, "AuthRefused", "authorizer", 50, 1, 300)},
	)
}

// checkAlarms compares every alarm of s with want, exactly: metric,
// dimensions, statistic, period, threshold, comparison, evaluation periods,
// missing data, and actions (ALARM and OK) to topic, or none when topic is
// nil. An alarm that is not wanted fails too.
func checkAlarms(t *testing.T, s *synthesized, want []alarmWant, topic any) {
	t.Helper()
	alarms := s.resources("AWS::CloudWatch::Alarm")
	if len(alarms) != len(want) {
		t.Errorf("%d alarms, want %d: %v", len(alarms), len(want), slices.Sorted(maps.Keys(alarms)))
	}
	for _, w := range want {
		t.Run(w.id, func(t *testing.T) {
			_, alarm := s.resource(t, "AWS::CloudWatch::Alarm", w.id+"Alarm")
			p := maps.Clone(props(alarm))
			description, _ := p["AlarmDescription"].(string)
			if !strings.Contains(description, "Runbook: README") || !strings.Contains(description, w.id) {
				t.Errorf("description %q does not point to the runbook", description)
			}
			delete(p, "AlarmDescription")
			if topic == nil {
				equalJSON(t, "actions", []any{p["AlarmActions"], p["OKActions"]}, []any{nil, nil})
			} else {
				equalJSON(t, "actions", []any{p["AlarmActions"], p["OKActions"]}, []any{[]any{topic}, []any{topic}})
			}
			delete(p, "AlarmActions")
			delete(p, "OKActions")
			equalJSON(t, "alarm", p, w.props)
		})
	}
}

// TestAlarms: by default every alarm exists with its default threshold and
// has no action (no topic is configured).
func TestAlarms(t *testing.T) {
	s := defaultStack(t)
	checkAlarms(t, s, wantAlarms(s, t, 80, nil), nil)
	if n := len(s.resources("AWS::SNS::Topic")); n != 0 {
		t.Errorf("%d topics without AlarmEmail", n)
	}
}

// TestAlarmEmail: AlarmEmail creates an encrypted, SSL-only topic that
// CloudWatch may publish to, subscribes the address, and every alarm
// notifies it; thresholds come from the props.
func TestAlarmEmail(t *testing.T) {
	s := alarmEmailStack(t)
	topicID, topic := s.resource(t, "AWS::SNS::Topic", "AlarmTopic")
	keyID, key := s.resource(t, "AWS::KMS::Key", "AlarmTopicKey")
	ns := sub("wsapi/${AWS::StackName}", nil)
	checkAlarms(t, s, wantAlarms(s, t, 50, emfAlarm(ns, "PostFailed", "message", 20, 2, 600)), ref(topicID))

	equalJSON(t, "topic", props(topic), map[string]any{
		"DisplayName":    sub("${AWS::StackName} WebSocket API alarms", nil),
		"KmsMasterKeyId": getAtt(keyID, "Arn"),
	})
	equalJSON(t, "key rotation", props(key)["EnableKeyRotation"], true)
	var cloudwatch []any
	for _, st := range props(key)["KeyPolicy"].(map[string]any)["Statement"].([]any) {
		if strings.Contains(asJSON(st), "cloudwatch.amazonaws.com") {
			cloudwatch = append(cloudwatch, st)
		}
	}
	equalJSON(t, "key policy for CloudWatch", cloudwatch, []any{map[string]any{
		"Sid": "AllowCloudWatchAlarmsToUseTheKey", "Effect": "Allow",
		"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
		"Action":    []any{"kms:Decrypt", "kms:GenerateDataKey*"}, "Resource": "*",
	}})
	_, policy := s.resource(t, "AWS::SNS::TopicPolicy", "AlarmTopicPolicy")
	equalJSON(t, "topic policy", props(policy)["PolicyDocument"].(map[string]any)["Statement"], []any{
		map[string]any{
			"Sid": "AllowPublishThroughSSLOnly", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
			"Resource": ref(topicID), "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
		},
		map[string]any{
			"Sid": "AllowCloudWatchAlarmsToPublish", "Effect": "Allow",
			"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
			"Resource": ref(topicID), "Condition": map[string]any{"ArnLike": map[string]any{
				"aws:SourceArn": sub("arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*", nil),
			}},
		},
	})
	_, subscription := s.resource(t, "AWS::SNS::Subscription", "AlarmTopic")
	equalJSON(t, "subscription", props(subscription), map[string]any{
		"Protocol": "email", "Endpoint": "oncall@example.com", "TopicArn": ref(topicID),
	})

	// DisableTracing and DisableDashboard.
	for id, fn := range s.resources("AWS::Lambda::Function") {
		if tc := props(fn)["TracingConfig"]; tc != nil {
			t.Errorf("%s: TracingConfig %v with DisableTracing", id, asJSON(tc))
		}
	}
	if strings.Contains(string(s.raw), "xray:") {
		t.Error("X-Ray permissions with DisableTracing")
	}
	if n := len(s.resources("AWS::CloudWatch::Dashboard")); n != 0 {
		t.Errorf("%d dashboards with DisableDashboard", n)
	}
}

// dashboardBody renders a DashboardBody Fn::Join with each intrinsic as
// its JSON text, and decodes it.
func dashboardBody(t *testing.T, body any) map[string]any {
	t.Helper()
	parts := body.(map[string]any)["Fn::Join"].([]any)[1].([]any)
	var text strings.Builder
	for _, part := range parts {
		if str, ok := part.(string); ok {
			text.WriteString(str)
		} else {
			text.WriteString(strings.ReplaceAll(asJSON(part), `"`, `'`))
		}
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(text.String()), &doc); err != nil {
		t.Fatalf("dashboard body: %v\n%s", err, text.String())
	}
	return doc
}

// TestDashboard: one dashboard, its widgets in order, each with the
// metrics it must chart.
func TestDashboard(t *testing.T) {
	s := defaultStack(t)
	_, dashboard := s.resource(t, "AWS::CloudWatch::Dashboard", "Dashboard")
	if name := props(dashboard)["DashboardName"]; name != nil {
		t.Errorf("fixed dashboard name %v", name)
	}
	doc := dashboardBody(t, props(dashboard)["DashboardBody"])
	ns := strings.ReplaceAll(asJSON(sub("wsapi/${AWS::StackName}", nil)), `"`, `'`)
	api := strings.ReplaceAll(asJSON(ref("WebSocketApi")), `"`, `'`)
	// title → metrics as "namespace metric dimension=value ... stat".
	want := map[string][]string{
		"Connections opened and closed": {
			"AWS/ApiGateway ConnectCount ApiId=" + api + " Stage=prod Sum",
			ns + " Connected Function=connect Sum", ns + " ConnectFailed Function=connect Sum",
			ns + " Disconnected Function=disconnect Sum", ns + " DisconnectFailed Function=disconnect Sum",
		},
		"Messages": {
			"AWS/ApiGateway MessageCount ApiId=" + api + " Stage=prod Sum",
			ns + " Delivered Function=message Sum", ns + " Stale Function=message Sum", ns + " PostFailed Function=message Sum",
			ns + " Recipients Function=message Sum",
		},
		"API errors": {
			"AWS/ApiGateway IntegrationError ApiId=" + api + " Stage=prod Sum",
			"AWS/ApiGateway ExecutionError ApiId=" + api + " Stage=prod Sum",
			"AWS/ApiGateway ClientError ApiId=" + api + " Stage=prod Sum",
		},
		"Authorizer decisions": {ns + " AuthAccepted Function=authorizer Sum", ns + " AuthRefused Function=authorizer Sum"},
		"Latency (ms): messages and connects": {
			"AWS/ApiGateway IntegrationLatency ApiId=" + api + " Stage=prod p50",
			"AWS/ApiGateway IntegrationLatency ApiId=" + api + " Stage=prod p99",
			"AWS/Lambda Duration FunctionName=" + fnRef(s, t, "Message") + " p99",
			ns + " FanOutDuration Function=message p99",
			"AWS/Lambda Duration FunctionName=" + fnRef(s, t, "Authorizer") + " p50",
			"AWS/Lambda Duration FunctionName=" + fnRef(s, t, "Authorizer") + " p99",
		},
	}
	var errorsAndThrottles, durations []string
	for _, f := range []string{"Authorizer", "Connect", "Disconnect", "Message", "Fanout"} {
		errorsAndThrottles = append(errorsAndThrottles, "AWS/Lambda Errors FunctionName="+fnRef(s, t, f)+" Sum")
		durations = append(durations, "AWS/Lambda Duration FunctionName="+fnRef(s, t, f)+" p99")
	}
	for _, f := range []string{"Authorizer", "Connect", "Disconnect", "Message", "Fanout"} {
		errorsAndThrottles = append(errorsAndThrottles, "AWS/Lambda Throttles FunctionName="+fnRef(s, t, f)+" Sum")
	}
	queueID, _ := s.resource(t, "AWS::SQS::Queue", "FanOutQueue")
	dlqID, _ := s.resource(t, "AWS::SQS::Queue", "FanOutDeadLetterQueue")
	queueName := func(id string) string { return strings.ReplaceAll(asJSON(getAtt(id, "QueueName")), `"`, `'`) }
	want["Broadcasts (fanout function)"] = []string{
		ns + " Delivered Function=fanout Sum", ns + " Stale Function=fanout Sum", ns + " PostFailed Function=fanout Sum",
		ns + " PostThrottled Function=fanout Sum", ns + " JobShards Function=fanout Sum",
	}
	want["Fan-out queue"] = []string{
		"AWS/SQS ApproximateNumberOfMessagesVisible QueueName=" + queueName(queueID) + " Maximum",
		"AWS/SQS ApproximateAgeOfOldestMessage QueueName=" + queueName(queueID) + " Maximum",
		"AWS/SQS ApproximateNumberOfMessagesVisible QueueName=" + queueName(dlqID) + " Maximum",
	}
	want["Function errors and throttles"] = errorsAndThrottles
	want["Function duration p99 (ms)"] = durations

	var titles []string
	for _, w := range doc["widgets"].([]any) {
		p := w.(map[string]any)["properties"].(map[string]any)
		title, _ := p["title"].(string)
		titles = append(titles, title)
		metrics, _ := p["metrics"].([]any)
		switch title {
		case "Alarms":
			if n := len(p["alarms"].([]any)); n != 24 {
				t.Errorf("alarm status widget shows %d alarms, want 24", n)
			}
		case "DynamoDB (connections table)":
			text := asJSON(metrics)
			for _, m := range []string{"ThrottledRequests", "SystemErrors", "PutItem", "DeleteItem", "Scan", "Query", "FILL("} {
				if !strings.Contains(text, m) {
					t.Errorf("%s: no %s in %s", title, m, text)
				}
			}
		default:
			var got []string
			for _, m := range metrics {
				got = append(got, metricText(m.([]any)))
			}
			equalJSON(t, title, got, want[title])
		}
	}
	equalJSON(t, "widgets", titles, []string{
		"Connections opened and closed", "Messages", "API errors", "Authorizer decisions",
		"Function errors and throttles", "Function duration p99 (ms)",
		"Latency (ms): messages and connects", "DynamoDB (connections table)",
		"Broadcasts (fanout function)", "Fan-out queue", "Alarms",
	})
}

func fnRef(s *synthesized, t *testing.T, name string) string {
	id, _ := s.resource(t, "AWS::Lambda::Function", name+"Function")
	return strings.ReplaceAll(asJSON(ref(id)), `"`, `'`)
}

// metricText renders a dashboard metric array [namespace, name, dim, value,
// ..., {stat}] as "namespace name dim=value ... stat".
func metricText(m []any) string {
	parts := []string{fmt.Sprint(m[0]), fmt.Sprint(m[1])}
	i := 2
	for ; i+1 < len(m); i += 2 {
		parts = append(parts, fmt.Sprintf("%v=%v", m[i], m[i+1]))
	}
	if opts, ok := m[len(m)-1].(map[string]any); ok {
		parts = append(parts, fmt.Sprint(opts["stat"]))
	}
	return strings.Join(parts, " ")
}

// TestLibraryAlarms: under another construct id the namespace names the
// construct, every alarm notifies the platform's topic, and the accessors
// return what was defined.
func TestLibraryAlarms(t *testing.T) {
	s := libraryStack(t)
	topicID, _ := s.resource(t, "AWS::SNS::Topic", "PlatformAlarms")
	alarms := s.resources("AWS::CloudWatch::Alarm")
	if len(alarms) != 24 {
		t.Errorf("%d alarms, want 24", len(alarms))
	}
	for id, a := range alarms {
		equalJSON(t, id+" actions", props(a)["AlarmActions"], []any{ref(topicID)})
	}
	_, postFailed := s.resource(t, "AWS::CloudWatch::Alarm", "ChatMessagePostFailedAlarm")
	equalJSON(t, "namespace", props(postFailed)["Namespace"], sub("wsapi/${AWS::StackName}/Chat", nil))
	_, fn := s.resource(t, "AWS::Lambda::Function", "ChatMessageFunction")
	equalJSON(t, "function namespace", props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any)["METRICS_NAMESPACE"],
		sub("wsapi/${AWS::StackName}/Chat", nil))
	if n := len(libraryAPI.Alarms()); n != 24 {
		t.Errorf("Alarms() has %d, want 24", n)
	}
	if libraryAPI.Alarms()["MessagePostFailed"] == nil || libraryAPI.AlarmTopic() == nil || libraryAPI.Dashboard() == nil {
		t.Error("Alarms()[MessagePostFailed], AlarmTopic() or Dashboard() is nil")
	}
}
