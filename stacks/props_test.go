package stacks

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name    string
		props   WebSocketStackProps
		wantErr []string // substrings; none means valid
	}{
		{name: "defaults", props: WebSocketStackProps{}},
		{name: "header identity source", props: WebSocketStackProps{IdentitySource: "route.request.header.Authorization"}},
		{name: "external issuer", props: WebSocketStackProps{Issuer: "https://id.example.com", Audience: "chat", JWKSURL: "https://id.example.com/keys"}},
		{name: "stage with space", props: WebSocketStackProps{StageName: "my stage"}, wantErr: []string{"StageName"}},
		{name: "identity source elsewhere", props: WebSocketStackProps{IdentitySource: "route.request.body.token"}, wantErr: []string{"IdentitySource"}},
		{name: "two identity sources", props: WebSocketStackProps{IdentitySource: "route.request.header.A,route.request.header.B"}, wantErr: []string{"IdentitySource"}},
		{name: "issuer without audience", props: WebSocketStackProps{Issuer: "https://id.example.com"}, wantErr: []string{"set both"}},
		{name: "audience without issuer", props: WebSocketStackProps{Audience: "chat"}, wantErr: []string{"set both"}},
		{name: "http issuer", props: WebSocketStackProps{Issuer: "http://id.example.com", Audience: "chat"}, wantErr: []string{"https"}},
		{name: "jwks without issuer", props: WebSocketStackProps{JWKSURL: "https://id.example.com/keys"}, wantErr: []string{"only used with an external Issuer"}},
		{name: "negative throttling", props: WebSocketStackProps{ThrottlingRateLimit: -1}, wantErr: []string{"throttling"}},
		{name: "ttl too short", props: WebSocketStackProps{ConnectionTTL: time.Second}, wantErr: []string{"ConnectionTTL"}},
		{name: "message too large", props: WebSocketStackProps{MaxMessageBytes: 200 * 1024}, wantErr: []string{"MaxMessageBytes"}},
		{name: "in flight too many", props: WebSocketStackProps{MaxInFlight: 1000}, wantErr: []string{"MaxInFlight"}},
		{name: "cognito id tokens too", props: WebSocketStackProps{AllowedTokenUse: []string{"access", "id"}}},
		{name: "cognito token_use that Cognito never issues", props: WebSocketStackProps{AllowedTokenUse: []string{"refresh"}}, wantErr: []string{`AllowedTokenUse "refresh"`}},
		{name: "cognito without any token_use", props: WebSocketStackProps{AllowedTokenUse: []string{}}, wantErr: []string{"at least one"}},
		{name: "external token_use list", props: WebSocketStackProps{Issuer: "https://id.example.com", Audience: "chat", AllowedTokenUse: []string{"at+jwt"}}},
		{name: "token_use with a comma", props: WebSocketStackProps{Issuer: "https://id.example.com", Audience: "chat", AllowedTokenUse: []string{"a,b"}}, wantErr: []string{"AllowedTokenUse"}},
		{name: "token_use wildcard", props: WebSocketStackProps{Issuer: "https://id.example.com", Audience: "chat", AllowedTokenUse: []string{"*"}}, wantErr: []string{"AllowedTokenUse"}},
		{name: "role name with a slash", props: WebSocketStackProps{APIGatewayCloudWatchRoleName: "a/b"}, wantErr: []string{"APIGatewayCloudWatchRoleName"}},
		{name: "role path without slashes", props: WebSocketStackProps{APIGatewayCloudWatchRolePath: "service-role"}, wantErr: []string{"APIGatewayCloudWatchRolePath"}},
		{name: "role path", props: WebSocketStackProps{APIGatewayCloudWatchRolePath: "/service-role/"}},
		{name: "architecture", props: WebSocketStackProps{LambdaArchitecture: "amd64"}, wantErr: []string{"LambdaArchitecture"}},
		{
			name:    "every problem at once",
			props:   WebSocketStackProps{StageName: "a b", LambdaArchitecture: "mips", MaxInFlight: -3},
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

func TestPropsFromContext(t *testing.T) {
	cases := []struct {
		name    string
		context map[string]string
		check   func(t *testing.T, p WebSocketStackProps)
		wantErr string
	}{
		{name: "empty keeps defaults", context: map[string]string{}, check: func(t *testing.T, p WebSocketStackProps) {
			if p.withDefaults().StageName != DefaultStageName || p.RemovalPolicy != "" {
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
			want := WebSocketStackProps{
				StageName: "live", IdentitySource: "route.request.header.Authorization",
				Issuer: "https://id.example.com", Audience: "chat", JWKSURL: "https://id.example.com/keys",
				ThrottlingRateLimit: 10.5, ThrottlingBurstLimit: 20, APIGatewayCloudWatchRoleExists: true,
				ConnectionTTL: 90 * time.Minute, MaxMessageBytes: 1024, MaxInFlight: 4, LambdaArchitecture: "x86_64",
				LogRetention: awslogs.RetentionDays_ONE_WEEK, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
				AllowedTokenUse:              []string{"access", "at+jwt"},
				APIGatewayCloudWatchRoleName: "ApiGwLogs", APIGatewayCloudWatchRolePath: "/service-role/",
			}
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
			if len(p.withDefaults().AllowedTokenUse) != 0 {
				t.Errorf("AllowedTokenUse = %q, want none", p.AllowedTokenUse)
			}
		}},
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
	NewWebSocketStack(nil, "Bad", &WebSocketStackProps{StageName: "bad stage"})
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
