package websocketapi

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// AlarmSetting is one alarm's threshold and evaluation. A zero field means
// the alarm's default (DefaultAlarmSettings).
type AlarmSetting struct {
	// Threshold the statistic is compared with (greater than or equal).
	// For FunctionDuration it is a percentage of each function's timeout.
	Threshold float64
	// EvaluationPeriods is how many consecutive periods must breach.
	EvaluationPeriods int
	// Period is the length of one period: a whole number of minutes.
	Period time.Duration
}

// AlarmSettings holds one AlarmSetting per alarm kind; each README row of
// "Alarms, dashboard and tracing" names its field.
type AlarmSettings struct {
	// The API stage's IntegrationError, ExecutionError and ClientError
	// (AWS/ApiGateway, dimensions ApiId and Stage), Sum.
	IntegrationErrors AlarmSetting
	ExecutionErrors   AlarmSetting
	ClientErrors      AlarmSetting
	// Each built-in function's Errors and Throttles (Sum) and Duration
	// (p99; the threshold is a percentage of the function's timeout).
	FunctionErrors    AlarmSetting
	FunctionThrottles AlarmSetting
	FunctionDuration  AlarmSetting
	// The connections table's ThrottledRequests and SystemErrors, summed
	// over the operations the functions call.
	TableThrottles    AlarmSetting
	TableSystemErrors AlarmSetting
	// The message function's failed posts (EMF PostFailed, Sum).
	PostFailed AlarmSetting
	// A spike in the authorizer's refusals (EMF AuthRefused, Sum).
	AuthRefused AlarmSetting
	// Messages in the fan-out dead-letter queue
	// (ApproximateNumberOfMessagesVisible, Maximum).
	FanOutDeadLetters AlarmSetting
}

// DefaultAlarmSettings are the alarms' defaults; the README gives the
// reason for each.
var DefaultAlarmSettings = AlarmSettings{
	IntegrationErrors: AlarmSetting{Threshold: 1, EvaluationPeriods: 1, Period: 5 * time.Minute},
	ExecutionErrors:   AlarmSetting{Threshold: 1, EvaluationPeriods: 1, Period: 5 * time.Minute},
	ClientErrors:      AlarmSetting{Threshold: 100, EvaluationPeriods: 1, Period: 5 * time.Minute},
	FunctionErrors:    AlarmSetting{Threshold: 1, EvaluationPeriods: 1, Period: 5 * time.Minute},
	FunctionThrottles: AlarmSetting{Threshold: 1, EvaluationPeriods: 1, Period: 5 * time.Minute},
	FunctionDuration:  AlarmSetting{Threshold: 80, EvaluationPeriods: 3, Period: 5 * time.Minute},
	TableThrottles:    AlarmSetting{Threshold: 1, EvaluationPeriods: 1, Period: 5 * time.Minute},
	TableSystemErrors: AlarmSetting{Threshold: 1, EvaluationPeriods: 1, Period: 5 * time.Minute},
	PostFailed:        AlarmSetting{Threshold: 5, EvaluationPeriods: 1, Period: 5 * time.Minute},
	AuthRefused:       AlarmSetting{Threshold: 50, EvaluationPeriods: 1, Period: 5 * time.Minute},
	FanOutDeadLetters: AlarmSetting{Threshold: 1, EvaluationPeriods: 1, Period: 5 * time.Minute},
}

// each lists the settings by name, for defaults, validation and context keys.
func (s *AlarmSettings) each() []namedAlarmSetting {
	return []namedAlarmSetting{
		{"IntegrationErrors", &s.IntegrationErrors}, {"ExecutionErrors", &s.ExecutionErrors},
		{"ClientErrors", &s.ClientErrors}, {"FunctionErrors", &s.FunctionErrors},
		{"FunctionThrottles", &s.FunctionThrottles}, {"FunctionDuration", &s.FunctionDuration},
		{"TableThrottles", &s.TableThrottles}, {"TableSystemErrors", &s.TableSystemErrors},
		{"PostFailed", &s.PostFailed}, {"AuthRefused", &s.AuthRefused},
		{"FanOutDeadLetters", &s.FanOutDeadLetters},
	}
}

type namedAlarmSetting struct {
	name    string
	setting *AlarmSetting
}

// Setting returns the setting of the alarm kind name ("PostFailed"), for
// tools that set them by name (the stack's CDK context); nil for a name
// that is not one.
func (s *AlarmSettings) Setting(name string) *AlarmSetting {
	for _, n := range s.each() {
		if strings.EqualFold(n.name, name) {
			return n.setting
		}
	}
	return nil
}

// AlarmSettingNames are the names Setting accepts, in README order.
func AlarmSettingNames() []string {
	var s AlarmSettings
	var names []string
	for _, n := range s.each() {
		names = append(names, n.name)
	}
	return names
}

