package stacks

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"

	"wsapi/websocketapi"
)

func TestPropsFromContext(t *testing.T) {
	cases := []struct {
		name    string
		context map[string]string
		check   func(t *testing.T, p WebSocketStackProps)
		wantErr string
	}{
		{name: "empty keeps defaults", context: map[string]string{}, check: func(t *testing.T, p WebSocketStackProps) {
			if p.StageName != "" || p.RemovalPolicy != "" || p.WithDefaults().StageName != websocketapi.DefaultStageName {
				t.Errorf("got %+v", p)
			}
		}},
		{name: "every key", context: map[string]string{
			"stageName": "live", "identitySource": "route.request.header.Authorization",
			"issuer": "https://id.example.com", "audience": "chat", "jwksUrl": "https://id.example.com/keys",
			"throttlingRateLimit": "10.5", "throttlingBurstLimit": "20", "apiGatewayCloudWatchRoleExists": "true",
			"connectionTtl": "90m", "maxMessageBytes": "1024", "maxInFlight": "4", "lambdaArchitecture": "x86_64",
			"logRetentionDays": "7", "removalPolicy": "destroy", "allowedTokenUse": " access, at+jwt ",
			"apiGatewayCloudWatchRoleName": "ApiGwLogs", "apiGatewayCloudWatchRolePath": "/service-role/",
		}, check: func(t *testing.T, p WebSocketStackProps) {
			want := WebSocketStackProps{WebSocketAPIProps: websocketapi.WebSocketAPIProps{
				StageName: "live", IdentitySource: "route.request.header.Authorization",
				Issuer: "https://id.example.com", Audience: "chat", JWKSURL: "https://id.example.com/keys",
				ThrottlingRateLimit: 10.5, ThrottlingBurstLimit: 20, APIGatewayCloudWatchRoleExists: true,
				ConnectionTTL: 90 * time.Minute, MaxMessageBytes: 1024, MaxInFlight: 4, LambdaArchitecture: "x86_64",
				LogRetention: awslogs.RetentionDays_ONE_WEEK, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
				AllowedTokenUse:              []string{"access", "at+jwt"},
				APIGatewayCloudWatchRoleName: "ApiGwLogs", APIGatewayCloudWatchRolePath: "/service-role/",
			}}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("got  %+v\nwant %+v", p, want)
			}
		}},
		{name: "not a number", context: map[string]string{"throttlingRateLimit": "fast"}, wantErr: "throttlingRateLimit"},
		{name: "not a whole number", context: map[string]string{"maxInFlight": "2.5"}, wantErr: "maxInFlight"},
		{name: "not a bool", context: map[string]string{"apiGatewayCloudWatchRoleExists": "yes please"}, wantErr: "apiGatewayCloudWatchRoleExists"},
		{name: "not a duration", context: map[string]string{"connectionTtl": "2 hours"}, wantErr: "connectionTtl"},
		{name: "retention CloudWatch does not offer", context: map[string]string{"logRetentionDays": "10"}, wantErr: "logRetentionDays"},
		{name: "empty token_use list with Cognito", context: map[string]string{"allowedTokenUse": ""}, wantErr: "AllowedTokenUse"},
		{name: "empty token_use list with an external issuer turns the check off", context: map[string]string{
			"allowedTokenUse": " , ", "issuer": "https://id.example.com", "audience": "chat",
		}, check: func(t *testing.T, p WebSocketStackProps) {
			if len(p.WithDefaults().AllowedTokenUse) != 0 {
				t.Errorf("AllowedTokenUse = %q, want none", p.AllowedTokenUse)
			}
		}},
		{name: "alarms, dashboard and tracing", context: map[string]string{
			"disableTracing": "true", "disableDashboard": "true", "alarmEmail": "oncall@example.com",
			"alarms": `{"PostFailed":{"threshold":20,"evaluationPeriods":2,"period":"10m"},"functionDuration":{"threshold":50}}`,
		}, check: func(t *testing.T, p WebSocketStackProps) {
			want := WebSocketStackProps{WebSocketAPIProps: websocketapi.WebSocketAPIProps{
				DisableTracing: true, DisableDashboard: true, AlarmEmail: "oncall@example.com",
				Alarms: websocketapi.AlarmSettings{
					PostFailed:       websocketapi.AlarmSetting{Threshold: 20, EvaluationPeriods: 2, Period: 10 * time.Minute},
					FunctionDuration: websocketapi.AlarmSetting{Threshold: 50},
				},
			}}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("got  %+v\nwant %+v", p, want)
			}
			d := p.WithDefaults().Alarms
			if d.FunctionDuration.EvaluationPeriods != 3 || d.AuthRefused != websocketapi.DefaultAlarmSettings.AuthRefused {
				t.Errorf("defaults not kept: %+v", d)
			}
		}},
		{name: "alarms off", context: map[string]string{"disableAlarms": "true", "alarmTopicArn": " arn:aws:sns:eu-west-1:123456789012:oncall "},
			wantErr: "DisableAlarms with an alarm topic"},
		{name: "two alarm targets", context: map[string]string{"alarmEmail": "a@example.com", "alarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:oncall"},
			wantErr: "set at most one"},
		{name: "not a topic ARN", context: map[string]string{"alarmTopicArn": "arn:aws:sqs:eu-west-1:123456789012:q"}, wantErr: "AlarmTopicARN"},
		{name: "not an email", context: map[string]string{"alarmEmail": "Ops <ops@example.com>"}, wantErr: "AlarmEmail"},
		{name: "unknown alarm kind", context: map[string]string{"alarms": `{"Latency":{"threshold":1}}`}, wantErr: `no alarm kind "Latency"`},
		{name: "unknown alarm field", context: map[string]string{"alarms": `{"PostFailed":{"limit":1}}`}, wantErr: "alarms="},
		{name: "alarm period not minutes", context: map[string]string{"alarms": `{"PostFailed":{"period":"90s"}}`}, wantErr: "Alarms.PostFailed.Period"},
		{name: "alarm over a day", context: map[string]string{"alarms": `{"ClientErrors":{"period":"1h","evaluationPeriods":25}}`}, wantErr: "Alarms.ClientErrors.EvaluationPeriods"},
		{name: "duration over the timeout", context: map[string]string{"alarms": `{"FunctionDuration":{"threshold":120}}`}, wantErr: "at most 100"},
		{name: "custom domain", context: map[string]string{
			"domainName": " chat.example.com ", "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
			"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com.",
		}, check: func(t *testing.T, p WebSocketStackProps) {
			want := WebSocketStackProps{WebSocketAPIProps: websocketapi.WebSocketAPIProps{
				DomainName: "chat.example.com", CertificateARN: "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
				HostedZoneID: "Z0123456789ABCDEFGHIJ", HostedZoneName: "example.com.",
			}}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("got  %+v\nwant %+v", p, want)
			}
		}},
		{name: "domain without a certificate", context: map[string]string{"domainName": "chat.example.com"}, wantErr: "CertificateARN: required"},
		{name: "certificate without a domain", context: map[string]string{"certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}, wantErr: "only used with DomainName"},
		{name: "not a certificate ARN", context: map[string]string{"domainName": "chat.example.com", "certificateArn": "arn:aws:iam::123456789012:server-certificate/x"}, wantErr: "CertificateARN"},
		{name: "wildcard domain", context: map[string]string{"domainName": "*.example.com", "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}, wantErr: "wildcard"},
		{name: "domain not in the zone", context: map[string]string{
			"domainName": "chat.example.org", "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
			"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com",
		}, wantErr: "not in the hosted zone"},
		{name: "zone id without name", context: map[string]string{
			"domainName": "chat.example.com", "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc", "hostedZoneId": "Z0123456789ABCDEFGHIJ",
		}, wantErr: "HostedZoneID and HostedZoneName"},
		{name: "fan-out", context: map[string]string{
			"fanOutSegments": "8", "connectionsPerSegment": "2000", "maxSegments": "500", "workerBatchSize": "5",
			"workerMaxConcurrency": "50", "postsPerSecond": "2500.5", "workerTimeout": "2m", "maxReceiveCount": "3",
			"jobTtl": "6h", "fanOutPageSize": "250", "workerMemoryMb": "1024",
		}, check: func(t *testing.T, p WebSocketStackProps) {
			want := WebSocketStackProps{WebSocketAPIProps: websocketapi.WebSocketAPIProps{FanOutProps: websocketapi.FanOutProps{
				FanOutSegments: 8, ConnectionsPerSegment: 2000, MaxSegments: 500, WorkerBatchSize: 5,
				WorkerMaxConcurrency: 50, PostsPerSecond: 2500.5, WorkerTimeout: 2 * time.Minute, MaxReceiveCount: 3,
				JobTTL: 6 * time.Hour, FanOutPageSize: 250, WorkerMemoryMB: 1024,
			}}}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("got  %+v\nwant %+v", p, want)
			}
		}},
		{name: "fan-out timeout not a duration", context: map[string]string{"workerTimeout": "60"}, wantErr: "workerTimeout"},
		{name: "fan-out values parsed and checked together", context: map[string]string{
			"workerMaxConcurrency": "1", "workerBatchSize": "many", "jobTtl": "1m",
		}, wantErr: "workerBatchSize=\"many\": not a whole number\nWorkerMaxConcurrency 1"},
		{name: "unknown removal policy", context: map[string]string{"removalPolicy": "keep"}, wantErr: "removalPolicy"},
		{name: "parsed but invalid", context: map[string]string{"stageName": "a/b"}, wantErr: "StageName"},
		{name: "unparsable and invalid together", context: map[string]string{"stageName": "a b", "maxInFlight": "x"}, wantErr: "StageName"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := propsFromContext(func(key string) (string, bool) {
				v, ok := c.context[key]
				return v, ok
			})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, p)
		})
	}
	// Every listed key is read: a nonsense value under it must be refused.
	for key := range ContextKeys {
		get := func(k string) (string, bool) { return "\x00", k == key }
		_, nameErr := stackNameFromContext(get)
		if _, err := propsFromContext(get); err == nil && nameErr == nil {
			t.Errorf("context key %s=\\x00 accepted: is it read at all?", key)
		}
	}
}

func TestNewWebSocketStackRejectsInvalidProps(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "StageName") {
			t.Errorf("panic = %v, want one naming StageName", r)
		}
	}()
	// Validation runs before any construct is made, so no jsii is needed.
	NewWebSocketStack(nil, "Bad", &WebSocketStackProps{WebSocketAPIProps: websocketapi.WebSocketAPIProps{StageName: "bad stage"}})
}

func TestStackNameFromContext(t *testing.T) {
	cases := []struct {
		value   string
		set     bool
		want    string
		wantErr bool
	}{
		{set: false, want: DefaultStackName},
		{value: "ChatStaging", set: true, want: "ChatStaging"},
		{value: " chat-2 ", set: true, want: "chat-2"},
		{value: "2chat", set: true, wantErr: true},
		{value: "chat_staging", set: true, wantErr: true},
		{value: "", set: true, wantErr: true},
		{value: strings.Repeat("a", 129), set: true, wantErr: true},
	}
	for _, c := range cases {
		got, err := stackNameFromContext(func(k string) (string, bool) { return c.value, c.set && k == "stackName" })
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("stackName=%q (set %v): got %q, %v", c.value, c.set, got, err)
		}
	}
}
