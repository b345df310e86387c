package websocketapi

import (
	_ "embed"
	"regexp"
	"slices"
	"strings"
)

// accessLogVariablesText is AWS's list of the variables a WebSocket access
// log format may use, with its source.
//
//go:embed websocket-access-log-variables.txt
var accessLogVariablesText string

// authorizerPropertyPlaceholder stands, in AWS's list, for any key of the
// authorizer's context map.
const authorizerPropertyPlaceholder = "$context.authorizer.property"

// AccessLogVariables returns the documented WebSocket access log variables.
func AccessLogVariables() []string {
	var vars []string
	for line := range strings.Lines(accessLogVariablesText) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			vars = append(vars, line)
		}
	}
	return vars
}

// contextVariable matches $context.a.b and ${context.a.b} references.
var contextVariable = regexp.MustCompile(`\$\{?(context(?:\.[A-Za-z0-9_]+)+)\}?`)

// UndocumentedAccessLogVariables returns the variables of format that AWS
// does not list for WebSocket access logs, each once, in order.
func UndocumentedAccessLogVariables(format string) []string {
	documented := AccessLogVariables()
	var out []string
	for _, m := range contextVariable.FindAllStringSubmatch(format, -1) {
		name := "$" + m[1]
		if slices.Contains(documented, name) || slices.Contains(out, name) {
			continue
		}
		// A key of the authorizer's own context map, one level deep.
		if rest, ok := strings.CutPrefix(name, "$context.authorizer."); ok && !strings.Contains(rest, ".") &&
			slices.Contains(documented, authorizerPropertyPlaceholder) {
			continue
		}
		out = append(out, name)
	}
	return out
}