// withDefaults fills every zero field from DefaultAlarmSettings.
func (s AlarmSettings) withDefaults() AlarmSettings {
	defaults := DefaultAlarmSettings
	d := defaults.each()
	for i, n := range s.each() {
		if n.setting.Threshold == 0 {
			n.setting.Threshold = d[i].setting.Threshold
		}
		if n.setting.EvaluationPeriods == 0 {
			n.setting.EvaluationPeriods = d[i].setting.EvaluationPeriods
		}
		if n.setting.Period == 0 {
			n.setting.Period = d[i].setting.Period
		}
	}
	return s
}

// validate reports every invalid setting (after defaults).
func (s AlarmSettings) validate(bad func(string, ...any)) {
	for _, n := range s.each() {
		a := *n.setting
		if a.Threshold < 0 {
			bad("Alarms.%s.Threshold %v: must not be negative", n.name, a.Threshold)
		}
		if n.name == "FunctionDuration" && a.Threshold > 100 {
			bad("Alarms.FunctionDuration.Threshold %v: a percentage of the timeout, want at most 100", a.Threshold)
		}
		if a.Period < time.Minute || a.Period%time.Minute != 0 {
			bad("Alarms.%s.Period %s: want a whole number of minutes", n.name, a.Period)
		}
		// CloudWatch evaluates at most one day of data.
		if a.EvaluationPeriods < 1 || time.Duration(a.EvaluationPeriods)*a.Period > 24*time.Hour {
			bad("Alarms.%s.EvaluationPeriods %d: want at least 1, and at most one day of periods", n.name, a.EvaluationPeriods)
		}
	}
}

// topicARNPattern is an SNS topic ARN (standard topics: alarms cannot
// publish to FIFO topics).
var topicARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)

// validateObservability reports problems of the alarm and tracing props.
func (p WebSocketAPIProps) validateObservability(bad func(string, ...any)) {
	targets := 0
	if p.AlarmTopic != nil {
		targets++
	}
	if p.AlarmTopicARN != "" {
		targets++
		if !topicARNPattern.MatchString(p.AlarmTopicARN) {
			bad("AlarmTopicARN %q: want an SNS topic ARN (arn:aws:sns:region:account:name)", p.AlarmTopicARN)
		}
	}
	if p.AlarmEmail != "" {
		targets++
		if a, err := mail.ParseAddress(p.AlarmEmail); err != nil || a.Address != p.AlarmEmail || a.Name != "" {
			bad("AlarmEmail %q: want a plain email address", p.AlarmEmail)
		}
	}
	if targets > 1 {
		bad("AlarmTopic, AlarmTopicARN and AlarmEmail: set at most one")
	}
	if p.DisableAlarms && targets > 0 {
		bad("DisableAlarms with an alarm topic or email: nothing would publish to it")
	}
	p.Alarms.validate(bad)
}

// metricsNamespace is the CloudWatch namespace of the functions' EMF
// metrics: wsapi/<stack name>, and /<construct path> after it for a
// construct whose id is not "Default", so that two APIs in one stack do
// not mix. It never starts with "AWS/".
func (b *builder) metricsNamespace() *string {
	ns := "wsapi/${AWS::StackName}"
	if rel := strings.TrimPrefix(strings.TrimPrefix(*b.Node().Path(), *b.stack.Node().Path()), "/"); rel != "Default" {
		ns += "/" + namespaceUnsafe.ReplaceAllString(rel, "_")
	}
	return awscdk.Fn_Sub(jsii.String(ns), nil)
}

// namespaceUnsafe matches what a CloudWatch namespace may not contain (it
// allows letters, digits and . - _ / # : and spaces).
var namespaceUnsafe = regexp.MustCompile(`[^A-Za-z0-9._/#: -]`)

// observability holds what addObservability defines.
type observability struct {
	namespace *string
	topic     awssns.ITopic
	alarms    map[string]awscloudwatch.Alarm
	order     []string // alarm ids in creation order
	dashboard awscloudwatch.Dashboard
}

// addObservability defines the alarms, their topic and the dashboard.
func (b *builder) addObservability() {
	b.obs.alarms = map[string]awscloudwatch.Alarm{}
	if !b.props.DisableAlarms {
		b.addAlarmTopic()
		b.addAlarms()
	}
	if !b.props.DisableDashboard {
		b.addDashboard()
	}
}

func minutes(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Minutes(jsii.Number(d.Minutes()))
}

// describeSetting says when an alarm fires, for its description.
func describeSetting(threshold string, a AlarmSetting) string {
	return fmt.Sprintf("Fires at >= %s in %d consecutive period(s) of %d min.", threshold, a.EvaluationPeriods, int(a.Period.Minutes()))
}
