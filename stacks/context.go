package stacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"wsapi/websocketapi"
)

// ContextKeys lists the CDK context keys PropsFromContext reads (`cdk synth
// -c key=value`, or "context" in cdk.json), each with the prop it sets.
var ContextKeys = map[string]string{
	"stackName":                      "the stack's name (not a prop; default WebSocketApi)",
	"stageName":                      "StageName",
	"identitySource":                 "IdentitySource",
	"issuer":                         "Issuer",
	"audience":                       "Audience",
	"jwksUrl":                        "JWKSURL",
	"allowedTokenUse":                "AllowedTokenUse (comma-separated, e.g. access,id)",
	"apiGatewayCloudWatchRoleName":   "APIGatewayCloudWatchRoleName",
	"apiGatewayCloudWatchRolePath":   "APIGatewayCloudWatchRolePath",
	"throttlingRateLimit":            "ThrottlingRateLimit",
	"throttlingBurstLimit":           "ThrottlingBurstLimit",
	"apiGatewayCloudWatchRoleExists": "APIGatewayCloudWatchRoleExists",
	"connectionTtl":                  "ConnectionTTL (a Go duration, e.g. 2h)",
	"maxMessageBytes":                "MaxMessageBytes",
	"maxInFlight":                    "MaxInFlight",
	"lambdaArchitecture":             "LambdaArchitecture",
	"logRetentionDays":               "LogRetention (a CloudWatch Logs retention in days)",
	"removalPolicy":                  "RemovalPolicy (retain, destroy or snapshot)",
	"disableTracing":                 "DisableTracing (true turns X-Ray active tracing off)",
	"disableAlarms":                  "DisableAlarms",
	"disableDashboard":               "DisableDashboard",
	"alarmTopicArn":                  "AlarmTopicARN",
	"alarmEmail":                     "AlarmEmail",
	"alarms": "Alarms (a JSON object by alarm kind, e.g. " +
		`{"PostFailed":{"threshold":20,"evaluationPeriods":2,"period":"10m"}}` + ")",
	"domainName":     "DomainName (a custom domain, with certificateArn)",
	"certificateArn": "CertificateARN (an ACM certificate in the stack's Region)",
	"hostedZoneId":   "HostedZoneID (with hostedZoneName: adds an alias record)",
	"hostedZoneName": "HostedZoneName",
	// The fan-out of broadcasts (websocketapi.FanOutProps).
	"fanOutSegments":        "FanOutSegments (0: from the connections table's size)",
	"connectionsPerSegment": "ConnectionsPerSegment",
	"maxSegments":           "MaxSegments",
	"workerBatchSize":       "WorkerBatchSize",
	"workerMaxConcurrency":  "WorkerMaxConcurrency",
	"postsPerSecond":        "PostsPerSecond",
	"workerTimeout":         "WorkerTimeout (a Go duration, e.g. 60s)",
	"maxReceiveCount":       "MaxReceiveCount",
	"jobTtl":                "JobTTL (a Go duration, e.g. 24h)",
	"fanOutPageSize":        "FanOutPageSize",
	"workerMemoryMb":        "WorkerMemoryMB",
}

// retentionByDays maps CloudWatch Logs' allowed retention periods to CDK's enum.
var retentionByDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// DefaultStackName is the CloudFormation stack name (and construct id) when
// the context key stackName is not set.
const DefaultStackName = "WebSocketApi"

// stackNamePattern is CloudFormation's rule for stack names.
var stackNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

// PropsFromContext reads the stack props from CDK context, so deployers can
// set them without editing code. Unset keys keep their defaults; every value
// that does not parse or validate is reported at once.
func PropsFromContext(node constructs.Node) (WebSocketStackProps, error) {
	props, err := propsFromContext(contextGetter(node))
	if err != nil {
		return props, fmt.Errorf("invalid CDK context:\n%w", err)
	}
	return props, nil
}

