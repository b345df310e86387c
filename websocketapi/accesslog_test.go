package websocketapi

import (
	"slices"
	"testing"
)

func TestAccessLogFormatNamesOnlyDocumentedVariables(t *testing.T) {
	if got := UndocumentedAccessLogVariables(accessLogFormat); len(got) != 0 {
		t.Errorf("access log format names variables AWS does not list for WebSocket APIs: %v", got)
	}
}

func TestAccessLogVariables(t *testing.T) {
	vars := AccessLogVariables()
	if len(vars) != 53 {
		t.Errorf("documented list has %d variables, want the page's 53", len(vars))
	}
	for _, v := range []string{"$context.requestId", "$context.integration.error", "$context.identity.sourceIp", "$context.status"} {
		if !slices.Contains(vars, v) {
			t.Errorf("documented list lacks %s", v)
		}
	}
}

func TestUndocumentedAccessLogVariables(t *testing.T) {
	cases := []struct {
		format string
		want   []string
	}{
		{`{"a":"$context.requestId","b":"${context.routeKey}"}`, nil},
		{`{"d":"$context.messageDirection"}`, []string{"$context.messageDirection"}},
		{`$context.integrationStatus $context.integrationStatus`, []string{"$context.integrationStatus"}},
		{`$context.authorizer.tenant`, nil},                                            // the authorizer's own context key
		{`$context.authorizer.claims.sub`, []string{"$context.authorizer.claims.sub"}}, // HTTP APIs only
		{`$context.responseLatency`, []string{"$context.responseLatency"}},             // REST and HTTP APIs only
	}
	for _, c := range cases {
		if got := UndocumentedAccessLogVariables(c.format); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.format, got, c.want)
		}
	}
}
