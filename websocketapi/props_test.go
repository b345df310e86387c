package websocketapi

import (
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
