package websocketapi

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name    string
		props   WebSocketAPIProps
		wantErr []string // substrings; none means valid
	}{
		{name: "defaults", props: WebSocketAPIProps{}},
		{name: "header identity source", props: WebSocketAPIProps{IdentitySource: "route.request.header.Authorization"}},
		{name: "external issuer", props: WebSocketAPIProps{Issuer: "https://id.example.com", Audience: "chat", JWKSURL: "https://id.example.com/keys"}},
		{name: "stage with space", props: WebSocketAPIProps{StageName: "my stage"}, wantErr: []string{"StageName"}},
		{name: "identity source elsewhere", props: WebSocketAPIProps{IdentitySource: "route.request.body.token"}, wantErr: []string{"IdentitySource"}},
		{name: "two identity sources", props: WebSocketAPIProps{IdentitySource: "route.request.header.A,route.request.header.B"}, wantErr: []string{"IdentitySource"}},
		{name: "issuer without audience", props: WebSocketAPIProps{Issuer: "https://id.example.com"}, wantErr: []string{"set both"}},
		{name: "audience without issuer", props: WebSocketAPIProps{Audience: "chat"}, wantErr: []string{"set both"}},
		{name: "http issuer", props: WebSocketAPIProps{Issuer: "http://id.example.com", Audience: "chat"}, wantErr: []string{"https"}},
		{name: "jwks without issuer", props: WebSocketAPIProps{JWKSURL: "https://id.example.com/keys"}, wantErr: []string{"only used with an external Issuer"}},
		{name: "negative throttling", props: WebSocketAPIProps{ThrottlingRateLimit: -1}, wantErr: []string{"throttling"}},
		{name: "ttl too short", props: WebSocketAPIProps{ConnectionTTL: time.Second}, wantErr: []string{"ConnectionTTL"}},
		{name: "message too large", props: WebSocketAPIProps{MaxMessageBytes: 200 * 1024}, wantErr: []string{"MaxMessageBytes"}},
		{name: "in flight too many", props: WebSocketAPIProps{MaxInFlight: 1000}, wantErr: []string{"MaxInFlight"}},
		{name: "cognito id tokens too", props: WebSocketAPIProps{AllowedTokenUse: []string{"access", "id"}}},
		{name: "cognito token_use that Cognito never issues", props: WebSocketAPIProps{AllowedTokenUse: []string{"refresh"}}, wantErr: []string{`AllowedTokenUse "refresh"`}},
		{name: "cognito without any token_use", props: WebSocketAPIProps{AllowedTokenUse: []string{}}, wantErr: []string{"at least one"}},
		{name: "external token_use list", props: WebSocketAPIProps{Issuer: "https://id.example.com", Audience: "chat", AllowedTokenUse: []string{"at+jwt"}}},
		{name: "token_use with a comma", props: WebSocketAPIProps{Issuer: "https://id.example.com", Audience: "chat", AllowedTokenUse: []string{"a,b"}}, wantErr: []string{"AllowedTokenUse"}},
		{name: "token_use wildcard", props: WebSocketAPIProps{Issuer: "https://id.example.com", Audience: "chat", AllowedTokenUse: []string{"*"}}, wantErr: []string{"AllowedTokenUse"}},
		{name: "role name with a slash", props: WebSocketAPIProps{APIGatewayCloudWatchRoleName: "a/b"}, wantErr: []string{"APIGatewayCloudWatchRoleName"}},
		{name: "role path without slashes", props: WebSocketAPIProps{APIGatewayCloudWatchRolePath: "service-role"}, wantErr: []string{"APIGatewayCloudWatchRolePath"}},
		{name: "role path", props: WebSocketAPIProps{APIGatewayCloudWatchRolePath: "/service-role/"}},
		{name: "architecture", props: WebSocketAPIProps{LambdaArchitecture: "amd64"}, wantErr: []string{"LambdaArchitecture"}},
		{name: "alarm email", props: WebSocketAPIProps{AlarmEmail: "oncall@example.com"}},
		{name: "alarm email with a name", props: WebSocketAPIProps{AlarmEmail: "Ops <ops@example.com>"}, wantErr: []string{"AlarmEmail"}},
		{name: "alarm topic ARN", props: WebSocketAPIProps{AlarmTopicARN: "arn:aws-cn:sns:cn-north-1:123456789012:ops"}},
		{name: "alarm topic ARN of a queue", props: WebSocketAPIProps{AlarmTopicARN: "arn:aws:sqs:eu-west-1:123456789012:ops"}, wantErr: []string{"AlarmTopicARN"}},
		{name: "two alarm targets", props: WebSocketAPIProps{AlarmEmail: "a@example.com", AlarmTopicARN: "arn:aws:sns:eu-west-1:123456789012:ops"}, wantErr: []string{"at most one"}},
		{name: "target without alarms", props: WebSocketAPIProps{DisableAlarms: true, AlarmEmail: "a@example.com"}, wantErr: []string{"DisableAlarms"}},
		{name: "alarms, dashboard and tracing off", props: WebSocketAPIProps{DisableAlarms: true, DisableDashboard: true, DisableTracing: true}},
		{name: "alarm settings", props: WebSocketAPIProps{Alarms: AlarmSettings{
			PostFailed: AlarmSetting{Threshold: 20, EvaluationPeriods: 2, Period: 10 * time.Minute}, FunctionDuration: AlarmSetting{Threshold: 100},
		}}},
		{name: "negative threshold", props: WebSocketAPIProps{Alarms: AlarmSettings{ClientErrors: AlarmSetting{Threshold: -1}}}, wantErr: []string{"Alarms.ClientErrors.Threshold"}},
		{name: "duration over the timeout", props: WebSocketAPIProps{Alarms: AlarmSettings{FunctionDuration: AlarmSetting{Threshold: 101}}}, wantErr: []string{"Alarms.FunctionDuration.Threshold"}},
		{name: "period of seconds", props: WebSocketAPIProps{Alarms: AlarmSettings{AuthRefused: AlarmSetting{Period: 30 * time.Second}}}, wantErr: []string{"Alarms.AuthRefused.Period"}},
		{name: "more than a day", props: WebSocketAPIProps{Alarms: AlarmSettings{TableThrottles: AlarmSetting{Period: time.Hour, EvaluationPeriods: 25}}}, wantErr: []string{"Alarms.TableThrottles.EvaluationPeriods"}},
		{name: "negative periods", props: WebSocketAPIProps{Alarms: AlarmSettings{TableThrottles: AlarmSetting{EvaluationPeriods: -1}}}, wantErr: []string{"Alarms.TableThrottles.EvaluationPeriods"}},
		{name: "fan-out settings", props: WebSocketAPIProps{FanOutProps: FanOutProps{
			FanOutSegments: 8, ConnectionsPerSegment: 2000, MaxSegments: MaxScanSegments, WorkerBatchSize: 10,
			WorkerMaxConcurrency: 1000, PostsPerSecond: 0.5, WorkerTimeout: 15 * time.Minute, MaxReceiveCount: 1000,
			JobTTL: 365 * 24 * time.Hour, FanOutPageSize: 10000, WorkerMemoryMB: 10240,
		}}},
		{name: "fan-out minimums", props: WebSocketAPIProps{FanOutProps: FanOutProps{
			MaxSegments: 1, WorkerMaxConcurrency: 2, WorkerTimeout: time.Second, MaxReceiveCount: 1,
			JobTTL: 6 * time.Second, FanOutPageSize: 1, WorkerMemoryMB: 128, ConnectionsPerSegment: 1,
		}}},
		{name: "fan-out concurrency below the mapping's minimum", props: WebSocketAPIProps{FanOutProps: FanOutProps{WorkerMaxConcurrency: 1}}, wantErr: []string{"WorkerMaxConcurrency 1"}},
		{name: "fan-out batch over ten", props: WebSocketAPIProps{FanOutProps: FanOutProps{WorkerBatchSize: 11}}, wantErr: []string{"WorkerBatchSize 11"}},
		{name: "fan-out timeout over Lambda's", props: WebSocketAPIProps{FanOutProps: FanOutProps{WorkerTimeout: 16 * time.Minute}}, wantErr: []string{"WorkerTimeout"}},
		{name: "fan-out timeout not whole seconds", props: WebSocketAPIProps{FanOutProps: FanOutProps{WorkerTimeout: 1500 * time.Millisecond}}, wantErr: []string{"WorkerTimeout"}},
		{name: "fan-out TTL shorter than the retries", props: WebSocketAPIProps{FanOutProps: FanOutProps{JobTTL: 29 * time.Minute}}, wantErr: []string{"JobTTL 29m0s: want from 30m0s"}},
		{name: "fan-out NaN rate", props: WebSocketAPIProps{FanOutProps: FanOutProps{PostsPerSecond: math.NaN()}}, wantErr: []string{"PostsPerSecond"}},
		{name: "fan-out infinite rate", props: WebSocketAPIProps{FanOutProps: FanOutProps{PostsPerSecond: math.Inf(1)}}, wantErr: []string{"PostsPerSecond"}},
		{name: "fan-out segments over DynamoDB's", props: WebSocketAPIProps{FanOutProps: FanOutProps{MaxSegments: MaxScanSegments + 1}}, wantErr: []string{"MaxSegments 1000001"}},
		{
			name: "every fan-out problem at once",
			props: WebSocketAPIProps{FanOutProps: FanOutProps{
				FanOutSegments: -1, ConnectionsPerSegment: -1, MaxSegments: -1, WorkerBatchSize: -1, WorkerMaxConcurrency: 1001,
				PostsPerSecond: -5, WorkerTimeout: -time.Second, MaxReceiveCount: 1001, JobTTL: -time.Hour,
				FanOutPageSize: 10001, WorkerMemoryMB: 64,
			}},
			wantErr: []string{"FanOutSegments -1", "ConnectionsPerSegment -1", "MaxSegments -1", "WorkerBatchSize -1",
				"WorkerMaxConcurrency 1001", "PostsPerSecond -5", "WorkerTimeout -1s", "MaxReceiveCount 1001", "JobTTL -1h0m0s",
				"FanOutPageSize 10001", "WorkerMemoryMB 64"},
		},
		{
			name:    "every problem at once",
			props:   WebSocketAPIProps{StageName: "a b", LambdaArchitecture: "mips", MaxInFlight: -3},
			wantErr: []string{"StageName", "LambdaArchitecture", "MaxInFlight"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.props.Validate()
			if len(c.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error mentioning %v", c.wantErr)
			}
			for _, want := range c.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestAlarmSettingsDefaults(t *testing.T) {
	got := WebSocketAPIProps{Alarms: AlarmSettings{PostFailed: AlarmSetting{Threshold: 20}}}.WithDefaults().Alarms
	want := DefaultAlarmSettings
	want.PostFailed.Threshold = 20
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// Every kind has a complete default and is reachable by name.
	names := AlarmSettingNames()
	if len(names) != 11 {
		t.Errorf("%d alarm kinds: %v", len(names), names)
	}
	defaults := DefaultAlarmSettings
	for _, name := range names {
		s := defaults.Setting(name)
		if s == nil || s.Threshold <= 0 || s.EvaluationPeriods < 1 || s.Period < time.Minute {
			t.Errorf("%s: default %+v", name, s)
		}
	}
	if defaults.Setting("postfailed") != &defaults.PostFailed || defaults.Setting("Latency") != nil {
		t.Error("Setting does not find kinds by name, case-insensitively, or finds one that is not")
	}
}

func TestFanOutDefaultsAndWorkerRate(t *testing.T) {
	got := WebSocketAPIProps{}.WithDefaults().FanOutProps
	want := FanOutProps{
		ConnectionsPerSegment: 5000, MaxSegments: 100, WorkerBatchSize: 1, WorkerMaxConcurrency: 10,
		PostsPerSecond: 1000, WorkerTimeout: time.Minute, MaxReceiveCount: 5, JobTTL: 24 * time.Hour,
		FanOutPageSize: 1000, WorkerMemoryMB: 512,
	}
	if got != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if v := got.visibilityTimeout(); v != 6*time.Minute {
		t.Errorf("visibility timeout %s, want 6m (six times the worker timeout)", v)
	}
	cases := []struct {
		props FanOutProps
		rate  float64
		burst int
	}{
		{FanOutProps{}, 100, 100},
		{FanOutProps{PostsPerSecond: 2500, WorkerMaxConcurrency: 50}, 50, 50},
		{FanOutProps{PostsPerSecond: 10, WorkerMaxConcurrency: 4}, 2.5, 3},
		{FanOutProps{PostsPerSecond: 1, WorkerMaxConcurrency: 1000}, 0.001, 1},
	}
	for _, c := range cases {
		if rate, burst := c.props.WorkerPostsPerSecond(), c.props.WorkerPostBurst(); rate != c.rate || burst != c.burst {
			t.Errorf("%+v: rate %v burst %d, want %v and %d", c.props, rate, burst, c.rate, c.burst)
		}
	}
}
