package websocketapi

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/jsii-runtime-go"

	"wsapi/contract"
)

// tableOperations are the DynamoDB calls the built-in functions make; the
// table's ThrottledRequests and SystemErrors exist per operation only
// (dimensions TableName and Operation).
var tableOperations = []string{"PutItem", "DeleteItem", "Scan", "Query"}

// tableMetric sums one AWS/DynamoDB metric over tableOperations: metric
// math, FILL(..., 0) so that an operation without data does not hide the
// others. The ids start with prefix, so two such sums can share a graph
// (Table.Metric...ForOperations names theirs by operation only).
func (b *builder) tableMetric(name, prefix string, a AlarmSetting) awscloudwatch.IMetric {
	using := map[string]awscloudwatch.IMetric{}
	var terms []string
	for _, op := range tableOperations {
		id := prefix + op
		using[id] = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String("AWS/DynamoDB"),
			MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{
				"TableName": b.table.TableName(),
				"Operation": jsii.String(op),
			},
			Statistic: jsii.String("Sum"),
			Period:    minutes(a.Period),
		})
		terms = append(terms, "FILL("+id+", 0)")
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String(strings.Join(terms, " + ")),
		UsingMetrics: &using,
		Label:        jsii.String(name),
		Period:       minutes(a.Period),
	})
}

// addAlarmTopic resolves where the alarms notify: the props' topic, a topic
// imported by ARN, or a topic created for AlarmEmail.
func (b *builder) addAlarmTopic() {
	switch {
	case b.props.AlarmTopic != nil:
		b.obs.topic = b.props.AlarmTopic
	case b.props.AlarmTopicARN != "":
		b.obs.topic = awssns.Topic_FromTopicArn(b.Construct, jsii.String("AlarmTopicImport"), jsii.String(b.props.AlarmTopicARN))
	case b.props.AlarmEmail != "":
		b.obs.topic = b.newAlarmTopic(b.props.AlarmEmail)
	}
}

// newAlarmTopic creates an encrypted, SSL-only topic with an email
// subscription. The key is the topic's own: CloudWatch alarms cannot publish
// to a topic encrypted with the AWS managed key (alias/aws/sns), whose
// policy cannot let cloudwatch.amazonaws.com use it; the key policy
// statement is the one of AWS knowledge center
// cloudwatch-configure-alarm-sns.
func (b *builder) newAlarmTopic(email string) awssns.ITopic {
	keyRemoval := awscdk.RemovalPolicy_RETAIN
	if b.props.RemovalPolicy == awscdk.RemovalPolicy_DESTROY {
		keyRemoval = awscdk.RemovalPolicy_DESTROY
	}
	key := awskms.NewKey(b.Construct, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the alarm notification topic of the WebSocket API"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     keyRemoval,
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarmsToUseTheKey"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
	}), nil)
	topic := awssns.NewTopic(b.Construct, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: awscdk.Fn_Sub(jsii.String("${AWS::StackName} WebSocket API alarms"), nil),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	// The topic policy replaces SNS's default one: let CloudWatch alarms of
	// this account and Region publish (AWS knowledge center
	// cloudwatch-receive-sns-for-alarm-trigger: aws:SourceArn).
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarmsToPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{"ArnLike": map[string]any{
			"aws:SourceArn": awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"), nil),
		}},
	}))
	topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	return topic
}

// alarmSpec is one alarm to define.
type alarmSpec struct {
	id        string // construct id, without the "Alarm" suffix
	metric    awscloudwatch.IMetric
	setting   AlarmSetting
	threshold float64 // the compared value (FunctionDuration: milliseconds)
	// thresholdText is threshold for the description.
	thresholdText string
	description   string
}

