package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"

	"wsapi/contract"
	"wsapi/vtl"
)

// authorize checks the identity sources, then invokes the REQUEST authorizer
// and evaluates its policy. It returns 200 and $context.authorizer, or the
// status API Gateway answers the handshake with.
func (g *Gateway) authorize(ctx context.Context, r *http.Request, a *Authorizer, wsctx *vtl.WebSocketContext, log *slog.Logger) (int, map[string]any) {
	// Every identity source must be present and non-empty, or API Gateway
	// answers 401 without invoking the function.
	for _, source := range a.IdentitySources {
		if identityValue(r, source) == "" {
			log.Info("identity source missing; authorizer not invoked", "identitySource", source)
			return http.StatusUnauthorized, nil
		}
	}
	methodARN := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/$connect", g.cfg.Region, g.cfg.AccountID, g.cfg.APIID, g.cfg.Stage)
	payload, err := json.Marshal(g.authorizerEvent(r, methodARN, wsctx))
	if err != nil {
		log.Error("authorizer event", "error", err)
		return http.StatusInternalServerError, nil
	}
	res, err := a.Function.Invoke(ctx, payload)
	if err != nil {
		log.Error("authorizer invoke failed", "error", err)
		return http.StatusInternalServerError, nil
	}
	if res.Error != nil {
		if res.Error.Message == "Unauthorized" {
			return http.StatusUnauthorized, nil
		}
		log.Warn("authorizer failed", "errorType", res.Error.Type)
		return http.StatusInternalServerError, nil
	}
	status, auth, reason := evaluateAuthorizerResult(res.Payload, methodARN, g.cfg.Limits.MaxAuthorizerBytes)
	if status != http.StatusOK {
		log.Info("authorizer result refused", "status", status, "reason", reason)
	}
	return status, auth
}

// identityValue reads route.request.header.X (case-insensitive) or
// route.request.querystring.X from the handshake.
func identityValue(r *http.Request, source string) string {
	m := identitySourcePattern.FindStringSubmatch(source)
	if m == nil {
		return ""
	}
	if m[1] == "header" {
		return r.Header.Get(m[2])
	}
	return r.URL.Query().Get(m[2])
}

// authorizerEvent is the WebSocket REQUEST authorizer event.
func (g *Gateway) authorizerEvent(r *http.Request, methodARN string, c *vtl.WebSocketContext) map[string]any {
	headers := map[string]string{}
	multiHeaders := map[string][]string{}
	for k, v := range r.Header {
		headers[k] = strings.Join(v, ",")
		multiHeaders[k] = v
	}
	headers["Host"], multiHeaders["Host"] = r.Host, []string{r.Host}
	query := map[string]string{}
	multiQuery := map[string][]string{}
	for k, v := range r.URL.Query() {
		query[k] = v[len(v)-1]
		multiQuery[k] = v
	}
	stageVariables := g.cfg.StageVariables
	if stageVariables == nil {
		stageVariables = map[string]string{}
	}
	return map[string]any{
		"type":                            "REQUEST",
		"methodArn":                       methodARN,
		"headers":                         headers,
		"multiValueHeaders":               multiHeaders,
		"queryStringParameters":           query,
		"multiValueQueryStringParameters": multiQuery,
		"stageVariables":                  stageVariables,
		"requestContext": map[string]any{
			"routeKey":          contract.RouteConnect,
			"eventType":         "CONNECT",
			"extendedRequestId": c.ExtendedRequestID,
			"requestTime":       c.RequestTime,
			"messageDirection":  "IN",
			"stage":             c.Stage,
			"connectedAt":       c.ConnectedAt,
			"requestTimeEpoch":  c.RequestTimeEpoch,
			"identity":          map[string]string{"sourceIp": c.Identity.SourceIP, "userAgent": c.Identity.UserAgent},
			"requestId":         c.RequestID,
			"domainName":        c.DomainName,
			"connectionId":      c.ConnectionID,
			"apiId":             c.APIID,
		},
	}
}

// authorizerResult is what a Lambda authorizer returns.
type authorizerResult struct {
	PrincipalID    *string `json:"principalId"`
	PolicyDocument *struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	} `json:"policyDocument"`
	Context map[string]any `json:"context"`
}

type statement struct {
	Effect   string       `json:"Effect"`
	Action   stringOrMany `json:"Action"`
	Resource stringOrMany `json:"Resource"`
}

// stringOrMany is an IAM field that is a string or a list of strings.
type stringOrMany []string

func (s *stringOrMany) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*s = many
	return nil
}

// evaluateAuthorizerResult applies API Gateway's rules to an authorizer's
// response: a malformed one is a 500, an explicit Deny or no Allow on the
// method ARN a 403. The returned map is $context.authorizer: principalId and
// the context, every value as the string templates see.
func evaluateAuthorizerResult(payload []byte, methodARN string, maxBytes int) (int, map[string]any, string) {
	if maxBytes > 0 && len(payload) > maxBytes {
		return http.StatusInternalServerError, nil, "result over the size limit"
	}
	var res authorizerResult
	if err := json.Unmarshal(payload, &res); err != nil {
		return http.StatusInternalServerError, nil, "result is not a valid authorizer response: " + err.Error()
	}
	if res.PrincipalID == nil || res.PolicyDocument == nil {
		return http.StatusInternalServerError, nil, "principalId or policyDocument missing"
	}
	allowed := false
	for _, st := range res.PolicyDocument.Statement {
		if !matchesAny(lower(st.Action), "execute-api:invoke") || !matchesAny(st.Resource, methodARN) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return http.StatusForbidden, nil, "explicit deny"
		case "Allow":
			allowed = true
		}
	}
	if !allowed {
		return http.StatusForbidden, nil, "no statement allows the method"
	}
	auth := map[string]any{contract.AuthContextPrincipalID: *res.PrincipalID}
	for k, v := range res.Context {
		switch x := v.(type) {
		case string:
			auth[k] = x
		case bool:
			auth[k] = strconv.FormatBool(x)
		case float64:
			auth[k] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return http.StatusInternalServerError, nil, fmt.Sprintf("context value %q is not a string, number or boolean", k)
		}
	}
	return http.StatusOK, auth, ""
}

// matchesAny reports whether one of the IAM patterns (* and ? wildcards)
// matches s.
func matchesAny(patterns []string, s string) bool {
	for _, p := range patterns {
		// path.Match treats / specially; IAM wildcards cross slashes.
		if ok, _ := path.Match(strings.ReplaceAll(p, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00")); ok {
			return true
		}
	}
	return false
}

func lower(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(s)
	}
	return out
}