// StackNameFromContext reads the stack name from the context key stackName
// (default DefaultStackName), so that two copies of the app can live in one
// account and region: `cdk deploy -c stackName=ChatStaging`.
func StackNameFromContext(node constructs.Node) (string, error) {
	return stackNameFromContext(contextGetter(node))
}

func stackNameFromContext(get func(string) (string, bool)) (string, error) {
	name, ok := get("stackName")
	if !ok {
		return DefaultStackName, nil
	}
	if name = strings.TrimSpace(name); !stackNamePattern.MatchString(name) {
		return "", fmt.Errorf("stackName=%q: want a CloudFormation stack name (a letter, then up to 127 letters, digits or '-')", name)
	}
	return name, nil
}

func contextGetter(node constructs.Node) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v := node.TryGetContext(jsii.String(key))
		if v == nil {
			return "", false
		}
		switch v.(type) {
		case map[string]any, []any:
			// An object or list from cdk.json: its JSON, as -c would give it.
			raw, err := json.Marshal(v)
			if err != nil {
				return fmt.Sprint(v), true
			}
			return string(raw), true
		}
		return fmt.Sprint(v), true
	}
}

// parseInto sets *dst from context key when it is set, and records why
// when its value does not parse (dst then gets parse's zero value, and
// Validate reports the other problems: every problem at once).
func parseInto[T any](get func(string) (string, bool), errs *[]error, key, want string, dst *T, parse func(string) (T, error)) {
	v, ok := get(key)
	if !ok {
		return
	}
	parsed, err := parse(strings.TrimSpace(v))
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: %s", key, v, want))
	}
	*dst = parsed
}

func propsFromContext(get func(string) (string, bool)) (WebSocketStackProps, error) {
	var p WebSocketStackProps
	var errs []error
	str := func(key string, dst *string) {
		if v, ok := get(key); ok {
			*dst = strings.TrimSpace(v)
		}
	}
	num := func(key string, dst *float64) {
		parseInto(get, &errs, key, "not a number", dst, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) })
	}
	integer := func(key string, dst *int) { parseInto(get, &errs, key, "not a whole number", dst, strconv.Atoi) }
	boolean := func(key string, dst *bool) { parseInto(get, &errs, key, "want true or false", dst, strconv.ParseBool) }
	duration := func(key string, dst *time.Duration) {
		parseInto(get, &errs, key, "want a duration such as 60s", dst, time.ParseDuration)
	}

	str("stageName", &p.StageName)
	str("identitySource", &p.IdentitySource)
	str("issuer", &p.Issuer)
	str("audience", &p.Audience)
	str("jwksUrl", &p.JWKSURL)
	str("apiGatewayCloudWatchRoleName", &p.APIGatewayCloudWatchRoleName)
	str("apiGatewayCloudWatchRolePath", &p.APIGatewayCloudWatchRolePath)
	if v, ok := get("allowedTokenUse"); ok {
		p.AllowedTokenUse = []string{}
		for _, use := range strings.Split(v, ",") {
			if use = strings.TrimSpace(use); use != "" {
				p.AllowedTokenUse = append(p.AllowedTokenUse, use)
			}
		}
	}
	num("throttlingRateLimit", &p.ThrottlingRateLimit)
	num("throttlingBurstLimit", &p.ThrottlingBurstLimit)
	integer("maxMessageBytes", &p.MaxMessageBytes)
	integer("maxInFlight", &p.MaxInFlight)
	str("lambdaArchitecture", &p.LambdaArchitecture)
	boolean("apiGatewayCloudWatchRoleExists", &p.APIGatewayCloudWatchRoleExists)
	boolean("disableTracing", &p.DisableTracing)
	boolean("disableAlarms", &p.DisableAlarms)
	boolean("disableDashboard", &p.DisableDashboard)
	str("alarmTopicArn", &p.AlarmTopicARN)
	str("alarmEmail", &p.AlarmEmail)
	str("domainName", &p.DomainName)
	str("certificateArn", &p.CertificateARN)
	str("hostedZoneId", &p.HostedZoneID)
	str("hostedZoneName", &p.HostedZoneName)
	integer("fanOutSegments", &p.FanOutSegments)
	integer("connectionsPerSegment", &p.ConnectionsPerSegment)
	integer("maxSegments", &p.MaxSegments)
	integer("workerBatchSize", &p.WorkerBatchSize)
	integer("workerMaxConcurrency", &p.WorkerMaxConcurrency)
	num("postsPerSecond", &p.PostsPerSecond)
	duration("workerTimeout", &p.WorkerTimeout)
	integer("maxReceiveCount", &p.MaxReceiveCount)
	duration("jobTtl", &p.JobTTL)
	integer("fanOutPageSize", &p.FanOutPageSize)
	integer("workerMemoryMb", &p.WorkerMemoryMB)
	if v, ok := get("alarms"); ok {
		errs = append(errs, alarmSettingsFromJSON(v, &p.Alarms)...)
	}
	if v, ok := get("connectionTtl"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("connectionTtl=%q: want a duration such as 2h", v))
		}
		p.ConnectionTTL = d
	}
	if v, ok := get("logRetentionDays"); ok {
		days, err := strconv.Atoi(strings.TrimSpace(v))
		r, known := retentionByDays[days]
		if err != nil || !known {
			errs = append(errs, fmt.Errorf("logRetentionDays=%q: want one of CloudWatch Logs' periods (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)", v))
		}
		p.LogRetention = r
	}
	if v, ok := get("removalPolicy"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "retain":
			p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
		case "destroy":
			p.RemovalPolicy = awscdk.RemovalPolicy_DESTROY
		case "snapshot":
			p.RemovalPolicy = awscdk.RemovalPolicy_SNAPSHOT
		default:
			errs = append(errs, fmt.Errorf("removalPolicy=%q: want retain, destroy or snapshot", v))
		}
	}
	// Values that did not parse keep their defaults for Validate, which
	// reports the problems of the others: every problem at once.
	return p, errors.Join(append(errs, p.Validate())...)
}