// addAlarms defines every alarm; see the README's "Alarms, dashboard and
// tracing" for what each means and what to check.
func (b *builder) addAlarms() {
	s := b.props.Alarms
	var specs []alarmSpec
	add := func(id string, metric awscloudwatch.IMetric, setting AlarmSetting, description string) {
		specs = append(specs, alarmSpec{id: id, metric: metric, setting: setting, threshold: setting.Threshold,
			thresholdText: strconv.FormatFloat(setting.Threshold, 'f', -1, 64), description: description})
	}

	add("ApiIntegrationErrors", b.apiMetric("IntegrationError", "Sum", s.IntegrationErrors), s.IntegrationErrors,
		"Integration requests answered with a 4XX/5XX (a function error or a refused $connect).")
	add("ApiExecutionErrors", b.apiMetric("ExecutionError", "Sum", s.ExecutionErrors), s.ExecutionErrors,
		"API Gateway failed to call an integration.")
	add("ApiClientErrors", b.apiMetric("ClientError", "Sum", s.ClientErrors), s.ClientErrors,
		"4XX answered by API Gateway before any integration: missing or refused tokens, throttling, bad frames.")

	for _, f := range b.apiFunctions() {
		id := exportedName(f.name)
		if f == b.authorizer {
			add(id+"Errors", b.authorizerErrors(s.FunctionErrors), s.FunctionErrors,
				"The authorizer function failed (error, timeout or crash), refusals not counted.")
		} else {
			add(id+"Errors", f.fn.MetricErrors(b.metricOptions("Sum", s.FunctionErrors)), s.FunctionErrors,
				fmt.Sprintf("The %s function failed (error, timeout or crash).", f.name))
		}
		add(id+"Throttles", f.fn.MetricThrottles(b.metricOptions("Sum", s.FunctionThrottles)), s.FunctionThrottles,
			fmt.Sprintf("The %s function was throttled (concurrency limit).", f.name))
		d := s.FunctionDuration
		specs = append(specs, alarmSpec{
			id: id + "Duration", metric: f.fn.MetricDuration(b.metricOptions("p99", d)), setting: d,
			threshold:     f.timeoutSeconds * 1000 * d.Threshold / 100,
			thresholdText: strconv.FormatFloat(f.timeoutSeconds*10*d.Threshold, 'f', -1, 64) + " ms",
			description: fmt.Sprintf("The %s function's p99 duration is at %v%% of its %vs timeout or more.",
				f.name, d.Threshold, f.timeoutSeconds),
		})
	}

	add("TableThrottles", b.tableMetric("ThrottledRequests", "throttled", s.TableThrottles), s.TableThrottles,
		"DynamoDB throttled requests on the connections table.")
	add("TableSystemErrors", b.tableMetric("SystemErrors", "errors", s.TableSystemErrors), s.TableSystemErrors,
		"DynamoDB answered requests on the connections table with a 500.")

	add("MessagePostFailed", b.emfMetric(contract.MetricPostFailed, contract.FunctionMessage, s.PostFailed), s.PostFailed,
		"Posts to connections that failed other than with 410 Gone.")
	add("FanoutPostFailed", b.emfMetric(contract.MetricPostFailed, contract.FunctionFanOut, s.PostFailed), s.PostFailed,
		"Broadcast posts to connections that failed other than with 410 Gone or 429 (a 403 from a grant that does not match the stage, a 5xx).")
	add("FanOutDeadLetters", b.fanOut.deadLetter.MetricApproximateNumberOfMessagesVisible(b.metricOptions("Maximum", s.FanOutDeadLetters)),
		s.FanOutDeadLetters, "Broadcast jobs or shards failed MaxReceiveCount times and wait in the fan-out dead-letter queue: some connections missed a broadcast.")
	add("AuthorizerRefusals", b.emfMetric(contract.MetricAuthRefused, contract.FunctionAuthorizer, s.AuthRefused), s.AuthRefused,
		"A spike in the authorizer's refusals of $connect requests.")

	var action awscloudwatch.IAlarmAction
	if b.obs.topic != nil {
		action = awscloudwatchactions.NewSnsAction(b.obs.topic)
	}
	for _, spec := range specs {
		alarm := awscloudwatch.NewAlarm(b.Construct, jsii.String(spec.id+"Alarm"), &awscloudwatch.AlarmProps{
			Metric:             spec.metric,
			Threshold:          jsii.Number(spec.threshold),
			EvaluationPeriods:  jsii.Number(float64(spec.setting.EvaluationPeriods)),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			// Every metric here is absent when nothing happens: no
			// requests, no invocations, no failures.
			TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
			AlarmDescription: jsii.String(spec.description + " " + describeSetting(spec.thresholdText, spec.setting) +
				" Runbook: README, \"Alarms, dashboard and tracing\", " + spec.id + "."),
		})
		if action != nil {
			alarm.AddAlarmAction(action)
			alarm.AddOkAction(action)
		}
		b.obs.alarms[spec.id] = alarm
		b.obs.order = append(b.obs.order, spec.id)
	}
}

// authorizerErrors are the authorizer's Lambda Errors less its refusals:
// it refuses a token by returning the error "Unauthorized", which Lambda
// counts as an error like any other (lambdas/authorizer), and records each
// refusal as AuthRefused.
func (b *builder) authorizerErrors(a AlarmSetting) awscloudwatch.IMetric {
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("FILL(errors, 0) - FILL(refused, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"errors":  b.authorizer.fn.MetricErrors(b.metricOptions("Sum", a)),
			"refused": b.emfMetric(contract.MetricAuthRefused, contract.FunctionAuthorizer, a),
		},
		Label:  jsii.String("Errors other than refusals"),
		Period: minutes(a.Period),
	})
}

// apiFunctions are the functions the API invokes, and the fanout function
// that its broadcasts invoke: each emits metrics and is traced.
func (b *builder) apiFunctions() []*function {
	return []*function{b.authorizer, b.connect, b.disconnect, b.message, b.fanOut.fn}
}

func (b *builder) metricOptions(statistic string, a AlarmSetting) *awscloudwatch.MetricOptions {
	return &awscloudwatch.MetricOptions{Statistic: jsii.String(statistic), Period: minutes(a.Period)}
}

// apiMetric is one of the stage's WebSocket API metrics (AWS/ApiGateway,
// dimensions ApiId and Stage: apigateway-websocket-api-logging).
func (b *builder) apiMetric(name, statistic string, a AlarmSetting) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:  jsii.String("AWS/ApiGateway"),
		MetricName: jsii.String(name),
		DimensionsMap: &map[string]*string{
			"ApiId": b.api.Ref(),
			"Stage": jsii.String(b.stageName),
		},
		Statistic: jsii.String(statistic),
		Period:    minutes(a.Period),
	})
}

// emfMetric is one of the functions' EMF metrics, by the Function dimension
// only (contract.go).
func (b *builder) emfMetric(name, function string, a AlarmSetting) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     b.obs.namespace,
		MetricName:    jsii.String(name),
		DimensionsMap: &map[string]*string{contract.DimensionFunction: jsii.String(function)},
		Statistic:     jsii.String("Sum"),
		Period:        minutes(a.Period),
	})
}