// CDKJSONContext reads the "context" of a cdk.json, which the CDK CLI hands
// to the app; programs that synthesize without the CLI (the tests, the local
// run's tests) pass it to awscdk.NewApp to get the same feature flags.
func CDKJSONContext(path string) (*map[string]any, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var config struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(text, &config); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &config.Context, nil
}

// alarmSettingsFromJSON reads the context key alarms: an object by alarm
// kind (websocketapi.AlarmSettingNames), each with threshold,
// evaluationPeriods and period (a Go duration), all optional.
func alarmSettingsFromJSON(v string, dst *websocketapi.AlarmSettings) []error {
	var raw map[string]struct {
		Threshold         *float64 `json:"threshold"`
		EvaluationPeriods *int     `json:"evaluationPeriods"`
		Period            *string  `json:"period"`
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return []error{fmt.Errorf("alarms=%q: want a JSON object such as {\"PostFailed\":{\"threshold\":20,\"evaluationPeriods\":2,\"period\":\"10m\"}}: %v", v, err)}
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		s := dst.Setting(name)
		if s == nil {
			errs = append(errs, fmt.Errorf("alarms: no alarm kind %q (want one of %s)", name, strings.Join(websocketapi.AlarmSettingNames(), ", ")))
			continue
		}
		r := raw[name]
		if r.Threshold != nil {
			s.Threshold = *r.Threshold
		}
		if r.EvaluationPeriods != nil {
			s.EvaluationPeriods = *r.EvaluationPeriods
		}
		if r.Period != nil {
			d, err := time.ParseDuration(strings.TrimSpace(*r.Period))
			if err != nil {
				errs = append(errs, fmt.Errorf("alarms: %s.period=%q: want a duration such as 5m", name, *r.Period))
			}
			s.Period = d
		}
	}
	return errs
}
